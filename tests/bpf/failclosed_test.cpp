// SPDX-License-Identifier: Apache-2.0
// `vigil run` fails closed when vigil dies: a real agent tree in a real agent cgroup, vigil
// killed (SIGKILL, SIGABRT, SIGSEGV) under it; the agent must be gone within a deadline, its
// cgroup removed, and in the fanotify file tier a guarded open made after vigil's death must not
// succeed. The watchdog that does it must be out of the agent's reach.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include <filesystem>
#include <algorithm>
#include <cstring>
#include <functional>
#include <sstream>
#include <thread>

#include "enforce/watchdog.h"
#include "harness.h"

namespace vigil::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Polls cond every 20 ms until it holds or the deadline passes.
bool eventually(const std::function<bool()> &cond, std::chrono::milliseconds deadline = 10s)
{
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (!cond()) {
    if (std::chrono::steady_clock::now() >= end)
      return cond();
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

// The state letter of /proc/PID/stat ('R', 'S', 'T', 'Z', ...), or 0 when there is no such pid.
char proc_state(pid_t pid)
{
  const std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  const size_t close = stat.rfind(')');
  return close == std::string::npos || close + 2 >= stat.size() ? 0 : stat[close + 2];
}

// Dead means gone, or a zombie waiting for its (reparented) parent to reap it.
bool dead(pid_t pid)
{
  const char s = proc_state(pid);
  return s == 0 || s == 'Z' || s == 'X';
}

// Every pid in dir/cgroup.procs and below.
std::vector<pid_t> cgroup_pids(const std::string &dir)
{
  std::vector<pid_t> out;
  std::error_code ec;
  std::vector<std::string> dirs{dir};
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
    if (it->is_directory(ec))
      dirs.push_back(it->path().string());
  for (const auto &d : dirs) {
    std::istringstream in(read_file(d + "/cgroup.procs"));
    for (pid_t p; in >> p;)
      out.push_back(p);
  }
  return out;
}

// "launch: watchdog pid N ..." in vigil's log, or 0 (a vigil without a watchdog).
pid_t watchdog_pid(const std::string &err)
{
  const std::string key = "watchdog pid ";
  const size_t at = err.find(key);
  return at == std::string::npos ? 0 : std::atoi(err.c_str() + at + key.size());
}

class RunFailClosed : public ::testing::Test {
protected:
  void SetUp() override
  {
    VG_REQUIRE_ROOT();
    home_ = tmp_.path() + "/home";
    canary_ = plant_aws_canary(home_);
    alerts_ = tmp_ / "alerts.jsonl";
  }
  void TearDown() override
  {
    if (held_watchdog_ > 0)
      ::ptrace(PTRACE_DETACH, held_watchdog_, nullptr, nullptr);
    // Without a watchdog (the bug this tests) the agent and its cgroup outlive vigil: do not
    // leave them to the next test.
    if (!cgroup_.empty() && fs::exists(cgroup_)) {
      write_file(cgroup_ + "/cgroup.kill", "1");
      eventually([&] { return cgroup_pids(cgroup_).empty(); }, 5s);
      std::error_code ec;
      fs::remove(cgroup_, ec);
    }
  }

  // without_pid_namespace: a profile protecting the canary, with launch.pid_namespace: false,
  // for the tests of what stands when the agent can name vigil's processes and outlive vigil's
  // init (with its pid namespace the agent cannot name the watchdog at all, and dies with the
  // init, whose parent-death signal ends the namespace, even while the watchdog is held).
  std::unique_ptr<Proc> start(const std::string &script, bool without_pid_namespace = false)
  {
    std::vector<std::string> argv{vigil_bin(), "run", "-v", "--alerts-json", alerts_};
    if (without_pid_namespace) {
      // A profile of its own (the tests also run in the VM, away from the source tree): the
      // canary protected, and no pid namespace, so that the watchdog's pid is the agent's to try.
      write_file(tmp_ / "no-pidns.yaml",
                 "profile: no-pidns\ncredentials:\n  paths: [~/.aws/credentials]\negress:\n"
                 "  allow: [127.0.0.1/32]\nlaunch:\n  pid_namespace: false\n");
      argv.insert(argv.end(), {"--profile", tmp_ / "no-pidns.yaml"});
    }
    argv.insert(argv.end(), {"--", "sh", "-c", script});
    auto p = std::make_unique<Proc>(argv, std::vector<std::string>{"HOME=" + home_});
    cgroup_ = cgroup2_mount() + "/vigil/run-" + std::to_string(p->pid());
    return p;
  }

  TempDir tmp_;
  std::string home_, canary_, alerts_, cgroup_;
  pid_t held_watchdog_ = 0; // in a ptrace stop of this thread's making
};

class RunFailClosedDeath : public RunFailClosed, public ::testing::WithParamInterface<int> {};

// A tree of processes (a heartbeat loop, sleeps in a subshell and in the background) that the
// agent's first process (PR_SET_PDEATHSIG) does not take with it (its pid namespace does: the
// init dies with vigil and the kernel kills the rest; the watchdog is there either way).
TEST_P(RunFailClosedDeath, the_agent_tree_dies_with_vigil_and_its_cgroup_is_removed)
{
  const int sig = GetParam();
  const std::string beat = tmp_ / "heartbeat";
  auto vigil = start("sleep 300 & (sleep 300 & sleep 300; wait) & while :; do date +%s%N > " +
                     beat + ".new && mv " + beat + ".new " + beat + "; sleep 0.05; done");
  ASSERT_TRUE(vigil->wait_for_err("confines cgroup")) << vigil->err_so_far();
  std::vector<pid_t> agent;
  ASSERT_TRUE(eventually([&] {
    agent = cgroup_pids(cgroup_);
    return agent.size() >= 5 && fs::exists(beat);
  })) << "the agent tree is up: " << agent.size() << " pids\n" << vigil->err_so_far();

  vigil->signal(sig);
  ProcResult r = vigil->wait(10s);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.status, 128 + sig) << r.err;
  for (pid_t p : agent)
    EXPECT_TRUE(eventually([&] { return dead(p); }, 5s))
        << "agent pid " << p << " outlived vigil (state " << proc_state(p) << ")";
  EXPECT_TRUE(eventually([&] { return !fs::exists(cgroup_); }, 5s))
      << cgroup_ << " is left behind with pids " << cgroup_pids(cgroup_).size();
  const std::string last = read_file(beat);
  // Two things race to empty the cgroup: the watchdog, and the agent's init, whose parent-death
  // signal ends its pid namespace (and every process in it) with vigil.
  EXPECT_TRUE(eventually([&] {
    const std::string err = vigil->err_so_far();
    const std::string gone =
        "vigil watchdog: vigil (pid " + std::to_string(vigil->pid()) + ") is gone; ";
    return err.find(gone + "killed its agent cgroup") != std::string::npos ||
           (err.find(gone + "its agent cgroup") != std::string::npos &&
            err.find(" was empty; removed it") != std::string::npos);
  }, 5s)) << vigil->err_so_far();
  EXPECT_EQ(read_file(beat), last) << "the heartbeat stopped";
}

INSTANTIATE_TEST_SUITE_P(Signals, RunFailClosedDeath, ::testing::Values(SIGKILL, SIGABRT, SIGSEGV),
                         [](const auto &p) { return std::string(sigabbrev_np(p.param)); });

// The watchdog is vigil's as far as the launch filter is concerned: the agent (root) can neither
// signal, stop nor trace it, each attempt is alerted, and the watchdog exits with vigil.
TEST_F(RunFailClosed, the_agent_cannot_kill_the_watchdog)
{
  const std::string wd_file = tmp_ / "wd";
  const std::string p = tamperprobe_bin();
  auto vigil = start("while [ ! -s " + wd_file + " ]; do sleep 0.02; done; w=$(cat " + wd_file +
                     "); " + p + " kill $w 9; " + p + " kill $w 19; " + p + " tkill $w 9; " + p +
                     " ptrace $w; " + p + " prlimit-cpu $w; true",
                     true);
  ASSERT_TRUE(vigil->wait_for_err("confines cgroup")) << vigil->err_so_far();
  const pid_t wd = watchdog_pid(vigil->err_so_far());
  ASSERT_GT(wd, 0) << "vigil names its watchdog\n" << vigil->err_so_far();
  EXPECT_EQ(read_file("/proc/" + std::to_string(wd) + "/comm"), "vigil-watchdog\n");
  // Lowering it needs CAP_SYS_RESOURCE, which some test hosts (containers) withhold from root.
  const std::string status = read_file("/proc/self/status");
  const size_t eff = status.find("CapEff:\t");
  const uint64_t caps =
      eff == std::string::npos ? 0 : std::stoull(status.substr(eff + 8, 16), nullptr, 16);
  if ((caps >> 24) & 1) { // CAP_SYS_RESOURCE
    EXPECT_EQ(read_file("/proc/" + std::to_string(wd) + "/oom_score_adj"), "-1000\n");
  }
  // It keeps nothing of vigil's alive but what it needs: no BPF object, socket or agent pipe.
  std::vector<std::string> fds;
  for (const auto &e : fs::directory_iterator("/proc/" + std::to_string(wd) + "/fd"))
    fds.push_back(fs::read_symlink(e.path()).string());
  std::string listing;
  for (const auto &f : fds)
    listing += f + "\n";
  const size_t fanotify = expected_file_tier() == "fanotify" ? 1 : 0;
  EXPECT_EQ(fds.size(), 7 + fanotify)
      << "0-2, pidfd, control pipe, cgroup, its parent (and the fanotify group)\n" << listing;
  EXPECT_EQ(std::count(fds.begin(), fds.end(), "anon_inode:[pidfd]"), 1) << listing;
  EXPECT_EQ(std::count(fds.begin(), fds.end(), "anon_inode:[fanotify]"), fanotify) << listing;
  for (const auto &f : fds)
    EXPECT_TRUE(f.find("bpf") == std::string::npos && f.find("socket:") == std::string::npos)
        << listing;
  write_file(wd_file + ".new", std::to_string(wd) + "\n");
  fs::rename(wd_file + ".new", wd_file);
  ProcResult r = vigil->wait();
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "kill EPERM\nkill EPERM\ntkill EPERM\nptrace EPERM\nprlimit-cpu EPERM\n");
  int kills = 0, others = 0;
  for (auto &a : read_json_lines(alerts_)) {
    if (a["rule"] != "vigil-launch-tamper")
      continue;
    const std::string out = a["output"];
    if (out.find(" tried kill(" + std::to_string(wd) + ", ") != std::string::npos)
      ++kills;
    else if (out.find("(" + std::to_string(wd) + ", ") != std::string::npos ||
             out.find(", " + std::to_string(wd) + ", ") != std::string::npos)
      ++others;
  }
  EXPECT_EQ(kills, 2) << read_file(alerts_);
  EXPECT_EQ(others, 3) << read_file(alerts_);
  EXPECT_EQ(read_json_lines(alerts_).size(), 5u) << "no watchdog-lost alert\n"
                                                 << read_file(alerts_);
  // A normal exit: vigil removed the cgroup, told the watchdog, and reaped it.
  EXPECT_TRUE(dead(wd)) << "the watchdog exits with vigil (state " << proc_state(wd) << ")";
  EXPECT_FALSE(fs::exists(cgroup_));
  EXPECT_EQ(r.err.find("vigil watchdog:"), std::string::npos) << "silent on a normal exit\n"
                                                             << r.err;
}

// Someone outside the agent (root on the host) can still kill the watchdog: vigil says so in a
// critical alert, and goes on confining the agent.
TEST_F(RunFailClosed, a_lost_watchdog_is_alerted)
{
  const std::string go = tmp_ / "go";
  auto vigil = start("while [ ! -e " + go + " ]; do sleep 0.02; done; cat " + canary_ +
                     "; exit 0");
  ASSERT_TRUE(vigil->wait_for_err("confines cgroup")) << vigil->err_so_far();
  const pid_t wd = watchdog_pid(vigil->err_so_far());
  ASSERT_GT(wd, 0) << vigil->err_so_far();
  ASSERT_EQ(::kill(wd, SIGKILL), 0);
  auto lost = [&] {
    for (auto &a : read_json_lines(alerts_))
      if (a["rule"] == "vigil-watchdog-lost")
        return true;
    return false;
  };
  EXPECT_TRUE(eventually(lost)) << read_file(alerts_) << vigil->err_so_far();
  write_file(go, "");
  ProcResult r = vigil->wait();
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.find("canary-"), std::string::npos) << "still enforcing: " << r.out;
  EXPECT_FALSE(fs::exists(cgroup_));
}

// The file tier (fanotify here) after vigil's death: the watchdog holds the group, so an open of
// a guarded file by the agent waits unanswered, and dies with the agent; the credential never
// reaches it. The test holds the watchdog (from outside) to keep that window open: in a ptrace
// stop, not SIGSTOP, since vigil's death orphans its process group, and the kernel then sends
// SIGHUP and SIGCONT to a group with a stopped member (the agent would die of the SIGHUP).
TEST_F(RunFailClosed, a_credential_opened_after_vigils_death_is_never_read)
{
  if (expected_file_tier() != "fanotify")
    GTEST_SKIP() << "BPF LSM decides in the kernel; nothing waits for vigil";
  const std::string go = tmp_ / "go";
  const std::string out = tmp_ / "out";
  // The output file is opened while vigil lives: after its death the launch filter's writing
  // opens fail (ENOSYS, no supervisor), and the test is about the read.
  auto vigil = start("(exec 3>>" + out + "; while [ ! -e " + go +
                         " ]; do sleep 0.02; done; cat " + canary_ +
                         " >&3 2>&3; echo rc=$? >&3) & while :; do sleep 1; done",
                     true);
  ASSERT_TRUE(vigil->wait_for_err("confines cgroup")) << vigil->err_so_far();
  ASSERT_TRUE(eventually([&] { return cgroup_pids(cgroup_).size() >= 2; }))
      << vigil->err_so_far();
  const pid_t wd = watchdog_pid(vigil->err_so_far());
  EXPECT_GT(wd, 0) << "vigil names its watchdog\n" << vigil->err_so_far();
  if (wd > 0) {
    ASSERT_NE(vigil->err_so_far().find("holds the fanotify group"), std::string::npos)
        << vigil->err_so_far();
    ASSERT_EQ(::ptrace(PTRACE_SEIZE, wd, nullptr, nullptr), 0) << std::strerror(errno);
    held_watchdog_ = wd;
    ASSERT_EQ(::ptrace(PTRACE_INTERRUPT, wd, nullptr, nullptr), 0) << std::strerror(errno);
    int st = 0;
    ASSERT_EQ(::waitpid(wd, &st, __WALL), wd);
    ASSERT_TRUE(WIFSTOPPED(st));
  }
  vigil->signal(SIGKILL);
  EXPECT_EQ(vigil->wait(10s).status, 128 + SIGKILL);

  write_file(go, "");
  // The agent waits in the fanotify group no one answers (its cat on the guarded file; with the
  // agent's mounts marked, already the shell's open of the redirection or of cat itself), or
  // (no holder: the kernel released the group with vigil) finishes.
  pid_t cat = 0;
  const bool settled = eventually([&] {
    if (read_file(out).find("rc=") != std::string::npos)
      return true;
    for (pid_t p : cgroup_pids(cgroup_))
      if (read_file("/proc/" + std::to_string(p) + "/stack").find("fanotify") !=
          std::string::npos) {
        cat = p;
        return true;
      }
    return false;
  });
  auto show = [&] {
    std::string s;
    for (pid_t p : cgroup_pids(cgroup_))
      s += std::to_string(p) + " " + read_file("/proc/" + std::to_string(p) + "/comm") +
           read_file("/proc/" + std::to_string(p) + "/stack");
    return s;
  };
  ASSERT_TRUE(settled) << "the agent neither waits nor finished\n" << read_file(out) << show();
  EXPECT_EQ(read_file(out).find("canary-"), std::string::npos)
      << "the credential reached the agent after vigil died:\n" << read_file(out);
  ASSERT_GT(cat, 0) << "the agent's open did not wait: " << read_file(out);

  // The watchdog goes on: kills the cgroup (the waiting cat with it), then lets the group go.
  ASSERT_EQ(::ptrace(PTRACE_DETACH, wd, nullptr, nullptr), 0) << std::strerror(errno);
  held_watchdog_ = 0;
  EXPECT_TRUE(eventually([&] { return dead(cat); }, 5s));
  EXPECT_TRUE(eventually([&] { return !fs::exists(cgroup_); }, 5s)) << cgroup_;
  EXPECT_TRUE(eventually([&] { return dead(wd); }, 5s));
  const std::string got = read_file(out);
  EXPECT_EQ(got.find("canary-"), std::string::npos) << got;
  EXPECT_EQ(got.find("rc="), std::string::npos) << "cat never returned from open\n" << got;
  // With the group gone, the file opens for everyone else again.
  EXPECT_NE(run({"cat", canary_}, {}, 10s).out.find("canary-"), std::string::npos);
}

// The watchdog alone: a forked stand-in for vigil starts it and is SIGKILLed; the watchdog
// empties the cgroup (a task in it and one in a sub-cgroup) and removes both. Once with
// cgroup.kill, once the way kernels before 5.14 need (freeze, then SIGKILL every pid).
class WatchdogAlone : public ::testing::TestWithParam<bool> {};

TEST_P(WatchdogAlone, empties_and_removes_the_cgroup_when_its_caller_dies)
{
  VG_REQUIRE_ROOT();
  const std::string dir = cgroup2_mount() + "/vigil-wd-test-" + std::to_string(::getpid());
  const std::string sub = dir + "/sub";
  fs::create_directories(sub);
  struct Cleanup {
    std::string dir, sub;
    ~Cleanup()
    {
      if (!fs::exists(dir))
        return;
      write_file(dir + "/cgroup.kill", "1");
      eventually([&] { return cgroup_pids(dir).empty(); }, 5s);
      std::error_code ec;
      fs::remove(sub, ec);
      fs::remove(dir, ec);
    }
  } cleanup{dir, sub};
  Proc a({"sh", "-c", "echo $$ > " + dir + "/cgroup.procs && exec sleep 300"});
  Proc b({"sh", "-c", "echo $$ > " + sub + "/cgroup.procs && exec sleep 300"});
  ASSERT_TRUE(eventually([&] { return cgroup_pids(dir).size() == 2; }));

  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  const pid_t standin = ::fork();
  if (standin == 0) {
    enforce::WatchdogOptions o;
    o.cgroup_dir = dir;
    o.use_cgroup_kill = GetParam();
    auto w = enforce::Watchdog::start(o);
    const pid_t wp = w ? w->pid() : -1;
    (void)!::write(pipefd[1], &wp, sizeof(wp));
    ::pause();
    ::_exit(0);
  }
  ::close(pipefd[1]);
  pid_t wd = -1;
  ASSERT_EQ(::read(pipefd[0], &wd, sizeof(wd)), static_cast<ssize_t>(sizeof(wd)));
  ::close(pipefd[0]);
  ASSERT_GT(wd, 0);
  EXPECT_FALSE(dead(a.pid()));
  EXPECT_TRUE(fs::exists(dir)) << "nothing happens while its caller lives";
  ::kill(standin, SIGKILL);
  ::waitpid(standin, nullptr, 0);
  EXPECT_TRUE(eventually([&] { return dead(a.pid()) && dead(b.pid()); }, 5s))
      << cgroup_pids(dir).size();
  EXPECT_TRUE(eventually([&] { return !fs::exists(dir); }, 5s)) << dir;
  EXPECT_TRUE(eventually([&] { return dead(wd); }, 5s)) << "the watchdog exits after";
  EXPECT_EQ(a.wait(5s).status, 128 + SIGKILL);
  EXPECT_EQ(b.wait(5s).status, 128 + SIGKILL);
}

INSTANTIATE_TEST_SUITE_P(Kill, WatchdogAlone, ::testing::Bool(), [](const auto &p) {
  return std::string(p.param ? "cgroup_kill" : "freeze_and_kill_each");
});

} // namespace
} // namespace vigil::test
