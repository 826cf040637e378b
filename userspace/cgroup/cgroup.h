// SPDX-License-Identifier: Apache-2.0
// cgroup v2 plumbing: finding the mount, cgroup ids, creating, populating and removing agent
// cgroups, and naming a cgroup id for alerts. No BPF here.
#pragma once

#include <cstdint>
#include <optional>
#include <map>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <unordered_map>
#include <vector>

#include "common/result.h"

namespace vigil::cgroup {

// The cgroup2 mount point from a mounts table (/proc/self/mounts format). Error when there is
// none: vigil needs cgroup v2 (the unified or hybrid hierarchy).
Result<std::string> find_cgroup2_mount(const std::string &mounts_file = "/proc/self/mounts");

// The cgroup v2 id of a cgroup directory: the kernfs inode number, which is what
// bpf_get_current_cgroup_id() returns.
Result<uint64_t> cgroup_id(const std::string &dir);

// The cgroup level of dir (a directory below the cgroup2 mount): the number of path components
// below the mount, 0 for the mount (the root cgroup) itself. Purely lexical.
size_t level_below(std::string_view mount, std::string_view dir);

// The cgroup (relative to the cgroup2 mount, "/a/b") that pid is in, from /proc/PID/cgroup.
Result<std::string> cgroup_of_pid(pid_t pid);
// A path from /proc/PID/cgroup, read in a cgroup namespace rooted at ns_root (a path under the
// cgroup2 mount), as a path under the mount: ("/k/pod/ctr", "/../other") -> "/k/pod/other".
std::string host_cgroup_path(std::string_view ns_root, std::string_view ns_path);

// The profile of the agent cgroup that holds `path` (relative to the mount): the cgroup itself
// or its nearest confined ancestor in `agents` (path -> profile id); 0 when none does.
uint32_t nearest_agent(const std::map<std::string, uint32_t> &agents, std::string path);

// Creates dir (parents too). Fine if it exists.
Result<> create(const std::string &dir);
// Moves pid into dir (writes cgroup.procs).
Result<> attach(const std::string &dir, pid_t pid);
// Kills every process in dir and below (cgroup.kill, 5.14+; falls back to SIGKILL per pid),
// waits up to timeout_ms for it to empty, then removes dir and its sub-cgroups, deepest first.
Result<> destroy(const std::string &dir, int timeout_ms = 2000);
// Pids listed in dir/cgroup.procs.
std::vector<pid_t> procs(const std::string &dir);
// Pids in dir and every cgroup below it.
std::vector<pid_t> subtree_procs(const std::string &dir);

// cgroup.freeze of dir (5.2+): on freezes dir and its subtree, off thaws it. The freeze takes
// effect asynchronously; frozen() tells when it has (cgroup.events "frozen 1").
Result<> set_frozen(const std::string &dir, bool on);
// What cgroup.freeze asks for (true: frozen or freezing).
Result<bool> freeze_requested(const std::string &dir);
// Whether every process of the subtree is frozen now (cgroup.events "frozen 1").
Result<bool> frozen(const std::string &dir);
// cgroup.kill (5.14+): SIGKILL to every process of dir's subtree, in one write.
Result<> kill_all(const std::string &dir);

// Directories under root matching a path glob relative to the cgroup2 mount (e.g.
// "/agents/*" or "/kubepods/**/agent-*"); '*' does not cross '/', '**' does.
std::vector<std::string> glob_dirs(const std::string &mount, const std::string &pattern);

// Names cgroup ids for alerts by walking the trees below the given roots; caches answers.
class Namer {
public:
  // An agent may create cgroups below its own: beyond this many names the cache starts over
  // (the roots' names are kept), and the names dropped are counted.
  static constexpr size_t kMaxCached = 4096;

  explicit Namer(std::string mount, size_t max_cached = kMaxCached)
      : mount_(std::move(mount)), max_cached_(max_cached)
  {
  }
  // Adds a tree to search and names its root at once (the root may be gone by the time its
  // last events are read).
  void add_root(const std::string &dir);
  // "/vigil/run-1234/sub" relative to the mount, or "" when not found.
  std::string name(uint64_t id);

  size_t size() const { return cache_.size(); }
  uint64_t evictions() const { return evictions_; }

private:
  void remember(uint64_t id, std::string name);

  std::string mount_;
  size_t max_cached_;
  std::vector<std::string> roots_;
  std::unordered_map<uint64_t, std::string> cache_;
  std::unordered_map<uint64_t, std::string> root_names_;
  uint64_t evictions_ = 0;
};

} // namespace vigil::cgroup
