// SPDX-License-Identifier: Apache-2.0
// The agent's launch: environment scrubbing and the seccomp filter.
#include "enforce/launch.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <linux/sockios.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <deque>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/text.h"

namespace vigil::enforce {

namespace {

bool contains(std::string_view s, std::string_view part)
{
  return s.find(part) != std::string_view::npos;
}

// Non-secret variables that share a secret-looking prefix or word.
constexpr std::string_view kNotSecret[] = {
    "AWS_REGION",       "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_OUTPUT",
    "AWS_CONFIG_FILE",  "AWS_PAGER",          "AWS_CA_BUNDLE", "AWS_SHARED_CREDENTIALS_FILE",          "SSH_AUTH_SOCK", "GPG_AGENT_INFO",
    "KEYTIMEOUT",       "XAUTHORITY"};

constexpr uint32_t kX32Bit = 0x40000000u;

// CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID,
// CLONE_NEWNET, CLONE_NEWTIME.
constexpr uint32_t kCloneNewTime = 0x00000080u;
constexpr uint32_t kCloneNewFlags[] = {0x00020000u, 0x02000000u, 0x04000000u, 0x08000000u,
                                       0x10000000u, 0x20000000u, 0x40000000u, kCloneNewTime};
constexpr uint32_t kOpenTreeClone = 1;
constexpr uint32_t kUffdIocNew = 0xaa00; // USERFAULTFD_IOC_NEW, _IO(0xAA, 0x00)
constexpr uint32_t kPtraceAttach = 16, kPtraceSeize = 0x4206;
constexpr uint32_t kAfInet = 2, kAfInet6 = 10, kAfPacket = 17;

// mount_setattr(2) (5.12); glibc 2.36 has no wrapper, and <linux/mount.h> clashes with
// <sys/mount.h> there, so the few names it needs are spelled here.
struct MountAttr {
  uint64_t attr_set;
  uint64_t attr_clr;
  uint64_t propagation;
  uint64_t userns_fd;
};
constexpr uint64_t kMountAttrRdonly = 0x00000001;
constexpr unsigned kAtRecursive = 0x8000;

// File systems through which root changes what the kernel runs or where a task belongs.
constexpr std::string_view kControlFsTypes[] = {"cgroup",   "cgroup2",    "bpf",     "tracefs",
                                                "debugfs",  "securityfs", "configfs", "efivarfs",
                                                "pstore"};

sock_filter stmt(uint16_t code, uint32_t k)
{
  return sock_filter{code, 0, 0, k};
}
sock_filter jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf)
{
  return sock_filter{code, jt, jf, k};
}

} // namespace

bool secret_like(std::string_view name)
{
  if (std::find(std::begin(kNotSecret), std::end(kNotSecret), name) != std::end(kNotSecret))
    return false;
  std::string upper(name);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  const std::string_view u = upper;
  return u.starts_with("AWS_") || u.ends_with("_TOKEN") || contains(u, "_TOKEN_") ||
         u == "TOKEN" || contains(u, "SECRET") || u.ends_with("_KEY") ||
         contains(u, "_KEY_") || u.ends_with("APIKEY") || contains(u, "PASSWORD") ||
         contains(u, "PASSWD") || u.ends_with("_PASS") || contains(u, "CREDENTIAL") ||
         u.ends_with("_AUTH") || u == "DOCKER_AUTH_CONFIG" || u.ends_with("_PAT") ||
         u.ends_with("_COOKIE") || u.ends_with("_DSN") || u.starts_with("VAULT_");
}

ScrubbedEnv scrub_environment(const char *const *envp, const std::vector<std::string> &allow)
{
  ScrubbedEnv out;
  for (; envp && *envp; ++envp) {
    const std::string_view var = *envp;
    const std::string_view name = var.substr(0, var.find('='));
    if (secret_like(name) && std::find(allow.begin(), allow.end(), name) == allow.end())
      out.removed.emplace_back(name);
    else
      out.kept.emplace_back(var);
  }
  return out;
}

SeccompBuilder::Rule &SeccompBuilder::rule(int nr)
{
  for (auto &r : rules_)
    if (r.nr == nr)
      return r;
  rules_.push_back(Rule{nr, {}});
  return rules_.back();
}

SeccompBuilder &SeccompBuilder::deny(int nr, int err)
{
  Rule &r = rule(nr);
  r.alternatives.clear();
  r.alternatives.push_back(Alternative{{}, err}); // an empty conjunction always holds
  return *this;
}

SeccompBuilder &SeccompBuilder::deny_if(int nr, std::vector<ArgEq> all, int err)
{
  Rule &r = rule(nr);
  const bool always = std::any_of(r.alternatives.begin(), r.alternatives.end(),
                                  [](const Alternative &a) { return a.all.empty(); });
  if (!always)
    r.alternatives.push_back(Alternative{std::move(all), err});
  return *this;
}

SeccompBuilder &SeccompBuilder::deny_if_any(int nr, uint8_t arg,
                                            const std::vector<uint32_t> &values, int err)
{
  for (uint32_t v : values)
    deny_if(nr, {ArgEq{arg, v}}, err);
  return *this;
}

// Layout: arch check, x32 check, then a binary search over the calls' numbers, sorted: each
// inner node is one JGE on nr, so a call is found (or known to have no rule) after about
// log2(rules) comparisons instead of a walk past every rule before it (openat came after some
// fifty). The search ends in short chains of blocks, one per system call:
//   JEQ nr ? block : next; JA past the block
//   per alternative: per comparison LD arg; [AND mask]; JEQ value ? next : next-alternative
//                    RET its ERRNO (or USER_NOTIF)
//   RET ALLOW
// and a chain ends with RET ALLOW. The accumulator holds nr whenever a block is skipped; a block
// that is entered always returns, and so does every subtree. Only LD of nr, JEQ/JGE/JA and RET
// decide which block a call reaches, so the kernel's action cache still recognises every call
// without a rule (or whose rule looks at no argument) as always allowed.
std::vector<sock_filter> SeccompBuilder::build() const
{
  std::vector<sock_filter> f;
  const uint32_t nosys = SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA);
  // Only the native x86-64 entry point: int 0x80 from a 64-bit task arrives as i386.
  const uint32_t other_entry = notify_other_entries_ ? SECCOMP_RET_USER_NOTIF : nosys;
  f.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
  f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0));
  f.push_back(stmt(BPF_RET | BPF_K, other_entry));
  f.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
  // x32 numbers share the architecture and carry bit 30.
  f.push_back(jump(BPF_JMP | BPF_JGE | BPF_K, kX32Bit, 0, 1));
  f.push_back(stmt(BPF_RET | BPF_K, other_entry));

  std::vector<const Rule *> sorted;
  for (const Rule &r : rules_)
    sorted.push_back(&r);
  std::sort(sorted.begin(), sorted.end(),
            [](const Rule *a, const Rule *b) { return a->nr < b->nr; });
  const auto block = [](const Rule &r) {
    std::vector<sock_filter> body;
    bool returned = false;
    for (const Alternative &alt : r.alternatives) {
      // Each failed comparison jumps past the rest of this alternative (patched below).
      std::vector<size_t> fails;
      for (const ArgEq &eq : alt.all) {
        body.push_back(stmt(BPF_LD | BPF_W | BPF_ABS,
                            static_cast<uint32_t>(offsetof(seccomp_data, args[eq.arg]))));
        if (eq.mask != 0xffffffffu)
          body.push_back(stmt(BPF_ALU | BPF_AND | BPF_K, eq.mask));
        fails.push_back(body.size());
        body.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, eq.value, 0, 0));
      }
      body.push_back(stmt(BPF_RET | BPF_K,
                          alt.err == kNotify ? SECCOMP_RET_USER_NOTIF
                                             : SECCOMP_RET_ERRNO | (alt.err & SECCOMP_RET_DATA)));
      for (size_t at : fails)
        body[at].jf = static_cast<uint8_t>(body.size() - at - 1);
      if (alt.all.empty()) {
        returned = true;
        break;
      }
    }
    if (!returned)
      body.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    return body;
  };
  // Chains of at most this many blocks: below it a comparison per rule costs what a search step
  // costs.
  constexpr size_t kChain = 3;
  const std::function<void(size_t, size_t)> emit = [&](size_t lo, size_t hi) {
    if (hi - lo <= kChain) {
      for (size_t i = lo; i < hi; ++i) {
        const std::vector<sock_filter> body = block(*sorted[i]);
        // Conditional jumps reach 255 instructions; JA takes 32 bits, so a block of any length
        // (vigil's thread list makes the signal blocks grow) is skipped with it.
        f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(sorted[i]->nr), 1, 0));
        f.push_back(stmt(BPF_JMP | BPF_JA | BPF_K, static_cast<uint32_t>(body.size())));
        f.insert(f.end(), body.begin(), body.end());
      }
      f.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
      return;
    }
    // nr >= the middle rule's: on to the JA that leads to the upper half; below it: the lower
    // half, which follows the JA (and returns, never falling through into the upper half).
    const size_t mid = lo + (hi - lo) / 2;
    f.push_back(jump(BPF_JMP | BPF_JGE | BPF_K, static_cast<uint32_t>(sorted[mid]->nr), 0, 1));
    const size_t ja = f.size();
    f.push_back(stmt(BPF_JMP | BPF_JA | BPF_K, 0));
    emit(lo, mid);
    f[ja].k = static_cast<uint32_t>(f.size() - ja - 1);
    emit(mid, hi);
  };
  emit(0, sorted.size());
  return f;
}

std::vector<sock_filter> launch_filter(const LaunchFilterOptions &opts)
{
  SeccompBuilder b;
  const int tamper = opts.notify ? kNotify : EPERM;
  // Kernel code, vigil's own programs and raw hardware. The capabilities these need are dropped
  // already; denying them here as well makes every attempt the same EPERM whatever a profile
  // keeps, and closes bpf() where kernel.unprivileged_bpf_disabled is 0.
  for (int nr : {SYS_bpf, SYS_init_module, SYS_finit_module, SYS_delete_module, SYS_kexec_load,
                 SYS_kexec_file_load, SYS_iopl, SYS_ioperm, SYS_open_by_handle_at})
    b.deny(nr, tamper);
  // Go probes pidfd_send_signal(self, 0) at start and falls back to kill(); no alert for that.
  b.deny(SYS_pidfd_send_signal);
  // clone3 carries CLONE_INTO_CGROUP in a struct no filter can read, and without nsdelegate on
  // the cgroup2 mount the cgroup namespace does not bound where a child may be placed. ENOSYS
  // (not EPERM) makes glibc and the other runtimes fall back to clone(), which cannot place a
  // child in another cgroup.
  b.deny(SYS_clone3, ENOSYS);
  b.deny_if(SYS_fcntl, {ArgEq{1, F_SETOWN_EX}});
  b.deny_if_any(SYS_ioctl, 1, {FIOSETOWN, SIOCSPGRP});
  if (opts.launcher > 0) {
    std::vector<uint32_t> ids{static_cast<uint32_t>(opts.launcher)};
    for (pid_t t : opts.launcher_threads)
      if (t != opts.launcher)
        ids.push_back(static_cast<uint32_t>(t));
    for (pid_t g : opts.guardians)
      if (g > 0)
        ids.push_back(static_cast<uint32_t>(g));
    std::vector<uint32_t> signal_targets = ids;
    signal_targets.push_back(0);                       // the caller's process group
    signal_targets.push_back(static_cast<uint32_t>(-1)); // every process it may signal
    if (opts.launcher_pgid > 0)
      signal_targets.push_back(static_cast<uint32_t>(-opts.launcher_pgid));
    b.deny_if_any(SYS_kill, 0, signal_targets, tamper);
    for (int nr : {SYS_tkill, SYS_tgkill, SYS_rt_sigqueueinfo, SYS_rt_tgsigqueueinfo,
                   SYS_pidfd_open, SYS_process_vm_readv, SYS_process_vm_writev, SYS_prlimit64,
                   SYS_sched_setscheduler, SYS_sched_setparam, SYS_sched_setattr,
                   SYS_sched_setaffinity})
      b.deny_if_any(nr, 0, ids, tamper);
    for (int nr : {SYS_tgkill, SYS_rt_tgsigqueueinfo, SYS_ptrace, SYS_setpriority})
      b.deny_if_any(nr, 1, ids, tamper);
    for (uint32_t target : signal_targets)
      if (target != 0)
        b.deny_if(SYS_fcntl, {ArgEq{1, F_SETOWN}, ArgEq{2, target}}, tamper);
  }
  if (opts.block_raw_sockets) {
    // Raw IP and packet sockets bypass the egress allowlist. args[1]: the type, without
    // SOCK_NONBLOCK / SOCK_CLOEXEC. Netlink's SOCK_RAW (glibc's getifaddrs, iproute) is not IP.
    const int err = opts.notify ? kNotify : EPERM;
    b.deny_if(SYS_socket, {ArgEq{0, AF_PACKET}}, err);
    b.deny_if(SYS_socket, {ArgEq{0, AF_INET}, ArgEq{1, SOCK_RAW, 0xf}}, err);
    b.deny_if(SYS_socket, {ArgEq{0, AF_INET6}, ArgEq{1, SOCK_RAW, 0xf}}, err);
  }
  if (!opts.nested_namespaces) {
    const int err = opts.notify ? kNotify : EPERM;
    // Without CAP_SYS_ADMIN these fail anyway; here they fail the same way whatever a user
    // namespace would grant, and each raises an alert.
    for (int nr : {SYS_mount, SYS_umount2, SYS_pivot_root, SYS_move_mount, SYS_fsopen,
                   SYS_fsconfig, SYS_fsmount, SYS_fspick, SYS_mount_setattr, SYS_setns})
      b.deny(nr, err);
    // open_tree without OPEN_TREE_CLONE is an O_PATH open; with it, a copy of a mount tree.
    b.deny_if(SYS_open_tree, {ArgEq{2, kOpenTreeClone, kOpenTreeClone}}, err);
    // One test of a bit per namespace type: a thread's or a fork's clone carries none of them,
    // so it passes after a few instructions and never reaches the supervisor.
    for (uint32_t ns : kCloneNewFlags) {
      b.deny_if(SYS_unshare, {ArgEq{0, ns, ns}}, err);
      if (ns != kCloneNewTime) // clone's low byte is the exit signal
        b.deny_if(SYS_clone, {ArgEq{0, ns, ns}}, err);
    }
  }
  if (opts.notify) {
    // Calls that reach into another process: the supervisor lets them run when the target is a
    // process of the agent (a debugger or strace inside it), and fails them with an alert
    // otherwise. Only ptrace's attaching requests: every other request needs a tracee already.
    b.deny_if(SYS_ptrace, {ArgEq{0, kPtraceAttach}}, kNotify);
    b.deny_if(SYS_ptrace, {ArgEq{0, kPtraceSeize}}, kNotify);
    for (int nr : {SYS_process_vm_readv, SYS_process_vm_writev, SYS_pidfd_open, SYS_pidfd_getfd})
      b.deny(nr, kNotify);
    b.deny(SYS_io_uring_setup, kNotify);
    b.notify_other_entries();
  } else {
    b.deny(SYS_io_uring_setup);
  }
  // A userfaultfd page under a path pointer would hold vigil's read of the path (the supervisor
  // answers the agent's calls one at a time) for as long as the agent likes: neither the call
  // nor /dev/userfaultfd's ioctl that makes one.
  b.deny(SYS_userfaultfd, opts.notify ? kNotify : EPERM);
  b.deny_if(SYS_ioctl, {ArgEq{1, kUffdIocNew}}, opts.notify ? kNotify : EPERM);
  if (opts.notify && opts.listen_calls) {
    b.deny(SYS_listen, kNotify);
    b.deny(SYS_bind, kNotify);
  }
  if (opts.notify && opts.name_calls) {
    // Opens that only read never wait: the access mode is the low two bits of the flags.
    if (opts.name_call_opens) {
      for (auto [nr, arg] : {std::pair{SYS_open, 1}, std::pair{SYS_openat, 2}}) {
        const auto i = static_cast<uint8_t>(arg);
        b.deny_if(nr, {ArgEq{i, O_WRONLY, O_ACCMODE}}, kNotify);
        b.deny_if(nr, {ArgEq{i, O_RDWR, O_ACCMODE}}, kNotify);
        b.deny_if(nr, {ArgEq{i, O_CREAT, O_CREAT}}, kNotify);
        b.deny_if(nr, {ArgEq{i, O_TRUNC, O_TRUNC}}, kNotify);
      }
      b.deny(SYS_openat2, kNotify);
      b.deny(SYS_creat, kNotify);
    }
    if (opts.name_call_fds) {
      b.deny(SYS_fchmod, kNotify);
      b.deny(SYS_fchown, kNotify);
    }
    for (int nr : {SYS_mkdir, SYS_mkdirat, SYS_mknod, SYS_mknodat,
                   SYS_symlink, SYS_symlinkat, SYS_link, SYS_linkat, SYS_rename, SYS_renameat,
                   SYS_renameat2, SYS_unlink, SYS_unlinkat, SYS_rmdir, SYS_chmod,
                   SYS_fchmodat, SYS_fchmodat2, SYS_chown, SYS_lchown, SYS_fchownat,
                   SYS_truncate})
      b.deny(nr, kNotify);
  }
  return b.build();
}

int apply_launch_filter(const sock_fprog &prog, int *listener)
{
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return -errno;
  if (!listener) {
    if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0)
      return -errno;
    return 0;
  }
  const long fd = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                            SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
  if (fd < 0)
    return -errno;
  *listener = static_cast<int>(fd);
  return 0;
}

int send_fd(int sock, int fd)
{
  char byte = 'L';
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  if (::sendmsg(sock, &msg, MSG_NOSIGNAL) != 1)
    return -errno;
  return 0;
}

std::string syscall_name(int nr, uint32_t arch)
{
  // The 32-bit entry point's numbers (arch/x86/entry/syscalls/syscall_32.tbl) of the calls an
  // agent tries there to get past the 64-bit filter.
  static const std::pair<int, const char *> kNames32[] = {
      {1, "exit"},         {11, "execve"},       {20, "getpid"},     {21, "mount"},
      {26, "ptrace"},      {37, "kill"},         {52, "umount2"},    {102, "socketcall"},
      {120, "clone"},      {310, "unshare"},     {346, "setns"},     {347, "process_vm_readv"},
      {348, "process_vm_writev"}, {357, "bpf"},  {359, "socket"},    {362, "connect"},
  };
  if (arch != AUDIT_ARCH_X86_64) {
    for (const auto &[n, name] : kNames32)
      if (n == nr)
        return name;
    return "32-bit syscall " + std::to_string(nr);
  }
  if (static_cast<uint32_t>(nr) & kX32Bit)
    return "x32 syscall " + std::to_string(static_cast<uint32_t>(nr) & ~kX32Bit);

  static const std::pair<int, const char *> kNames[] = {
      {SYS_kill, "kill"},
      {SYS_tkill, "tkill"},
      {SYS_tgkill, "tgkill"},
      {SYS_rt_sigqueueinfo, "rt_sigqueueinfo"},
      {SYS_rt_tgsigqueueinfo, "rt_tgsigqueueinfo"},
      {SYS_pidfd_open, "pidfd_open"},
      {SYS_process_vm_readv, "process_vm_readv"},
      {SYS_process_vm_writev, "process_vm_writev"},
      {SYS_prlimit64, "prlimit64"},
      {SYS_sched_setscheduler, "sched_setscheduler"},
      {SYS_sched_setparam, "sched_setparam"},
      {SYS_sched_setattr, "sched_setattr"},
      {SYS_sched_setaffinity, "sched_setaffinity"},
      {SYS_ptrace, "ptrace"},
      {SYS_setpriority, "setpriority"},
      {SYS_fcntl, "fcntl"},
      {SYS_bpf, "bpf"},
      {SYS_init_module, "init_module"},
      {SYS_finit_module, "finit_module"},
      {SYS_delete_module, "delete_module"},
      {SYS_kexec_load, "kexec_load"},
      {SYS_kexec_file_load, "kexec_file_load"},
      {SYS_iopl, "iopl"},
      {SYS_ioperm, "ioperm"},
      {SYS_open_by_handle_at, "open_by_handle_at"},
      {SYS_pidfd_getfd, "pidfd_getfd"},
      {SYS_mount, "mount"},
      {SYS_umount2, "umount2"},
      {SYS_pivot_root, "pivot_root"},
      {SYS_move_mount, "move_mount"},
      {SYS_fsopen, "fsopen"},
      {SYS_fsconfig, "fsconfig"},
      {SYS_fsmount, "fsmount"},
      {SYS_fspick, "fspick"},
      {SYS_open_tree, "open_tree"},
      {SYS_io_uring_setup, "io_uring_setup"},
      {SYS_userfaultfd, "userfaultfd"},
      {SYS_ioctl, "ioctl"},
      {SYS_open, "open"},
      {SYS_openat, "openat"},
      {SYS_openat2, "openat2"},
      {SYS_creat, "creat"},
      {SYS_mkdir, "mkdir"},
      {SYS_mkdirat, "mkdirat"},
      {SYS_mknod, "mknod"},
      {SYS_mknodat, "mknodat"},
      {SYS_symlink, "symlink"},
      {SYS_symlinkat, "symlinkat"},
      {SYS_link, "link"},
      {SYS_linkat, "linkat"},
      {SYS_rename, "rename"},
      {SYS_renameat, "renameat"},
      {SYS_renameat2, "renameat2"},
      {SYS_unlink, "unlink"},
      {SYS_unlinkat, "unlinkat"},
      {SYS_rmdir, "rmdir"},
      {SYS_chmod, "chmod"},
      {SYS_fchmod, "fchmod"},
      {SYS_fchmodat, "fchmodat"},
      {SYS_fchmodat2, "fchmodat2"},
      {SYS_chown, "chown"},
      {SYS_fchown, "fchown"},
      {SYS_lchown, "lchown"},
      {SYS_fchownat, "fchownat"},
      {SYS_truncate, "truncate"},
      {SYS_mount_setattr, "mount_setattr"},
      {SYS_setns, "setns"},
      {SYS_unshare, "unshare"},
      {SYS_clone, "clone"},
      {SYS_socket, "socket"},
  };
  for (const auto &[n, name] : kNames)
    if (n == nr)
      return name;
  return "syscall " + std::to_string(nr);
}

namespace {

std::string clone_flag_names(uint64_t flags)
{
  static const std::pair<uint32_t, const char *> kNs[] = {
      {0x00020000u, "CLONE_NEWNS"},  {0x02000000u, "CLONE_NEWCGROUP"}, {0x04000000u, "CLONE_NEWUTS"},
      {0x08000000u, "CLONE_NEWIPC"}, {0x10000000u, "CLONE_NEWUSER"},   {0x20000000u, "CLONE_NEWPID"},
      {0x40000000u, "CLONE_NEWNET"}, {kCloneNewTime, "CLONE_NEWTIME"}};
  std::string out;
  for (const auto &[bit, name] : kNs)
    if (flags & bit)
      out += (out.empty() ? "" : "|") + std::string(name);
  return out.empty() ? "0" : out;
}

std::string as_int(uint64_t v)
{
  return std::to_string(static_cast<int64_t>(static_cast<int32_t>(v)));
}

bool is_vigil_id(const AttemptContext &ctx, pid_t target)
{
  return std::find(ctx.vigil_ids.begin(), ctx.vigil_ids.end(), target) != ctx.vigil_ids.end();
}

} // namespace

AttemptVerdict judge_attempt(const TamperAttempt &a, const AttemptContext &ctx)
{
  AttemptVerdict v;
  const std::string call = syscall_name(a.nr, a.arch);
  if (a.arch != AUDIT_ARCH_X86_64 || (static_cast<uint32_t>(a.nr) & kX32Bit)) {
    v.cls = AttemptClass::entry_32bit;
    v.error = ENOSYS;
    v.rule = "vigil-launch-32bit";
    v.text = "tried " + call + " through the " +
             std::string(a.arch != AUDIT_ARCH_X86_64 ? "32-bit entry point (int 0x80)"
                                                     : "x32 entry point") +
             ", which the 64-bit filters and tracepoints do not see: denied by the launch filter";
    return v;
  }
  const std::string stopper = ctx.pid_namespace ? "stopped by the agent's PID namespace"
                                                : "denied by the launch filter";
  auto on_process = [&](pid_t target, const std::string &what) {
    if (is_vigil_id(ctx, target)) {
      v.cls = AttemptClass::vigil;
      v.rule = "vigil-launch-tamper";
      v.text = "tried " + what + " against vigil or the kernel: denied by the launch filter";
      return;
    }
    const int inside = ctx.agent_process ? ctx.agent_process(a.pid, target) : 0;
    if (inside == 1) {
      v.run = true;
      return;
    }
    v.cls = AttemptClass::process;
    v.rule = "vigil-launch-process";
    v.text = "tried " + what + " on pid " + std::to_string(target) +
             ", not a process of the agent: " + stopper + " (launch filter)";
  };
  switch (a.nr) {
  case SYS_ptrace: {
    const std::string req = a.args[0] == kPtraceAttach  ? "PTRACE_ATTACH"
                            : a.args[0] == kPtraceSeize ? "PTRACE_SEIZE"
                                                        : as_int(a.args[0]);
    const pid_t target = static_cast<pid_t>(a.args[1]);
    on_process(target, "ptrace(" + req + ", " + as_int(a.args[1]) + ", ...)");
    return v;
  }
  case SYS_process_vm_readv:
  case SYS_process_vm_writev:
  case SYS_pidfd_open:
    on_process(static_cast<pid_t>(a.args[0]), call + "(" + as_int(a.args[0]) + ", ...)");
    return v;
  case SYS_pidfd_getfd: {
    const int fd = static_cast<int>(a.args[0]);
    if (ctx.agent_pidfd && ctx.agent_pidfd(a.pid, fd) == 1) {
      v.run = true;
      return v;
    }
    v.cls = AttemptClass::process;
    v.rule = "vigil-launch-process";
    v.text = "tried pidfd_getfd(" + as_int(a.args[0]) + ", " + as_int(a.args[1]) +
             ") on a process that is not the agent's: denied by the launch filter";
    return v;
  }
  case SYS_mount:
  case SYS_umount2:
  case SYS_pivot_root:
  case SYS_move_mount:
  case SYS_fsopen:
  case SYS_fsconfig:
  case SYS_fsmount:
  case SYS_fspick:
  case SYS_open_tree:
  case SYS_mount_setattr:
  case SYS_setns:
    v.cls = AttemptClass::namespaces;
    v.rule = "vigil-launch-namespace";
    v.text = "tried " + call + "(...): mounts and namespaces are vigil's in the agent; denied by "
             "the launch filter (launch.nested_namespaces: deny)";
    return v;
  case SYS_unshare:
  case SYS_clone:
    v.cls = AttemptClass::namespaces;
    v.rule = "vigil-launch-namespace";
    v.text = "tried " + call + "(" + clone_flag_names(a.args[0]) +
             "): a new namespace inside the agent (a mount namespace copies the mounts the file "
             "tier watches); denied by the launch filter (launch.nested_namespaces: deny)";
    return v;
  case SYS_userfaultfd:
    v.cls = AttemptClass::vigil;
    v.rule = "vigil-launch-tamper";
    v.text = "tried userfaultfd(...), which could stall vigil's reads of the agent's memory: "
             "denied by the launch filter";
    return v;
  case SYS_ioctl:
    if (static_cast<uint32_t>(a.args[1]) == kUffdIocNew) {
      v.cls = AttemptClass::vigil;
      v.rule = "vigil-launch-tamper";
      v.text = "tried ioctl(USERFAULTFD_IOC_NEW) on /dev/userfaultfd, which could stall vigil's "
               "reads of the agent's memory: denied by the launch filter";
      return v;
    }
    break;
  case SYS_io_uring_setup:
    v.cls = AttemptClass::io_uring;
    v.rule = "vigil-launch-io-uring";
    v.ordinary = true; // runtimes (libuv) try it, and fall back to plain calls
    v.text = "tried io_uring_setup(...): an io_uring makes opens, renames and links that the "
             "launch filter never sees; denied by the launch filter";
    return v;
  case SYS_socket: {
    const uint32_t family = static_cast<uint32_t>(a.args[0]);
    const uint32_t proto = static_cast<uint32_t>(a.args[2]);
    v.cls = AttemptClass::raw_socket;
    v.rule = "vigil-launch-raw-socket";
    // ping's ICMP echo socket is what ordinary programs open.
    v.ordinary = (family == kAfInet && proto == 1) || (family == kAfInet6 && proto == 58);
    v.text = "tried socket(" +
             std::string(family == kAfPacket ? "AF_PACKET"
                         : family == kAfInet ? "AF_INET"
                         : family == kAfInet6 ? "AF_INET6"
                                              : as_int(a.args[0])) +
             ", SOCK_RAW, " + as_int(a.args[2]) +
             "): raw and packet sockets bypass the egress allowlist; denied by the launch filter "
             "(egress.raw_sockets: deny)";
    return v;
  }
  default:
    break;
  }
  v.cls = AttemptClass::vigil;
  v.rule = "vigil-launch-tamper";
  v.text = "tried " + call + "(" + as_int(a.args[0]) + ", " + as_int(a.args[1]) +
           ", ...) against vigil or the kernel: denied by the launch filter";
  return v;
}

SeccompSupervisor::SeccompSupervisor(int sock,
                                     std::function<int(const TamperAttempt &)> on_attempt)
    : sock_(sock), on_attempt_(std::move(on_attempt)),
      wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)), thread_([this] { loop(); })
{
}

SeccompSupervisor::~SeccompSupervisor()
{
  stop();
}

void SeccompSupervisor::stop()
{
  stop_.store(true);
  const uint64_t one = 1;
  if (wake_)
    (void)!::write(wake_.get(), &one, sizeof(one));
  if (thread_.joinable())
    thread_.join();
}

void SeccompSupervisor::loop() noexcept
{
  // The listener arrives once the child has installed its filter; EOF means it never will.
  int listener = -1;
  while (!stop_.load() && listener < 0) {
    // Without the eventfd (none left to make one) the poll wakes every 200 ms to see stop_.
    pollfd p[2] = {{sock_, POLLIN, 0}, {wake_.get(), POLLIN, 0}};
    if (::poll(p, 2, 200) <= 0 || !(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
      continue;
    char byte = 0;
    iovec iov{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    if (::recvmsg(sock_, &msg, MSG_CMSG_CLOEXEC) <= 0)
      return;
    cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (!c || c->cmsg_type != SCM_RIGHTS)
      return;
    std::memcpy(&listener, CMSG_DATA(c), sizeof(int));
  }
  if (listener >= 0) {
    // Linux 6.6+: a notification switches to this thread on the caller's CPU instead of waking
    // it through the scheduler, and the answer switches back the same way. The persistence
    // gate's calls (every writing open of the agent) are round trips; this halves their cost on
    // a busy machine. Older kernels refuse the ioctl and keep the ordinary wake-up.
    constexpr unsigned long kNotifSetFlags = _IOW('!', 4, uint64_t); // SECCOMP_IOCTL_NOTIF_SET_FLAGS
    constexpr uint64_t kSyncWakeUp = 1;                               // ..._FD_SYNC_WAKE_UP
    (void)::ioctl(listener, kNotifSetFlags, kSyncWakeUp);
  }
  while (!stop_.load() && listener >= 0) {
    pollfd p[2] = {{listener, POLLIN, 0}, {wake_.get(), POLLIN, 0}};
    const int ready = ::poll(p, 2, 200);
    if (ready <= 0 || p[0].revents == 0)
      continue;
    if (p[0].revents & (POLLHUP | POLLERR)) // every task under the filter is gone
      break;
    seccomp_notif req{};
    if (::ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0)
      continue; // ENOENT: the task died before we read it
    TamperAttempt a;
    a.listener = listener;
    a.id = req.id;
    a.pid = static_cast<pid_t>(req.pid);
    a.nr = req.data.nr;
    a.arch = req.data.arch;
    std::copy(std::begin(req.data.args), std::end(req.data.args), std::begin(a.args));
    const int err = on_attempt_ ? on_attempt_(a) : EPERM;
    seccomp_notif_resp resp{};
    resp.id = req.id;
    if (err == 0) {
      // The target was checked as the agent's; the kernel's own checks still apply. A pid
      // reused in between can only be another of the agent's where it has a PID namespace.
      resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    } else if (err == kDoneForTask) {
      resp.val = 0; // done by the supervisor: the call succeeded
    } else {
      resp.error = -err;
    }
    // ENOENT here means the task is gone; the attempt is still reported.
    (void)::ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
    answered_.fetch_add(1);
  }
  if (listener >= 0)
    ::close(listener);
}

bool still_waiting(const TamperAttempt &a)
{
  if (a.listener < 0)
    return true; // judged without a listener (tests): nothing to ask
  uint64_t id = a.id;
  return ::ioctl(a.listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

std::vector<std::string> read_only_mounts(const std::string &mountinfo)
{
  std::vector<std::string> out(std::begin(kReadOnlyPaths), std::end(kReadOnlyPaths));
  auto covered = [&](const std::string &path) {
    for (const auto &o : out)
      if (path == o || (path.starts_with(o) && path[o.size()] == '/'))
        return true;
    return false;
  };
  // mountinfo: id parent dev root mountpoint options [optional...] - fstype source superopts
  std::ifstream in(mountinfo);
  for (std::string line; std::getline(in, line);) {
    const size_t dash = line.find(" - ");
    if (dash == std::string::npos)
      continue;
    std::istringstream head(line.substr(0, dash)), tail(line.substr(dash + 3));
    std::string id, parent, dev, root, point, type;
    head >> id >> parent >> dev >> root >> point;
    tail >> type;
    if (std::find(std::begin(kControlFsTypes), std::end(kControlFsTypes), type) ==
        std::end(kControlFsTypes))
      continue;
    const std::string path = unescape_mountinfo(point);
    if (!covered(path))
      out.push_back(path);
  }
  return out;
}

int bind_read_only(const char *path)
{
  if (::mount(path, path, nullptr, MS_BIND | MS_REC, nullptr) != 0)
    return -errno;
  MountAttr attr{};
  attr.attr_set = kMountAttrRdonly;
  if (::syscall(SYS_mount_setattr, AT_FDCWD, path, kAtRecursive, &attr, sizeof(attr)) != 0)
    return -errno;
  return 0;
}

std::vector<std::string> find_fifos(const std::vector<std::string> &roots, int max_depth,
                                    size_t max_entries, bool *truncated)
{
  std::vector<std::string> found;
  size_t budget = max_entries;
  struct Dir {
    std::string path;
    int depth;
    dev_t dev;
  };
  // Breadth first: a tree stuffed with entries (a /tmp someone filled) uses up the budget below
  // the shallow directories where FIFOs are made, not instead of them.
  std::deque<Dir> queue;
  for (const auto &r : roots) {
    struct stat st{};
    if (::lstat(r.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
      queue.push_back({r == "/" ? std::string() : r, 0, st.st_dev});
  }
  while (!queue.empty() && budget > 0) {
    Dir d = std::move(queue.front());
    queue.pop_front();
    DIR *dir = ::opendir(d.path.empty() ? "/" : d.path.c_str());
    if (!dir)
      continue;
    while (const struct dirent *de = ::readdir(dir)) {
      if (budget == 0)
        break;
      --budget;
      const std::string_view name(de->d_name);
      if (name == "." || name == "..")
        continue;
      const std::string child = d.path + "/" + std::string(name);
      if (de->d_type == DT_FIFO) {
        found.push_back(child);
        continue;
      }
      if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
        continue;
      struct stat st{};
      if (::lstat(child.c_str(), &st) != 0)
        continue;
      if (S_ISFIFO(st.st_mode))
        found.push_back(child);
      else if (S_ISDIR(st.st_mode) && d.depth + 1 < max_depth && st.st_dev == d.dev)
        queue.push_back({child, d.depth + 1, d.dev});
    }
    ::closedir(dir);
  }
  if (truncated)
    *truncated = budget == 0;
  std::sort(found.begin(), found.end());
  found.erase(std::unique(found.begin(), found.end()), found.end());
  return found;
}

int cover_fifos(const char *stand_in, const char *const *fifos, const char **step)
{
  for (; fifos && *fifos; ++fifos) {
    *step = *fifos;
    if (::mount(stand_in, *fifos, nullptr, MS_BIND, nullptr) != 0) {
      if (errno == ENOENT)
        continue;
      return -errno;
    }
  }
  *step = "";
  return 0;
}

int isolate_cgroup_namespace()
{
  return ::unshare(CLONE_NEWCGROUP) == 0 ? 0 : -errno;
}

int isolate_mounts(const char *const *read_only, const char *const *hidden, bool new_proc,
                   const char **step)
{
  *step = "unshare(CLONE_NEWNS)";
  if (::unshare(CLONE_NEWNS) != 0)
    return -errno;
  // Host mounts (a new bpffs, a hot-plugged disk) still appear; nothing done here goes back.
  *step = "make / a slave mount";
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0)
    return -errno;
  // The host's /proc (and what is mounted below it) stays underneath, out of reach: the agent
  // has no CAP_SYS_ADMIN to unmount the new one, and no mount calls at all under the filter.
  *step = "mount a /proc of the new pid namespace";
  if (new_proc && ::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
    return -errno;
  for (; *read_only; ++read_only) {
    *step = *read_only;
    if (int err = bind_read_only(*read_only); err != 0 && err != -ENOENT)
      return err;
  }
  // An empty read-only tmpfs over each: the directory stays (readdir of /proc still lists the
  // pid) but nothing in it can be read or written any more.
  for (; hidden && *hidden; ++hidden) {
    *step = *hidden;
    if (::mount("none", *hidden, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                "size=0,mode=0555") != 0) {
      if (errno == ENOENT) // a thread that ended meanwhile
        continue;
      return -errno;
    }
  }
  *step = "";
  return 0;
}

int drop_capabilities(uint64_t keep, int last_cap)
{
  for (int cap = 0; cap <= last_cap && cap < 64; ++cap) {
    if (keep & (uint64_t{1} << cap))
      continue;
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
      return -errno;
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    return -errno;
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (::syscall(SYS_capget, &hdr, data) != 0)
    return -errno;
  for (int i = 0; i < 2; ++i) {
    const uint32_t k = static_cast<uint32_t>(keep >> (32 * i));
    data[i].permitted &= k;
    data[i].effective = data[i].permitted;
    data[i].inheritable = data[i].permitted;
  }
  if (::syscall(SYS_capset, &hdr, data) != 0)
    return -errno;
  return 0;
}

int kernel_last_cap()
{
  std::ifstream in("/proc/sys/kernel/cap_last_cap");
  int last = 0;
  if (in >> last && last > 0 && last < 64)
    return last;
  return 40;
}

uint64_t own_capabilities(std::string_view which)
{
  std::ifstream in("/proc/self/status");
  const std::string prefix = std::string(which) + ":";
  for (std::string line; std::getline(in, line);)
    if (line.starts_with(prefix))
      return std::strtoull(line.c_str() + prefix.size(), nullptr, 16);
  return 0;
}

std::vector<pid_t> own_threads()
{
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto &e : std::filesystem::directory_iterator("/proc/self/task", ec))
    out.push_back(static_cast<pid_t>(std::atoi(e.path().filename().c_str())));
  return out;
}

} // namespace vigil::enforce
