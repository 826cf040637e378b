// SPDX-License-Identifier: Apache-2.0
// How `vigil run` starts an agent, which may run as root, know vigil is there and try to switch
// it off: without the caller's secrets in its environment (no file policy can see a secret
// passed in the environment); in its own cgroup, mount and pid namespaces (a /proc of its own,
// where no process outside it is visible), where the cgroup tree,
// bpffs, /proc/sys and the kernel's other control files are read-only; with only the
// capabilities its profile keeps (never those that unload, blind or leave vigil); with
// no_new_privs; and under a seccomp filter that closes the doors the BPF tiers and the dropped
// capabilities leave open: the 32-bit entry points (int 0x80 and x32 numbers, which the 64-bit
// tracepoints and filters never see the same way), bpf(), module and kexec loading, signals,
// tracing and scheduling aimed at the launcher, and, where no BPF LSM decides socket creation,
// raw and packet sockets (which bypass the egress allowlist).
#pragma once

#include <linux/filter.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <string_view>
#include <vector>

#include "common/unique_fd.h"

#ifndef SYS_fchmodat2 // Linux 6.6; glibc's headers here predate it
#define SYS_fchmodat2 452
#endif

namespace vigil::enforce {

// Names that look like they hold a secret: AWS_*, *_TOKEN, *SECRET*, *_KEY, *PASSWORD*, ...
bool secret_like(std::string_view name);

struct ScrubbedEnv {
  std::vector<std::string> kept;    // "NAME=VALUE", in the original order
  std::vector<std::string> removed; // names only
};
// The environment without secret-looking variables, except those named in allow.
ScrubbedEnv scrub_environment(const char *const *envp, const std::vector<std::string> &allow);

// One comparison on a system call argument: (low 32 bits of args[arg] & mask) == value. Only the
// low half is compared because every argument matched here is an int (a pid, a command), which
// the kernel truncates the same way, so the upper half cannot smuggle a different value past.
struct ArgEq {
  uint8_t arg = 0;
  uint32_t value = 0;
  uint32_t mask = 0xffffffffu;
};

// In place of an errno: the call is suspended and handed to the supervisor (the process holding
// the filter's listener), which answers EPERM and raises an alert (SECCOMP_RET_USER_NOTIF).
inline constexpr int kNotify = -1;

// A seccomp program for x86-64 as a list of denials: every other call is allowed. Calls through
// the 32-bit entry points fail with ENOSYS before any rule is looked at.
class SeccompBuilder {
public:
  // Every call of nr fails with err.
  SeccompBuilder &deny(int nr, int err = EPERM);
  // Calls of nr where every comparison in all holds fail with err. Several deny_if() calls for
  // one nr are alternatives, tried in order, each with its own err.
  SeccompBuilder &deny_if(int nr, std::vector<ArgEq> all, int err = EPERM);
  // Shorthand: calls of nr whose argument arg equals one of values.
  SeccompBuilder &deny_if_any(int nr, uint8_t arg, const std::vector<uint32_t> &values,
                              int err = EPERM);
  // Calls through the 32-bit entry points go to the supervisor (kNotify) instead of failing
  // with ENOSYS at once.
  SeccompBuilder &notify_other_entries()
  {
    notify_other_entries_ = true;
    return *this;
  }
  std::vector<sock_filter> build() const;

private:
  bool notify_other_entries_ = false;
  struct Alternative {
    std::vector<ArgEq> all; // empty: always
    int err;
  };
  struct Rule {
    int nr;
    std::vector<Alternative> alternatives;
  };
  Rule &rule(int nr);
  std::vector<Rule> rules_;
};

struct LaunchFilterOptions {
  // socket(AF_PACKET, ...) and socket(*, SOCK_RAW, ...) fail with EPERM.
  bool block_raw_sockets = true;
  // The process that must survive the agent: signals (kill, tkill, tgkill, rt_*sigqueueinfo,
  // fcntl(F_SETOWN)), pidfd_open, ptrace, process_vm_*, prlimit and scheduler calls naming it or
  // one of its threads fail with EPERM, as do kill(0), kill(-1) and kill(-pgid). 0: no such rules.
  pid_t launcher = 0;
  pid_t launcher_pgid = 0;
  std::vector<pid_t> launcher_threads;
  // Other processes of vigil that must survive the agent (the watchdog, which kills the agent
  // cgroup if vigil dies): the same rules as the launcher's pid. Used only with launcher.
  std::vector<pid_t> guardians;
  // Attempts on vigil (the launcher rules, bpf, module and kexec loading, iopl/ioperm,
  // open_by_handle_at) go to the supervisor (kNotify) instead of failing silently, and so do the
  // rare calls that the launch stops for other reasons, so that each raises an alert: the 32-bit
  // entry points (answered ENOSYS), raw and packet sockets, the mount calls, setns, unshare and
  // clone creating namespaces (unless nested_namespaces), and ptrace attach, process_vm_*,
  // pidfd_open and pidfd_getfd, which the supervisor lets through when their target is a process
  // of the agent. Common calls (openat, clone for threads and forks) never wait for it.
  bool notify = false;
  // The agent may create namespaces (user and mount namespaces among them) and mount inside
  // them. Off: the mount calls, setns, and unshare and clone with any CLONE_NEW* flag fail with
  // EPERM (with notify: an alert each). A mount namespace made inside the agent copies its
  // mounts, and the file tier's marks on the agent's mounts do not follow copies.
  bool nested_namespaces = false;
  // The persistence gate (enforce/persistence_gate.h): with notify, the calls that make, change
  // or remove a name go to the supervisor: open, openat and creat only when they write (O_WRONLY,
  // O_RDWR, O_CREAT, O_TRUNC), openat2 (its flags are in memory), and mkdir, mknod, symlink,
  // link, rename, unlink, rmdir, chmod, chown and truncate in all their forms. io_uring_setup
  // fails (with an alert) whatever this says: its rings make the same calls past every filter.
  bool name_calls = false;
  // With name_calls: opens that write wait too (false: only the calls that make, change or
  // remove a name by itself, where another tier decides and observes the opens).
  bool name_call_opens = true;
  // With name_calls: fchmod and fchown wait too.
  bool name_call_fds = true;
  // With notify: listen(2) goes to the supervisor, which records the unix names the agent's
  // sockets hold (the tier-2 unix programs let the agent reach its own servers by them) before
  // the call goes on, so no client of the agent's server can come before the record.
  bool listen_calls = false;
  // The same for bind(2): a unix name an agent binds is recorded at once (a datagram server
  // never calls listen). An abstract name is bound by the supervisor on the agent's socket and
  // recorded before the call returns; a path name (which the kernel must resolve as the agent)
  // is recorded as soon as the agent's own bind has made it.
};

// The launch filter (classic BPF for seccomp). Whatever the options, bpf(), module loading,
// kexec, iopl/ioperm, open_by_handle_at, pidfd_send_signal (it also takes a /proc/PID directory,
// which no argument check can see through) and the SIGIO owner commands that take a pointer
// (F_SETOWN_EX, FIOSETOWN, SIOCSPGRP) fail with EPERM, and clone3 (CLONE_INTO_CGROUP) with
// ENOSYS, so that runtimes fall back to clone().
std::vector<sock_filter> launch_filter(const LaunchFilterOptions &opts);

// The rest run in the child between fork and exec, so they are async-signal-safe.

// In the child between fork and exec: no_new_privs, then the filter. With listener, the filter
// is installed with a new user-notification listener, whose descriptor is stored there (the
// caller hands it to the supervisor and closes its own copy before exec: an agent holding it
// could answer for vigil). Returns 0 or -errno.
int apply_launch_filter(const sock_fprog &prog, int *listener = nullptr);

// Sends fd over a unix socket (SCM_RIGHTS). Async-signal-safe. Returns 0 or -errno.
int send_fd(int sock, int fd);

// Read-only (with everything mounted below them) in the agent's mount namespace: the cgroup
// tree, bpffs pins, securityfs, debugfs and tracefs live under /sys; /proc/sys holds sysctls
// such as kernel.modprobe and kernel.core_pattern, which a root agent could point at its own
// program to run outside its cgroup; /proc/sysrq-trigger reboots or crashes the machine.
inline constexpr const char *kReadOnlyPaths[] = {"/sys",      "/proc/sys", "/proc/sysrq-trigger",
                                                 "/proc/irq", "/proc/bus", "/proc/fs"};

// kReadOnlyPaths, plus every mount in mountinfo of a file system that controls the kernel
// (cgroup, cgroup2, bpf, tracefs, debugfs, securityfs, configfs, efivarfs, pstore) wherever it
// is mounted (a cgroup2 under /run, say) and not already below one of them.
std::vector<std::string> read_only_mounts(const std::string &mountinfo = "/proc/self/mountinfo");

// New mount namespace (call it before the task joins the agent cgroup: there the kernel's
// self-protection refuses every mount in a namespace not owned by a user namespace of the
// agent's own) whose root receives the host's mounts but sends none back, the
// null-terminated read_only paths bound read-only there, recursively, and an empty read-only
// file system over each of the null-terminated hidden paths (the launcher's /proc/PID and
// /proc/TID directories: its oom_score_adj, which a root agent may raise without any
// capability, its status, environment and memory). A path that does not exist is skipped.
// With new_proc (the caller is the first process of a new pid namespace), a fresh /proc of
// that namespace is mounted over /proc first, so read_only and hidden paths under /proc name
// its entries. Returns 0 or -errno, with *step naming what failed.
int isolate_mounts(const char *const *read_only, const char *const *hidden, bool new_proc,
                   const char **step);
// Binds path onto itself, with everything mounted below it, and makes the whole bind read-only
// (mount_setattr: only the read-only bit changes; nosuid, noexec, ... stay). Async-signal-safe.
// Returns 0, -ENOENT when path does not exist, or -errno.
int bind_read_only(const char *path);

// Named FIFOs that exist now below roots (each walked to max_depth levels, breadth first,
// without crossing into other file systems' mounts below it; at most max_entries directory
// entries are looked at in all, *truncated says whether that bound stopped the walk): each is a
// channel to whoever holds its other end, outside the agent. Sorted, unique.
std::vector<std::string> find_fifos(const std::vector<std::string> &roots, int max_depth,
                                    size_t max_entries, bool *truncated = nullptr);
// In the agent's mount namespace (after isolate_mounts): binds the regular file stand_in over
// each of the null-terminated fifos. The kernel sends no fanotify permission event for a FIFO's
// open (6.14+), but it does for a regular file's: an open of one of these names reaches the file
// guard as the stand-in's inode, by the FIFO's path, and is refused. A FIFO that is gone is
// skipped. Returns 0 or -errno, with *step naming the FIFO.
int cover_fifos(const char *stand_in, const char *const *fifos, const char **step);

// New cgroup namespace rooted at the caller's cgroup: call it once the task is in the agent
// cgroup. Returns 0 or -errno.
int isolate_cgroup_namespace();

// Drops every capability not in keep (bit n = capability n) from the bounding set (0..last_cap),
// clears the ambient set, and leaves permitted = effective = inheritable = keep (as far as the
// caller holds them). After exec a root agent holds exactly keep ∩ its bounding set, and no
// setuid or file-capability binary can give it more. Returns 0 or -errno.
int drop_capabilities(uint64_t keep, int last_cap);

// The highest capability number the running kernel knows (/proc/sys/kernel/cap_last_cap), or
// 40 (CAP_CHECKPOINT_RESTORE) where that file cannot be read.
int kernel_last_cap();
// The capability sets of this process from /proc/self/status ("CapEff", "CapBnd", ...).
uint64_t own_capabilities(std::string_view which);

// Thread ids of this process (/proc/self/task).
std::vector<pid_t> own_threads();

// One suspended system call of the agent, as the supervisor saw it.
struct TamperAttempt {
  pid_t pid = 0;  // in vigil's pid namespace
  int nr = 0;     // system call number of arch
  uint32_t arch = 0; // AUDIT_ARCH_X86_64 or AUDIT_ARCH_I386 (int 0x80); x32 numbers carry bit 30
  uint64_t args[6] = {};
  int listener = -1; // the seccomp listener and the notification's id: still_waiting()
  uint64_t id = 0;
};
// Whether the task of a (live) attempt is still the one waiting in the call: false once it died,
// so that its pid, possibly reused by then, no longer names it. Check it after pidfd_open(pid)
// and before acting on what the pidfd reaches (SECCOMP_IOCTL_NOTIF_ID_VALID).
bool still_waiting(const TamperAttempt &a);
// "kill", "bpf", ...; "syscall N" for a number without a name here. arch: as in TamperAttempt
// (the i386 table names the 32-bit entry points: socketcall, ...).
std::string syscall_name(int nr, uint32_t arch = 0xc000003eu /* AUDIT_ARCH_X86_64 */);

// What the supervisor makes of an attempt.
enum class AttemptClass : uint8_t {
  vigil,           // aimed at vigil (its pids, its init, its process group) or the kernel
  process,         // ptrace attach, process_vm_*, pidfd_open/pidfd_getfd on another process
  namespaces,      // mount calls, setns, unshare/clone with CLONE_NEW* flags
  raw_socket,      // raw IP or packet socket
  entry_32bit,     // int 0x80 or an x32 number
  io_uring,        // io_uring_setup: its rings make calls the launch filter never sees
};
struct AttemptVerdict {
  AttemptClass cls = AttemptClass::vigil;
  bool run = false;  // let the call run (its target is a process of the agent)
  int error = EPERM; // answered when !run
  // The alert: rule id, whether the attempt is what ordinary programs do (ping's raw socket,
  // lower severity), and the text "tried X: denied by Y" (empty with run).
  std::string rule;
  bool ordinary = false;
  std::string text;
};
// How the supervisor asks where a process is. target: a pid as the caller named it (in the
// agent's pid namespace where it has one). Returns 1: a process of the agent (not vigil's init);
// 0: not (outside the agent, vigil's, or no such process); the hooks are called only for the
// process calls.
struct AttemptContext {
  std::function<int(pid_t caller, pid_t target)> agent_process;
  // A pidfd of the caller -> 1: refers to a process of the agent, 0: not, as above.
  std::function<int(pid_t caller, int pidfd)> agent_pidfd;
  bool pid_namespace = false; // "the agent's PID namespace" is what stops outside targets
  std::vector<pid_t> vigil_ids; // pids the launch filter names as vigil's (as the agent sees them)
};
// Decides one notification of the launch filter. Pure apart from ctx's hooks.
AttemptVerdict judge_attempt(const TamperAttempt &a, const AttemptContext &ctx);

// The supervisor of a launch filter with kNotify rules: a thread started before the fork (so its
// id is in the filter's launcher list), which receives the listener descriptor from the child over
// sock, then hands every notification to on_attempt and answers what it returns: 0 lets the call
// run as the kernel decides (SECCOMP_USER_NOTIF_FLAG_CONTINUE), a positive errno fails it. stop()
// (or the destructor) ends the thread; a child that never sends a listener just ends it early.
// on_attempt's answer for a call the supervisor made itself for the task: the task's call
// returns 0 without running again.
inline constexpr int kDoneForTask = -1;

class SeccompSupervisor {
public:
  SeccompSupervisor(int sock, std::function<int(const TamperAttempt &)> on_attempt);
  ~SeccompSupervisor();
  SeccompSupervisor(const SeccompSupervisor &) = delete;
  SeccompSupervisor &operator=(const SeccompSupervisor &) = delete;
  void stop();
  uint64_t answered() const { return answered_.load(); }

private:
  void loop() noexcept;
  int sock_;
  std::function<int(const TamperAttempt &)> on_attempt_;
  std::atomic<bool> stop_{false};
  UniqueFd wake_; // eventfd: stop()'s write ends the thread's poll at once
  std::atomic<uint64_t> answered_{0};
  std::thread thread_;
};

} // namespace vigil::enforce
