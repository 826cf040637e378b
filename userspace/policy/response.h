// SPDX-License-Identifier: Apache-2.0
// Response actions: what vigil does to an agent's cgroup when one of its alerts fires (freeze,
// kill, isolate, run a command), as rules and profiles ask for it. Pure: the parsed form only;
// daemon/response.* carries them out.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "common/result.h"

namespace vigil::policy {

enum class Action : uint8_t {
  freeze,  // cgroup.freeze = 1 on the agent cgroup; thawed by `vigil resume` or the timeout
  kill,    // cgroup.kill = 1: every process of the agent, at once
  isolate, // every IP egress of the agent denied in the kernel (the allowlist is kept)
  run,     // the profile's response.run command, with the alert JSON on stdin
};
std::string_view to_string(Action a);
std::optional<Action> parse_action(std::string_view s);
// "freeze, kill, isolate, run": for error messages.
std::string action_names();

// response.run of a profile: a command (argv, no shell) that receives one alert as JSON on
// stdin, e.g. to revoke the credential the alert names.
struct RunCommand {
  std::vector<std::string> argv; // empty: no command (a `run` action is then reported as skipped)
  uint64_t timeout_ns = 10'000'000'000ull; // killed (SIGKILL) past this
  uint32_t max_concurrent = 2;             // more at once are refused (and reported)
};

// A profile's response section:
//   response:
//     rules: {RULE_ID: [freeze, run], "*": [isolate]}   # "*": every rule's alert
//     freeze_timeout: 30m                             # thaw by itself after this; default never
//     run: {command: [ARGV...], timeout: 10s, max_concurrent: 2}
struct Response {
  std::map<std::string, std::vector<Action>, std::less<>> rules;
  uint64_t freeze_timeout_ns = 0; // 0: frozen until `vigil resume`
  RunCommand run;
  bool empty() const { return rules.empty(); }
  // The actions the profile asks for on an alert of rule_id ("*" entries included), each once.
  std::vector<Action> actions_for(std::string_view rule_id) const;
};

} // namespace vigil::policy

namespace vigil::policy::yaml {
struct Ctx;
struct KeyValue;
// A list of action names (a single name may be written without brackets).
Result<std::vector<Action>> read_actions(const Ctx &ctx, const KeyValue &kv,
                                         const std::string &field);
// The profile's response section into out.
Result<void> parse_response(const Ctx &ctx, const KeyValue &section, Response &out);
} // namespace vigil::policy::yaml
