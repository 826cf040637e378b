// SPDX-License-Identifier: Apache-2.0
// Profile YAML -> Profile. Strict on purpose: unknown or duplicate keys and malformed entries are
// errors with file:line:col and a dotted field path, because a typo must not drop a protection.

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <map>
#include <memory>
#include <tuple>

#include <yaml-cpp/yaml.h>

#include "policy/capability.h"
#include "policy/profile.h"
#include "policy/yaml_read.h"

namespace vigil::policy {

using namespace yaml;

namespace {

// The mode, severity and paths keys that the credentials and persistence sections share: mode
// and severity into *mode and *severity when given; the paths list (required) returned.
Result<YAML::Node> read_path_section(const Ctx &ctx, const KeyValue &section, const Fields &fields,
                                     const std::string &field, std::optional<Mode> &mode,
                                     Severity &severity)
{
  if (const KeyValue *kv = find(fields, "mode")) {
    auto m = read_mode(ctx, *kv, field + ".mode");
    if (!m)
      return tl::unexpected(m.error());
    mode = *m;
  }
  if (const KeyValue *kv = find(fields, "severity")) {
    auto sev = read_severity(ctx, *kv, field + ".severity");
    if (!sev)
      return tl::unexpected(sev.error());
    severity = *sev;
  }
  const KeyValue *paths_kv = find(fields, "paths");
  if (!paths_kv)
    return fail_at(ctx, value_mark(section), field + ".paths", "missing (a list of patterns)");
  return read_list(ctx, *paths_kv, field + ".paths");
}

Status parse_credentials(const Ctx &ctx, const KeyValue &section, Profile &profile)
{
  const std::string field = "credentials";
  auto fields =
      read_map(ctx, section.value, value_mark(section), field, {"severity", "mode", "paths"});
  if (!fields)
    return tl::unexpected(fields.error());
  auto paths = read_path_section(ctx, section, *fields, field, profile.credential_mode,
                                 profile.credential_severity);
  if (!paths)
    return tl::unexpected(paths.error());
  size_t i = 0;
  for (const auto &item : *paths) {
    std::string item_field = index_field(field + ".paths", i++);
    if (!item.IsScalar())
      return fail_at(ctx, item_mark(ctx, item), item_field,
                     "expected a path pattern, got " + describe(item));
    if (auto wrong = check_path_pattern(item.Scalar()))
      return fail_at(ctx, item.Mark(), item_field, *wrong);
    profile.credential_paths.push_back(item.Scalar());
  }
  return {};
}

// A persistence pattern: what check_path_pattern accepts, plus paths relative to the project or
// to each git directory (".git/..."), which must be normalised too.
std::optional<std::string> check_persistence_pattern(const std::string &pat)
{
  if (pat.empty() || pat.front() == '/' || pat.front() == '~' ||
      pat.find('/') == std::string::npos)
    return check_path_pattern(pat);
  size_t pos = 0;
  while (true) {
    const size_t end = pat.find('/', pos);
    const std::string comp = pat.substr(pos, end == std::string::npos ? end : end - pos);
    if (comp.empty() || comp == "." || comp == "..")
      return quoted(pat) + " is not a normalised relative path (empty, '.' or '..' component)";
    if (end == std::string::npos)
      return std::nullopt;
    pos = end + 1;
  }
}

// persistence: {severity, mode, paths: [pattern | {path: pattern, mode: enforce|audit}]}
Status parse_persistence(const Ctx &ctx, const KeyValue &section, Profile &profile)
{
  const std::string field = "persistence";
  auto fields =
      read_map(ctx, section.value, value_mark(section), field, {"severity", "mode", "paths"});
  if (!fields)
    return tl::unexpected(fields.error());
  auto paths = read_path_section(ctx, section, *fields, field, profile.persistence_mode,
                                 profile.persistence_severity);
  if (!paths)
    return tl::unexpected(paths.error());
  size_t i = 0;
  for (const auto &item : *paths) {
    const std::string item_field = index_field(field + ".paths", i++);
    PersistencePath entry;
    YAML::Node pattern_node = item;
    std::string pattern_field = item_field;
    if (item.IsMap()) {
      auto entry_fields = read_map(ctx, item, item.Mark(), item_field, {"path", "mode"});
      if (!entry_fields)
        return tl::unexpected(entry_fields.error());
      const KeyValue *path_kv = find(*entry_fields, "path");
      if (!path_kv)
        return fail_at(ctx, item.Mark(), item_field + ".path", "missing (a path pattern)");
      if (const KeyValue *kv = find(*entry_fields, "mode")) {
        auto mode = read_mode(ctx, *kv, item_field + ".mode");
        if (!mode)
          return tl::unexpected(mode.error());
        entry.mode = *mode;
      }
      pattern_node = path_kv->value;
      pattern_field = item_field + ".path";
    }
    if (!pattern_node.IsScalar())
      return fail_at(ctx, item_mark(ctx, pattern_node), pattern_field,
                     "expected a path pattern or {path, mode}, got " + describe(pattern_node));
    if (auto wrong = check_persistence_pattern(pattern_node.Scalar()))
      return fail_at(ctx, pattern_node.Mark(), pattern_field, *wrong);
    entry.pattern = pattern_node.Scalar();
    entry.line = pattern_node.Mark().line + 1;
    profile.persistence_paths.push_back(std::move(entry));
  }
  return {};
}

// launch.capabilities: the capabilities the agent keeps. Names with or without CAP_; the ones
// that would let a root agent switch vigil off are refused here, not silently dropped later.
Status parse_capabilities(const Ctx &ctx, const KeyValue &kv, Profile &profile)
{
  const std::string field = "launch.capabilities";
  auto list = read_list(ctx, kv, field);
  if (!list)
    return tl::unexpected(list.error());
  CapSet keep = 0;
  size_t i = 0;
  for (const auto &item : *list) {
    const std::string item_field = index_field(field, i++);
    const std::optional<int> cap =
        item.IsScalar() ? capability_from_name(item.Scalar()) : std::nullopt;
    if (!cap)
      return fail_at(ctx, item_mark(ctx, item), item_field,
                     "expected a capability name (CHOWN, NET_BIND_SERVICE, ...), got " +
                         describe(item));
    if (forbidden_capabilities() & cap_bit(*cap))
      return fail_at(ctx, item.Mark(), item_field,
                     capability_name(*cap) +
                         " cannot be kept: with it a root agent can switch vigil off");
    keep |= cap_bit(*cap);
  }
  profile.keep_capabilities = keep;
  return {};
}

// launch: how `vigil run` starts the agent. env_allow: secret-looking variables passed anyway;
// capabilities: the ones the agent keeps; isolate: its own cgroup and mount namespaces;
// pid_namespace: and its own pid namespace; nested_namespaces: whether it may make namespaces.
Status parse_launch(const Ctx &ctx, const KeyValue &section, Profile &profile)
{
  const std::string field = "launch";
  auto fields = read_map(ctx, section.value, value_mark(section), field,
                         {"env_allow", "capabilities", "isolate", "pid_namespace",
                          "nested_namespaces"});
  if (!fields)
    return tl::unexpected(fields.error());
  if (const KeyValue *kv = find(*fields, "capabilities")) {
    if (auto st = parse_capabilities(ctx, *kv, profile); !st)
      return st;
  }
  for (auto [key, yes, no, out] :
       {std::tuple{"isolate", "true", "false", &profile.isolate},
        std::tuple{"pid_namespace", "true", "false", &profile.pid_namespace},
        std::tuple{"nested_namespaces", "allow", "deny", &profile.nested_namespaces}}) {
    if (const KeyValue *kv = find(*fields, key)) {
      auto v = read_choice(ctx, *kv, field + "." + key, yes, no);
      if (!v)
        return tl::unexpected(v.error());
      *out = *v;
    }
  }
  if (const KeyValue *kv = find(*fields, "env_allow")) {
    auto list = read_list(ctx, *kv, field + ".env_allow");
    if (!list)
      return tl::unexpected(list.error());
    size_t i = 0;
    for (const auto &item : *list) {
      const std::string item_field = index_field(field + ".env_allow", i++);
      const bool valid =
          item.IsScalar() && !item.Scalar().empty() &&
          item.Scalar().find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                          "0123456789_") == std::string::npos;
      if (!valid)
        return fail_at(ctx, item_mark(ctx, item), item_field,
                       "expected a variable name, got " + describe(item));
      profile.env_allow.push_back(item.Scalar());
    }
  }
  return {};
}

// ipc: unix sockets and FIFOs served from outside the agent that it may still use.
Status parse_ipc(const Ctx &ctx, const KeyValue &section, Profile &profile)
{
  const std::string field = "ipc";
  auto fields = read_map(ctx, section.value, value_mark(section), field, {"allow"});
  if (!fields)
    return tl::unexpected(fields.error());
  const KeyValue *allow_kv = find(*fields, "allow");
  if (!allow_kv)
    return fail_at(ctx, value_mark(section), field + ".allow",
                   "missing (a list of socket or FIFO paths)");
  auto allow = read_list(ctx, *allow_kv, field + ".allow");
  if (!allow)
    return tl::unexpected(allow.error());
  size_t i = 0;
  for (const auto &item : *allow) {
    std::string item_field = index_field(field + ".allow", i++);
    if (!item.IsScalar())
      return fail_at(ctx, item_mark(ctx, item), item_field, "expected a path, got " + describe(item));
    const std::string &p = item.Scalar();
    if (!(p.starts_with("/") || p.starts_with("~/")) || p.find_first_of("*?[") != std::string::npos)
      return fail_at(ctx, item.Mark(), item_field,
                     quoted(p) + " must be an absolute or ~/ path without wildcards");
    profile.ipc_allow.push_back(p);
  }
  return {};
}

// egress.dns: where the agent may send DNS (port 53, TCP and UDP). "system": the resolvers
// this host uses (/etc/resolv.conf, read when the profile is installed); a list of addresses or
// CIDRs; "none". An allowlist entry that opens port 53 to everyone would be a channel to any
// server of the agent's choosing.
Status parse_dns(const Ctx &ctx, const KeyValue &kv, const std::string &field, Profile &profile)
{
  if (kv.value.IsScalar()) {
    const std::string v = kv.value.Scalar();
    if (v != "system" && v != "none")
      return fail_at(ctx, value_mark(kv), field,
                     quoted(v) + " is not one of: system, none, or a list of addresses");
    profile.dns_system = v == "system";
    return {};
  }
  auto list = read_list(ctx, kv, field);
  if (!list)
    return tl::unexpected(list.error());
  size_t i = 0;
  for (const auto &item : *list) {
    const std::string item_field = index_field(field, i++);
    auto cidr = read_cidr(ctx, item, item_mark(ctx, item), item_field);
    if (!cidr)
      return tl::unexpected(cidr.error());
    profile.dns.push_back(*cidr);
  }
  return {};
}

Status parse_egress(const Ctx &ctx, const KeyValue &section, Profile &profile)
{
  const std::string field = "egress";
  auto fields = read_map(ctx, section.value, value_mark(section), field,
                         {"severity", "mode", "raw_sockets", "allow", "allow_files", "dns"});
  if (!fields)
    return tl::unexpected(fields.error());
  if (const KeyValue *kv = find(*fields, "mode")) {
    auto mode = read_mode(ctx, *kv, field + ".mode");
    if (!mode)
      return tl::unexpected(mode.error());
    profile.egress_mode = *mode;
  }
  if (const KeyValue *kv = find(*fields, "raw_sockets")) {
    auto raw = read_string(ctx, *kv, field + ".raw_sockets");
    if (!raw)
      return tl::unexpected(raw.error());
    if (*raw != "allow" && *raw != "deny")
      return fail_at(ctx, value_mark(*kv), field + ".raw_sockets",
                     quoted(*raw) + " is not one of: allow, deny");
    profile.raw_sockets = *raw == "allow";
  }
  if (const KeyValue *kv = find(*fields, "severity")) {
    auto severity = read_severity(ctx, *kv, field + ".severity");
    if (!severity)
      return tl::unexpected(severity.error());
    profile.egress_severity = *severity;
  }
  if (const KeyValue *kv = find(*fields, "dns")) {
    if (auto r = parse_dns(ctx, *kv, field + ".dns", profile); !r)
      return r;
  }
  const KeyValue *allow_kv = find(*fields, "allow");
  const KeyValue *files_kv = find(*fields, "allow_files");
  std::vector<EgressAllow> from_files; // after the profile's own entries
  if (files_kv) {
    auto files = read_list(ctx, *files_kv, field + ".allow_files");
    if (!files)
      return tl::unexpected(files.error());
    size_t i = 0;
    for (const auto &item : *files) {
      const std::string item_field = index_field(field + ".allow_files", i++);
      if (!item.IsScalar() || item.Scalar().empty())
        return fail_at(ctx, item_mark(ctx, item), item_field,
                       "expected a file name, got " + describe(item));
      std::string path = item.Scalar();
      if (path.front() != '/') {
        const size_t slash = ctx.source.rfind('/');
        path = (slash == std::string::npos ? std::string(".") : ctx.source.substr(0, slash)) +
               "/" + path;
      }
      auto list = load_allowlist(path);
      if (!list)
        return fail_at(ctx, item.Mark(), item_field, list.error().message());
      from_files.insert(from_files.end(), list->begin(), list->end());
      profile.included.push_back(path);
    }
  }
  if (!allow_kv) {
    if (files_kv) {
      profile.egress_allow = std::move(from_files);
      return {};
    }
    return fail_at(ctx, value_mark(section), field + ".allow",
                   "missing (a list of CIDRs; [] allows nothing)");
  }
  auto allow = read_list(ctx, *allow_kv, field + ".allow");
  if (!allow)
    return tl::unexpected(allow.error());
  size_t i = 0;
  for (const auto &item : *allow) {
    auto entry = parse_allow_item(ctx, item, index_field(field + ".allow", i++));
    if (!entry)
      return tl::unexpected(entry.error());
    profile.egress_allow.push_back(std::move(*entry));
  }
  profile.egress_allow.insert(profile.egress_allow.end(), from_files.begin(), from_files.end());
  return {};
}

// ingress: {mode: enforce | audit | off, severity}
Status parse_ingress(const Ctx &ctx, const KeyValue &section, Profile &profile)
{
  const std::string field = "ingress";
  auto fields = read_map(ctx, section.value, value_mark(section), field, {"mode", "severity"});
  if (!fields)
    return tl::unexpected(fields.error());
  if (const KeyValue *kv = find(*fields, "mode")) {
    auto mode = read_string(ctx, *kv, field + ".mode");
    if (!mode)
      return tl::unexpected(mode.error());
    if (*mode == "enforce")
      profile.ingress_mode = Mode::enforce;
    else if (*mode == "audit")
      profile.ingress_mode = Mode::audit;
    else if (*mode == "off")
      profile.ingress_off = true;
    else
      return fail_at(ctx, value_mark(*kv), field + ".mode",
                     quoted(*mode) + " is not a mode (one of: enforce, audit, off)");
  }
  if (const KeyValue *kv = find(*fields, "severity")) {
    auto severity = read_severity(ctx, *kv, field + ".severity");
    if (!severity)
      return tl::unexpected(severity.error());
    profile.ingress_severity = *severity;
  }
  return {};
}

// self_protection: {mode: enforce | audit | off}
Status parse_self_protection(const Ctx &ctx, const KeyValue &section, Profile &profile)
{
  const std::string field = "self_protection";
  auto fields = read_map(ctx, section.value, value_mark(section), field, {"mode"});
  if (!fields)
    return tl::unexpected(fields.error());
  if (const KeyValue *kv = find(*fields, "mode")) {
    auto mode = read_string(ctx, *kv, field + ".mode");
    if (!mode)
      return tl::unexpected(mode.error());
    if (*mode == "enforce")
      profile.self_protection = Mode::enforce;
    else if (*mode == "audit")
      profile.self_protection = Mode::audit;
    else if (*mode == "off")
      profile.self_protection = std::nullopt;
    else
      return fail_at(ctx, value_mark(*kv), field + ".mode",
                     quoted(*mode) + " is not a mode (one of: enforce, audit, off)");
  }
  return {};
}

// limits: {events_per_second: N}
Status parse_limits(const Ctx &ctx, const KeyValue &section, Profile &profile)
{
  const std::string field = "limits";
  auto fields = read_map(ctx, section.value, value_mark(section), field, {"events_per_second"});
  if (!fields)
    return tl::unexpected(fields.error());
  if (const KeyValue *kv = find(*fields, "events_per_second")) {
    auto text = read_string(ctx, *kv, field + ".events_per_second");
    if (!text)
      return tl::unexpected(text.error());
    uint32_t n = 0;
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
    if (ec != std::errc() || end != text->data() + text->size())
      return fail_at(ctx, value_mark(*kv), field + ".events_per_second",
                     quoted(*text) + " is not a whole number of events (0: unlimited)");
    profile.events_per_second = n;
  }
  return {};
}

Result<Profile> parse_document(const Ctx &ctx, const YAML::Node &root)
{
  auto fields =
      read_map(ctx, root, root.Mark(), "",
               {"profile", "description", "mode", "require", "credentials", "persistence", "egress", "ingress",
                "ipc", "launch", "self_protection", "limits", "response"});
  if (!fields)
    return tl::unexpected(fields.error());

  Profile profile;
  profile.source = ctx.source;
  const KeyValue *name_kv = find(*fields, "profile");
  if (!name_kv)
    return fail_at(ctx, root.Mark(), "profile", "missing (every profile needs a name)");
  auto name = read_string(ctx, *name_kv, "profile");
  if (!name)
    return tl::unexpected(name.error());
  if (name->empty())
    return fail_at(ctx, value_mark(*name_kv), "profile", "empty name");
  profile.name = std::move(*name);

  if (const KeyValue *kv = find(*fields, "description")) {
    auto description = read_string(ctx, *kv, "description");
    if (!description)
      return tl::unexpected(description.error());
    profile.description = std::move(*description);
  }
  if (const KeyValue *kv = find(*fields, "mode")) {
    auto mode = read_mode(ctx, *kv, "mode");
    if (!mode)
      return tl::unexpected(mode.error());
    profile.mode = *mode;
  }
  if (const KeyValue *kv = find(*fields, "require")) {
    auto req = read_string(ctx, *kv, "require");
    if (!req)
      return tl::unexpected(req.error());
    if (*req == "none")
      profile.require = Requirement::none;
    else if (*req == "enforce")
      profile.require = Requirement::enforce;
    else if (*req == "lsm")
      profile.require = Requirement::lsm;
    else
      return fail_at(ctx, value_mark(*kv), "require",
                     quoted(*req) + " is not a requirement (one of: none, enforce, lsm)");
  }
  if (const KeyValue *kv = find(*fields, "credentials")) {
    if (auto st = parse_credentials(ctx, *kv, profile); !st)
      return tl::unexpected(st.error());
  }
  if (const KeyValue *kv = find(*fields, "persistence")) {
    if (auto st = parse_persistence(ctx, *kv, profile); !st)
      return tl::unexpected(st.error());
  }
  if (const KeyValue *kv = find(*fields, "egress")) {
    if (auto st = parse_egress(ctx, *kv, profile); !st)
      return tl::unexpected(st.error());
  }
  if (const KeyValue *kv = find(*fields, "ingress")) {
    if (auto st = parse_ingress(ctx, *kv, profile); !st)
      return tl::unexpected(st.error());
  }
  if (const KeyValue *kv = find(*fields, "launch")) {
    if (auto st = parse_launch(ctx, *kv, profile); !st)
      return tl::unexpected(st.error());
  }
  if (const KeyValue *kv = find(*fields, "ipc")) {
    if (auto st = parse_ipc(ctx, *kv, profile); !st)
      return tl::unexpected(st.error());
  }
  if (const KeyValue *kv = find(*fields, "self_protection")) {
    if (auto st = parse_self_protection(ctx, *kv, profile); !st)
      return tl::unexpected(st.error());
  }
  if (const KeyValue *kv = find(*fields, "limits")) {
    if (auto st = parse_limits(ctx, *kv, profile); !st)
      return tl::unexpected(st.error());
  }
  if (const KeyValue *kv = find(*fields, "response")) {
    if (auto st = parse_response(ctx, *kv, profile.response); !st)
      return tl::unexpected(st.error());
  }
  return profile;
}

} // namespace

std::string_view to_string(Mode m)
{
  return m == Mode::enforce ? "enforce" : "audit";
}

PersistenceScope persistence_scope(std::string_view pattern)
{
  if (pattern.starts_with("/"))
    return PersistenceScope::absolute;
  if (pattern.starts_with("~/"))
    return PersistenceScope::home;
  if (pattern.find('/') == std::string_view::npos)
    return PersistenceScope::basename;
  if (pattern.starts_with(".git/"))
    return PersistenceScope::git_dir;
  return PersistenceScope::project;
}

std::string_view to_string(Requirement r)
{
  switch (r) {
  case Requirement::none:
    return "none";
  case Requirement::enforce:
    return "enforce";
  case Requirement::lsm:
    return "lsm";
  }
  return "unknown";
}

std::string_view to_string(Severity s)
{
  using yaml::kSeverityNames;
  auto i = static_cast<size_t>(s);
  return i < kSeverityNames.size() ? kSeverityNames[i] : "unknown";
}

std::optional<Severity> severity_from_string(std::string_view s)
{
  using yaml::kSeverityNames;
  // Case-insensitive, as Falco reads its rule priorities.
  auto equal_nocase = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) ==
                    std::tolower(static_cast<unsigned char>(y));
           });
  };
  if (equal_nocase(s, "info"))
    return Severity::informational;
  for (size_t i = 0; i < kSeverityNames.size(); ++i)
    if (equal_nocase(s, kSeverityNames[i]))
      return static_cast<Severity>(i);
  return std::nullopt;
}

Result<Profile> parse_profile(std::string_view yaml_text, const std::string &source_name)
{
  const std::string source = source_name.empty() ? "<string>" : source_name;
  Ctx ctx{yaml_text, source};
  try {
    // Not YAML::LoadAll: it never returns on some malformed text (see scan_documents).
    const DocumentScan scan = scan_documents(yaml_text, 2);
    if (scan.stuck) {
      const auto at = static_cast<size_t>(std::max(scan.stuck_at.pos, 0));
      return fail_at(ctx, scan.stuck_at, "syntax",
                     at < yaml_text.size()
                         ? "unexpected " + quoted(yaml_text.substr(at, 1)) +
                               " where a document should start"
                         : std::string("no document could start here"));
    }
    if (scan.starts.empty())
      return fail_at(ctx, YAML::Mark::null_mark(), "profile",
                     "missing (the file holds no YAML document)");
    if (scan.starts.size() > 1)
      return fail_at(ctx, scan.starts[1], "(top level)",
                     "a profile file holds exactly one YAML document");
    return parse_document(ctx, YAML::Load(std::string(yaml_text)));
  } catch (const YAML::Exception &e) {
    return fail_at(ctx, e.mark, "syntax", e.msg);
  }
}

Result<Profile> load_profile(const std::string &path)
{
  auto text = read_text_file(path, "profile");
  if (!text)
    return tl::unexpected(text.error());
  return parse_profile(*text, path);
}

Result<std::vector<EgressAllow>> parse_allowlist(std::string_view yaml_text,
                                                 const std::string &source_name)
{
  const std::string source = source_name.empty() ? "<string>" : source_name;
  Ctx ctx{yaml_text, source};
  try {
    YAML::Node root = YAML::Load(std::string(yaml_text));
    auto fields = read_map(ctx, root, root.Mark(), "", {"allowlist", "description", "allow"});
    if (!fields)
      return tl::unexpected(fields.error());
    if (!find(*fields, "allowlist"))
      return fail_at(ctx, root.Mark(), "allowlist", "missing (every allowlist needs a name)");
    const KeyValue *allow_kv = find(*fields, "allow");
    if (!allow_kv)
      return fail_at(ctx, root.Mark(), "allow", "missing (a list of CIDRs or hosts)");
    auto allow = read_list(ctx, *allow_kv, "allow");
    if (!allow)
      return tl::unexpected(allow.error());
    std::vector<EgressAllow> out;
    size_t i = 0;
    for (const auto &item : *allow) {
      auto entry = parse_allow_item(ctx, item, index_field("allow", i++));
      if (!entry)
        return tl::unexpected(entry.error());
      out.push_back(std::move(*entry));
    }
    return out;
  } catch (const YAML::Exception &e) {
    return fail_at(ctx, e.mark, "syntax", e.msg);
  }
}

Result<std::vector<EgressAllow>> load_allowlist(const std::string &path)
{
  auto text = read_text_file(path, "allowlist");
  if (!text)
    return tl::unexpected(text.error());
  return parse_allowlist(*text, path);
}

bool egress_allowed(const Profile &p, const std::array<uint8_t, 16> &ip, uint16_t port)
{
  for (const EgressAllow &allow : p.egress_allow) {
    if (!allow.host.empty() || !allow.cidr.contains(ip))
      continue; // an unresolved host allows nothing
    if (allow.ports.empty())
      return true;
    for (const PortRange &range : allow.ports)
      if (range.lo <= port && port <= range.hi)
        return true;
  }
  return false;
}

} // namespace vigil::policy
