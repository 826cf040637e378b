// SPDX-License-Identifier: Apache-2.0
// Process table maintenance and /proc parsing.
#include "pipeline/process_table.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <unordered_set>

namespace vigil::pipeline {

namespace {

std::string read_file(const std::string &path)
{
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> split_nul(const std::string &s)
{
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find('\0', i);
    if (j == std::string::npos)
      j = s.size();
    out.emplace_back(s, i, j - i);
    i = j + 1;
  }
  return out;
}

} // namespace

ProcessTable::ProcessTable(std::string proc_root, size_t max_exited, size_t max_entries,
                           size_t max_bytes)
    : proc_root_(std::move(proc_root)), max_exited_(max_exited),
      max_entries_(max_entries ? max_entries : 1), max_bytes_(max_bytes)
{
}

namespace {

// Heap bytes an entry holds, roughly: the node, and the bytes of its strings.
size_t footprint(const ProcessInfo &p)
{
  size_t n = sizeof(ProcessInfo) + 32 + p.comm.size() + p.exe.size();
  for (const auto *v : {&p.argv, &p.env, &p.env_before})
    for (const auto &s : *v)
      n += sizeof(std::string) + s.size();
  return n;
}

} // namespace

ProcessInfo &ProcessTable::touch(ProcessInfo &p)
{
  bytes_ -= p.bytes;
  p.bytes = footprint(p);
  bytes_ += p.bytes;
  return seen(p);
}

ProcessInfo &ProcessTable::seen(ProcessInfo &p)
{
  // Already the most recently seen: the queue's last entry is its own, and a new one would only
  // make that one stale. Runs of one process's events are common.
  if (p.seen_seq + 1 == next_seen_seq_ && !seen_.empty() &&
      seen_.back() == std::make_pair(p.pid, p.seen_seq))
    return p;
  p.seen_seq = next_seen_seq_++;
  seen_.emplace_back(p.pid, p.seen_seq);
  return p;
}

ProcessInfo &ProcessTable::put(ProcessInfo p)
{
  auto [it, added] = procs_.try_emplace(p.pid);
  if (!added)
    bytes_ -= it->second.bytes;
  it->second = std::move(p);
  it->second.bytes = 0; // a copy (a forked child) carries its source's count
  return touch(it->second);
}

ProcessInfo *ProcessTable::lookup(uint32_t pid)
{
  if (last_.p && last_.pid == pid)
    return last_.p;
  auto it = procs_.find(pid);
  if (it == procs_.end())
    return nullptr;
  last_.pid = pid;
  last_.p = &it->second;
  return last_.p;
}

void ProcessTable::erase(std::unordered_map<uint32_t, ProcessInfo>::iterator it)
{
  if (&it->second == last_.p)
    last_.p = nullptr;
  bytes_ -= it->second.bytes;
  procs_.erase(it);
}

void ProcessTable::trim()
{
  while ((procs_.size() > max_entries_ || bytes_ > max_bytes_) && !seen_.empty()) {
    auto [pid, seq] = seen_.front();
    seen_.pop_front();
    auto it = procs_.find(pid);
    if (it != procs_.end() && it->second.seen_seq == seq) {
      erase(it);
      ++evictions_;
    }
  }
  // Every apply() adds one queue entry; the stale ones go when they outnumber the live ones.
  if (seen_.size() > 2 * max_entries_ + 64)
    seen_.erase_if([&](const auto &q) {
      auto it = procs_.find(q.first);
      return it == procs_.end() || it->second.seen_seq != q.second;
    });
}

void ProcessTable::insert(ProcessInfo p)
{
  put(std::move(p));
  trim();
}

std::optional<ProcessInfo> ProcessTable::read_proc(uint32_t pid) const
{
  if (proc_root_.empty())
    return std::nullopt;
  const std::string dir = proc_root_ + "/" + std::to_string(pid);
  const std::string stat = read_file(dir + "/stat");
  // "pid (comm) state ppid ..."; comm may contain spaces and parentheses, so find the last ')'.
  size_t open = stat.find('(');
  size_t close = stat.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open)
    return std::nullopt;
  ProcessInfo p;
  p.pid = pid;
  p.comm = stat.substr(open + 1, close - open - 1);
  std::istringstream rest(stat.substr(close + 1));
  std::string state;
  rest >> state >> p.ppid;
  char buf[4096];
  ssize_t n = ::readlink((dir + "/exe").c_str(), buf, sizeof(buf) - 1);
  if (n > 0)
    p.exe.assign(buf, static_cast<size_t>(n));
  p.argv = split_nul(read_file(dir + "/cmdline"));
  std::istringstream status(read_file(dir + "/status"));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("Uid:", 0) == 0) {
      p.uid = static_cast<uint32_t>(std::strtoul(line.c_str() + 4, nullptr, 10));
      break;
    }
  }
  return p;
}

size_t ProcessTable::seed()
{
  if (proc_root_.empty())
    return 0;
  DIR *d = ::opendir(proc_root_.c_str());
  if (!d)
    return 0;
  size_t count = 0;
  while (dirent *e = ::readdir(d)) {
    char *end = nullptr;
    unsigned long pid = std::strtoul(e->d_name, &end, 10);
    if (!end || *end != '\0' || pid == 0)
      continue;
    if (auto p = read_proc(static_cast<uint32_t>(pid))) {
      put(std::move(*p));
      ++count;
    }
  }
  ::closedir(d);
  trim();
  return count;
}

size_t ProcessTable::sweep()
{
  if (proc_root_.empty())
    return 0;
  std::vector<uint32_t> gone;
  for (const auto &[pid, p] : procs_) {
    if (p.exited)
      continue;
    const std::string dir = proc_root_ + "/" + std::to_string(pid);
    if (::access(dir.c_str(), F_OK) != 0 && errno == ENOENT)
      gone.push_back(pid);
  }
  std::sort(gone.begin(), gone.end()); // retired in a stable order
  for (uint32_t pid : gone) {
    procs_[pid].exited = true;
    retire(pid); // kept a while like any exited process: its last events may still be queued
  }
  swept_ += gone.size();
  return gone.size();
}

const ProcessInfo *ProcessTable::find(uint32_t pid)
{
  if (ProcessInfo *p = lookup(pid))
    return p;
  auto p = read_proc(pid);
  if (!p)
    return nullptr;
  return &put(std::move(*p));
}

void ProcessTable::retire(uint32_t pid)
{
  const uint64_t seq = next_exit_seq_++;
  procs_[pid].exit_seq = seq;
  exited_.emplace_back(pid, seq);
  while (exited_.size() > max_exited_) {
    auto [old, old_seq] = exited_.front();
    exited_.pop_front();
    // Only the exit that queued this slot: a reused pid that exited later has its own.
    auto it = procs_.find(old);
    if (it != procs_.end() && it->second.exited && it->second.exit_seq == old_seq)
      erase(it);
  }
}

void ProcessTable::apply(const Event &ev)
{
  trim(); // what find() read since the last event
  apply_event(ev);
  trim();
}

void ProcessTable::apply_event(const Event &ev)
{
  const Header &h = ev.hdr;
  if (const auto *f = std::get_if<ForkBody>(&ev.body)) {
    const bool parent_known = find(h.tgid) != nullptr;
    // The child's entry is assigned in place: an entry a reused pid left keeps its strings'
    // capacity (element references survive the map's rehashing).
    auto [it, added] = procs_.try_emplace(f->child_tgid);
    ProcessInfo &child = it->second;
    if (!added)
      bytes_ -= child.bytes;
    if (parent_known && f->child_tgid != h.tgid) {
      // The fork is also an event of the parent: it was seen now, in this cgroup and profile
      // (for a process that was in the agent before it was confined, its forks may be the only
      // events it makes). A forked child runs the parent's image until it execs.
      ProcessInfo &parent = procs_[h.tgid];
      if (fork_refreshes_parent_)
        parent.profile_id = h.profile_id;
      child = touch(parent);
    } else {
      child.uid = 0;
      child.cgroup_id = 0;
      child.comm.clear();
      child.exe.clear();
      child.argv.clear();
      child.env.clear();
      child.env_before.clear();
    }
    child.pid = f->child_tgid;
    child.ppid = h.tgid;
    child.profile_id = h.profile_id;
    child.start_ns = h.ts_ns;
    child.exited = false;
    child.exit_seq = 0;
    child.bytes = 0; // a copy carries its source's count
    touch(child);
    return;
  }
  if (const auto *x = std::get_if<ExecBody>(&ev.body)) {
    ProcessInfo &p = procs_[h.tgid];
    p.pid = h.tgid;
    p.ppid = x->ppid;
    p.uid = h.uid;
    p.cgroup_id = h.cgroup_id;
    p.profile_id = h.profile_id;
    p.comm = h.comm;
    p.exe = x->exe;
    p.argv = x->argv;
    p.env_before.swap(p.env); // the old image's, and env's storage is reused for the new
    p.env = x->env;
    p.start_ns = h.ts_ns;
    p.exited = false;
    touch(p);
    return;
  }
  if (std::holds_alternative<ExitBody>(ev.body)) {
    if (auto it = procs_.find(h.tgid); it != procs_.end() && !it->second.exited) {
      it->second.exited = true;
      retire(h.tgid);
    }
    return;
  }
  // Any other event refreshes what the kernel says about the process right now (numbers only:
  // its footprint, counted at its last touch(), stays).
  if (ProcessInfo *p = lookup(h.tgid)) {
    seen(*p);
    p->cgroup_id = h.cgroup_id;
    p->profile_id = h.profile_id;
    p->uid = h.uid;
  }
}

std::vector<const ProcessInfo *> ProcessTable::ancestry(uint32_t pid, size_t max_depth)
{
  std::vector<const ProcessInfo *> chain;
  std::unordered_set<uint32_t> seen{pid};
  const ProcessInfo *p = find(pid);
  while (p && p->ppid != 0 && chain.size() < max_depth) {
    if (!seen.insert(p->ppid).second)
      break;
    const ProcessInfo *parent = find(p->ppid);
    if (!parent)
      break;
    chain.push_back(parent);
    p = parent;
  }
  return chain;
}

} // namespace vigil::pipeline
