// SPDX-License-Identifier: Apache-2.0
// Rule YAML -> RuleSet. Each rule is read field by field and every mistake is recorded, so one
// run of `vigil rules check` shows all of them; a rule with any mistake is left out of the set.
#include "policy/rules.h"

#include <fnmatch.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <map>
#include <set>

#include "pipeline/event.h"
#include "policy/yaml_read.h"

namespace vigil::policy {

using namespace yaml;

namespace {

constexpr std::array<std::pair<std::string_view, RuleKind>, 12> kKinds = {{
    {"credential_read", RuleKind::credential_read},
    {"egress", RuleKind::egress},
    {"sequence", RuleKind::sequence},
    {"exec_context", RuleKind::exec_context},
    {"process", RuleKind::process},
    {"process_access", RuleKind::process_access},
    {"ipc", RuleKind::ipc},
    {"raw_socket", RuleKind::raw_socket},
    {"tamper", RuleKind::tamper},
    {"throttle", RuleKind::throttle},
    {"inbound", RuleKind::inbound},
    {"persistence_write", RuleKind::persistence_write},
}};

constexpr std::array<std::pair<std::string_view, EgressMatch>, 4> kEgressMatches = {{
    {"outside_allowlist", EgressMatch::outside_allowlist},
    {"destinations", EgressMatch::destinations},
    {"new_destination", EgressMatch::new_destination},
    {"volume", EgressMatch::volume},
}};

// "cgroup_write, cgroup_mkdir, ...": the tamper actions a rule may name, as the kernel numbers
// them.
std::string tamper_action_names()
{
  std::string out;
  for (size_t i = 1; i < std::size(pipeline::kTamperNames); ++i)
    out += (i > 1 ? ", " : "") + std::string(pipeline::kTamperNames[i]);
  return out;
}

template <typename Table> std::string names_of(const Table &t)
{
  std::string s;
  for (const auto &[name, v] : t)
    s += (s.empty() ? "" : ", ") + std::string(name);
  return s;
}

// Collects errors; a field that fails is skipped and the next one is read.
struct Collector {
  std::vector<std::string> &errors;
  bool failed = false;
  template <typename T> bool ok(const Result<T> &r)
  {
    if (r)
      return true;
    errors.push_back(r.error().message());
    failed = true;
    return false;
  }
  void add(const tl::unexpected<Error> &u) { add(u.value()); }
  void add(const Error &e)
  {
    errors.push_back(e.message());
    failed = true;
  }
};

Result<std::vector<std::string>> read_strings(const Ctx &ctx, const KeyValue &kv,
                                              const std::string &field)
{
  std::vector<std::string> out;
  if (kv.value.IsScalar()) { // a single item may be written without brackets
    if (kv.value.Scalar().empty())
      return fail_at(ctx, value_mark(kv), field, "empty string");
    out.push_back(kv.value.Scalar());
    return out;
  }
  auto list = read_list(ctx, kv, field);
  if (!list)
    return tl::unexpected(list.error());
  size_t i = 0;
  for (const auto &item : *list) {
    const std::string f = index_field(field, i++);
    if (!item.IsScalar() || item.Scalar().empty())
      return fail_at(ctx, item_mark(ctx, item), f, "expected a string, got " + describe(item));
    out.push_back(item.Scalar());
  }
  if (out.empty())
    return fail_at(ctx, value_mark(kv), field, "empty list (omit the key instead)");
  return out;
}

Result<bool> read_bool(const Ctx &ctx, const KeyValue &kv, const std::string &field)
{
  auto s = read_string(ctx, kv, field);
  if (!s)
    return tl::unexpected(s.error());
  if (*s == "true")
    return true;
  if (*s == "false")
    return false;
  return fail_at(ctx, value_mark(kv), field, yaml::quoted(*s) + " is not true or false");
}

Result<uint64_t> read_duration(const Ctx &ctx, const KeyValue &kv, const std::string &field)
{
  auto s = read_string(ctx, kv, field);
  if (!s)
    return tl::unexpected(s.error());
  auto d = parse_duration(*s);
  if (!d || *d == 0)
    return fail_at(ctx, value_mark(kv), field,
                   yaml::quoted(*s) + " is not a positive duration (e.g. 250ms, 30s, 10m, 1h)");
  return *d;
}

Result<ProcMatch> read_proc(const Ctx &ctx, const KeyValue &kv, const std::string &field)
{
  auto fields = read_map(ctx, kv.value, value_mark(kv), field, {"exe", "args"});
  if (!fields)
    return tl::unexpected(fields.error());
  ProcMatch m;
  if (const KeyValue *e = find(*fields, "exe")) {
    auto v = read_strings(ctx, *e, field + ".exe");
    if (!v)
      return tl::unexpected(v.error());
    m.exe = std::move(*v);
  }
  if (const KeyValue *a = find(*fields, "args")) {
    auto v = read_strings(ctx, *a, field + ".args");
    if (!v)
      return tl::unexpected(v.error());
    m.args = std::move(*v);
  }
  if (m.empty())
    return fail_at(ctx, value_mark(kv), field, "needs exe or args");
  return m;
}

Result<std::vector<Destination>> read_destinations(const Ctx &ctx, const KeyValue &kv,
                                                   const std::string &field)
{
  auto list = read_list(ctx, kv, field);
  if (!list)
    return tl::unexpected(list.error());
  std::vector<Destination> out;
  size_t i = 0;
  for (const auto &item : *list) {
    auto allow = parse_allow_item(ctx, item, index_field(field, i++));
    if (!allow)
      return tl::unexpected(allow.error());
    if (!allow->host.empty())
      return fail_at(ctx, item_mark(ctx, item), index_field(field, i - 1),
                     "rule destinations are CIDRs (host names belong in a profile's allowlist)");
    out.push_back(Destination{allow->cidr, allow->ports});
  }
  if (out.empty())
    return fail_at(ctx, value_mark(kv), field, "empty list");
  return out;
}

Result<std::vector<std::string>> read_paths(const Ctx &ctx, const KeyValue &kv,
                                            const std::string &field)
{
  auto v = read_strings(ctx, kv, field);
  if (!v)
    return tl::unexpected(v.error());
  auto node = kv.value;
  for (size_t i = 0; i < v->size(); ++i)
    if (auto wrong = check_path_pattern((*v)[i]))
      return fail_at(ctx, node.IsSequence() ? node[i].Mark() : node.Mark(), index_field(field, i),
                     *wrong);
  return v;
}

Result<std::vector<std::string>> read_env_names(const Ctx &ctx, const KeyValue &kv,
                                                const std::string &field)
{
  auto v = read_strings(ctx, kv, field);
  if (!v)
    return tl::unexpected(v.error());
  for (size_t i = 0; i < v->size(); ++i) {
    std::string name = (*v)[i];
    const bool prefix = name.ends_with('*');
    if (prefix)
      name.pop_back();
    const bool valid =
        !name.empty() && name.size() < 28 &&
        name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") ==
            std::string::npos;
    if (!valid)
      return fail_at(ctx, kv.value.IsSequence() ? kv.value[i].Mark() : kv.value.Mark(),
                     index_field(field, i),
                     yaml::quoted((*v)[i]) +
                         " is not a variable name (letters, digits, '_', under 28 characters, "
                         "optionally ending in '*' for a prefix)");
  }
  return v;
}

Result<SequenceStep> read_step(const Ctx &ctx, const KeyValue &kv, const std::string &field)
{
  auto fields = read_map(ctx, kv.value, value_mark(kv), field, {"rules", "kinds", "tags"});
  if (!fields)
    return tl::unexpected(fields.error());
  SequenceStep step;
  if (const KeyValue *r = find(*fields, "rules")) {
    auto v = read_strings(ctx, *r, field + ".rules");
    if (!v)
      return tl::unexpected(v.error());
    step.rules = std::move(*v);
  }
  if (const KeyValue *k = find(*fields, "kinds")) {
    auto v = read_strings(ctx, *k, field + ".kinds");
    if (!v)
      return tl::unexpected(v.error());
    for (size_t i = 0; i < v->size(); ++i) {
      auto it = std::find_if(kKinds.begin(), kKinds.end(),
                             [&](const auto &p) { return p.first == (*v)[i]; });
      if (it == kKinds.end() || it->second == RuleKind::sequence)
        return fail_at(ctx, k->value.IsSequence() ? k->value[i].Mark() : k->value.Mark(),
                       index_field(field + ".kinds", i),
                       yaml::quoted((*v)[i]) + " is not a rule kind a sequence can follow");
      step.kinds.push_back(it->second);
    }
  }
  if (const KeyValue *t = find(*fields, "tags")) {
    auto v = read_strings(ctx, *t, field + ".tags");
    if (!v)
      return tl::unexpected(v.error());
    step.tags = std::move(*v);
  }
  if (step.rules.empty() && step.kinds.empty() && step.tags.empty())
    return fail_at(ctx, value_mark(kv), field, "needs rules, kinds or tags");
  return step;
}

Result<RuleException> read_exception(const Ctx &ctx, const YAML::Node &item,
                                     const std::string &field)
{
  const YAML::Mark mark = item_mark(ctx, item);
  auto fields = read_map(ctx, item, mark, field,
                         {"exe", "args", "ancestor", "paths", "destinations", "env"});
  if (!fields)
    return tl::unexpected(fields.error());
  RuleException ex;
  ex.line = mark.line + 1;
  if (const KeyValue *kv = find(*fields, "exe")) {
    auto v = read_strings(ctx, *kv, field + ".exe");
    if (!v)
      return tl::unexpected(v.error());
    ex.proc.exe = std::move(*v);
  }
  if (const KeyValue *kv = find(*fields, "args")) {
    auto v = read_strings(ctx, *kv, field + ".args");
    if (!v)
      return tl::unexpected(v.error());
    ex.proc.args = std::move(*v);
  }
  if (const KeyValue *kv = find(*fields, "ancestor")) {
    auto v = read_proc(ctx, *kv, field + ".ancestor");
    if (!v)
      return tl::unexpected(v.error());
    ex.ancestor = std::move(*v);
  }
  if (const KeyValue *kv = find(*fields, "paths")) {
    auto v = read_paths(ctx, *kv, field + ".paths");
    if (!v)
      return tl::unexpected(v.error());
    ex.paths = std::move(*v);
  }
  if (const KeyValue *kv = find(*fields, "destinations")) {
    auto v = read_destinations(ctx, *kv, field + ".destinations");
    if (!v)
      return tl::unexpected(v.error());
    ex.destinations = std::move(*v);
  }
  if (const KeyValue *kv = find(*fields, "env")) {
    auto v = read_strings(ctx, *kv, field + ".env");
    if (!v)
      return tl::unexpected(v.error());
    for (size_t i = 0; i < v->size(); ++i)
      if ((*v)[i].find('=') == std::string::npos)
        return fail_at(ctx, kv->value.IsSequence() ? kv->value[i].Mark() : kv->value.Mark(),
                       index_field(field + ".env", i),
                       yaml::quoted((*v)[i]) + " must be NAME=VALUE (globs allowed in the value)");
    ex.env = std::move(*v);
  }
  if (fields->empty())
    return fail_at(ctx, mark, field, "an empty exception would suppress every alert");
  return ex;
}

// Keys each kind accepts, beyond the common ones.
const std::map<RuleKind, std::vector<std::string_view>> &kind_keys()
{
  static const std::map<RuleKind, std::vector<std::string_view>> keys = {
      {RuleKind::credential_read, {"paths", "profile_paths", "fallback"}},
      {RuleKind::egress,
       {"match", "destinations", "learning", "bytes", "window", "fallback"}},
      {RuleKind::sequence, {"first", "then", "within", "scope"}},
      {RuleKind::exec_context,
       {"exe", "args", "parent", "ancestor", "env", "inherited", "env_truncated"}},
      {RuleKind::process, {"exe", "args", "parent", "ancestor"}},
      {RuleKind::process_access, {}},
      {RuleKind::ipc, {}},
      {RuleKind::raw_socket, {}},
      {RuleKind::tamper, {"actions"}},
      {RuleKind::throttle, {}},
      {RuleKind::inbound, {}},
      {RuleKind::persistence_write, {"paths", "fallback"}},
  };
  return keys;
}

void parse_rule(const Ctx &ctx, const YAML::Node &item, const std::string &field, RuleSet &out,
                std::vector<std::string> &errors)
{
  Collector c{errors};
  const YAML::Mark mark = item_mark(ctx, item);
  auto fields = read_map(ctx, item, mark, field,
                         {"id", "description", "kind", "severity", "tags", "enabled", "profiles",
                          "exceptions", "paths", "profile_paths", "fallback", "match",
                          "destinations", "learning", "bytes", "window", "first", "then",
                          "within", "scope", "exe", "args", "parent", "ancestor", "env",
                          "inherited", "env_truncated", "actions", "response",
                          "recommended_action"});
  if (!c.ok(fields))
    return;
  Rule r;
  r.source = ctx.source;
  r.line = mark.line + 1;
  std::string where = field;
  if (const KeyValue *kv = find(*fields, "id")) {
    auto id = read_string(ctx, *kv, field + ".id");
    if (c.ok(id)) {
      const bool valid = !id->empty() && id->size() <= 64 &&
                         id->find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_.") ==
                             std::string::npos;
      if (!valid)
        c.add(fail_at(ctx, value_mark(*kv), field + ".id",
                      yaml::quoted(*id) + " is not a rule id (lower case letters, digits, '-', '_', "
                                    "'.', at most 64)"));
      r.id = *id;
      where = field + "(" + r.id + ")";
    }
  } else {
    c.add(fail_at(ctx, mark, field + ".id", "missing (every rule needs an id)"));
  }
  if (const KeyValue *kv = find(*fields, "description")) {
    auto d = read_string(ctx, *kv, where + ".description");
    if (c.ok(d))
      r.description = *d;
  } else {
    c.add(fail_at(ctx, mark, where + ".description", "missing"));
  }
  const KeyValue *kind_kv = find(*fields, "kind");
  bool kind_ok = false;
  if (kind_kv) {
    auto k = read_string(ctx, *kind_kv, where + ".kind");
    if (c.ok(k)) {
      auto it = std::find_if(kKinds.begin(), kKinds.end(),
                             [&](const auto &p) { return p.first == *k; });
      if (it == kKinds.end()) {
        c.add(fail_at(ctx, value_mark(*kind_kv), where + ".kind",
                      yaml::quoted(*k) + " is not a rule kind (one of: " + names_of(kKinds) + ")"));
      } else {
        r.kind = it->second;
        kind_ok = true;
      }
    }
  } else {
    c.add(fail_at(ctx, mark, where + ".kind", "missing (one of: " + names_of(kKinds) + ")"));
  }
  if (const KeyValue *kv = find(*fields, "severity")) {
    auto s = read_severity(ctx, *kv, where + ".severity");
    if (c.ok(s))
      r.severity = *s;
  } else {
    c.add(fail_at(ctx, mark, where + ".severity", "missing"));
  }
  if (const KeyValue *kv = find(*fields, "tags")) {
    auto t = read_strings(ctx, *kv, where + ".tags");
    if (c.ok(t))
      r.tags = std::move(*t);
  }
  if (const KeyValue *kv = find(*fields, "enabled")) {
    auto b = read_bool(ctx, *kv, where + ".enabled");
    if (c.ok(b))
      r.enabled = *b;
  }
  if (const KeyValue *kv = find(*fields, "profiles")) {
    auto p = read_strings(ctx, *kv, where + ".profiles");
    if (c.ok(p))
      r.profiles = std::move(*p);
  }
  if (const KeyValue *kv = find(*fields, "response")) {
    auto a = read_actions(ctx, *kv, where + ".response");
    if (c.ok(a))
      r.response = std::move(*a);
  }
  if (const KeyValue *kv = find(*fields, "recommended_action")) {
    auto a = read_actions(ctx, *kv, where + ".recommended_action");
    if (c.ok(a)) {
      if (a->size() != 1)
        c.add(fail_at(ctx, value_mark(*kv), where + ".recommended_action", "one action"));
      else
        r.recommended_action = a->front();
    }
  }
  if (const KeyValue *kv = find(*fields, "exceptions")) {
    auto list = read_list(ctx, *kv, where + ".exceptions");
    if (c.ok(list)) {
      size_t i = 0;
      for (const auto &e : *list) {
        auto ex = read_exception(ctx, e, index_field(where + ".exceptions", i++));
        if (c.ok(ex))
          r.exceptions.push_back(std::move(*ex));
      }
    }
  }
  if (!kind_ok) {
    if (!c.failed)
      c.add(Error{{}, "unreachable"});
    return;
  }
  // Kind-specific keys: any other kind's key is a mistake, not silently ignored.
  const auto &allowed = kind_keys().at(r.kind);
  static const std::set<std::string_view> common = {
      "id",       "description", "kind",     "severity",          "tags",
      "enabled",  "profiles",    "exceptions", "response",        "recommended_action"};
  for (const auto &[name, kv] : *fields)
    if (!common.count(name) && std::find(allowed.begin(), allowed.end(), name) == allowed.end())
      c.add(fail_at(ctx, kv.key.Mark(), where + "." + name,
                    "not a field of kind " + std::string(to_string(r.kind))));

  auto get_bool = [&](std::string_view key, bool &dst) {
    if (const KeyValue *kv = find(*fields, key)) {
      auto b = read_bool(ctx, *kv, where + "." + std::string(key));
      if (c.ok(b))
        dst = *b;
    }
  };
  auto get_proc = [&](std::string_view key, ProcMatch &dst) {
    if (const KeyValue *kv = find(*fields, key)) {
      auto p = read_proc(ctx, *kv, where + "." + std::string(key));
      if (c.ok(p))
        dst = std::move(*p);
    }
  };
  get_bool("fallback", r.fallback);
  switch (r.kind) {
  case RuleKind::credential_read: {
    get_bool("profile_paths", r.profile_paths);
    if (const KeyValue *kv = find(*fields, "paths")) {
      auto p = read_paths(ctx, *kv, where + ".paths");
      if (c.ok(p))
        r.paths = std::move(*p);
    }
    if (!find(*fields, "paths") && !r.profile_paths)
      c.add(fail_at(ctx, mark, where + ".paths", "missing (or profile_paths: true)"));
    break;
  }
  case RuleKind::persistence_write: {
    if (const KeyValue *kv = find(*fields, "paths")) {
      auto p = read_paths(ctx, *kv, where + ".paths");
      if (c.ok(p))
        r.paths = std::move(*p);
    } else {
      c.add(fail_at(ctx, mark, where + ".paths", "missing (a list of path patterns)"));
    }
    break;
  }
  case RuleKind::egress: {
    if (const KeyValue *kv = find(*fields, "match")) {
      auto m = read_string(ctx, *kv, where + ".match");
      if (c.ok(m)) {
        auto it = std::find_if(kEgressMatches.begin(), kEgressMatches.end(),
                               [&](const auto &p) { return p.first == *m; });
        if (it == kEgressMatches.end())
          c.add(fail_at(ctx, value_mark(*kv), where + ".match",
                        yaml::quoted(*m) + " is not an egress match (one of: " +
                            names_of(kEgressMatches) + ")"));
        else
          r.egress = it->second;
      }
    } else {
      c.add(fail_at(ctx, mark, where + ".match",
                    "missing (one of: " + names_of(kEgressMatches) + ")"));
    }
    if (const KeyValue *kv = find(*fields, "destinations")) {
      auto d = read_destinations(ctx, *kv, where + ".destinations");
      if (c.ok(d))
        r.destinations = std::move(*d);
    }
    if (const KeyValue *kv = find(*fields, "learning")) {
      auto d = read_duration(ctx, *kv, where + ".learning");
      if (c.ok(d))
        r.learning_ns = *d;
    }
    if (const KeyValue *kv = find(*fields, "window")) {
      auto d = read_duration(ctx, *kv, where + ".window");
      if (c.ok(d))
        r.window_ns = *d;
    }
    if (const KeyValue *kv = find(*fields, "bytes")) {
      auto s = read_string(ctx, *kv, where + ".bytes");
      if (c.ok(s)) {
        auto b = parse_bytes(*s);
        if (!b || *b == 0)
          c.add(fail_at(ctx, value_mark(*kv), where + ".bytes",
                        yaml::quoted(*s) + " is not a positive size (e.g. 4096, 10MiB, 1GB)"));
        else
          r.volume_bytes = *b;
      }
    }
    if (r.egress == EgressMatch::destinations && r.destinations.empty() &&
        !find(*fields, "destinations"))
      c.add(fail_at(ctx, mark, where + ".destinations", "missing (match: destinations)"));
    if (r.egress == EgressMatch::new_destination && !find(*fields, "learning"))
      c.add(fail_at(ctx, mark, where + ".learning", "missing (match: new_destination)"));
    if (r.egress == EgressMatch::volume) {
      if (!find(*fields, "bytes"))
        c.add(fail_at(ctx, mark, where + ".bytes", "missing (match: volume)"));
      if (!find(*fields, "window"))
        c.add(fail_at(ctx, mark, where + ".window", "missing (match: volume)"));
    }
    break;
  }
  case RuleKind::sequence: {
    for (auto [key, dst] : {std::pair{"first", &r.first}, std::pair{"then", &r.then}}) {
      if (const KeyValue *kv = find(*fields, key)) {
        auto s = read_step(ctx, *kv, where + "." + key);
        if (c.ok(s))
          *dst = std::move(*s);
      } else {
        c.add(fail_at(ctx, mark, where + "." + key, "missing"));
      }
    }
    if (const KeyValue *kv = find(*fields, "within")) {
      auto d = read_duration(ctx, *kv, where + ".within");
      if (c.ok(d))
        r.within_ns = *d;
    } else {
      c.add(fail_at(ctx, mark, where + ".within", "missing (e.g. 60s)"));
    }
    if (const KeyValue *kv = find(*fields, "scope")) {
      auto s = read_string(ctx, *kv, where + ".scope");
      if (c.ok(s)) {
        if (*s == "process")
          r.scope = SequenceScope::process;
        else if (*s == "process_tree")
          r.scope = SequenceScope::process_tree;
        else if (*s == "profile")
          r.scope = SequenceScope::profile;
        else
          c.add(fail_at(ctx, value_mark(*kv), where + ".scope",
                        yaml::quoted(*s) + " is not a scope (one of: process, process_tree, profile)"));
      }
    }
    break;
  }
  case RuleKind::exec_context:
  case RuleKind::process: {
    if (const KeyValue *kv = find(*fields, "exe")) {
      auto v = read_strings(ctx, *kv, where + ".exe");
      if (c.ok(v))
        r.proc.exe = std::move(*v);
    }
    if (const KeyValue *kv = find(*fields, "args")) {
      auto v = read_strings(ctx, *kv, where + ".args");
      if (c.ok(v))
        r.proc.args = std::move(*v);
    }
    get_proc("parent", r.parent);
    get_proc("ancestor", r.ancestor);
    if (r.kind == RuleKind::exec_context) {
      get_bool("inherited", r.inherited);
      get_bool("env_truncated", r.env_truncated);
      if (const KeyValue *kv = find(*fields, "env")) {
        auto v = read_env_names(ctx, *kv, where + ".env");
        if (c.ok(v))
          r.env = std::move(*v);
      } else if (!r.env_truncated) {
        c.add(fail_at(ctx, mark, where + ".env",
                      "missing (the variables that poison the command)"));
      }
    } else if (!find(*fields, "exe") && !find(*fields, "args") && !find(*fields, "parent") &&
               !find(*fields, "ancestor")) {
      c.add(fail_at(ctx, mark, where, "a process rule needs exe, args, parent or ancestor"));
    }
    break;
  }
  case RuleKind::tamper:
    if (const KeyValue *kv = find(*fields, "actions")) {
      auto v = read_list(ctx, *kv, where + ".actions");
      if (c.ok(v)) {
        size_t i = 0;
        for (const auto &action : *v) {
          const std::string item_field = index_field(where + ".actions", i++);
          const uint16_t k = action.IsScalar() ? pipeline::tamper_kind_from(action.Scalar()) : 0;
          if (!k)
            c.add(fail_at(ctx, item_mark(ctx, action), item_field,
                          describe(action) + " is not a self-protection action (one of: " +
                              tamper_action_names() + ")"));
          else
            r.actions.push_back(k);
        }
      }
    }
    break;
  case RuleKind::process_access:
  case RuleKind::ipc:
  case RuleKind::raw_socket:
  case RuleKind::throttle:
  case RuleKind::inbound:
    break;
  }
  if (!c.failed)
    out.rules.push_back(std::move(r));
}

} // namespace

std::string_view to_string(RuleKind k)
{
  for (const auto &[name, v] : kKinds)
    if (v == k)
      return name;
  return "unknown";
}

std::string_view to_string(EgressMatch m)
{
  for (const auto &[name, v] : kEgressMatches)
    if (v == m)
      return name;
  return "unknown";
}

bool SequenceStep::matches(std::string_view rule_id, RuleKind kind,
                           const std::vector<std::string> &rule_tags) const
{
  if (std::find(rules.begin(), rules.end(), rule_id) != rules.end())
    return true;
  if (std::find(kinds.begin(), kinds.end(), kind) != kinds.end())
    return true;
  for (const auto &t : tags)
    if (std::find(rule_tags.begin(), rule_tags.end(), t) != rule_tags.end())
      return true;
  return false;
}

bool Rule::applies_to(std::string_view profile) const
{
  return profiles.empty() || std::find(profiles.begin(), profiles.end(), profile) != profiles.end();
}

std::vector<std::string> RuleSet::env_names() const
{
  std::set<std::string> out;
  for (const auto &r : rules)
    if (r.enabled && r.kind == RuleKind::exec_context)
      for (const auto &n : r.env)
        if (!n.ends_with('*'))
          out.insert(n);
  return {out.begin(), out.end()};
}

std::vector<std::string> RuleSet::env_prefixes() const
{
  std::set<std::string> out;
  for (const auto &r : rules)
    if (r.enabled && r.kind == RuleKind::exec_context)
      for (const auto &n : r.env)
        if (n.ends_with('*'))
          out.insert(n.substr(0, n.size() - 1));
  return {out.begin(), out.end()};
}

void parse_rules(std::string_view yaml_text, const std::string &source, RuleSet &out,
                 std::vector<std::string> &errors)
{
  Ctx ctx{yaml_text, source};
  try {
    YAML::Node root = YAML::Load(std::string(yaml_text));
    auto fields = read_map(ctx, root, root.Mark(), "", {"rules"});
    if (!fields) {
      errors.push_back(fields.error().message());
      return;
    }
    const KeyValue *kv = find(*fields, "rules");
    if (!kv) {
      errors.push_back(
          fail_at(ctx, root.Mark(), "rules", "missing (a list of rules)").value().message());
      return;
    }
    auto list = read_list(ctx, *kv, "rules");
    if (!list) {
      errors.push_back(list.error().message());
      return;
    }
    size_t i = 0;
    for (const auto &item : *list)
      parse_rule(ctx, item, index_field("rules", i++), out, errors);
  } catch (const YAML::Exception &e) {
    errors.push_back(fail_at(ctx, e.mark, "syntax", e.msg).value().message());
  }
}

std::vector<std::string> rule_files(const std::vector<std::string> &paths)
{
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  for (const auto &p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> in_dir;
      for (const auto &e : fs::directory_iterator(p, ec))
        if (e.is_regular_file(ec) && (e.path().extension() == ".yaml" ||
                                      e.path().extension() == ".yml"))
          in_dir.push_back(e.path().string());
      std::sort(in_dir.begin(), in_dir.end());
      files.insert(files.end(), in_dir.begin(), in_dir.end());
    } else {
      files.push_back(p);
    }
  }
  return files;
}

RuleSet load_rules(const std::vector<std::string> &paths, std::vector<std::string> &errors)
{
  RuleSet set;
  const std::vector<std::string> files = rule_files(paths);
  for (const auto &f : files) {
    auto text = read_text_file(f, "rule file");
    if (!text) {
      errors.push_back(text.error().message());
      continue;
    }
    set.files.push_back(f);
    parse_rules(*text, f, set, errors);
  }
  // The set as a whole.
  std::map<std::string, const Rule *> ids;
  for (const auto &r : set.rules) {
    auto [it, fresh] = ids.emplace(r.id, &r);
    if (!fresh)
      errors.push_back(r.source + ":" + std::to_string(r.line) + ":1: rules(" + r.id +
                       ").id: duplicate rule id (first in " + it->second->source + ":" +
                       std::to_string(it->second->line) + ")");
  }
  for (const auto &r : set.rules) {
    if (r.kind != RuleKind::sequence)
      continue;
    for (const auto *step : {&r.first, &r.then})
      for (const auto &id : step->rules) {
        auto it = ids.find(id);
        if (it == ids.end())
          errors.push_back(r.source + ":" + std::to_string(r.line) + ":1: rules(" + r.id +
                           "): sequence names rule '" + id + "', which no file defines");
        else if (it->second->kind == RuleKind::sequence)
          errors.push_back(r.source + ":" + std::to_string(r.line) + ":1: rules(" + r.id +
                           "): a sequence cannot follow another sequence ('" + id + "')");
      }
  }
  if (set.env_names().size() + set.env_prefixes().size() > 256)
    errors.push_back("rules: more than 256 watched environment variable names");
  return set;
}

Result<RuleSet> load_rules(const std::vector<std::string> &paths)
{
  std::vector<std::string> errors;
  RuleSet set = load_rules(paths, errors);
  if (errors.empty())
    return set;
  std::string all;
  for (const auto &e : errors)
    all += (all.empty() ? "" : "\n") + e;
  return fail(all);
}

std::optional<uint64_t> parse_duration(std::string_view text)
{
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || ptr == text.data())
    return std::nullopt;
  const std::string_view unit(ptr, static_cast<size_t>(text.data() + text.size() - ptr));
  uint64_t mult = 0;
  if (unit == "ms")
    mult = 1'000'000ull;
  else if (unit == "s")
    mult = 1'000'000'000ull;
  else if (unit == "m")
    mult = 60'000'000'000ull;
  else if (unit == "h")
    mult = 3'600'000'000'000ull;
  else if (unit == "d")
    mult = 86'400'000'000'000ull;
  else
    return std::nullopt;
  if (n > UINT64_MAX / mult)
    return std::nullopt;
  return n * mult;
}

std::optional<uint64_t> parse_bytes(std::string_view text)
{
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || ptr == text.data())
    return std::nullopt;
  const std::string_view unit(ptr, static_cast<size_t>(text.data() + text.size() - ptr));
  static const std::map<std::string_view, uint64_t> units = {
      {"", 1},           {"B", 1},           {"KB", 1000},     {"MB", 1000'000},
      {"GB", 1000'000'000}, {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30}};
  auto it = units.find(unit);
  if (it == units.end() || n > UINT64_MAX / it->second)
    return std::nullopt;
  return n * it->second;
}

bool text_glob(std::string_view pattern, std::string_view text)
{
  return ::fnmatch(std::string(pattern).c_str(), std::string(text).c_str(), 0) == 0;
}

namespace {

// exe_glob with the exe's basename found already (an exec visits every exe pattern of every
// process rule).
bool exe_glob_in(std::string_view pattern, std::string_view exe, std::string_view base)
{
  // One pass over the pattern (find_first_of runs a memchr per character).
  bool slash = false, wild = false;
  for (const char c : pattern) {
    slash |= c == '/';
    wild |= c == '*' || c == '?' || c == '[';
  }
  const std::string_view target = slash ? exe : base;
  // Most patterns are plain names, which glob_match compares component by component: the same
  // as comparing the text.
  if (!wild)
    return pattern == target;
  return glob_match(pattern, target);
}

std::string_view basename_of(std::string_view exe)
{
  const size_t at = exe.rfind('/');
  return at == std::string_view::npos ? exe : exe.substr(at + 1);
}

} // namespace

bool exe_glob(std::string_view pattern, std::string_view exe)
{
  return exe_glob_in(pattern, exe, basename_of(exe));
}

bool proc_matches(const ProcMatch &m, std::string_view exe, const std::vector<std::string> &argv)
{
  const std::string_view base = basename_of(exe);
  if (!m.exe.empty() && std::none_of(m.exe.begin(), m.exe.end(), [&](const auto &p) {
        return exe_glob_in(p, exe, base);
      }))
    return false;
  if (!m.args.empty()) {
    std::string joined;
    for (const auto &a : argv)
      joined += (joined.empty() ? "" : " ") + a;
    if (std::none_of(m.args.begin(), m.args.end(),
                     [&](const auto &p) { return text_glob(p, joined); }))
      return false;
  }
  return true;
}

} // namespace vigil::policy
