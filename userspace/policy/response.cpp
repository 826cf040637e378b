// SPDX-License-Identifier: Apache-2.0
// Parsing of response actions (rules' `response` and `recommended_action`, profiles' `response`
// section), as strict as the rest of the policy: unknown keys and actions are errors.

#include "policy/response.h"

#include <algorithm>
#include <array>
#include <charconv>

#include "policy/rules.h"
#include "policy/yaml_read.h"

namespace vigil::policy {

namespace {
constexpr std::array<std::pair<std::string_view, Action>, 4> kActions = {{
    {"freeze", Action::freeze},
    {"kill", Action::kill},
    {"isolate", Action::isolate},
    {"run", Action::run},
}};
} // namespace

std::string_view to_string(Action a)
{
  for (const auto &[name, act] : kActions)
    if (act == a)
      return name;
  return "?";
}

std::optional<Action> parse_action(std::string_view s)
{
  for (const auto &[name, act] : kActions)
    if (name == s)
      return act;
  return std::nullopt;
}

std::string action_names()
{
  std::string out;
  for (const auto &[name, act] : kActions)
    out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

std::vector<Action> Response::actions_for(std::string_view rule_id) const
{
  std::vector<Action> out;
  auto add = [&](std::string_view key) {
    if (auto it = rules.find(key); it != rules.end())
      for (Action a : it->second)
        if (std::find(out.begin(), out.end(), a) == out.end())
          out.push_back(a);
  };
  add(rule_id);
  add("*");
  return out;
}

} // namespace vigil::policy

namespace vigil::policy::yaml {

Result<std::vector<Action>> read_actions(const Ctx &ctx, const KeyValue &kv,
                                         const std::string &field)
{
  std::vector<YAML::Node> items;
  if (kv.value.IsScalar()) {
    items.push_back(kv.value);
  } else {
    auto list = read_list(ctx, kv, field);
    if (!list)
      return tl::unexpected(list.error());
    for (const auto &item : *list)
      items.push_back(item);
  }
  std::vector<Action> out;
  size_t i = 0;
  for (const auto &item : items) {
    const std::string f = kv.value.IsScalar() ? field : index_field(field, i++);
    const std::string name = item.IsScalar() ? item.Scalar() : "";
    auto a = parse_action(name);
    if (!a)
      return fail_at(ctx, item_mark(ctx, item), f,
                     (item.IsScalar() ? quoted(name) : describe(item)) +
                         " is not a response action (one of: " + action_names() + ")");
    if (std::find(out.begin(), out.end(), *a) == out.end())
      out.push_back(*a);
  }
  return out;
}

namespace {

Result<uint64_t> read_duration(const Ctx &ctx, const KeyValue &kv, const std::string &field)
{
  auto s = read_string(ctx, kv, field);
  if (!s)
    return tl::unexpected(s.error());
  auto d = parse_duration(*s);
  if (!d || *d == 0)
    return fail_at(ctx, value_mark(kv), field,
                   quoted(*s) + " is not a positive duration (e.g. 250ms, 30s, 10m, 1h)");
  return *d;
}

Result<void> parse_run(const Ctx &ctx, const KeyValue &section, RunCommand &out)
{
  const std::string field = "response.run";
  auto fields = read_map(ctx, section.value, value_mark(section), field,
                         {"command", "timeout", "max_concurrent"});
  if (!fields)
    return tl::unexpected(fields.error());
  const KeyValue *cmd = find(*fields, "command");
  if (!cmd)
    return fail_at(ctx, value_mark(section), field + ".command",
                   "missing (the command and its arguments, as a list; no shell)");
  auto list = read_list(ctx, *cmd, field + ".command");
  if (!list)
    return tl::unexpected(list.error());
  size_t i = 0;
  for (const auto &item : *list) {
    const std::string f = index_field(field + ".command", i++);
    if (!item.IsScalar() || item.Scalar().empty())
      return fail_at(ctx, item_mark(ctx, item), f, "expected a string, got " + describe(item));
    out.argv.push_back(item.Scalar());
  }
  if (out.argv.empty())
    return fail_at(ctx, value_mark(*cmd), field + ".command", "empty list");
  if (out.argv[0].front() != '/')
    return fail_at(ctx, value_mark(*cmd), field + ".command[0]",
                   quoted(out.argv[0]) + " is not an absolute path (no PATH search is made)");
  if (const KeyValue *kv = find(*fields, "timeout")) {
    auto d = read_duration(ctx, *kv, field + ".timeout");
    if (!d)
      return tl::unexpected(d.error());
    out.timeout_ns = *d;
  }
  if (const KeyValue *kv = find(*fields, "max_concurrent")) {
    auto s = read_string(ctx, *kv, field + ".max_concurrent");
    if (!s)
      return tl::unexpected(s.error());
    auto n = parse_number(*s);
    if (!n || *n == 0 || *n > 64)
      return fail_at(ctx, value_mark(*kv), field + ".max_concurrent",
                     quoted(*s) + " is not a number of commands from 1 to 64");
    out.max_concurrent = *n;
  }
  return {};
}

} // namespace

Result<void> parse_response(const Ctx &ctx, const KeyValue &section, Response &out)
{
  const std::string field = "response";
  auto fields =
      read_map(ctx, section.value, value_mark(section), field, {"rules", "freeze_timeout", "run"});
  if (!fields)
    return tl::unexpected(fields.error());
  if (const KeyValue *kv = find(*fields, "rules")) {
    if (!kv->value.IsMap())
      return fail_at(ctx, value_mark(*kv), field + ".rules",
                     "expected a map of rule ids to actions, got " + describe(kv->value));
    for (const auto &entry : kv->value) {
      const KeyValue rule{entry.first, entry.second};
      const std::string id = entry.first.Scalar();
      const std::string f = field + ".rules." + id;
      if (out.rules.count(id))
        return fail_at(ctx, entry.first.Mark(), f, "given twice");
      auto acts = read_actions(ctx, rule, f);
      if (!acts)
        return tl::unexpected(acts.error());
      out.rules[id] = std::move(*acts);
    }
  }
  if (const KeyValue *kv = find(*fields, "freeze_timeout")) {
    auto d = read_duration(ctx, *kv, field + ".freeze_timeout");
    if (!d)
      return tl::unexpected(d.error());
    out.freeze_timeout_ns = *d;
  }
  if (const KeyValue *kv = find(*fields, "run"))
    if (auto r = parse_run(ctx, *kv, out.run); !r)
      return r;
  for (const auto &[rule, acts] : out.rules)
    if (std::find(acts.begin(), acts.end(), Action::run) != acts.end() && out.run.argv.empty())
      return fail_at(ctx, value_mark(section), field + ".run",
                     "missing: rule " + quoted(rule) + " asks for the run action");
  return {};
}

} // namespace vigil::policy::yaml
