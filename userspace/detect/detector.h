// SPDX-License-Identifier: Apache-2.0
// Detector: runs the rule set over each event. Stateless kinds (credential_read, egress to
// destinations or outside the allowlist, exec_context, process, and the kernel's decisions) look
// at one event and the process table; stateful kinds keep bounded state: sequences (per scope and
// rule, expiring after `within`), new destinations (a learned baseline per profile, on disk) and
// egress volume (bytes per destination per window).
//
// Time is the events' own (kernel CLOCK_BOOTTIME), so replaying a log gives the alerts the live
// daemon gave.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "detect/baseline.h"
#include "detect/matcher.h"
#include "pipeline/event.h"
#include "pipeline/process_table.h"
#include "policy/profile.h"
#include "policy/rules.h"

namespace vigil::detect {

// One rule firing on one event.
struct Finding {
  std::string rule;
  std::string description;
  policy::RuleKind kind = policy::RuleKind::credential_read;
  policy::Severity severity = policy::Severity::warning;
  std::vector<std::string> tags;
  uint32_t profile_id = 0;
  std::string path;             // credential_read, ipc: the object
  std::string pattern;          // credential_read: the pattern that matched
  std::vector<std::string> env; // exec_context: the variables that poisoned the exec
  std::string detail;           // sequence: what came first; egress: why it fired
  uint64_t bytes = 0;           // egress volume: bytes in the window
  bool fallback = false;        // the rule reports only what no other rule of its kind did
};

class Detector {
public:
  struct Options {
    Matcher::DirResolver dirs;
    Matcher::HomeResolver homes;
    // Where new_destination baselines live across restarts; empty: in memory only (replay).
    std::string state_dir;
    size_t max_sequence_state = 65536; // pending first steps kept across all sequences
    // Egress volume windows kept across all rules, cgroups and destinations; at the bound the
    // least recently updated window goes (its bytes are forgotten).
    size_t max_volume_state = 65536;
    size_t max_baseline_entries = Baseline::kMaxEntries; // per profile
    // An open skips the path rules whose lists its path does not match (one question to the
    // path index per kind), and an event without a PolicyHit the rules that need one; false
    // visits every rule, as a reference for tests.
    bool skip_unmatched_path_rules = true;
  };
  // The size of a table the agent can grow, and how many entries its bound pushed out.
  struct TableStats {
    size_t size = 0;
    uint64_t evictions = 0;
  };
  struct Stats {
    TableStats sequence;               // pending first steps
    TableStats volume;                 // egress volume windows
    TableStats baseline;               // new_destination tuples, all profiles
    uint64_t baseline_save_errors = 0; // failed writes of baseline files, all profiles
  };
  explicit Detector(Options opts);

  // Swaps the rule set (and drops state of rules that are gone). Rules must be valid.
  void set_rules(policy::RuleSet rules);
  const policy::RuleSet &rules() const { return rules_; }
  void set_profile(uint32_t id, policy::Profile p);
  void remove_profile(uint32_t id);
  const policy::Profile *profile(uint32_t id) const { return matcher_.profile(id); }

  // Makes the event's paths absolute where the kernel gave a relative one (opens that failed
  // before resolution), using the process's cwd or dirfd while it still exists. Done once,
  // before the event is recorded, so a replay sees what the live matcher saw.
  void normalize(pipeline::Event &ev);

  // The findings of every enabled rule for this event (procs already updated with it).
  void evaluate(const pipeline::Event &ev, pipeline::ProcessTable &procs,
                std::vector<Finding> &out);

  // Writes learned baselines that changed (atomically). Cheap when nothing changed.
  void flush();
  Stats stats() const;

private:
  struct CompiledRule {
    const policy::Rule *rule = nullptr;
    uint32_t paths = UINT32_MAX; // its list in the matcher's path index (rules with paths)
    // It fires only on the profile's own verdict (a PolicyHit): an event without one skips it.
    bool needs_hit = false;
  };
  struct Pending {
    uint64_t ts_ns = 0;
    std::string what;
    uint64_t seq = 0; // which queue entry is its own
  };
  struct VolumeWindow {
    uint64_t start_ns = 0;
    uint64_t bytes = 0;
    bool alerted = false;
    uint64_t seq = 0; // which volume_order_ entry is its own (the latest update)
  };
  using VolumeKey = std::tuple<size_t, uint64_t, std::array<uint8_t, 16>, uint16_t>;

  bool excepted(const policy::Rule &r, const pipeline::Event &ev, pipeline::ProcessTable &procs,
                const Finding &f) const;
  void eval_rule(CompiledRule &c, const pipeline::Event &ev, const policy::Profile &profile,
                 const std::optional<PolicyHit> &hit, pipeline::ProcessTable &procs,
                 std::vector<Finding> &out);
  void eval_sequences(const pipeline::Event &ev, const policy::Profile &profile,
                      pipeline::ProcessTable &procs, std::vector<Finding> &found);
  VolumeWindow &volume_window(const VolumeKey &key);
  uint64_t scope_key(policy::SequenceScope s, const pipeline::Event &ev,
                     pipeline::ProcessTable &procs) const;
  Finding make(const policy::Rule &r, uint32_t profile_id) const;
  // The index of the rule's path pattern that path matches, "~/" expanded against the home of
  // the event's uid: one lookup in the index shared by every rule and profile, per event.
  // (PathIndex::kNone: none; a plain integer, not an optional: GCC's optional<size_t> return
  // stalled on store forwarding, 15 % of the hot path in perf.)
  uint32_t match_rule_paths(const CompiledRule &c, const pipeline::Event &ev,
                            const std::string &path);

  Options opts_;
  mutable Matcher matcher_; // its caches change on lookups (homes, the last path's answer)
  policy::RuleSet rules_;
  std::vector<CompiledRule> compiled_;
  // Indices into compiled_ of the enabled rules that read each event body (variant index), and
  // per profile those of them that apply to it (made on the profile's first event, dropped when
  // rules or profiles change).
  using ByBody =
      std::array<std::vector<size_t>, std::variant_size_v<decltype(pipeline::Event::body)>>;
  // The rules of a profile an event visits. An open whose path no credential_read list matches
  // (kSkipCredential) or no persistence_write list matches (kSkipPersistence) visits the subset
  // without the rules that match by their own paths: open[mask] (rule order kept, so findings
  // come out in the same order).
  static constexpr size_t kSkipCredential = 1, kSkipPersistence = 2;
  struct Reading {
    ByBody by_body;
    std::array<std::vector<size_t>, 4> open;
  };
  ByBody reading_;
  std::map<uint32_t, Reading> reading_by_profile_;
  const Reading &reading_for(uint32_t profile_id, const policy::Profile &profile);
  // Which path rules an open cannot fire (kSkip* bits): one question to the path index per kind
  // instead of one per rule.
  size_t open_skips(const pipeline::Event &ev, const pipeline::OpenBody &o,
                    const std::optional<PolicyHit> &hit);
  // (sequence rule index, scope key) -> the first step, waiting for the second.
  std::map<std::pair<size_t, uint64_t>, Pending> pending_;
  std::deque<std::pair<std::pair<size_t, uint64_t>, uint64_t>> pending_order_; // (key, seq)
  uint64_t pending_seq_ = 0;
  uint64_t pending_evictions_ = 0;
  std::map<std::string, Baseline> baselines_; // per profile name
  // (rule index, cgroup, destination, port) -> the current window
  std::map<VolumeKey, VolumeWindow> volume_;
  std::deque<std::pair<VolumeKey, uint64_t>> volume_order_; // (key, seq), least recent first
  uint64_t volume_seq_ = 0;
  uint64_t volume_evictions_ = 0;
};

} // namespace vigil::detect
