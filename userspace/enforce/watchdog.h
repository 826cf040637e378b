// SPDX-License-Identifier: Apache-2.0
// Watchdog: a small process `vigil run` forks before it launches the agent, outside the agent
// cgroup, that kills the agent cgroup and removes it when vigil dies for any reason (a crash,
// SIGKILL), and holds the fanotify group meanwhile so that the file tier fails closed. No BPF.
//
// Why a process of its own (and not PR_SET_PDEATHSIG, a subreaper, or the kernel):
//  - PR_SET_PDEATHSIG reaches only the agent's first process (and fires when the thread that
//    forked it ends, not the process); the agent's descendants are reparented and run on.
//  - Nothing in the kernel kills a cgroup when the process that made it dies, and with vigil's
//    last descriptor the BPF links and the fanotify group go too: the fanotify tier answers every
//    pending and later open FAN_ALLOW (see fanotify_guard.h). A second holder of the group keeps
//    it alive but unanswered, so in the window between vigil's death and the kill an agent's
//    open of a guarded file sleeps (killably, in fanotify_get_response()) instead of passing;
//    the kill then wakes it to die. Only after the cgroup is empty is the group released, and
//    then every open that waited meanwhile (non-agents) is allowed, as before.
//  - It lives in vigil's cgroup, not the agent's, so the launch filter (which lists its pid with
//    vigil's: signals, ptrace, pidfd_open, prlimit, scheduling) and the kernel's self-protection
//    (signals from an agent to a task outside its subtree) cover it as they cover vigil.
// It is forked from a multi-threaded process and never execs, so after fork it makes only raw
// system calls (async-signal-safe): no allocation, no locks, no C++ library.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace vigil::enforce {

struct WatchdogOptions {
  std::string cgroup_dir; // the agent cgroup (absolute path); it must exist
  // A descriptor the watchdog keeps open until the cgroup is empty (the fanotify group of the
  // file tier), or -1. The caller keeps its own.
  int hold_fd = -1;
  // How long the watchdog waits for the killed cgroup to empty before it lets go of hold_fd
  // anyway: a task stuck in uninterruptible sleep must not keep every guarded open on the host
  // waiting forever. A task with SIGKILL pending never runs user code again.
  std::chrono::milliseconds drain_timeout{5000};
  // false: take the path of kernels without cgroup.kill (before 5.14) even where it exists, so
  // that tests reach it.
  bool use_cgroup_kill = true;
};

class Watchdog {
public:
  // Forks the watchdog. In it: every signal blocked, not dumpable, named "vigil-watchdog", stdin
  // and stdout on /dev/null, stderr kept (one line when it acts), and no descriptor of vigil's
  // but a pidfd of vigil, its end of a control pipe, the cgroup's directories and hold_fd. It
  // waits for vigil's death (the pidfd, or the pipe's EOF) or finish(), then: writes "1" to
  // cgroup.kill (5.14+; before that it freezes the cgroup and SIGKILLs every pid in each
  // cgroup.procs of the subtree until it is empty), waits until cgroup.events says
  // "populated 0" (at most drain_timeout), closes hold_fd, removes the subtree deepest first,
  // and exits 0. Errors: pipe, open of the cgroup, fork.
  static Result<Watchdog> start(const WatchdogOptions &opts);

  Watchdog() = default;
  Watchdog(Watchdog &&o) noexcept;
  Watchdog &operator=(Watchdog &&o) noexcept;
  ~Watchdog();

  pid_t pid() const { return pid_; }
  // False once the watchdog has exited (reaped here): vigil's death would leave the agent
  // running. Never blocks.
  bool alive();
  // For a normal exit, after the caller has emptied and removed the cgroup itself: the watchdog
  // does its cleanup (nothing left to kill), releases hold_fd and exits; waits up to timeout,
  // then SIGKILLs it. Idempotent.
  void finish(std::chrono::milliseconds timeout = std::chrono::milliseconds(3000));

private:
  pid_t pid_ = -1;
  UniqueFd control_; // write end: one byte asks for a normal exit; vigil's death closes it
  bool reaped_ = false;
};

} // namespace vigil::enforce
