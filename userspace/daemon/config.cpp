// SPDX-License-Identifier: Apache-2.0
// Daemon configuration parsing (yaml-cpp), with file:line:column errors.
#include "daemon/config.h"

#include "policy/rules.h"

#include <filesystem>
#include <set>

#include <yaml-cpp/yaml.h>

namespace vigil::daemon {

namespace {

std::string where(const std::string &file, const YAML::Node &n, const std::string &field)
{
  // An empty document's node has a null mark (-1, -1): report it at the start of the file.
  const YAML::Mark m = n.Mark().is_null() ? YAML::Mark() : n.Mark();
  return file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) + ": " +
         field + ": ";
}

Result<std::string> scalar(const std::string &file, const YAML::Node &n, const std::string &field)
{
  if (!n.IsScalar())
    return fail(where(file, n, field) + "expected a string");
  return n.as<std::string>();
}

Result<int> bounded_int(const std::string &file, const YAML::Node &n, const std::string &field,
                        int lo, int hi)
{
  int v = 0;
  if (!n.IsScalar() || !YAML::convert<int>::decode(n, v) || v < lo || v > hi)
    return fail(where(file, n, field) + "expected an integer between " + std::to_string(lo) +
                " and " + std::to_string(hi));
  return v;
}

// webhook / alertmanager: a URL, or a mapping {url, format, queue, hold_s}.
Result<HttpOutput> http_output(const std::string &file, const YAML::Node &n,
                               const std::string &field, bool webhook)
{
  HttpOutput o;
  if (n.IsMap()) {
    const std::set<std::string> known =
        webhook ? std::set<std::string>{"url", "format", "queue"}
                : std::set<std::string>{"url", "queue", "hold_s"};
    for (const auto &kv : n) {
      const std::string key = kv.first.as<std::string>();
      if (!known.count(key))
        return fail(where(file, kv.first, field + "." + key) + "unknown key");
    }
    if (!n["url"])
      return fail(where(file, n, field) + "needs 'url'");
    if (const YAML::Node f = n["format"]) {
      auto v = scalar(file, f, field + ".format");
      if (!v)
        return tl::unexpected(v.error());
      if (*v != "json" && *v != "falco")
        return fail(where(file, f, field + ".format") + "'" + *v +
                    "' is not a format (one of: json, falco)");
      o.format = *v;
    }
    if (const YAML::Node q = n["queue"]) {
      auto v = bounded_int(file, q, field + ".queue", 1, 1000000);
      if (!v)
        return tl::unexpected(v.error());
      o.queue = *v;
    }
    if (const YAML::Node h = n["hold_s"]) {
      auto v = bounded_int(file, h, field + ".hold_s", 1, 7 * 24 * 3600);
      if (!v)
        return tl::unexpected(v.error());
      o.hold_s = *v;
    }
  }
  // Not assigned from n: yaml-cpp's Node assignment writes through to the node it refers to.
  const YAML::Node url = n.IsMap() ? n["url"] : n;
  auto u = scalar(file, url, field + (n.IsMap() ? ".url" : ""));
  if (!u)
    return tl::unexpected(u.error());
  if (u->rfind("http://", 0) != 0 && u->rfind("https://", 0) != 0)
    return fail(where(file, url, field + (n.IsMap() ? ".url" : "")) +
                "expected an http:// or https:// URL");
  o.url = *u;
  return o;
}

Result<Outputs> parse_outputs(const std::string &file, const YAML::Node &n)
{
  Outputs o;
  if (!n.IsMap())
    return fail(where(file, n, "outputs") + "expected a mapping");
  static const std::set<std::string> known{"stderr", "json", "falco", "webhook", "alertmanager"};
  for (const auto &kv : n) {
    const std::string key = kv.first.as<std::string>();
    if (!known.count(key))
      return fail(where(file, kv.first, "outputs." + key) + "unknown key");
  }
  if (const YAML::Node v = n["stderr"]) {
    bool b = true;
    if (!v.IsScalar() || !YAML::convert<bool>::decode(v, b))
      return fail(where(file, v, "outputs.stderr") + "expected true or false");
    o.stderr_lines = b;
  }
  for (const char *key : {"json", "falco"}) {
    if (const YAML::Node v = n[key]) {
      auto path = scalar(file, v, std::string("outputs.") + key);
      if (!path)
        return tl::unexpected(path.error());
      if (path->empty())
        return fail(where(file, v, std::string("outputs.") + key) + "expected a file or \"-\"");
      (std::string(key) == "json" ? o.json : o.falco) = *path;
    }
  }
  if (const YAML::Node v = n["webhook"]) {
    auto h = http_output(file, v, "outputs.webhook", true);
    if (!h)
      return tl::unexpected(h.error());
    o.webhook = *h;
  }
  if (const YAML::Node v = n["alertmanager"]) {
    auto h = http_output(file, v, "outputs.alertmanager", false);
    if (!h)
      return tl::unexpected(h.error());
    o.alertmanager = *h;
  }
  return o;
}

Result<KubernetesConfig> parse_kubernetes(const std::string &file, const YAML::Node &n)
{
  KubernetesConfig k;
  if (!n.IsMap())
    return fail(where(file, n, "kubernetes") + "expected a mapping");
  for (const auto &kv : n) {
    const std::string key = kv.first.as<std::string>();
    const std::string field = "kubernetes." + key;
    if (key == "enabled") {
      bool b = true;
      if (!kv.second.IsScalar() || !YAML::convert<bool>::decode(kv.second, b))
        return fail(where(file, kv.second, field) + "expected true or false");
      k.enabled = b;
      continue;
    }
    std::string *dst = key == "api_server"    ? &k.api_server
                       : key == "token_file"  ? &k.token_file
                       : key == "ca_file"     ? &k.ca_file
                       : key == "node"        ? &k.node
                       : key == "label"       ? &k.label
                       : key == "cgroup_root" ? &k.cgroup_root
                                              : nullptr;
    if (!dst)
      return fail(where(file, kv.first, field) +
                  "unknown key (expected enabled, api_server, token_file, ca_file, node, label "
                  "or cgroup_root)");
    auto s = scalar(file, kv.second, field);
    if (!s)
      return tl::unexpected(s.error());
    if (key == "api_server" && !s->empty() && s->rfind("https://", 0) != 0 &&
        s->rfind("http://", 0) != 0)
      return fail(where(file, kv.second, field) + "expected an https:// URL");
    if (key == "label" && s->empty())
      return fail(where(file, kv.second, field) + "expected a label key");
    if (key == "cgroup_root" && (s->empty() || (*s)[0] != '/'))
      return fail(where(file, kv.second, field) +
                  "must start with '/' (relative to the cgroup2 mount)");
    *dst = *s;
  }
  while (k.cgroup_root.size() > 1 && k.cgroup_root.back() == '/')
    k.cgroup_root.pop_back();
  return k;
}

Result<Config> parse(const std::string &file, const YAML::Node &root)
{
  namespace fs = std::filesystem;
  Config c;
  c.source = file;
  const fs::path base = fs::absolute(fs::path(file)).parent_path();
  if (!root.IsMap())
    return fail(where(file, root, "(top level)") + "expected a mapping");
  static const std::set<std::string> known{"profiles",        "cgroups", "alerts_json",
                                           "metrics_address", "log_dir", "rescan_ms",
                                           "max_tier", "pin_dir", "rules", "state_dir", "outputs",
                                           "log_retention", "kubernetes",
                                           "syscall_tracepoints", "control_socket",
                                           "ring_buffer"};
  for (const auto &kv : root) {
    const std::string key = kv.first.as<std::string>();
    if (!known.count(key))
      return fail(where(file, kv.first, key) + "unknown key");
  }
  const YAML::Node profiles = root["profiles"];
  if (!profiles || !profiles.IsSequence() || profiles.size() == 0)
    return fail(where(file, profiles ? profiles : root, "profiles") +
                "expected a non-empty list of profile files");
  for (size_t i = 0; i < profiles.size(); ++i) {
    auto s = scalar(file, profiles[i], "profiles[" + std::to_string(i) + "]");
    if (!s)
      return tl::unexpected(s.error());
    fs::path p(*s);
    c.profile_files.push_back((p.is_absolute() ? p : base / p).lexically_normal().string());
  }
  if (const YAML::Node rules = root["rules"]) {
    if (!rules.IsSequence() || rules.size() == 0)
      return fail(where(file, rules, "rules") + "expected a non-empty list of rule files or "
                                                "directories");
    for (size_t i = 0; i < rules.size(); ++i) {
      auto s = scalar(file, rules[i], "rules[" + std::to_string(i) + "]");
      if (!s)
        return tl::unexpected(s.error());
      fs::path p(*s);
      c.rule_paths.push_back((p.is_absolute() ? p : base / p).lexically_normal().string());
    }
  }
  if (const YAML::Node n = root["log_retention"]) {
    if (!n.IsMap())
      return fail(where(file, n, "log_retention") +
                  "expected a mapping {segment_bytes, segment_age, max_bytes}");
    for (const auto &kv : n) {
      const std::string key = kv.first.as<std::string>();
      const std::string field = "log_retention." + key;
      auto s = scalar(file, kv.second, field);
      if (!s)
        return tl::unexpected(s.error());
      if (key == "segment_age") {
        auto d = policy::parse_duration(*s);
        if (!d || *d < 1'000'000'000ull)
          return fail(where(file, kv.second, field) + "'" + *s +
                      "' is not a duration of at least 1s (e.g. 30m, 1h)");
        c.log_segment_age_ns = *d;
      } else if (key == "segment_bytes" || key == "max_bytes") {
        auto b = policy::parse_bytes(*s);
        if (!b || *b < (1ull << 20))
          return fail(where(file, kv.second, field) + "'" + *s +
                      "' is not a size of at least 1MiB (e.g. 64MiB, 10GiB)");
        (key == "segment_bytes" ? c.log_segment_bytes : c.log_max_bytes) = *b;
      } else {
        return fail(where(file, kv.first, field) +
                    "unknown key (expected segment_bytes, segment_age or max_bytes)");
      }
    }
    if (c.log_max_bytes < c.log_segment_bytes)
      return fail(where(file, n, "log_retention.max_bytes") +
                  "must be at least segment_bytes (one whole segment)");
  }
  if (const YAML::Node n = root["state_dir"]) {
    auto s = scalar(file, n, "state_dir");
    if (!s)
      return tl::unexpected(s.error());
    fs::path p(*s);
    c.state_dir = s->empty() ? std::string() : (p.is_absolute() ? p : base / p).string();
  }
  if (const YAML::Node n = root["kubernetes"]) {
    auto k = parse_kubernetes(file, n);
    if (!k)
      return tl::unexpected(k.error());
    if (k->enabled)
      c.kubernetes = *k;
  }
  // With the kubernetes section, pod labels select cgroups and the globs are optional.
  const YAML::Node cgroups = c.kubernetes && !root["cgroups"] ? YAML::Node(YAML::NodeType::Sequence)
                                                              : root["cgroups"];
  if (!cgroups || !cgroups.IsSequence())
    return fail(where(file, cgroups ? cgroups : root, "cgroups") +
                "expected a list of {path, profile}");
  for (size_t i = 0; i < cgroups.size(); ++i) {
    const std::string field = "cgroups[" + std::to_string(i) + "]";
    const YAML::Node item = cgroups[i];
    if (!item.IsMap())
      return fail(where(file, item, field) + "expected a mapping with 'path' and 'profile'");
    for (const auto &kv : item) {
      const std::string key = kv.first.as<std::string>();
      if (key != "path" && key != "profile")
        return fail(where(file, kv.first, field + "." + key) + "unknown key");
    }
    if (!item["path"] || !item["profile"])
      return fail(where(file, item, field) + "needs both 'path' and 'profile'");
    auto path = scalar(file, item["path"], field + ".path");
    if (!path)
      return tl::unexpected(path.error());
    auto profile = scalar(file, item["profile"], field + ".profile");
    if (!profile)
      return tl::unexpected(profile.error());
    if (path->empty() || (*path)[0] != '/')
      return fail(where(file, item["path"], field + ".path") +
                  "must start with '/' (relative to the cgroup2 mount)");
    c.cgroups.push_back({*path, *profile});
  }
  for (const char *key : {"alerts_json", "metrics_address", "log_dir"}) {
    if (const YAML::Node n = root[key]) {
      auto s = scalar(file, n, key);
      if (!s)
        return tl::unexpected(s.error());
      std::optional<std::string> &dst = std::string(key) == "alerts_json" ? c.alerts_json
                                        : std::string(key) == "log_dir"   ? c.log_dir
                                                                          : c.metrics_address;
      dst = *s;
    }
  }
  if (const YAML::Node n = root["outputs"]) {
    auto o = parse_outputs(file, n);
    if (!o)
      return tl::unexpected(o.error());
    c.outputs = *o;
    if (c.alerts_json && c.outputs.json)
      return fail(where(file, n, "outputs.json") +
                  "given twice (top-level alerts_json is the older spelling)");
  }
  if (c.alerts_json && !c.outputs.json)
    c.outputs.json = c.alerts_json;
  if (const YAML::Node n = root["pin_dir"]) {
    auto s = scalar(file, n, "pin_dir");
    if (!s)
      return tl::unexpected(s.error());
    if (!s->empty() && (*s)[0] != '/')
      return fail(where(file, n, "pin_dir") + "must be an absolute path under the bpffs, or \"\"");
    c.pin_dir = *s;
  }
  if (const YAML::Node n = root["control_socket"]) {
    auto s = scalar(file, n, "control_socket");
    if (!s)
      return tl::unexpected(s.error());
    if (!s->empty() && (*s)[0] != '/')
      return fail(where(file, n, "control_socket") + "must be an absolute path, or \"\"");
    if (s->size() >= 108) // sockaddr_un.sun_path
      return fail(where(file, n, "control_socket") + "is longer than a unix socket path can be");
    c.control_socket = *s;
  }
  if (const YAML::Node n = root["max_tier"]) {
    auto s = scalar(file, n, "max_tier");
    if (!s)
      return tl::unexpected(s.error());
    if (*s != "lsm" && *s != "fallback" && *s != "monitor")
      return fail(where(file, n, "max_tier") + "'" + *s +
                  "' is not a tier (one of: lsm, fallback, monitor)");
    c.max_tier = *s;
  }
  if (const YAML::Node n = root["syscall_tracepoints"]) {
    bool v = false;
    if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v))
      return fail(where(file, n, "syscall_tracepoints") + "expected true or false");
    c.syscall_tracepoints = v;
  }
  if (const YAML::Node n = root["ring_buffer"]) {
    auto s = scalar(file, n, "ring_buffer");
    if (!s)
      return tl::unexpected(s.error());
    auto b = parse_ring_size(*s);
    if (!b)
      return fail(where(file, n, "ring_buffer") + b.error().message());
    c.ring_buffer_bytes = *b;
  }
  if (const YAML::Node n = root["rescan_ms"]) {
    int v = 0;
    if (!n.IsScalar() || !YAML::convert<int>::decode(n, v) || v < 50 || v > 60000)
      return fail(where(file, n, "rescan_ms") + "expected an integer between 50 and 60000");
    c.rescan_ms = v;
  }
  return c;
}

} // namespace

Result<uint32_t> parse_ring_size(const std::string &text)
{
  auto b = policy::parse_bytes(text);
  if (!b || *b < (256ull << 10) || *b > (256ull << 20) || (*b & (*b - 1)) != 0)
    return fail("'" + text + "' is not a power of two between 256KiB and 256MiB (e.g. 4MiB)");
  return static_cast<uint32_t>(*b);
}

Result<Config> load_config(const std::string &path)
{
  try {
    return parse(path, YAML::LoadFile(path));
  } catch (const YAML::BadFile &) {
    return fail_errno(errno ? errno : ENOENT, "read config " + path);
  } catch (const YAML::Exception &e) {
    return fail(path + ":" + std::to_string(e.mark.line + 1) + ":" +
                std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
}

} // namespace vigil::daemon
