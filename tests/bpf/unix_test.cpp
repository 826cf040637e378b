// SPDX-License-Identifier: Apache-2.0
// Unix socket side channels out of an agent: a socket file and an abstract name served by a
// process outside the agent (a Docker-Desktop-like API socket, a `git credential-cache` daemon,
// a datagram socket), reached from inside `vigil run` as root and as uid 65534. Each attempt
// fails with EPERM and raises exactly one alert naming the address and the tier (cgroup here,
// lsm in the VM). Controls: sockets the agent binds itself, the system's logging socket, and
// processes outside the agent.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "harness.h"

namespace vigil::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Polls until pred() holds or the deadline passes.
template <typename Pred> bool wait_until(Pred pred, std::chrono::milliseconds limit = 10s)
{
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end)
      return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

// Whether an abstract unix name is bound in this network namespace.
bool abstract_bound(const std::string &name)
{
  std::ifstream in("/proc/net/unix");
  for (std::string line; std::getline(in, line);)
    if (line.size() > name.size() && line.ends_with(" @" + name))
      return true;
  return false;
}

struct User {
  const char *label;
  std::vector<std::string> prefix; // run inside the agent before sh
};

const User kUsers[] = {
    {"root", {}},
    {"uid 65534", {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"}},
};

class UnixSideChannelTest : public ::testing::Test {
protected:
  void SetUp() override
  {
    VG_REQUIRE_ROOT();
    if (expected_net_tier() == "cgroup" && !kernel_has_unix_hooks())
      GTEST_SKIP() << "this kernel has no cgroup unix socket hooks (6.7+): tier 2 does not "
                      "cover unix sockets here (vigil doctor says so)";
    fs::permissions(tmp_.path(), fs::perms::all); // every uid reaches the sockets in it
  }
  static bool kernel_has_unix_hooks()
  {
    ProcResult r = run({"sh", "-c", "grep -qw BPF_CGROUP_UNIX_CONNECT /sys/kernel/btf/vmlinux"});
    return r.status == 0;
  }
  ProcResult agent(const User &u, const std::string &script, const std::string &alerts,
                   const std::vector<std::string> &env = {})
  {
    std::vector<std::string> argv{vigil_bin(), "run", "--alerts-json", alerts, "--"};
    argv.insert(argv.end(), u.prefix.begin(), u.prefix.end());
    argv.insert(argv.end(), {"sh", "-c", script});
    return run(argv, env);
  }
  // The ipc alerts of one run; with only_ipc, checks that every alert of the run is one.
  static std::vector<nlohmann::json> ipc_alerts(const std::string &file, bool only_ipc = true)
  {
    std::vector<nlohmann::json> out;
    for (auto &a : read_json_lines(file)) {
      if (only_ipc) {
        EXPECT_EQ(a["rule"], "ipc-not-allowed") << a.dump();
      }
      if (a["rule"] == "ipc-not-allowed")
        out.push_back(a);
    }
    return out;
  }

  TempDir tmp_;
};

// Stands in for journald at /dev/log, outside every agent, where the host runs no syslog daemon
// (this one does not); removes its socket when done.
class DevLog {
public:
  DevLog()
  {
    if (fs::exists("/dev/log"))
      return;
    proc_ = std::make_unique<Proc>(
        std::vector<std::string>{netprobe_bin(), "unix-dgram-listen", "/dev/log", "0"});
    wait_until([] { return fs::exists("/dev/log"); });
  }
  ~DevLog()
  {
    if (!proc_)
      return;
    proc_->signal(SIGKILL);
    proc_->wait(std::chrono::seconds(5));
    fs::remove("/dev/log");
  }
  // Whether a message with tag reached it (true when the host's own daemon serves /dev/log).
  bool received(const std::string &tag) const { return !proc_ || proc_->wait_for_err(tag); }

private:
  std::unique_ptr<Proc> proc_;
};

TEST_F(UnixSideChannelTest, sockets_served_outside_the_agent_are_denied_once_each_root_and_nobody)
{
  const std::string np = netprobe_bin();
  const std::string path = tmp_ / "docker.sock";
  const std::string abs = "vg-helper-" + std::to_string(::getpid());
  Proc file_server({np, "unix-listen", path, "0"});
  Proc abstract_server({np, "unix-listen", "@" + abs, "0"});
  DevLog devlog;
  ASSERT_TRUE(wait_until([&] {
    return fs::exists(path + ".dgram") && abstract_bound(abs + ".dgram") && fs::exists("/dev/log");
  })) << "servers did not bind";

  for (const User &u : kUsers) {
    SCOPED_TRACE(u.label);
    const std::string dir = tmp_ / (std::string("own-") + u.label[0]);
    fs::create_directories(dir);
    fs::permissions(dir, fs::perms::all);
    const std::string alerts = dir + "/alerts.jsonl";
    // The attempts: a path socket and an abstract name served outside, stream and datagram.
    const std::string attempts = np + " unix " + path + " 0; " + np + " unixdgram " + path +
                                 ".dgram 0; " + np + " unix @" + abs + " 0; " + np +
                                 " unixdgram @" + abs + ".dgram 0; ";
    // The controls: servers the agent starts (a path and an abstract name, reached once they
    // are bound: polled, bounded), and syslog through /dev/log.
    const std::string own = dir + "/dev.sock";
    const std::string own_abs = "vg-own-" + std::to_string(::getpid()) + "-" + u.label[0];
    const std::string tag = "vigil-unix-test-" + std::to_string(::getpid()) + "-" + u.label[0];
    const std::string controls =
        np + " unix-listen " + own + " 0 & s1=$!; " + np + " unix-listen @" + own_abs +
        " 0 & s2=$!; i=0; while { [ ! -S " + own + ".dgram ] || ! grep -q ' @" + own_abs +
        ".dgram$' /proc/net/unix; } && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; " + np +
        " unix " + own + " 0; " + np + " unixdgram " + own + ".dgram 0; " + np + " unix @" +
        own_abs + " 0; " + np + " unixdgram @" + own_abs + ".dgram 0; kill $s1 $s2; logger -t " +
        tag + " hello && echo logged; true";
    ProcResult r = agent(u, attempts + controls, alerts);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "EPERM\nEPERM\nEPERM\nEPERM\nok\nok\nok\nok\nlogged\n") << r.err;
    auto list = ipc_alerts(alerts);
    ASSERT_EQ(list.size(), 4u) << read_file(alerts);
    const std::vector<std::string> want{path, path + ".dgram", "@" + abs, "@" + abs + ".dgram"};
    for (size_t i = 0; i < list.size(); ++i) {
      EXPECT_EQ(list[i]["path"], want[i]) << list[i].dump();
      EXPECT_EQ(list[i]["tier"], expected_net_tier()) << list[i].dump();
      EXPECT_EQ(list[i]["verdict"], "denied") << list[i].dump();
      EXPECT_NE(list[i]["output"].get<std::string>().find(want[i]), std::string::npos)
          << list[i].dump();
      // ... and the program that decided: stream connects, then datagram sends.
      const bool lsm = expected_net_tier() == "lsm";
      const std::string hook = i % 2 == 0 ? (lsm ? "unix_stream_connect" : "connect_unix program")
                                          : (lsm ? "unix_may_send" : "sendmsg_unix program");
      EXPECT_NE(list[i]["output"].get<std::string>().find(hook), std::string::npos)
          << list[i].dump();
    }
    EXPECT_TRUE(devlog.received(tag)) << "the agent's syslog message did not arrive";
  }
  // Outside the agent the same sockets answer: the denials were vigil's.
  EXPECT_EQ(run({np, "unix", path, "0"}).out, "ok\n");
  EXPECT_EQ(run({np, "unix", "@" + abs, "0"}).out, "ok\n");
  EXPECT_EQ(run({np, "unixdgram", "@" + abs + ".dgram", "0"}).out, "ok\n");
}

// Tier 2 decides by name, so a name the agent bound must not stay allowed once it leads
// elsewhere: the socket file replaced by a symlink to an outside socket, or a relative name
// bound in one directory and connected from the outside socket's directory.
TEST_F(UnixSideChannelTest, a_name_the_agent_bound_then_re_pointed_outside_is_denied)
{
  if (!fs::exists("/usr/bin/python3"))
    GTEST_SKIP() << "needs /usr/bin/python3";
  const std::string np = netprobe_bin();
  const std::string outside = tmp_ / "docker.sock";
  Proc server({np, "unix-listen", outside, "0"});
  ASSERT_TRUE(wait_until([&] { return fs::exists(outside + ".dgram"); }));
  for (const User &u : kUsers) {
    SCOPED_TRACE(u.label);
    const std::string dir = tmp_ / (std::string("re-") + u.label[0]);
    fs::create_directories(dir + "/elsewhere");
    fs::permissions(dir, fs::perms::all);
    fs::permissions(dir + "/elsewhere", fs::perms::all);
    const std::string mine = dir + "/mine.sock";
    const std::string py =
        "import socket, os\n"
        "def tryc(a):\n"
        "    s = socket.socket(socket.AF_UNIX)\n"
        "    try:\n"
        "        s.connect(a); print('ok')\n"
        "    except OSError as e:\n"
        "        print(os.strerror(e.errno))\n"
        "b = socket.socket(socket.AF_UNIX); b.bind('" + mine + "'); b.listen(1)\n"
        "tryc('" + mine + "')\n"
        "os.unlink('" + mine + "'); os.symlink('" + outside + "', '" + mine + "')\n"
        "tryc('" + mine + "')\n"
        "os.chdir('" + dir + "/elsewhere')\n"
        "r = socket.socket(socket.AF_UNIX); r.bind('docker.sock'); r.listen(1)\n"
        "tryc('docker.sock')\n"
        "os.chdir('" + tmp_.path() + "')\n"
        "tryc('docker.sock')\n";
    const std::string alerts = dir + "/alerts.jsonl";
    std::vector<std::string> argv{vigil_bin(), "run", "--alerts-json", alerts, "--"};
    argv.insert(argv.end(), u.prefix.begin(), u.prefix.end());
    argv.insert(argv.end(), {"/usr/bin/python3", "-c", py});
    ProcResult r = run(argv);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "ok\nOperation not permitted\nok\nOperation not permitted\n") << r.err;
    auto list = ipc_alerts(alerts);
    ASSERT_EQ(list.size(), 2u) << read_file(alerts);
    // Tier 2 names the address the agent used; tier 1 the peer it reached.
    const bool lsm = expected_net_tier() == "lsm";
    EXPECT_EQ(list[0]["path"], lsm ? outside : mine);
    EXPECT_EQ(list[1]["path"], lsm ? outside : std::string("docker.sock"));
    for (const auto &a : list)
      EXPECT_EQ(a["tier"], expected_net_tier()) << a.dump();
  }
}

TEST_F(UnixSideChannelTest, git_credential_fill_gets_nothing_from_the_developers_cache_daemon)
{
  if (run({"git", "--version"}).status != 0)
    GTEST_SKIP() << "git is not installed";
  for (const User &u : kUsers) {
    SCOPED_TRACE(u.label);
    // The developer's cache daemon: same uid as the agent, outside it, socket in its own
    // 0700 directory as git wants.
    const std::string home = tmp_ / (std::string("dev-") + u.label[0]);
    fs::create_directories(home + "/.cache/git/credential");
    if (!u.prefix.empty()) {
      ASSERT_EQ(run({"chown", "-R", "65534:65534", home}).status, 0);
    }
    fs::permissions(home + "/.cache/git/credential", fs::perms::owner_all);
    const std::string sock = home + "/.cache/git/credential/socket";
    // The helper as a developer configures it, in ~/.gitconfig.
    write_file(home + "/.gitconfig",
               "[credential]\n\thelper = cache --timeout=120 --socket=" + sock + "\n");
    if (!u.prefix.empty()) {
      ASSERT_EQ(run({"chown", "65534:65534", home + "/.gitconfig"}).status, 0);
    }
    std::vector<std::string> approve = u.prefix;
    approve.insert(approve.end(),
                   {"sh", "-c",
                    "printf 'protocol=https\\nhost=example.com\\nusername=dev\\npassword="
                    "s3cret-canary\\n\\n' | git credential approve"});
    ASSERT_EQ(run(approve, {"HOME=" + home}).status, 0);
    struct StopDaemon {
      std::vector<std::string> argv;
      std::string home;
      ~StopDaemon() { run(argv, {"HOME=" + home}); }
    } stop{u.prefix, home};
    stop.argv.insert(stop.argv.end(), {"git", "credential-cache", "--socket=" + sock, "exit"});
    ASSERT_TRUE(wait_until([&] { return fs::exists(sock); }));
    const std::string fill = "printf 'protocol=https\\nhost=example.com\\n\\n' | "
                             "GIT_TERMINAL_PROMPT=0 git credential fill; true";
    // Outside the agent the daemon answers: the canary is there to be stolen.
    std::vector<std::string> outside = u.prefix;
    outside.insert(outside.end(), {"sh", "-c", fill});
    EXPECT_NE(run(outside, {"HOME=" + home}).out.find("s3cret-canary"), std::string::npos);
    const std::string alerts = home + "-alerts.jsonl";
    ProcResult r = agent(u, fill, alerts, {"HOME=" + home});
    EXPECT_EQ(r.out.find("s3cret-canary"), std::string::npos) << r.out;
    // git's own exec of its helper may raise exec rules of its own (GIT_EXEC_PATH): the
    // attempt on the socket is the one ipc alert.
    auto list = ipc_alerts(alerts, false);
    ASSERT_EQ(list.size(), 1u) << read_file(alerts);
    EXPECT_EQ(list[0]["path"], sock);
    EXPECT_EQ(list[0]["tier"], expected_net_tier());
    EXPECT_EQ(list[0]["verdict"], "denied");
  }
}

// The developer's ssh-agent and tmux server (same uid as the agent, outside it): the agent can
// neither sign with the developer's keys nor type into the developer's shells.
TEST_F(UnixSideChannelTest, the_developers_ssh_agent_and_tmux_are_out_of_reach)
{
  if (run({"sh", "-c", "command -v ssh-agent && command -v ssh-add && command -v tmux"}).status != 0)
    GTEST_SKIP() << "needs ssh-agent, ssh-add and tmux";
  for (const User &u : kUsers) {
    SCOPED_TRACE(u.label);
    const std::string dir = tmp_ / (std::string("dev-") + u.label[0]);
    fs::create_directories(dir);
    if (!u.prefix.empty()) {
      ASSERT_EQ(run({"chown", "65534:65534", dir}).status, 0);
    }
    fs::permissions(dir, fs::perms::owner_all);
    const std::string ssh = dir + "/ssh-agent.sock", tmux = dir + "/tmux.sock";
    std::vector<std::string> agent_argv = u.prefix, tmux_argv = u.prefix;
    agent_argv.insert(agent_argv.end(), {"ssh-agent", "-D", "-a", ssh});
    tmux_argv.insert(tmux_argv.end(), {"tmux", "-S", tmux, "-D"});
    Proc ssh_agent(agent_argv, {"HOME=" + dir});
    Proc tmux_server(tmux_argv, {"HOME=" + dir});
    ASSERT_TRUE(wait_until([&] { return fs::exists(ssh) && fs::exists(tmux); }));
    const std::string script = "SSH_AUTH_SOCK=" + ssh + " ssh-add -l; echo ssh-add=$?; tmux -S " +
                               tmux + " list-sessions; echo tmux=$?";
    // Outside the agent both answer (no identities, no sessions: but no connection error).
    std::vector<std::string> outside = u.prefix;
    outside.insert(outside.end(), {"sh", "-c", "{ " + script + "; } 2>&1"});
    ProcResult out = run(outside, {"HOME=" + dir});
    EXPECT_EQ(out.out.find("Operation not permitted"), std::string::npos) << out.out;
    const std::string alerts = dir + "-alerts.jsonl";
    ProcResult r = agent(u, "{ " + script + "; } 2>&1", alerts, {"HOME=" + dir});
    EXPECT_NE(r.out.find("ssh-add=2"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("tmux=1"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Operation not permitted"), std::string::npos) << r.out;
    auto list = ipc_alerts(alerts);
    ASSERT_EQ(list.size(), 2u) << read_file(alerts);
    EXPECT_EQ(list[0]["path"], ssh);
    EXPECT_EQ(list[1]["path"], tmux);
    for (const auto &a : list)
      EXPECT_EQ(a["tier"], expected_net_tier()) << a.dump();
  }
}

TEST_F(UnixSideChannelTest, doctor_says_who_decides_unix_sockets)
{
  ProcResult r = run({vigil_bin(), "doctor", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["tiers"]["unix"]["tier"], expected_net_tier()) << r.out;
  if (expected_net_tier() == "cgroup") {
    EXPECT_NE(j["tiers"]["unix"]["reason"].get<std::string>().find("connect_unix"),
              std::string::npos)
        << r.out;
  }
}

} // namespace
} // namespace vigil::test
