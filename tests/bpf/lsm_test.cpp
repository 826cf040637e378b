// SPDX-License-Identifier: Apache-2.0
// What only the BPF LSM tier enforces: every syscall path into file_open, basename rules,
// other processes' memory and environment. Runs inside the VM (tests/vm/run-lsm-tests); on a
// host without BPF LSM each test says so and skips.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <thread>

#include "harness.h"

namespace vigil::test {
namespace {

namespace fs = std::filesystem;

class LsmTest : public ::testing::Test {
protected:
  void SetUp() override
  {
    VG_REQUIRE_ROOT();
    if (expected_file_tier() != "lsm")
      GTEST_SKIP() << "needs a BPF-LSM kernel; tests/vm/run-lsm-tests runs it in one";
    home_ = tmp_ / "home";
    creds_ = home_ + "/.aws/credentials";
    write_file(creds_, "secret-creds\n");
    alerts_ = tmp_ / "alerts.jsonl";
  }
  // With the shipped profile, or with profile (a file) when given.
  ProcResult agent(const std::string &script, const std::string &profile = "")
  {
    std::vector<std::string> argv{vigil_bin(), "run", "--alerts-json", alerts_};
    if (!profile.empty())
      argv.insert(argv.end(), {"--profile", profile});
    argv.insert(argv.end(), {"--", "sh", "-c", script});
    return run(argv, {"HOME=" + home_});
  }
  std::string probe(const std::string &op, const std::string &arg) const
  {
    return std::string(fileprobe_bin()) + " " + op + " '" + arg + "'; ";
  }

  TempDir tmp_;
  std::string home_, creds_, alerts_;
};

TEST_F(LsmTest, every_syscall_path_to_a_protected_file_is_denied_once)
{
  const std::string script = probe("open", creds_) + probe("openat2", creds_) +
                             probe("handle", creds_) + probe("open", "/proc/self/root" + creds_) +
                             probe("open", home_ + "/.aws/../.aws/./credentials") +
                             probe("uring", creds_) + "true";
  ProcResult r = agent(script);
  ASSERT_EQ(r.status, 0) << r.err;
  std::istringstream out(r.out);
  int lines = 0;
  for (std::string line; std::getline(out, line); ++lines)
    EXPECT_EQ(line, "EPERM") << r.out;
  EXPECT_EQ(lines, 6) << r.out;
  // open_by_handle_at is refused at the launch (seccomp: a vigil-launch-tamper alert, no
  // CAP_DAC_READ_SEARCH) before it reaches file_open, and so is io_uring_setup (its own alert);
  // the other four reach the hook.
  std::vector<nlohmann::json> list, tamper, uring;
  for (auto &a : read_json_lines(alerts_))
    (a["rule"] == "vigil-launch-tamper"       ? tamper
     : a["rule"] == "vigil-launch-io-uring" ? uring
                                              : list)
        .push_back(a);
  EXPECT_EQ(tamper.size(), 1u) << read_file(alerts_);
  EXPECT_EQ(uring.size(), 1u) << read_file(alerts_);
  ASSERT_EQ(list.size(), 4u) << read_file(alerts_);
  for (const auto &a : list) {
    EXPECT_EQ(a["path"], creds_) << a.dump();
    EXPECT_EQ(a["tier"], "lsm");
    EXPECT_EQ(a["verdict"], "denied");
  }
}

TEST_F(LsmTest, basename_rules_are_enforced_in_any_directory)
{
  write_file(tmp_ / "project/.env", "API_TOKEN=secret\n");
  write_file(tmp_ / "project/tls/server.key", "secret-key\n");
  write_file(tmp_ / "project/README", "hello\n");
  ProcResult r = agent(probe("open", tmp_ / "project/.env") +
                       probe("open", tmp_ / "project/tls/server.key") +
                       probe("open", tmp_ / "project/README") + "true");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "EPERM\nEPERM\nok:hello\n");
  EXPECT_EQ(read_json_lines(alerts_).size(), 2u) << read_file(alerts_);
}

TEST_F(LsmTest, environ_of_a_process_outside_the_agent_is_denied_its_own_child_readable)
{
  // The outsider holds no capabilities: the agent runs without CAP_SYS_PTRACE, and the kernel's
  // own check (before any BPF LSM program) refuses access to a process holding capabilities the
  // agent lacks, silently. A capability-less root process is what only vigil stands between.
  Proc outsider({"setpriv", "--bounding-set=-all", "--", "sleep", "30"});
  const std::string pid = std::to_string(outsider.pid());
  // Without its own pid namespace, so that the outsider is visible and the LSM decides (vigil
  // run's namespace would hide it: RunLaunchPidns covers that layer).
  const std::string profile = tmp_ / "no-pidns.yaml";
  write_file(profile, "profile: no-pidns\ncredentials:\n  paths: [~/.aws/credentials]\n"
                      "egress:\n  allow: [127.0.0.1/32]\nlaunch:\n  pid_namespace: false\n");
  ProcResult r = agent(probe("environ", pid) + "sleep 5 & " + fileprobe_bin() +
                       " environ $!; kill $!; true",
                       profile);
  ASSERT_EQ(r.status, 0) << r.err;
  std::istringstream out(r.out);
  std::string first, second;
  std::getline(out, first);
  std::getline(out, second);
  // procfs turns the LSM's -EPERM from ptrace_may_access() into EACCES for /proc files.
  EXPECT_EQ(first, "EACCES") << r.out;
  EXPECT_EQ(second.rfind("ok:", 0), 0u) << "the agent's own child: " << r.out;
  auto list = read_json_lines(alerts_);
  ASSERT_EQ(list.size(), 1u) << read_file(alerts_);
  EXPECT_EQ(list[0]["rule"], "foreign-process-access");
  EXPECT_EQ(list[0]["target_pid"], outsider.pid());
  EXPECT_EQ(list[0]["tier"], "lsm");
  // Outside the agent the same read works: the denial was vigil's, not procfs's.
  ProcResult outside = run({fileprobe_bin(), "environ", pid});
  EXPECT_EQ(outside.out.rfind("ok:", 0), 0u) << outside.out;
}

TEST_F(LsmTest, doctor_names_the_lsm_tier_for_both_kinds)
{
  ProcResult r = run({vigil_bin(), "doctor", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["tiers"]["file"]["tier"], "lsm") << r.out;
  EXPECT_EQ(j["tiers"]["network"]["tier"], "lsm") << r.out;
  EXPECT_TRUE(j["lsm_prog"]["ok"].get<bool>());
}

TEST_F(LsmTest, unix_sockets_served_from_outside_are_denied_unless_allowed)
{
  const std::string outside = tmp_ / "outside.sock", allowed = tmp_ / "allowed.sock";
  Proc l1({netprobe_bin(), "unix-listen", outside, "0"});
  Proc l2({netprobe_bin(), "unix-listen", allowed, "0"});
  for (int i = 0; i < 100 && !(fs::exists(outside + ".dgram") && fs::exists(allowed + ".dgram"));
       ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const std::string profile = tmp_ / "ipc.yaml";
  write_file(profile, "profile: ipc-agent\nipc:\n  allow: [" + allowed + "]\n");
  const std::string np = netprobe_bin();
  const std::string own = tmp_ / "own.sock";
  const std::string script = np + " unix " + outside + " 0; " + np + " unixdgram " + outside +
                             ".dgram 0; " + np + " unix " + allowed + " 0; " + np +
                             " unix-listen " + own + " 0 & sleep 0.5; " + np + " unix " + own +
                             " 0; kill $!";
  ProcResult r = run({vigil_bin(), "run", "--profile", profile, "--alerts-json", alerts_, "--",
                      "sh", "-c", script});
  EXPECT_EQ(r.out, "EPERM\nEPERM\nok\nok\n") << r.err;
  auto list = read_json_lines(alerts_);
  ASSERT_EQ(list.size(), 2u) << read_file(alerts_);
  EXPECT_EQ(list[0]["rule"], "ipc-not-allowed");
  EXPECT_EQ(list[0]["path"], outside);
  EXPECT_EQ(list[1]["path"], outside + ".dgram");
  // The same connects from outside the agent work.
  EXPECT_EQ(run({np, "unix", outside, "0"}).out, "ok\n");
}

TEST_F(LsmTest, fifos_read_from_outside_are_denied_the_agents_own_work)
{
  const std::string fifo = tmp_ / "outside.fifo";
  ASSERT_EQ(run({"mkfifo", fifo}).status, 0);
  Proc reader({"sh", "-c", "exec cat " + fifo + " >/dev/null"});
  const std::string own = tmp_ / "own.fifo";
  const std::string script = "(echo leak > " + fifo + ") 2>/dev/null && echo wrote || echo denied; " +
                             "mkfifo " + own + " && (cat " + own + " &) && echo hi > " + own +
                             " && echo own-ok";
  ProcResult r = agent(script);
  EXPECT_NE(r.out.find("denied"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.out.find("own-ok"), std::string::npos) << r.out << r.err;
  auto list = read_json_lines(alerts_);
  ASSERT_EQ(list.size(), 1u) << read_file(alerts_);
  EXPECT_EQ(list[0]["rule"], "ipc-not-allowed");
  EXPECT_EQ(list[0]["path"], fifo);
}

TEST_F(LsmTest, raw_and_packet_sockets_are_denied_unless_the_profile_allows_them)
{
  const std::string np = netprobe_bin();
  // Netlink's SOCK_RAW is not IP (glibc's getifaddrs: npm opened one and was refused): allowed,
  // no alert, as tier 2's launch filter judges it.
  const std::string script =
      np + " raw icmp 0; " + np + " raw packet 0; " + np + " raw netlink 0; true";
  ProcResult r = agent(script);
  EXPECT_EQ(r.out, "EPERM\nEPERM\nok\n") << r.err;
  auto list = read_json_lines(alerts_);
  ASSERT_EQ(list.size(), 2u) << read_file(alerts_);
  EXPECT_EQ(list[0]["rule"], "raw-socket");
  EXPECT_EQ(list[0]["tier"], "lsm");

  const std::string profile = tmp_ / "raw.yaml";
  write_file(profile, "profile: raw-ok\negress:\n  raw_sockets: allow\n  allow: []\n");
  ProcResult ok = run({vigil_bin(), "run", "--profile", profile, "--", "sh", "-c", script});
  EXPECT_EQ(ok.out, "ok\nok\nok\n") << ok.err;
}

TEST_F(LsmTest, per_kind_modes_audit_files_while_the_network_is_enforced)
{
  const std::string profile = tmp_ / "mixed.yaml";
  write_file(profile, "profile: mixed\ncredentials:\n  mode: audit\n  paths: [~/.aws/credentials]\n"
                      "egress:\n  allow: []\n");
  ProcResult r = run({vigil_bin(), "run", "--profile", profile, "--alerts-json", alerts_, "--",
                      "sh", "-c", probe("open", creds_) + netprobe_bin() + " tcp 127.0.0.1 9; true"},
                     {"HOME=" + home_});
  EXPECT_EQ(r.out, "ok:secret-creds\nEPERM\n") << r.err;
  auto list = read_json_lines(alerts_);
  ASSERT_EQ(list.size(), 3u) << read_file(alerts_);
  EXPECT_EQ(list[0]["rule"], "cred-aws");
  EXPECT_EQ(list[0]["verdict"], "would-deny");
  EXPECT_EQ(list[1]["rule"], "egress-not-allowed");
  EXPECT_EQ(list[1]["verdict"], "denied");
  EXPECT_EQ(list[2]["rule"], "exfil-credential-then-egress") << "the read, then the connect";
}

} // namespace
} // namespace vigil::test
