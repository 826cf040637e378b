// SPDX-License-Identifier: Apache-2.0
// FileEnforcer: file tier 2 in the engine. Turns the profiles' credential patterns into one
// ProtectedSet, guards it with fanotify permission events, answers each open from the requesting
// process's cgroup (agent of a profile that protects the object: deny, or allow in audit mode;
// anyone else: allow), reports every non-allow decision to the pipeline, and re-guards replaced
// files when inotify says so.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "enforce/fanotify_guard.h"
#include "enforce/protected_set.h"
#include "pipeline/event.h"
#include "policy/path_index.h"
#include "policy/profile.h"

namespace vigil::daemon {

class FileEnforcer {
public:
  // Receives decision events (OpenBody with hdr.tier == fanotify) from the guard thread.
  using Report = std::function<void(pipeline::Event &&)>;

  // agent_mounts: the agents run in mount namespaces of their own (vigil run), whose mounts
  // watch_agent_mounts() marks; basename patterns are then enforced, not only observed.
  static Result<std::unique_ptr<FileEnforcer>> start(std::string cgroup_mount, Report report,
                                                     bool agent_mounts = false);
  ~FileEnforcer();

  // Installs (or replaces) a profile's patterns; "~/" patterns are expanded for each home.
  // Re-guards the whole set. Patterns this tier cannot guard are returned for the caller to log.
  Result<std::vector<std::string>> set_profile(uint32_t id, const policy::Profile &p,
                                               const std::vector<std::string> &homes);
  // The agent cgroups (paths relative to the cgroup2 mount) and their profiles. A cgroup new
  // to the map is confined from now on: a FIFO born before that is not the agent's own.
  void set_agents(const std::map<std::string, uint32_t> &agents);
  // Decides every open of the agent whose process pid has a mount namespace of its own (see
  // enforce::FanotifyGuard::mark_mounts), and marks the mounts that appear there later
  // (mountinfo is polled). Call it before the agent runs.
  Result<size_t> watch_agent_mounts(pid_t pid);
  // A regular file of this process's own (created on first call, removed with the enforcer) to
  // bind over FIFOs made outside the agent (enforce::cover_fifos); opens of it are refused to
  // agents and reported as the FIFO.
  Result<std::string> fifo_stand_in();
  // With agent_mounts: the credential paths the detection rules name (as the rules spell them,
  // "~/" against home). Opens of files they match keep reaching the guard (and are reported)
  // each time, rather than being allowed in the kernel after the first; so do opens of the
  // files they match now (named: files_named() of the same patterns) by any other name (a hard
  // link, the file renamed). The engine reports those by the rules' name for them.
  // Without agent_mounts (a host cgroup), those files are marked by inode like the profiles'
  // credentials, under no profile: every agent open of them is reported, none denied.
  Result<> set_rule_paths(const std::vector<std::string> &patterns,
                          const std::vector<std::string> &homes,
                          const std::vector<enforce::ProtectedFile> &named);
  // The files patterns ("~/" against each home, globs walked within ProtectedSet's budgets)
  // match now, at most max of them; a warning names a failure to resolve them at all.
  static std::vector<enforce::ProtectedFile> files_named(const std::vector<std::string> &patterns,
                                                         const std::vector<std::string> &homes,
                                                         size_t max);
  // With agent_mounts: a file the rules name by path (st_dev, ino) that the agent is about to
  // give another name (a hard link, a rename: vigil run's launch filter sees the call first):
  // its opens by any name keep reaching the guard. False when the file is not known and
  // kMaxRuleInodes are.
  bool learn_rule_file(uint64_t dev, uint64_t ino);
  enforce::Stats stats() const { return guard_->stats(); }
  // The fanotify group (see enforce::FanotifyGuard::group_fd). Owned here.
  int group_fd() const { return guard_->group_fd(); }

private:
  struct Snapshot {
    std::map<std::string, uint32_t> agents;            // cgroup path -> profile id
    std::map<std::string, std::set<uint32_t>> owners;  // expanded pattern -> profiles
    std::map<uint32_t, policy::Mode> modes;
    std::map<std::pair<uint64_t, uint64_t>, std::string> files; // (st_dev, ino) -> canonical path
    std::map<std::string, int64_t> since; // agent cgroup -> when confined (CLOCK_REALTIME ns)
  };
  FileEnforcer() = default;
  enforce::Decision decide(const enforce::Request &req);
  // An open through an agent mount that nothing protects: reported as observed (the tracepoint
  // free way of seeing what vigil run's agent opens), or nothing if the opener is in no agent.
  void observe(const enforce::Request &req);
  void report_observed(const enforce::Request &req, uint32_t profile, uint64_t cgroup_id);
  // patterns_ key of the rule paths (set_rule_paths): no profile has id 0.
  static constexpr uint32_t kRulesOwner = 0;
  // The agent cgroup of pid (path, profile, cgroup id), or profile 0.
  struct Agent {
    std::string cgroup;
    uint32_t profile = 0;
    uint64_t cgroup_id = 0;
  };
  Agent agent_of(const Snapshot &snap, pid_t pid) const;
  bool keep_seeing(const enforce::Request &req) const;
  // At most this many inodes of rule-named files are remembered (a file the rules name that
  // the agent opens past it is still seen by its name).
  static constexpr size_t kMaxRuleInodes = 65536;
  Result<> rebuild();
  // With set_mu_ held: publishes a snapshot of set_'s files, then (re)marks it.
  Result<> guard_current();
  void watch_loop() noexcept;
  std::shared_ptr<const Snapshot> snapshot() const;
  void publish(std::shared_ptr<const Snapshot> s);

  std::string cgroup_mount_;
  Report report_;
  std::unique_ptr<enforce::FanotifyGuard> guard_;

  std::mutex set_mu_; // guards set_, profiles_ (main thread and the watch thread)
  std::optional<enforce::ProtectedSet> set_;
  size_t file_budget_ = enforce::ProtectedSet::kMaxFiles; // files keyed by inode, fd-bound
  std::map<uint32_t, std::vector<std::string>> patterns_; // profile -> expanded patterns
  std::map<uint32_t, policy::Mode> modes_;

  mutable std::mutex snap_mu_; // held only to copy the pointer
  std::shared_ptr<const Snapshot> snap_ = std::make_shared<Snapshot>();

  bool agent_mounts_ = false;
  mutable std::mutex rule_paths_mu_; // held only to copy the pointer
  std::shared_ptr<const policy::PathIndex> rule_paths_;
  mutable std::mutex rule_inodes_mu_; // guards rule_inodes_ (guard thread, main thread)
  std::set<std::pair<uint64_t, uint64_t>> rule_inodes_; // (st_dev, ino) of rule-named files
  std::string stand_in_; // fifo_stand_in()'s file, removed by the destructor
  std::mutex mounts_mu_; // guards mountinfo_ (callers and the watch thread)
  std::map<pid_t, UniqueFd> mountinfo_; // agents' namespaces whose new mounts get marked

  UniqueFd stop_fd_;
  UniqueFd wake_fd_; // set_ or mountinfo_ changed: the watcher must poll the new fds
  std::thread watcher_;
};

// Home directories of login users (uid 0, and 1000..65533 with an existing home): where "~/"
// patterns point in daemon mode.
std::vector<std::string> login_homes(const std::string &passwd_file = "/etc/passwd");

} // namespace vigil::daemon
