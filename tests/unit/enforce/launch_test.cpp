// SPDX-License-Identifier: Apache-2.0
// The launch: secret scrubbing, and the seccomp filter run on real processes.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <filesystem>
#include <fstream>

#include <fcntl.h>
#include <linux/audit.h>
#include <sched.h>
#include <sys/mount.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <thread>
#include <mutex>

#include "enforce/launch.h"
#include "policy/capability.h"
#include "policy/profile.h"

namespace vigil::enforce {
namespace {

TEST(Launch, secret_like_names)
{
  for (const char *n : {"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "GITHUB_TOKEN", "GH_TOKEN",
                        "ANTHROPIC_API_KEY", "OPENAI_API_KEY", "NPM_TOKEN", "DB_PASSWORD",
                        "AZURE_CLIENT_SECRET", "VAULT_TOKEN", "SLACK_WEBHOOK_SECRET_URL",
                        "MY_TOKEN_FILE", "DOCKER_AUTH_CONFIG", "GOOGLE_CREDENTIALS", "gitlab_pat"})
    EXPECT_TRUE(secret_like(n)) << n;
  for (const char *n : {"PATH", "HOME", "LANG", "TERM", "AWS_REGION", "AWS_PROFILE", "EDITOR",
                        "SSH_AUTH_SOCK", "KEYBOARD", "TOKENIZERS_PARALLELISM", "AWS_CA_BUNDLE"})
    EXPECT_FALSE(secret_like(n)) << n;
}

TEST(Launch, scrub_keeps_order_and_honours_the_allowlist)
{
  const char *envp[] = {"PATH=/usr/bin", "GITHUB_TOKEN=ghp_x", "HOME=/root", "AWS_SECRET_ACCESS_KEY=y",
                        "ANTHROPIC_API_KEY=sk-z", "NOEQUALS", nullptr};
  auto out = scrub_environment(envp, {"ANTHROPIC_API_KEY"});
  EXPECT_EQ(out.kept, (std::vector<std::string>{"PATH=/usr/bin", "HOME=/root",
                                                 "ANTHROPIC_API_KEY=sk-z", "NOEQUALS"}));
  EXPECT_EQ(out.removed, (std::vector<std::string>{"GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY"}));
}

// Runs body in a forked child under prog and returns what body returned (an errno, or 0).
int under_filter(const std::vector<sock_filter> &code, const std::function<int()> &body)
{
  int fds[2];
  if (::pipe(fds) != 0)
    return -1;
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(fds[0]);
    const sock_fprog prog{static_cast<unsigned short>(code.size()),
                          const_cast<sock_filter *>(code.data())};
    int result = apply_launch_filter(prog) == 0 ? body() : -2;
    (void)!::write(fds[1], &result, sizeof(result));
    ::_exit(0);
  }
  ::close(fds[1]);
  int result = -3;
  if (::read(fds[0], &result, sizeof(result)) != sizeof(result))
    result = -4;
  ::close(fds[0]);
  ::waitpid(child, nullptr, 0);
  return result;
}

int errno_of(long rc)
{
  return rc == -1 ? errno : 0;
}

TEST(Seccomp, builder_denies_only_the_matching_calls)
{
  // A distinctive errno shows that the filter answered, not the kernel's own checks.
  const pid_t parent = ::getpid();
  const auto code = SeccompBuilder()
                        .deny(SYS_getppid, EDOM)
                        .deny_if_any(SYS_kill, 0, {static_cast<uint32_t>(parent)}, EDOM)
                        .deny_if(SYS_fcntl, {ArgEq{1, F_SETOWN}, ArgEq{2, 4242}}, EDOM)
                        .deny_if(SYS_socket, {ArgEq{1, SOCK_DGRAM, 0xf}}, EDOM)
                        .build();
  EXPECT_EQ(under_filter(code, [] { return errno_of(::syscall(SYS_getppid)); }), EDOM);
  EXPECT_EQ(under_filter(code, [] { return errno_of(::syscall(SYS_getpid) > 0 ? 0 : -1); }), 0);
  EXPECT_EQ(under_filter(code, [=] { return errno_of(::kill(parent, 0)); }), EDOM);
  EXPECT_EQ(under_filter(code, [] { return errno_of(::kill(::getpid(), 0)); }), 0);
  // The upper half of an int argument is ignored by the kernel and by the filter alike.
  EXPECT_EQ(under_filter(code,
                         [=] {
                           return errno_of(::syscall(SYS_kill, (long{1} << 32) | parent, 0));
                         }),
            EDOM);
  // Both comparisons must hold.
  EXPECT_EQ(under_filter(code, [] { return errno_of(::fcntl(0, F_SETOWN, 4242)); }), EDOM);
  EXPECT_EQ(under_filter(code, [] { return errno_of(::fcntl(0, F_SETOWN, ::getpid())); }), 0);
  EXPECT_EQ(under_filter(code, [] { return errno_of(::fcntl(0, F_GETFL)); }), 0);
  // A masked comparison: SOCK_CLOEXEC does not hide the type.
  EXPECT_EQ(under_filter(code,
                         [] { return errno_of(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)); }),
            EDOM);
  EXPECT_EQ(under_filter(code, [] {
              int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
              return fd < 0 ? errno : (::close(fd), 0);
            }),
            0);
}

TEST(Seccomp, alternatives_of_one_call_keep_their_own_answers)
{
  // fcntl's F_SETOWN_EX fails one way, F_SETOWN of 4242 another: each alternative answers
  // with its own errno (the launch filter mixes EPERM and the supervisor for ioctl and fcntl).
  const auto code = SeccompBuilder()
                        .deny_if(SYS_fcntl, {ArgEq{1, F_SETOWN_EX}}, EDOM)
                        .deny_if(SYS_fcntl, {ArgEq{1, F_SETOWN}, ArgEq{2, 4242}}, ERANGE)
                        .build();
  EXPECT_EQ(under_filter(code, [] {
              f_owner_ex o{F_OWNER_PID, 1};
              return errno_of(::fcntl(0, F_SETOWN_EX, &o));
            }),
            EDOM);
  EXPECT_EQ(under_filter(code, [] { return errno_of(::fcntl(0, F_SETOWN, 4242)); }), ERANGE);
  EXPECT_EQ(under_filter(code, [] { return errno_of(::fcntl(0, F_GETFL)); }), 0);
}

// Runs a classic BPF seccomp program the way the kernel does, for the instructions the builder
// emits; counts the instructions run and whether an argument was loaded (the kernel's action
// cache treats a call as always allowed only when its path loads none).
struct FilterRun {
  uint32_t ret = 0;
  int steps = 0;
  bool loaded_arg = false;
};
FilterRun interpret(const std::vector<sock_filter> &code, const seccomp_data &d)
{
  FilterRun run;
  uint32_t a = 0;
  for (size_t pc = 0; pc < code.size(); ++pc) {
    const sock_filter &i = code[pc];
    ++run.steps;
    switch (i.code) {
    case BPF_LD | BPF_W | BPF_ABS: {
      if (i.k >= offsetof(seccomp_data, args))
        run.loaded_arg = true;
      std::memcpy(&a, reinterpret_cast<const char *>(&d) + i.k, sizeof(a));
      break;
    }
    case BPF_ALU | BPF_AND | BPF_K:
      a &= i.k;
      break;
    case BPF_JMP | BPF_JA | BPF_K:
      pc += i.k;
      break;
    case BPF_JMP | BPF_JEQ | BPF_K:
      pc += a == i.k ? i.jt : i.jf;
      break;
    case BPF_JMP | BPF_JGE | BPF_K:
      pc += a >= i.k ? i.jt : i.jf;
      break;
    case BPF_RET | BPF_K:
      run.ret = i.k;
      return run;
    default:
      ADD_FAILURE() << "unexpected instruction " << i.code << " at " << pc;
      return run;
    }
  }
  ADD_FAILURE() << "ran off the end of the program";
  return run;
}

TEST(Seccomp, the_filter_searches_for_the_call_and_answers_as_its_rules_say)
{
  // Random rules on random calls (a fixed seed: the same program every run), some with arguments
  // and several alternatives; every call number is then tried with arguments that match each
  // alternative and with arguments that match none.
  struct Alt {
    std::vector<ArgEq> all;
    int err;
  };
  std::mt19937 rng(20261207);
  std::map<int, std::vector<Alt>> rules;
  SeccompBuilder b;
  for (int n = 0; n < 90; ++n) {
    const int nr = static_cast<int>(rng() % 460);
    auto &alts = rules[nr];
    if (!alts.empty() && alts.back().all.empty())
      continue;
    const int err = rng() % 5 == 0 ? kNotify : 1 + static_cast<int>(rng() % 100);
    if (rng() % 3 == 0) {
      b.deny(nr, err);
      alts.assign(1, Alt{{}, err});
      continue;
    }
    std::vector<ArgEq> all;
    for (unsigned k = 0, count = 1 + rng() % 3; k < count; ++k)
      all.push_back(ArgEq{static_cast<uint8_t>(rng() % 6), static_cast<uint32_t>(rng() % 7),
                          rng() % 2 ? 0xffffffffu : 0x7u});
    b.deny_if(nr, all, err);
    alts.push_back(Alt{all, err});
  }
  const auto code = b.build();
  const auto answer = [](int err) {
    return err == kNotify ? SECCOMP_RET_USER_NOTIF
                          : SECCOMP_RET_ERRNO | (static_cast<uint32_t>(err) & SECCOMP_RET_DATA);
  };
  for (int nr = 0; nr < 512; ++nr) {
    std::vector<seccomp_data> tries(1);
    const auto it = rules.find(nr);
    if (it != rules.end())
      for (const Alt &alt : it->second) {
        seccomp_data d{};
        for (const ArgEq &eq : alt.all)
          d.args[eq.arg] = eq.value;
        tries.push_back(d);
      }
    for (seccomp_data d : tries) {
      d.nr = nr;
      d.arch = AUDIT_ARCH_X86_64;
      uint32_t want = SECCOMP_RET_ALLOW;
      if (it != rules.end())
        for (const Alt &alt : it->second)
          if (std::all_of(alt.all.begin(), alt.all.end(), [&](const ArgEq &eq) {
                return (static_cast<uint32_t>(d.args[eq.arg]) & eq.mask) == eq.value;
              })) {
            want = answer(alt.err);
            break;
          }
      const FilterRun run = interpret(code, d);
      EXPECT_EQ(run.ret, want) << "nr " << nr;
      // A call without a rule is found missing without looking at its arguments, in a
      // logarithmic number of steps.
      if (it == rules.end()) {
        EXPECT_FALSE(run.loaded_arg) << "nr " << nr;
        EXPECT_LE(run.steps, 30) << "nr " << nr;
      }
    }
  }
}

TEST(Seccomp, a_reading_open_passes_the_launch_filter_in_a_few_steps)
{
  LaunchFilterOptions o;
  o.launcher = ::getpid();
  o.launcher_pgid = ::getpgrp();
  o.launcher_threads = own_threads();
  o.notify = true;
  o.listen_calls = true;
  o.name_calls = true;
  const auto code = launch_filter(o);
  seccomp_data d{};
  d.arch = AUDIT_ARCH_X86_64;
  d.nr = SYS_openat;
  d.args[2] = O_RDONLY | O_CLOEXEC;
  const FilterRun read = interpret(code, d);
  EXPECT_EQ(read.ret, SECCOMP_RET_ALLOW);
  // Every rule walked before openat's block cost two steps before the search (about 110 in
  // all); the search takes one per level.
  EXPECT_LE(read.steps, 40) << "of " << code.size() << " instructions";
  d.args[2] = O_WRONLY | O_CREAT;
  EXPECT_EQ(interpret(code, d).ret, SECCOMP_RET_USER_NOTIF);
  d.nr = SYS_close;
  const FilterRun close = interpret(code, d);
  EXPECT_EQ(close.ret, SECCOMP_RET_ALLOW);
  EXPECT_FALSE(close.loaded_arg);
}

TEST(Seccomp, launch_filter_protects_the_launcher)
{
  LaunchFilterOptions o;
  o.block_raw_sockets = false;
  o.launcher = ::getpid(); // the test process plays vigil; the child plays the agent
  o.launcher_pgid = ::getpgrp();
  o.launcher_threads = own_threads();
  const auto code = launch_filter(o);
  const pid_t vigil = o.launcher;
  // Without the filter each of these succeeds for an unprivileged child of the same user.
  EXPECT_EQ(under_filter(code, [=] { return errno_of(::kill(vigil, 0)); }), EPERM);
  EXPECT_EQ(under_filter(code, [] { return errno_of(::kill(0, 0)); }), EPERM);
  EXPECT_EQ(under_filter(code, [] { return errno_of(::kill(-1, 0)); }), EPERM);
  EXPECT_EQ(under_filter(code, [=] { return errno_of(::kill(-::getpgrp(), 0)); }), EPERM);
  EXPECT_EQ(under_filter(code, [=] { return errno_of(::syscall(SYS_tkill, vigil, 0)); }), EPERM);
  EXPECT_EQ(under_filter(code, [=] { return errno_of(::syscall(SYS_tgkill, vigil, vigil, 0)); }),
            EPERM);
  EXPECT_EQ(under_filter(code, [=] { return errno_of(::syscall(SYS_pidfd_open, vigil, 0)); }),
            EPERM);
  EXPECT_EQ(under_filter(code, [=] { return errno_of(::fcntl(0, F_SETOWN, vigil)); }), EPERM);
  EXPECT_EQ(under_filter(code,
                         [=] {
                           rlimit64 cpu{1, 1};
                           return errno_of(::syscall(SYS_prlimit64, vigil, RLIMIT_CPU, &cpu,
                                                     nullptr));
                         }),
            EPERM);
  EXPECT_EQ(under_filter(code, [] { return errno_of(::syscall(SYS_bpf, 0, nullptr, 0)); }), EPERM);
  EXPECT_EQ(under_filter(code,
                         [] { return errno_of(::syscall(SYS_finit_module, -1, "", 0)); }),
            EPERM);
  // The agent still signals and inspects its own processes.
  EXPECT_EQ(under_filter(code, [] { return errno_of(::kill(::getpid(), 0)); }), 0);
  EXPECT_EQ(under_filter(code, [] {
              const pid_t c = ::fork();
              if (c == 0)
                ::_exit(0);
              const int rc = errno_of(::kill(c, 0));
              ::waitpid(c, nullptr, 0);
              return rc;
            }),
            0);
  EXPECT_EQ(under_filter(code, [] {
              int fd = static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0));
              return fd < 0 ? errno : (::close(fd), 0);
            }),
            0);
}

// The watchdog (a guardian) gets the launcher's rules: a process of its own, outside the agent.
TEST(Seccomp, launch_filter_protects_the_guardians)
{
  const pid_t guardian = ::fork();
  if (guardian == 0) {
    ::pause();
    ::_exit(0);
  }
  ASSERT_GT(guardian, 0);
  LaunchFilterOptions o;
  o.block_raw_sockets = false;
  o.launcher = ::getpid();
  o.launcher_pgid = ::getpgrp();
  o.launcher_threads = own_threads();
  o.guardians = {guardian};
  const auto code = launch_filter(o);
  EXPECT_EQ(under_filter(code, [=] { return errno_of(::kill(guardian, SIGKILL)); }), EPERM);
  EXPECT_EQ(under_filter(code, [=] { return errno_of(::syscall(SYS_tkill, guardian, 0)); }),
            EPERM);
  EXPECT_EQ(under_filter(code, [=] { return errno_of(::syscall(SYS_pidfd_open, guardian, 0)); }),
            EPERM);
  EXPECT_EQ(under_filter(code, [=] { return errno_of(::fcntl(0, F_SETOWN, guardian)); }), EPERM);
  EXPECT_EQ(under_filter(code,
                         [=] { return errno_of(::ptrace(PTRACE_ATTACH, guardian, nullptr,
                                                        nullptr)); }),
            EPERM);
  // Without it in the list, the same child may signal it (same user).
  o.guardians.clear();
  EXPECT_EQ(under_filter(launch_filter(o), [=] { return errno_of(::kill(guardian, 0)); }), 0);
  ::kill(guardian, SIGKILL);
  ::waitpid(guardian, nullptr, 0);
}

TEST(Seccomp, supervisor_answers_eperm_and_reports_each_attempt)
{
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  std::mutex mu;
  std::vector<TamperAttempt> seen;
  SeccompSupervisor supervisor(sv[0], [&](const TamperAttempt &a) {
    std::lock_guard lock(mu);
    seen.push_back(a);
    return EPERM;
  });
  const auto code = SeccompBuilder().deny_if_any(SYS_kill, 0, {0}, kNotify).build();
  const sock_fprog prog{static_cast<unsigned short>(code.size()),
                        const_cast<sock_filter *>(code.data())};
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    int listener = -1;
    if (apply_launch_filter(prog, &listener) != 0 || send_fd(sv[1], listener) != 0)
      ::_exit(1);
    ::close(listener);
    int result[2] = {errno_of(::kill(0, 0)), errno_of(::kill(::getpid(), 0))};
    (void)!::write(fds[1], result, sizeof(result));
    ::_exit(0);
  }
  ::close(sv[1]);
  ::close(fds[1]);
  int result[2] = {-1, -1};
  ASSERT_EQ(::read(fds[0], result, sizeof(result)), static_cast<ssize_t>(sizeof(result)));
  ::waitpid(child, nullptr, 0);
  EXPECT_EQ(result[0], EPERM) << "answered by the supervisor";
  EXPECT_EQ(result[1], 0) << "not a notify rule";
  supervisor.stop();
  EXPECT_EQ(supervisor.answered(), 1u);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].pid, child);
  EXPECT_EQ(seen[0].nr, SYS_kill);
  EXPECT_EQ(seen[0].args[0], 0u);
  EXPECT_EQ(syscall_name(SYS_kill), "kill");
  ::close(sv[0]);
  ::close(fds[0]);
}

TEST(Seccomp, raw_sockets_only_when_asked)
{
  LaunchFilterOptions o;
  o.block_raw_sockets = true;
  const auto code = launch_filter(o);
  // Unprivileged, the kernel refuses raw sockets with EPERM as well, so an AF_PACKET probe
  // would prove nothing here; tests/bpf covers them as root. The filter must leave the
  // ordinary sockets alone.
  EXPECT_EQ(under_filter(code, [] {
              int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
              return fd < 0 ? errno : (::close(fd), 0);
            }),
            0);
  EXPECT_EQ(under_filter(code, [] {
              int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
              return fd < 0 ? errno : (::close(fd), 0);
            }),
            0);
}

// Namespaces and mounts: every CLONE_NEW* flag of unshare and clone fails, while clone for a
// fork or a thread (no such flag) still works under the same filter.
TEST(Seccomp, nested_namespaces_are_denied_but_forks_and_threads_are_not)
{
  LaunchFilterOptions o;
  const auto code = launch_filter(o);
  for (int flag : {CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWUSER | CLONE_NEWPID})
    EXPECT_EQ(under_filter(code, [=] { return errno_of(::unshare(flag)); }), EPERM) << flag;
  EXPECT_EQ(under_filter(code,
                         [] {
                           return errno_of(
                               ::syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0));
                         }),
            EPERM);
  EXPECT_EQ(under_filter(code, [] { return errno_of(::mount("none", "/nonexistent-vg-test", "tmpfs", 0, nullptr)); }),
            EPERM);
  EXPECT_EQ(under_filter(code,
                         [] {
                           const pid_t p = ::fork();
                           if (p == 0)
                             ::_exit(0);
                           return p < 0 ? errno : (::waitpid(p, nullptr, 0), 0);
                         }),
            0);
  EXPECT_EQ(under_filter(code,
                         [] {
                           std::thread t([] {});
                           t.join();
                           return 0;
                         }),
            0);
  // Unprivileged users may make a user namespace on this kernel; the switch gives it back.
  o.nested_namespaces = true;
  const int allowed = under_filter(launch_filter(o), [] { return errno_of(::unshare(CLONE_NEWUSER)); });
  EXPECT_NE(allowed, -2);
}

// The supervisor's verdicts: a process of the agent runs, one outside fails with an alert naming
// what stopped it, vigil's ids are tampering, and the ordinary raw socket is the lower class.
TEST(Seccomp, judge_attempt_classifies_each_notification)
{
  AttemptContext ctx;
  ctx.pid_namespace = true;
  ctx.vigil_ids = {1};
  ctx.agent_process = [](pid_t, pid_t target) { return target == 5 ? 1 : 0; };
  ctx.agent_pidfd = [](pid_t, int fd) { return fd == 3 ? 1 : 0; };
  auto at = [](int nr, std::initializer_list<uint64_t> args, uint32_t arch = AUDIT_ARCH_X86_64) {
    TamperAttempt a;
    a.pid = 4242;
    a.nr = nr;
    a.arch = arch;
    std::copy(args.begin(), args.end(), a.args);
    return a;
  };
  EXPECT_TRUE(judge_attempt(at(SYS_ptrace, {PTRACE_ATTACH, 5}), ctx).run);
  AttemptVerdict v = judge_attempt(at(SYS_ptrace, {PTRACE_ATTACH, 777}), ctx);
  EXPECT_FALSE(v.run);
  EXPECT_EQ(v.error, EPERM);
  EXPECT_EQ(v.rule, "vigil-launch-process");
  EXPECT_NE(v.text.find("ptrace(PTRACE_ATTACH, 777, ...)"), std::string::npos) << v.text;
  EXPECT_NE(v.text.find("the agent's PID namespace"), std::string::npos) << v.text;
  v = judge_attempt(at(SYS_process_vm_readv, {1}), ctx);
  EXPECT_EQ(v.rule, "vigil-launch-tamper") << "pid 1 is vigil's init";
  EXPECT_TRUE(judge_attempt(at(SYS_pidfd_getfd, {3, 0}), ctx).run);
  EXPECT_EQ(judge_attempt(at(SYS_pidfd_getfd, {4, 0}), ctx).rule, "vigil-launch-process");
  v = judge_attempt(at(SYS_unshare, {CLONE_NEWUSER | CLONE_NEWNS}), ctx);
  EXPECT_EQ(v.rule, "vigil-launch-namespace");
  EXPECT_NE(v.text.find("unshare(CLONE_NEWNS|CLONE_NEWUSER)"), std::string::npos) << v.text;
  v = judge_attempt(at(SYS_socket, {AF_INET, SOCK_RAW, 1}), ctx);
  EXPECT_TRUE(v.ordinary) << "ping";
  v = judge_attempt(at(SYS_socket, {17, SOCK_RAW, 0}), ctx);
  EXPECT_FALSE(v.ordinary);
  EXPECT_EQ(v.rule, "vigil-launch-raw-socket");
  v = judge_attempt(at(102, {1, 0}, AUDIT_ARCH_I386), ctx);
  EXPECT_EQ(v.error, ENOSYS);
  EXPECT_NE(v.text.find("socketcall"), std::string::npos) << v.text;
  ctx.pid_namespace = false;
  v = judge_attempt(at(SYS_process_vm_readv, {777}), ctx);
  EXPECT_NE(v.text.find("denied by the launch filter"), std::string::npos) << v.text;
}

// An answer of 0 lets the suspended call run as the kernel decides.
TEST(Seccomp, supervisor_lets_allowed_calls_run)
{
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  SeccompSupervisor supervisor(sv[0], [](const TamperAttempt &a) {
    return a.args[0] == 0 ? 0 : EPERM;
  });
  const auto code = SeccompBuilder().deny(SYS_getpriority, kNotify).build();
  const sock_fprog prog{static_cast<unsigned short>(code.size()),
                        const_cast<sock_filter *>(code.data())};
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    int listener = -1;
    if (apply_launch_filter(prog, &listener) != 0 || send_fd(sv[1], listener) != 0)
      ::_exit(1);
    ::close(listener);
    errno = 0;
    int result[2] = {errno_of(::syscall(SYS_getpriority, PRIO_PROCESS, 0)),
                     errno_of(::syscall(SYS_getpriority, 1, 0))};
    (void)!::write(fds[1], result, sizeof(result));
    ::_exit(0);
  }
  ::close(sv[1]);
  ::close(fds[1]);
  int result[2] = {-1, -1};
  ASSERT_EQ(::read(fds[0], result, sizeof(result)), static_cast<ssize_t>(sizeof(result)));
  ::waitpid(child, nullptr, 0);
  EXPECT_EQ(result[0], 0) << "let run";
  EXPECT_EQ(result[1], EPERM) << "answered";
  supervisor.stop();
  ::close(sv[0]);
  ::close(fds[0]);
}

TEST(Capabilities, names_round_trip)
{
  EXPECT_EQ(policy::capability_from_name("CHOWN"), 0);
  EXPECT_EQ(policy::capability_from_name("cap_sys_admin"), 21);
  EXPECT_EQ(policy::capability_from_name("CAP_BPF"), 39);
  EXPECT_FALSE(policy::capability_from_name("CAP_FLY"));
  EXPECT_EQ(policy::capability_name(13), "CAP_NET_RAW");
  EXPECT_EQ(policy::capability_names(policy::cap_bit(0) | policy::cap_bit(5)),
            "CAP_CHOWN, CAP_KILL");
  EXPECT_EQ(policy::default_kept_capabilities() & policy::forbidden_capabilities(), 0u);
  EXPECT_EQ(policy::default_kept_capabilities() &
                (policy::cap_bit(CAP_NET_RAW) | policy::cap_bit(CAP_MKNOD)),
            0u);
  policy::Profile p;
  EXPECT_EQ(policy::kept_capabilities(p), policy::default_kept_capabilities());
  p.raw_sockets = true;
  EXPECT_EQ(policy::kept_capabilities(p),
            policy::default_kept_capabilities() | policy::cap_bit(CAP_NET_RAW));
  p.keep_capabilities = policy::cap_bit(CAP_CHOWN);
  EXPECT_EQ(policy::kept_capabilities(p),
            policy::cap_bit(CAP_CHOWN) | policy::cap_bit(CAP_NET_RAW));
}

} // namespace
} // namespace vigil::enforce

namespace vigil::enforce {
namespace {

// A tree stuffed with entries does not hide a shallow FIFO in a sibling: the walk is breadth
// first, and says when its bound stopped it.
TEST(FindFifos, a_stuffed_tree_does_not_hide_a_shallow_fifo)
{
  char tmpl[] = "/tmp/vg-fifos-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string root = tmpl;
  std::filesystem::create_directories(root + "/junk/d1");
  for (int i = 0; i < 500; ++i)
    std::ofstream(root + "/junk/d1/f" + std::to_string(i)) << "";
  std::filesystem::create_directories(root + "/sock");
  ASSERT_EQ(::mkfifo((root + "/sock/x.fifo").c_str(), 0600), 0);
  bool truncated = false;
  const auto found = find_fifos({root}, 8, 100, &truncated);
  EXPECT_EQ(found, std::vector<std::string>{root + "/sock/x.fifo"});
  EXPECT_TRUE(truncated);
  truncated = true;
  EXPECT_EQ(find_fifos({root + "/sock"}, 8, 100, &truncated).size(), 1u);
  EXPECT_FALSE(truncated);
  std::filesystem::remove_all(root);
}

} // namespace
} // namespace vigil::enforce

