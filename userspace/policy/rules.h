// SPDX-License-Identifier: Apache-2.0
// Detection rules: what raises an alert, as opposed to profiles, which say what the kernel
// enforces. Pure: YAML in, a RuleSet out, with every mistake in every file reported (file, line,
// column, field) rather than only the first. docs/RULES.md is the reference for users.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "policy/profile.h"

namespace vigil::policy {

enum class RuleKind : uint8_t {
  credential_read, // a credential file opened (or refused) by an agent
  egress,          // a connect/send (or egress volume) to a destination
  sequence,        // one rule's finding, then another's, in the same process tree within T
  exec_context,    // an exec whose environment (read in the kernel) poisons an allowed command
  process,         // an exec by executable, argv, parent and ancestry
  process_access,  // the kernel refused access to a process outside the agent (ptrace, mem)
  ipc,             // a unix socket or FIFO served from outside the agent
  raw_socket,      // a raw or packet socket
  tamper,          // an agent reached for vigil or its own boundary (the kernel's report)
  throttle,        // an agent cgroup went over its event rate (observation events dropped)
  inbound,         // a connection or datagram into the agent from outside it (the kernel's report)
  persistence_write, // a file the developer runs later opened for writing (or refused)
};
std::string_view to_string(RuleKind k);

enum class EgressMatch : uint8_t {
  outside_allowlist, // the destination is not in the profile's egress allowlist
  destinations,      // the destination is one of the rule's destinations
  new_destination,   // (executable, destination, port) not in the profile's learned baseline
  volume,            // bytes sent to one destination within a window over a threshold
};
std::string_view to_string(EgressMatch m);

// Which process: exe globs (a pattern without '/' matches the basename) and argv globs (matched
// against the arguments joined with single spaces, '*' crossing '/'). Both lists must match
// when both are given; an empty ProcMatch matches every process.
struct ProcMatch {
  std::vector<std::string> exe;
  std::vector<std::string> args;
  bool empty() const { return exe.empty() && args.empty(); }
};

struct Destination {
  Cidr cidr;
  std::vector<PortRange> ports; // empty: any port
};

// An exception suppresses the rule when every field it has matches.
struct RuleException {
  ProcMatch proc;                       // the acting process
  ProcMatch ancestor;                   // any ancestor up to the agent's root
  std::vector<std::string> paths;       // globs on the file path (credential_read)
  std::vector<Destination> destinations; // egress
  std::vector<std::string> env;         // "NAME=VALUE" globs (exec_context)
  int line = 0;
};

// One step of a sequence: a finding of any of these rules, rule kinds or tags.
struct SequenceStep {
  std::vector<std::string> rules;
  std::vector<RuleKind> kinds;
  std::vector<std::string> tags;
  bool matches(std::string_view rule_id, RuleKind kind,
               const std::vector<std::string> &rule_tags) const;
};

enum class SequenceScope : uint8_t { process, process_tree, profile };

struct Rule {
  std::string id;
  std::string description;
  std::string source; // file
  int line = 0;
  RuleKind kind = RuleKind::credential_read;
  Severity severity = Severity::warning;
  std::vector<std::string> tags; // MITRE ATT&CK technique ids and free words
  bool enabled = true;
  std::vector<std::string> profiles; // empty: every profile
  // credential_read and egress: fires only when no other rule of its kind fired on the event.
  bool fallback = false;

  // credential_read
  std::vector<std::string> paths; // absolute, ~/ or basename globs
  bool profile_paths = false;     // the profile's credential paths and the kernel's decisions

  // egress
  EgressMatch egress = EgressMatch::outside_allowlist;
  std::vector<Destination> destinations;
  uint64_t learning_ns = 0;  // new_destination: how long a profile learns before it alerts
  uint64_t volume_bytes = 0; // volume: threshold per destination per window
  uint64_t window_ns = 0;

  // exec_context and process
  ProcMatch proc;
  ProcMatch parent;
  ProcMatch ancestor;
  std::vector<std::string> env; // names; "NAME*" is a prefix
  bool inherited = false;       // also alert on variables the image inherited unchanged
  bool env_truncated = false;   // exec_context: alert when the kernel could not scan it all

  // sequence
  SequenceStep first;
  SequenceStep then;
  uint64_t within_ns = 0;
  SequenceScope scope = SequenceScope::process_tree;

  // tamper: which attempts (pipeline::TamperKind values); empty: every one
  std::vector<uint16_t> actions;

  std::vector<RuleException> exceptions;

  // response: actions taken on every alert of this rule (with the profile's response.rules);
  // recommended_action: what the pack's authors advise, shown to users, never acted on.
  std::vector<Action> response;
  std::optional<Action> recommended_action;

  bool applies_to(std::string_view profile) const;
};

struct RuleSet {
  std::vector<Rule> rules;
  std::vector<std::string> files; // what was loaded, in order
  // Environment variable names and prefixes (without '*') the enabled exec_context rules read:
  // what the kernel must report at exec.
  std::vector<std::string> env_names() const;
  std::vector<std::string> env_prefixes() const;
};

// Parses one rule file, appending its rules to out and every mistake to errors ("file:line:col:
// field: what"). A rule with a mistake is left out.
void parse_rules(std::string_view yaml_text, const std::string &source, RuleSet &out,
                 std::vector<std::string> &errors);
// Rule files and directories as the files they stand for: a directory's *.yaml and *.yml files
// (not its subdirectories), sorted; anything else as given.
std::vector<std::string> rule_files(const std::vector<std::string> &paths);
// Loads rule files and directories (their *.yaml, sorted), then checks the set as a whole
// (duplicate ids, sequences naming unknown rules, kernel limits of watched variables). Fails
// with every error, one per line.
Result<RuleSet> load_rules(const std::vector<std::string> &paths);
// Same, but keeps going: returns what loaded and fills errors.
RuleSet load_rules(const std::vector<std::string> &paths, std::vector<std::string> &errors);

// "30s", "10m", "1h", "250ms" -> nanoseconds; "10MiB", "1MB", "4096" -> bytes.
std::optional<uint64_t> parse_duration(std::string_view text);
std::optional<uint64_t> parse_bytes(std::string_view text);

// Glob over a whole string where '*' also matches '/': for argv and environment values.
bool text_glob(std::string_view pattern, std::string_view text);
// exe globs: a pattern without '/' is matched against the basename.
bool exe_glob(std::string_view pattern, std::string_view exe);
bool proc_matches(const ProcMatch &m, std::string_view exe, const std::vector<std::string> &argv);

} // namespace vigil::policy
