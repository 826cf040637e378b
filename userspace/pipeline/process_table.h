// SPDX-License-Identifier: Apache-2.0
// The process table: pid -> what the process is and where it came from, so that every alert
// names the process and its ancestry. Fed by exec/fork/exit events, seeded from /proc at start,
// and filled from /proc on demand for processes that predate vigil.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "pipeline/event.h"

namespace vigil::pipeline {

struct ProcessInfo {
  uint32_t pid = 0;
  uint32_t ppid = 0;
  uint32_t uid = 0;
  uint64_t cgroup_id = 0;
  uint32_t profile_id = 0; // agent profile from the kernel's events; 0: not seen as an agent
  uint64_t start_ns = 0; // CLOCK_BOOTTIME of fork or exec as seen; 0 when seeded from /proc
  std::string comm;
  std::string exe;
  std::vector<std::string> argv;
  // Watched environment variables ("NAME=VALUE") of the current image, and of the image it
  // replaced (what the process had before its last exec: inherited from its parent, or set by
  // the previous image). A variable in both was not introduced by this exec.
  std::vector<std::string> env;
  std::vector<std::string> env_before;
  bool exited = false;
  uint64_t exit_seq = 0; // which retirement queued this exit (a pid can be reused and exit again)
};

class ProcessTable {
public:
  // proc_root lets tests point at a fake tree; production uses "/proc".
  explicit ProcessTable(std::string proc_root = "/proc", size_t max_exited = 4096);

  // Reads every process under proc_root. Returns how many were read.
  size_t seed();
  // A process known from elsewhere (a log's snapshot of the table at its start).
  void insert(ProcessInfo p) { procs_[p.pid] = std::move(p); }
  // Updates the table from an exec, fork or exit event; records comm/uid/cgroup from any event.
  void apply(const Event &ev);
  // The process, reading /proc on a miss. nullptr when it is gone and was never seen.
  const ProcessInfo *find(uint32_t pid);
  // pid's parent chain, nearest first, excluding pid itself; stops at pid 0, a loop, a process
  // that is not known, or max_depth.
  std::vector<const ProcessInfo *> ancestry(uint32_t pid, size_t max_depth = 32);
  size_t size() const { return procs_.size(); }
  // Calls f(const ProcessInfo &) for every process in the table (the event log's snapshot).
  template <typename F>
  void for_each(F &&f) const
  {
    for (const auto &[pid, p] : procs_)
      f(p);
  }

private:
  std::optional<ProcessInfo> read_proc(uint32_t pid) const;
  void retire(uint32_t pid);

  std::string proc_root_;
  size_t max_exited_;
  std::unordered_map<uint32_t, ProcessInfo> procs_;
  // Exited processes are kept for a while: events of a process can arrive after its exit
  // (other CPUs' ring records), and children's alerts name it in their ancestry.
  std::deque<std::pair<uint32_t, uint64_t>> exited_; // (pid, exit_seq)
  uint64_t next_exit_seq_ = 1;
};

} // namespace vigil::pipeline
