// SPDX-License-Identifier: Apache-2.0
// The process table: pid -> what the process is and where it came from, so that every alert
// names the process and its ancestry. Fed by exec/fork/exit events, seeded from /proc at start,
// and filled from /proc on demand for processes that predate vigil.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/ring_queue.h"
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
  uint64_t seen_seq = 0; // which entry of the table's recency queue is its own
  size_t bytes = 0;      // heap bytes counted against the table's byte bound
};

class ProcessTable {
public:
  // An agent forks, and its exits can be lost (a full ring), so the table is bounded: beyond
  // max_entries processes, or max_bytes of their names, argv and environment (an exec carries
  // up to ~11 KiB of them), the least recently seen process goes (a live one is read again from
  // /proc when asked for). Exited processes are kept, at most max_exited of them, for late
  // events.
  static constexpr size_t kMaxEntries = 65536;
  static constexpr size_t kMaxBytes = 128u << 20;

  // proc_root lets tests point at a fake tree; production uses "/proc". Empty: no /proc at all
  // (a replay, whose processes are the log's): a miss is a miss, seed() and sweep() do nothing.
  explicit ProcessTable(std::string proc_root = "/proc", size_t max_exited = 4096,
                        size_t max_entries = kMaxEntries, size_t max_bytes = kMaxBytes);

  // Reads every process under proc_root. Returns how many were read.
  size_t seed();
  // A process known from elsewhere (a log's snapshot of the table at its start).
  void insert(ProcessInfo p);
  // Updates the table from an exec, fork or exit event; records comm/uid/cgroup from any event.
  // Applies the bound: pointers from find() and ancestry() are valid until the next apply(),
  // insert(), seed() or sweep().
  void apply(const Event &ev);
  // A fork also says the parent's profile now (daemon mode: a process confined while running
  // may make no other event). Off where a launcher outside the agent forks into it (vigil run).
  void set_fork_refreshes_parent(bool on) { fork_refreshes_parent_ = on; }
  // The process, reading /proc on a miss. nullptr when it is gone and was never seen. Never
  // evicts (the table may exceed its bound by what one event looks up, until the next apply()).
  const ProcessInfo *find(uint32_t pid);
  // Retires the processes the table holds as running whose pid no longer exists under
  // proc_root: their exit event was lost. A pid reused since is a process that exists, so its
  // entry stays (its own fork or exec event replaces it). Returns how many were retired.
  size_t sweep();
  // Processes pushed out by the bound, and found gone by sweep(), since the start.
  uint64_t evictions() const { return evictions_; }
  uint64_t swept() const { return swept_; }
  // pid's parent chain, nearest first, excluding pid itself; stops at pid 0, a loop, a process
  // that is not known, or max_depth.
  std::vector<const ProcessInfo *> ancestry(uint32_t pid, size_t max_depth = 32);
  size_t size() const { return procs_.size(); }
  size_t bytes() const { return bytes_; }
  // Calls f(const ProcessInfo &) for every process in the table (the event log's snapshot).
  template <typename F>
  void for_each(F &&f) const
  {
    for (const auto &[pid, p] : procs_)
      f(p);
  }

private:
  bool fork_refreshes_parent_ = false;
  std::optional<ProcessInfo> read_proc(uint32_t pid) const;
  void retire(uint32_t pid);
  void apply_event(const Event &ev);
  // Counts p's footprint again (after its strings changed) and marks it seen.
  ProcessInfo &touch(ProcessInfo &p);
  // Marks p the most recently seen.
  ProcessInfo &seen(ProcessInfo &p);
  ProcessInfo &put(ProcessInfo p);
  void erase(std::unordered_map<uint32_t, ProcessInfo>::iterator it);
  void trim();

  std::string proc_root_;
  size_t max_exited_;
  size_t max_entries_;
  size_t max_bytes_;
  size_t bytes_ = 0;
  std::unordered_map<uint32_t, ProcessInfo> procs_;
  // The entry of the last pid looked up (an agent's events come in runs of one process): spares
  // the map's hashing, a division by its prime bucket count. Entries are nodes, so the pointer
  // stays valid until that entry is erased (erase() forgets it).
  // A copied or moved table starts without it.
  struct Last {
    ProcessInfo *p = nullptr;
    uint32_t pid = 0;
    Last() = default;
    Last(const Last &) {}
    Last &operator=(const Last &)
    {
      p = nullptr;
      return *this;
    }
  };
  Last last_;
  ProcessInfo *lookup(uint32_t pid);
  // Recency: (pid, seen_seq), least recently seen first. An entry whose process was seen again
  // since (its seen_seq moved on) is stale and skipped.
  RingQueue<std::pair<uint32_t, uint64_t>> seen_;
  uint64_t next_seen_seq_ = 1;
  uint64_t evictions_ = 0;
  uint64_t swept_ = 0;
  // Exited processes are kept for a while: events of a process can arrive after its exit
  // (other CPUs' ring records), and children's alerts name it in their ancestry.
  RingQueue<std::pair<uint32_t, uint64_t>> exited_; // (pid, exit_seq)
  uint64_t next_exit_seq_ = 1;
};

} // namespace vigil::pipeline
