// SPDX-License-Identifier: Apache-2.0
// Responder: carries out the response actions (policy/response.h) an alert asks for, on the
// agent cgroup that raised it, and reports each one as an alert of its own ("response-freeze",
// ...). Bounded and idempotent: an action already in force is not repeated (a flood of alerts
// freezes once), the same rule runs the command once per cgroup per cooldown, at most
// max_concurrent commands run at once, each killed past its timeout. The command gets the alert
// JSON on stdin and nothing of the agent's on its command line or in its environment.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "detect/alert.h"
#include "policy/profile.h"
#include "policy/rules.h"

namespace vigil::daemon {

// The agent cgroup an alert came from: the confined cgroup (not a sub-cgroup the agent made).
struct AgentCgroup {
  std::string dir; // absolute path
  uint64_t id = 0; // its cgroup id (the vg_agent_cgroups key)
};

struct ResponderHooks {
  // Denies (on) or restores (off) every IP egress of a confined cgroup, in the kernel.
  std::function<Result<>(uint64_t cgroup_id, bool on)> isolate;
  // After an isolation: ends the connections the agent cgroup (absolute dir) already has
  // (cgroup::destroy_sockets); returns how many. Unset: they stay up.
  std::function<Result<size_t>(const std::string &dir)> cut_connections;
  // Reports an action that finished later (a command's exit, a timed thaw), from another
  // thread: the receiver takes its own locks.
  std::function<void(detect::Alert)> report_later;
  // Counts one action: action as policy::to_string (or "thaw"), result done | suppressed |
  // failed, the profile of the alert that asked for it. Called with the responder's lock held:
  // it must not call back into the responder.
  std::function<void(std::string_view action, std::string_view result, const std::string &profile)>
      count;
};

class Responder {
public:
  explicit Responder(ResponderHooks hooks);
  ~Responder(); // waits for the commands still running (each is bounded by its timeout)

  // The rules' own response lists, by rule id (replaces the previous set).
  void set_rules(const policy::RuleSet &rules);
  // Acts on one alert under profile: the union of the rule's response and the profile's
  // response.rules for it. Returns the records of what was done (or refused), for the caller to
  // send through its sinks; empty when nothing was asked or everything asked is in force.
  std::vector<detect::Alert> on_alert(const detect::Alert &alert, const policy::Profile &profile,
                                      const AgentCgroup &agent);
  // Forgets a cgroup's state (released or gone).
  void forget(uint64_t cgroup_id);
  // The operator resumed a cgroup (`vigil resume`): its pending timed thaw is dropped, and a
  // later alert may isolate it again. Returns whether it was isolated.
  bool restored(uint64_t cgroup_id);
  // A cgroup found isolated at confinement (the flag an earlier daemon left in the pinned
  // map): held as isolated, so `vigil resume` lifts it and alerts do not isolate it again.
  void adopt_isolated(uint64_t cgroup_id);
  // Stops the timers and waits for running commands (their reports still go out).
  void stop();

  // The same counts as ResponderHooks::count, summed. A run counts when its command ends (done:
  // exit 0), or at once when it was refused.
  struct Stats {
    uint64_t done = 0;       // actions carried out
    uint64_t suppressed = 0; // asked for but already in force (or within the run cooldown)
    uint64_t failed = 0;     // refused by the kernel, no command configured, over the cap,
                             // a command that failed or timed out
  };
  Stats stats() const;

  // Cooldown of the run action per (rule, cgroup): repeats of one alert revoke nothing more.
  static constexpr std::chrono::seconds kRunCooldown{60};
  // kill: another kill of the same cgroup within this is a repeat (the first is still landing).
  static constexpr std::chrono::seconds kKillRepeat{2};

private:
  // The record of an action on target (the agent cgroup); result done | failed | started.
  detect::Alert record(const detect::Alert &cause, std::string_view action,
                       std::string_view result, const std::string &target,
                       const std::string &output) const;
  // With mu_ held: counts an action in stats_ and through the hook.
  void count(std::string_view action, std::string_view result, const std::string &profile);
  std::optional<detect::Alert> freeze(const detect::Alert &cause, const policy::Profile &p,
                                      const AgentCgroup &agent);
  std::optional<detect::Alert> kill(const detect::Alert &cause, const AgentCgroup &agent);
  std::optional<detect::Alert> isolate(const detect::Alert &cause, const AgentCgroup &agent);
  std::optional<detect::Alert> run(const detect::Alert &cause, const policy::Profile &p,
                                   const AgentCgroup &agent);
  void timer_loop() noexcept;
  void run_command(detect::Alert cause, policy::RunCommand cmd, std::string input,
                   std::string target) noexcept;

  ResponderHooks hooks_;
  mutable std::mutex mu_; // everything below
  std::map<std::string, std::vector<policy::Action>, std::less<>> rule_actions_;
  std::set<uint64_t> isolated_;
  std::map<uint64_t, std::chrono::steady_clock::time_point> killed_at_;
  std::map<std::pair<std::string, uint64_t>, std::chrono::steady_clock::time_point> ran_at_;
  struct Thaw {
    std::string dir;
    uint64_t cgroup_id = 0;
    detect::Alert cause;
  };
  std::multimap<std::chrono::steady_clock::time_point, Thaw> thaws_;
  std::condition_variable cv_;
  bool stopping_ = false;
  unsigned running_ = 0; // commands running now
  std::condition_variable idle_cv_;
  Stats stats_;
  std::thread timer_;
};

// The agent cgroup (among confined, absolute dir -> id) that holds `path` (relative to mount):
// the deepest confined cgroup that is path or an ancestor of it. nullopt when none.
std::optional<AgentCgroup>
agent_cgroup_of(const std::vector<std::pair<std::string, uint64_t>> &confined,
                const std::string &mount, const std::string &path);

} // namespace vigil::daemon
