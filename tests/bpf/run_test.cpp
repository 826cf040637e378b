// SPDX-License-Identifier: Apache-2.0
// `vigil run` end to end on this host's kernel: real programs, real cgroups, real processes.
#include <gtest/gtest.h>

#include <algorithm>

#include <filesystem>
#include <thread>

#include "harness.h"

namespace vigil::test {
namespace {

namespace fs = std::filesystem;

class RunTest : public ::testing::Test {
protected:
  void SetUp() override
  {
    VG_REQUIRE_ROOT();
    home_ = tmp_.path() + "/home";
    canary_ = plant_aws_canary(home_);
    alerts_ = tmp_ / "alerts.jsonl";
  }

  std::vector<std::string> vigil_run(const std::vector<std::string> &cmd,
                                     const std::vector<std::string> &extra = {})
  {
    std::vector<std::string> argv{vigil_bin(), "run", "--alerts-json", alerts_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("--");
    argv.insert(argv.end(), cmd.begin(), cmd.end());
    return argv;
  }
  std::vector<std::string> env() const { return {"HOME=" + home_}; }
  std::vector<nlohmann::json> alerts(const std::string &rule) const
  {
    std::vector<nlohmann::json> out;
    for (auto &a : read_json_lines(alerts_))
      if (a["rule"] == rule)
        out.push_back(a);
    return out;
  }

  TempDir tmp_;
  std::string home_, canary_, alerts_;
};

TEST_F(RunTest, credential_read_alerts_with_process_and_ancestry)
{
  Proc vigil(vigil_run({"cat", canary_}), env());
  ProcResult r = vigil.wait();
  ASSERT_EQ(r.status, 1) << "cat is denied in the kernel's file tier\n" << r.err;
  EXPECT_EQ(r.out.find("canary-"), std::string::npos) << "the credential leaked: " << r.out;
  EXPECT_NE(r.err.find("Operation not permitted"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("cred-aws"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(canary_), std::string::npos) << r.err;

  auto found = alerts("cred-aws");
  ASSERT_EQ(found.size(), 1u) << read_file(alerts_);
  const nlohmann::json &a = found[0];
  for (const char *field : {"time", "hostname", "profile", "rule", "severity", "pid", "ppid", "uid",
                            "exe", "argv", "ancestry", "cgroup", "path", "output", "verdict"})
    EXPECT_TRUE(a.contains(field)) << "missing " << field << " in " << a.dump();
  EXPECT_EQ(a["path"], canary_);
  EXPECT_EQ(a["profile"], "coding-agent");
  EXPECT_EQ(a["severity"], "critical");
  EXPECT_EQ(a["comm"], "cat");
  EXPECT_EQ(a["exe"], "/usr/bin/cat");
  EXPECT_EQ(a["argv"], nlohmann::json::array({"cat", canary_}));
  // cat's parent is vigil's init, pid 1 of the agent's pid namespace (a fork of vigil in the
  // agent cgroup); the pids are the host's, as the kernel reports them.
  EXPECT_EQ(a["uid"], 0);
  EXPECT_GT(a["pid"].get<int>(), 0);
  EXPECT_NE(a["pid"], vigil.pid());
  ASSERT_EQ(a["ancestry"].size(), 1u) << "ancestry stops at the launcher: " << a["ancestry"];
  EXPECT_EQ(a["ppid"], a["ancestry"][0]["pid"]);
  EXPECT_NE(a["ppid"], vigil.pid());
  EXPECT_EQ(a["ancestry"][0]["exe"], fs::canonical(vigil_bin()).string()) << a["ancestry"];
  EXPECT_EQ(a["cgroup"], "/vigil/run-" + std::to_string(vigil.pid()));
  EXPECT_NE(a["output"].get<std::string>().find("cat"), std::string::npos);
  EXPECT_EQ(a["hostname"].get<std::string>().empty(), false);
  EXPECT_EQ(a["time"].get<std::string>().back(), 'Z');
  EXPECT_EQ(a["verdict"], "denied");
  EXPECT_EQ(a["tier"], expected_file_tier());
  EXPECT_EQ(a["result_name"], "EPERM");
}

TEST_F(RunTest, other_spellings_of_the_path_report_the_real_file)
{
  fs::create_symlink(canary_, tmp_ / "link-to-creds");
  const std::string script = "cd " + home_ + "/.aws && cat credentials >/dev/null; " +
                             "cat " + tmp_.path() + "/link-to-creds >/dev/null; " +
                             "cat " + home_ + "/.aws/../.aws/./credentials >/dev/null; " +
                             "cat /proc/self/root" + canary_ + " >/dev/null";
  ProcResult r = Proc(vigil_run({"sh", "-c", script + "; echo end"}), env()).wait();
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "end\n") << "no spelling may read the canary";
  auto found = alerts("cred-aws");
  ASSERT_EQ(found.size(), 4u) << read_file(alerts_);
  for (const auto &a : found) {
    EXPECT_EQ(a["path"], canary_) << a.dump();
    EXPECT_EQ(a["verdict"], "denied") << a.dump();
  }
}

TEST_F(RunTest, egress_outside_allowlist_alerts_and_allowed_does_not)
{
  // 127.0.0.2 is outside the default allowlist: denied in the kernel (cgroup tier on this host).
  ProcResult r = Proc(vigil_run({"bash", "-c",
                                 "(exec 3<>/dev/tcp/127.0.0.2/9) 2>/dev/null; "
                                 "(exec 3<>/dev/tcp/127.0.0.1/9) 2>/dev/null; "
                                 "(exec 3<>/dev/tcp/::1/9) 2>/dev/null; true"}),
                      env())
                     .wait();
  ASSERT_EQ(r.status, 0) << r.err;
  auto found = alerts("egress-not-allowed");
  ASSERT_EQ(found.size(), 1u) << read_file(alerts_);
  EXPECT_EQ(found[0]["destination"]["ip"], "127.0.0.2");
  EXPECT_EQ(found[0]["destination"]["port"], 9);
  EXPECT_EQ(found[0]["destination"]["family"], "ipv4");
  EXPECT_EQ(found[0]["comm"], "bash");
  EXPECT_EQ(found[0]["result_name"], "EPERM");
  EXPECT_EQ(found[0]["verdict"], "denied");
}

TEST_F(RunTest, ipv6_egress_outside_allowlist_alerts)
{
  ProcResult r =
      Proc(vigil_run({"bash", "-c", "(exec 3<>/dev/tcp/::2/9) 2>/dev/null; true"}), env()).wait();
  ASSERT_EQ(r.status, 0) << r.err;
  auto found = alerts("egress-not-allowed");
  ASSERT_EQ(found.size(), 1u) << read_file(alerts_);
  EXPECT_EQ(found[0]["destination"]["ip"], "::2");
  EXPECT_EQ(found[0]["destination"]["family"], "ipv6");
}

TEST_F(RunTest, processes_outside_the_agent_cgroup_raise_nothing)
{
  Proc vigil(vigil_run({"sleep", "3"}), env());
  ASSERT_TRUE(vigil.wait_for_err("confines cgroup")) << vigil.err_so_far();
  // The same operations, from this test process's own cgroup, while vigil watches.
  ProcResult cat = run({"cat", canary_});
  ASSERT_EQ(cat.status, 0);
  run({"bash", "-c", "(exec 3<>/dev/tcp/127.0.0.2/9) 2>/dev/null; true"});
  ProcResult r = vigil.wait();
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(read_json_lines(alerts_).size(), 0u) << read_file(alerts_);
}

TEST_F(RunTest, exit_status_of_the_command_is_passed_through)
{
  EXPECT_EQ(Proc(vigil_run({"sh", "-c", "exit 7"}), env()).wait().status, 7);
  EXPECT_EQ(Proc(vigil_run({"sh", "-c", "kill -TERM $$"}), env()).wait().status, 128 + SIGTERM);
  EXPECT_EQ(Proc(vigil_run({"/nonexistent/agent"}), env()).wait().status, 127);
}

TEST_F(RunTest, cgroup_is_removed_and_leftover_processes_killed_on_exit)
{
  // The command leaves a background child behind; vigil must not leave it running. Its pid is
  // one of the agent's pid namespace, so the test finds it by its unique argument instead.
  const std::string arg = "300." + std::to_string(::getpid());
  Proc vigil(vigil_run({"sh", "-c", "sleep " + arg + " & echo $! > " + (tmp_ / "bg.pid")}),
             env());
  ProcResult r = vigil.wait();
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string cg = cgroup2_mount() + "/vigil/run-" + std::to_string(vigil.pid());
  EXPECT_FALSE(fs::exists(cg)) << cg;
  ASSERT_FALSE(read_file(tmp_ / "bg.pid").empty());
  // Dead means gone or a zombie waiting for its (reparented) parent to reap it.
  std::string alive;
  for (const auto &e : fs::directory_iterator("/proc")) {
    const std::string cmd = read_file(e.path().string() + "/cmdline");
    const std::string stat = read_file(e.path().string() + "/stat");
    if (cmd.find(arg) != std::string::npos && cmd.rfind("sleep", 0) == 0 &&
        stat.find(") Z ") == std::string::npos)
      alive += stat + "\n";
  }
  EXPECT_EQ(alive, "") << "background sleep survived vigil run";
}

TEST_F(RunTest, sigterm_stops_the_command_and_cleans_up)
{
  Proc vigil(vigil_run({"sleep", "300"}), env());
  ASSERT_TRUE(vigil.wait_for_err("confines cgroup")) << vigil.err_so_far();
  vigil.signal(SIGTERM);
  ProcResult r = vigil.wait(std::chrono::seconds(15));
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.status, 128 + SIGTERM) << r.err;
  EXPECT_FALSE(fs::exists(cgroup2_mount() + "/vigil/run-" + std::to_string(vigil.pid())));
}

TEST_F(RunTest, sigint_stops_the_command_and_cleans_up)
{
  Proc vigil(vigil_run({"sleep", "300"}), env());
  ASSERT_TRUE(vigil.wait_for_err("confines cgroup")) << vigil.err_so_far();
  vigil.signal(SIGINT);
  ProcResult r = vigil.wait(std::chrono::seconds(15));
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.status, 128 + SIGINT) << r.err;
  EXPECT_FALSE(fs::exists(cgroup2_mount() + "/vigil/run-" + std::to_string(vigil.pid())));
}

TEST_F(RunTest, metrics_counters_move_during_a_run)
{
  const std::string addr = "127.0.0.1:" + std::to_string(free_port());
  const std::string flag = tmp_ / "go";
  // The agent reads the canary once, waits until the test has scraped, then reads it again.
  const std::string script = "cat " + canary_ + " >/dev/null; while [ ! -e " + flag +
                             " ]; do sleep 0.05; done; cat " + canary_ + " >/dev/null; sleep 1.5";
  Proc vigil(vigil_run({"sh", "-c", script}, {"--metrics-address", addr}), env());
  ASSERT_TRUE(vigil.wait_for_err("confines cgroup")) << vigil.err_so_far();
  auto alerts_counter = [&](const std::string &body) {
    const std::string key = "vigil_alerts_total{profile=\"coding-agent\",rule=\"cred-aws\","
                            "severity=\"critical\"} ";
    auto pos = body.find(key);
    return pos == std::string::npos ? -1.0 : std::stod(body.substr(pos + key.size()));
  };
  std::string first;
  for (int i = 0; i < 100 && alerts_counter(first) < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    first = http_get(addr, "/metrics");
  }
  ASSERT_EQ(alerts_counter(first), 1.0) << first;
  EXPECT_NE(first.find("vigil_build_info{"), std::string::npos);
  EXPECT_NE(first.find("vigil_ringbuf_drops_total"), std::string::npos);
  EXPECT_NE(first.find("vigil_events_total{profile=\"coding-agent\",type=\"exec\"}"),
            std::string::npos)
      << first;
  write_file(flag, "");
  std::string second;
  for (int i = 0; i < 100 && alerts_counter(second) < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    second = http_get(addr, "/metrics");
  }
  EXPECT_EQ(alerts_counter(second), 2.0) << second;
  EXPECT_EQ(vigil.wait().status, 0);
}

TEST_F(RunTest, malformed_profile_is_refused_with_file_and_line)
{
  const std::string bad = tmp_ / "bad.yaml";
  write_file(bad, "profile: x\negress:\n  allow:\n    - 10.0.0.0/33\n");
  ProcResult r = Proc(vigil_run({"true"}, {"--profile", bad}), env()).wait();
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find(bad + ":4:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("egress.allow[0]"), std::string::npos) << r.err;
}

TEST_F(RunTest, unprivileged_user_gets_a_clear_error)
{
  ProcResult r = run({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                      "--inh-caps=-all", vigil_bin(), "run", "--", "true"});
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("needs root"), std::string::npos) << r.err;
}

TEST(RunCli, unknown_subcommands_and_options_are_usage_errors)
{
  // Every level: the word vigil could not place is named, exit 2, never "A subcommand is
  // required" or "--config is required" in its stead.
  // The arguments, and the word the error must name.
  const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
      {{"bogus"}, "bogus"},
      {{"--bogus"}, "--bogus"},
      {{"run", "--bogus", "--", "true"}, "--bogus"},
      {{"rules", "bogus"}, "bogus"},
      {{"rules", "check", "--bogus", "x"}, "--bogus"},
      {{"log", "bogus"}, "bogus"},
      {{"daemon", "--bogus"}, "--bogus"},
      {{"doctor", "extra"}, "extra"}};
  for (const auto &[args, word] : bad) {
    std::vector<std::string> argv{vigil_bin()};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcResult r = run(argv);
    const std::string what = ::testing::PrintToString(args);
    EXPECT_EQ(r.status, 2) << what << r.err;
    EXPECT_NE(r.err.find("not expected"), std::string::npos) << what << r.err;
    EXPECT_NE(r.err.find(word), std::string::npos) << what << r.err;
    EXPECT_EQ(r.err.find("is required"), std::string::npos) << what << r.err;
  }
  // A missing subcommand with nothing left over is still named as missing.
  ProcResult r = run({vigil_bin(), "rules"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("A subcommand is required"), std::string::npos) << r.err;
  r = run({vigil_bin(), "--help"});
  EXPECT_EQ(r.status, 0) << r.err;
  r = run({vigil_bin(), "--version"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("vigil ", 0), 0u) << r.out;
  EXPECT_EQ(r.out, run({vigil_bin(), "version"}).out);
}

// A developer wrapping an interactive agent sees at most three lines before its first one: the
// tier per kind, the profile and its cgroup, and (on a kernel without BPF LSM) what this kernel
// leaves unenforced, by name, with the pointer to `vigil doctor`. -v prints every note, -q none.
TEST(RunCli, start_up_prints_at_most_three_lines)
{
  VG_REQUIRE_ROOT();
  ProcResult r = run({vigil_bin(), "run", "--", "true"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::vector<std::string> lines;
  for (size_t at = 0, nl; (nl = r.err.find('\n', at)) != std::string::npos; at = nl + 1)
    lines.push_back(r.err.substr(at, nl - at));
  ASSERT_GE(lines.size(), 2u) << r.err;
  ASSERT_LE(lines.size(), 3u) << r.err;
  EXPECT_TRUE(lines[0].find("enforcing files by ") != std::string::npos ||
              lines[0].find("NOTHING IS ENFORCED FOR FILES") != std::string::npos)
      << lines[0];
  EXPECT_NE(lines[0].find("network"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("profile 'coding-agent' ("), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("confines cgroup"), std::string::npos) << lines[1];
  if (lines[0].find("(no BPF LSM on this kernel)") != std::string::npos) {
    ASSERT_EQ(lines.size(), 3u) << r.err;
    // The attempts `vigil doctor` lists as not stopped by this kernel, each by name.
    for (const char *gap : {"bpffs", "mount", "module", "sysctl", "process_memory"})
      EXPECT_NE(lines[2].find(gap), std::string::npos) << gap << ": " << lines[2];
    EXPECT_NE(lines[2].find("does not stop"), std::string::npos) << lines[2];
    EXPECT_NE(lines[2].find("`vigil doctor`"), std::string::npos) << lines[2];
    EXPECT_NE(lines[2].find("`vigil run -v`"), std::string::npos) << lines[2];
  }
  ProcResult v = run({vigil_bin(), "run", "-v", "--", "true"});
  ASSERT_EQ(v.status, 0) << v.err;
  EXPECT_GT(std::count(v.err.begin(), v.err.end(), '\n'), 3 * 3) << v.err;
  EXPECT_NE(v.err.find("file enforcement: "), std::string::npos) << v.err;
  ProcResult q = run({vigil_bin(), "run", "-q", "--", "true"});
  ASSERT_EQ(q.status, 0) << q.err;
  EXPECT_EQ(q.err, "") << "quiet: nothing but alerts and errors";
}

} // namespace
} // namespace vigil::test
