// SPDX-License-Identifier: Apache-2.0
// Response actions under a real `vigil run` on this host's kernel, the agent as root and as uid
// 65534: the exfiltration sequence (rules/sequences.yaml: a credential read, then egress outside
// the allowlist) with freeze, kill, isolate and run. Each action is reported once however many
// alerts ask for it, and does what it says to the agent's cgroup and nothing outside it.
#include <signal.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "browser.h"
#include "harness.h"

namespace vigil::test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Polls cond every 20 ms until it holds or the timeout passes.
template <typename F> bool eventually(F cond, std::chrono::milliseconds timeout)
{
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (cond())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

class ResponseTest : public ::testing::TestWithParam<bool> {
protected:
  void SetUp() override
  {
    VG_REQUIRE_ROOT();
    utsname u{};
    int major = 0, minor = 0;
    if (::uname(&u) != 0 || std::sscanf(u.release, "%d.%d", &major, &minor) != 2 ||
        major * 100 + minor < 514)
      GTEST_SKIP() << "this kernel (" << u.release << ") has no cgroup.kill (5.14+)";
    ::chmod(tmp_.path().c_str(), 0755); // the agent may run as uid 65534
    home_ = tmp_ / "home";
    fs::create_directories(home_ + "/.aws");
    write_file(home_ + "/.aws/credentials", "aws_secret_access_key = response-canary\n");
    run({"chown", "-R", "65534:65534", home_});
    shared_ = tmp_ / "shared"; // where the agent and the test signal each other
    fs::create_directories(shared_);
    ::chmod(shared_.c_str(), 0777);
    alerts_ = tmp_ / "alerts.jsonl";
    profile_ = tmp_ / "profile.yaml";
    log_dir_ = tmp_ / "log";
  }

  // A failed test must not leave a frozen cgroup behind for the rest of the suite: thawed, vigil
  // run (killed with its Proc) and its watchdog remove it.
  void TearDown() override
  {
    if (!cgroup_.empty() && fs::exists(cgroup_ + "/cgroup.freeze"))
      write_file(cgroup_ + "/cgroup.freeze", "0");
  }

  void write_profile(const std::string &response)
  {
    write_file(profile_, "profile: respond\ncredentials:\n  paths: [~/.aws/credentials]\n"
                         "egress:\n  allow: [127.0.0.1/32]\nresponse:\n" +
                             response);
  }

  // vigil run of `bash -c script` (as uid 65534 with the parameter); the cgroup it makes is
  // <mount>/vigil/run-<vigil's pid>.
  std::unique_ptr<Proc> start(const std::string &script)
  {
    std::vector<std::string> argv{vigil_bin(), "run",   "--profile",     profile_,
                                  "--log-dir", log_dir_, "--alerts-json", alerts_, "--"};
    if (GetParam())
      argv.insert(argv.end(), {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"});
    argv.insert(argv.end(), {"bash", "-c", script});
    auto p = std::make_unique<Proc>(argv, std::vector<std::string>{"HOME=" + home_});
    cgroup_ = cgroup2_mount() + "/vigil/run-" + std::to_string(p->pid());
    return p;
  }

  // The attempt: the credential read, then `n` connects outside the allowlist (a flood of
  // sequence alerts when n > 1).
  static std::string exfil(int n)
  {
    return "cat ~/.aws/credentials >/dev/null 2>&1; for i in $(seq " + std::to_string(n) +
           "); do (exec 3<>/dev/tcp/127.0.0.2/9) 2>/dev/null; done; ";
  }

  std::vector<nlohmann::json> alerts(const std::string &rule) const
  {
    std::vector<nlohmann::json> out;
    for (auto &a : read_json_lines(alerts_))
      if (a.value("rule", "") == rule)
        out.push_back(a);
    return out;
  }

  bool cgroup_frozen() const
  {
    std::ifstream in(cgroup_ + "/cgroup.events");
    for (std::string k, v; in >> k >> v;)
      if (k == "frozen")
        return v == "1";
    return false;
  }

  // vigil replay prints what was done (as recorded: detection runs again, the actions cannot) in
  // each format, and vigil report lists it under "Actions taken".
  void expect_replay_and_report_show_the_kill()
  {
    ProcResult table = run({vigil_bin(), "replay", log_dir_});
    EXPECT_EQ(table.status, 0) << table.err;
    EXPECT_NE(table.out.find("response-kill"), std::string::npos) << table.out;
    EXPECT_NE(table.out.find("[done] on " + cgroup_ + ": killed every process of agent cgroup " +
                             cgroup_),
              std::string::npos)
        << table.out;
    EXPECT_NE(table.err.find(", 1 response action(s) recorded,"), std::string::npos) << table.err;
    ProcResult js = run({vigil_bin(), "replay", log_dir_, "--format", "json"});
    EXPECT_EQ(js.status, 0) << js.err;
    size_t kills = 0;
    for (size_t at = 0, nl; (nl = js.out.find('\n', at)) != std::string::npos; at = nl + 1) {
      const auto j = nlohmann::json::parse(js.out.substr(at, nl - at), nullptr, false);
      if (!j.is_object() || j.value("rule", "") != "response-kill")
        continue;
      ++kills;
      EXPECT_EQ(j["recorded"], true) << j;
      EXPECT_EQ(j["response"]["action"], "kill") << j;
      EXPECT_EQ(j["response"]["result"], "done") << j;
      EXPECT_EQ(j["response"]["target"], cgroup_) << j;
    }
    EXPECT_EQ(kills, 1u) << js.out;
    ProcResult tl = run({vigil_bin(), "replay", log_dir_, "--format", "timeline"});
    EXPECT_EQ(tl.status, 0) << tl.err;
    EXPECT_NE(tl.out.find("=> response-kill [done] on " + cgroup_), std::string::npos) << tl.out;

    const std::string html = tmp_ / "incident.html";
    ProcResult rep = run({vigil_bin(), "report", log_dir_, "-o", html});
    ASSERT_EQ(rep.status, 0) << rep.err;
    const std::string row = "data-action=\"kill\" data-result=\"done\" data-target=\"" + cgroup_ + "\"";
    if (chromium_bin().empty() || GetParam()) { // the DOM once (as root) is enough
      EXPECT_NE(read_file(html).find(row), std::string::npos) << "no kill row in Actions taken";
      return;
    }
    Browser b;
    ProcResult dom = b.dump_dom(html);
    ASSERT_EQ(dom.status, 0) << dom.err;
    EXPECT_NE(dom.out.find("<h2 id=\"actions\">Actions taken</h2>"), std::string::npos)
        << dom.out.substr(0, 4000);
    EXPECT_NE(dom.out.find(row), std::string::npos) << "no kill row in Actions taken";
    EXPECT_NE(dom.out.find("id=\"actions-summary\" data-count=\"1\""), std::string::npos);
  }

  TempDir tmp_;
  std::string home_, shared_, alerts_, profile_, cgroup_, log_dir_;
};

std::string param_name(const ::testing::TestParamInfo<bool> &info)
{
  return info.param ? "uid65534" : "root";
}

TEST_P(ResponseTest, freeze_holds_the_agent_until_vigil_resume_and_freezes_once_for_a_flood)
{
  write_profile("  rules: {exfil-credential-then-egress: [freeze]}\n");
  // After the attempt the agent ticks a counter until the test says stop.
  auto agent =
      start(exfil(5) + "n=0; while [ ! -e " + shared_ + "/stop ]; do n=$((n+1)); echo $n > " +
            shared_ + "/ticks; sleep 0.02; done; echo done");
  ASSERT_TRUE(
      eventually([&] { return !alerts("response-freeze").empty(); }, std::chrono::seconds(60)))
      << read_file(alerts_) << agent->err_so_far();
  ASSERT_TRUE(eventually([&] { return cgroup_frozen(); }, std::chrono::seconds(10)))
      << "cgroup.events of " << cgroup_ << ": " << read_file(cgroup_ + "/cgroup.events");
  const auto rec = alerts("response-freeze");
  ASSERT_EQ(rec.size(), 1u) << read_file(alerts_);
  EXPECT_NE(rec[0]["output"].get<std::string>().find("froze agent cgroup " + cgroup_),
            std::string::npos)
      << rec[0];
  EXPECT_NE(rec[0]["output"].get<std::string>().find("exfil-credential-then-egress"),
            std::string::npos)
      << rec[0];

  // Frozen: the counter stands still and nothing the agent does after the freeze reaches vigil,
  // for as long as we look. (What it did just before may still be on its way through a loaded
  // vigil: alerts are told apart by their event's time, in the same fixed-width UTC form.)
  const std::string ticks = read_file(shared_ + "/ticks");
  const std::string frozen_at = rec[0]["time"];
  EXPECT_FALSE(eventually([&] { return read_file(shared_ + "/ticks") != ticks; },
                          std::chrono::milliseconds(500)))
      << "the frozen agent kept running";
  for (const auto &a : read_json_lines(alerts_))
    EXPECT_LE(a["time"].get<std::string>(), frozen_at)
        << "an event of the frozen agent: " << a;
  EXPECT_TRUE(cgroup_frozen());

  ProcResult r = run({vigil_bin(), "resume"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("thawed " + cgroup_), std::string::npos) << r.out << r.err;
  EXPECT_TRUE(
      eventually([&] { return read_file(shared_ + "/ticks") != ticks; }, std::chrono::seconds(10)))
      << "the agent did not run again after vigil resume";
  EXPECT_FALSE(cgroup_frozen());
  write_file(shared_ + "/stop", "");
  ProcResult done = agent->wait(std::chrono::seconds(30));
  EXPECT_EQ(done.status, 0) << done.err;
  EXPECT_EQ(done.out, "done\n") << done.err;
  EXPECT_EQ(alerts("response-freeze").size(), 1u) << read_file(alerts_);
}

TEST_P(ResponseTest, kill_leaves_none_of_the_agents_processes)
{
  write_profile("  rules: {exfil-credential-then-egress: [kill]}\n");
  // Children that would outlive their parent's death; each names itself in its argv.
  const std::string marker = "vg-response-" + std::to_string(::getpid()) + (GetParam() ? "u" : "r");
  auto agent = start("for i in 1 2 3; do (exec -a " + marker + " sleep 60) & done; " + exfil(3) +
                     "sleep 60; echo survived");
  ProcResult r = agent->wait(std::chrono::seconds(50));
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.out, "") << "the agent outlived the kill";
  const auto rec = alerts("response-kill");
  ASSERT_EQ(rec.size(), 1u) << read_file(alerts_) << r.err;
  EXPECT_NE(
      rec[0]["output"].get<std::string>().find("killed every process of agent cgroup " + cgroup_),
      std::string::npos)
      << rec[0];
  // The event log holds the action too (what `vigil log export` and the report read).
  ProcResult exported = run({vigil_bin(), "log", "export", log_dir_});
  EXPECT_EQ(exported.status, 0) << exported.err;
  EXPECT_NE(exported.out.find("\"rule\":\"response-kill\""), std::string::npos) << exported.out;
  expect_replay_and_report_show_the_kill();
  for (const auto &e : fs::directory_iterator("/proc")) {
    // argv[0] only: vigil's watchdog (a fork of vigil) carries the script in its argv until it
    // sees the cgroup gone.
    const std::string cmd = read_file(e.path().string() + "/cmdline");
    EXPECT_NE(cmd.substr(0, cmd.find('\0')), marker) << "pid " << e.path() << " survived";
  }
}

TEST_P(ResponseTest, isolate_denies_the_next_allowed_connect_and_spares_the_outside)
{
  const int port = free_port();
  const std::string ps = std::to_string(port);
  Proc listener({netprobe_bin(), "listen", "127.0.0.1", ps});
  ASSERT_TRUE(eventually(
      [&] {
        return run({netprobe_bin(), "tcp", "127.0.0.1", ps}).out == "ok\n";
      },
      std::chrono::seconds(10)));
  // A connection the agent opens before the alert, to a listener that holds it: isolation cuts
  // it (SOCK_DESTROY), so the agent's next write on it fails.
  const int hold_port = free_port();
  Proc holder({netprobe_bin(), "listen-hold", "127.0.0.1", std::to_string(hold_port)});
  ASSERT_TRUE(eventually(
      [&] {
        return run({netprobe_bin(), "tcp", "127.0.0.1", std::to_string(hold_port)}).out == "ok\n";
      },
      std::chrono::seconds(10)));
  const std::string held = "exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(hold_port) + "; ";
  const std::string write_held = "(echo x >&3) 2>/dev/null && echo held open || echo held cut; ";
  // Every alert asks for isolation ("*"): the credential read's, each refused connect's, the
  // sequence's. One isolation is carried out and reported.
  write_profile("  rules: {\"*\": [isolate]}\n");
  const std::string probe = std::string(netprobe_bin()) + " tcp 127.0.0.1 " + ps;
  auto wait_for = [&](const std::string &file) {
    return "for i in $(seq 1500); do [ -e " + shared_ + "/" + file +
           " ] && break; sleep 0.02; done; ";
  };
  auto agent = start(held + "echo before $(" + probe + "); " + write_held + exfil(3) +
                     wait_for("go") + "echo after $(" + probe + "); " + write_held +
                     wait_for("go2") + "echo restored $(" + probe + ")");
  ASSERT_TRUE(
      eventually([&] { return !alerts("response-isolate").empty(); }, std::chrono::seconds(60)))
      << read_file(alerts_) << agent->err_so_far();
  // Outside the agent, the same destination still answers.
  EXPECT_EQ(run({netprobe_bin(), "tcp", "127.0.0.1", ps}).out, "ok\n");
  write_file(shared_ + "/go", "");
  // The refused connect is an attempt of its own, alerted, and it says what stopped it.
  auto isolated_connect = [&]() -> std::optional<nlohmann::json> {
    for (const auto &a : alerts("egress-not-allowed"))
      if (a["destination"]["ip"] == "127.0.0.1" && a["destination"]["port"] == port)
        return a;
    return std::nullopt;
  };
  ASSERT_TRUE(eventually([&] { return isolated_connect().has_value(); }, std::chrono::seconds(30)))
      << read_file(alerts_);
  EXPECT_NE((*isolated_connect())["output"].get<std::string>().find("while the agent is isolated"),
            std::string::npos)
      << *isolated_connect();

  // vigil resume lifts the isolation: the allowlist, kept in the kernel, holds again.
  ProcResult resumed = run({vigil_bin(), "resume"});
  EXPECT_EQ(resumed.status, 0) << resumed.err;
  EXPECT_NE(resumed.out.find("restore the egress of " + cgroup_), std::string::npos)
      << resumed.out;
  ASSERT_TRUE(
      eventually([&] { return !alerts("response-restore").empty(); }, std::chrono::seconds(10)))
      << read_file(alerts_);
  write_file(shared_ + "/go2", "");
  ProcResult r = agent->wait(std::chrono::seconds(60));
  listener.signal(SIGKILL);
  holder.signal(SIGKILL);
  EXPECT_EQ(r.out, "before ok\nheld open\nafter EPERM\nheld cut\nrestored ok\n") << r.err;
  const auto isolated = alerts("response-isolate");
  ASSERT_FALSE(isolated.empty());
  EXPECT_NE(isolated[0]["output"].get<std::string>().find("1 open connection(s) cut"),
            std::string::npos)
      << isolated[0];
  EXPECT_EQ(alerts("response-isolate").size(), 1u) << read_file(alerts_);
  EXPECT_EQ(alerts("response-restore").size(), 1u) << read_file(alerts_);
  EXPECT_GE(alerts("egress-not-allowed").size(), 4u) << "3 attempts and the isolated connect, "
                                                        "each asking for isolation: "
                                                     << read_file(alerts_);
}

TEST_P(ResponseTest, run_receives_the_alert_json_exactly_once_on_stdin)
{
  const std::string got = shared_ + "/received.jsonl";
  const std::string hook = tmp_ / "revoke.sh";
  const std::string argc = shared_ + "/argc";
  write_file(hook, "#!/bin/sh\necho $# >> " + argc + "\ncat >> " + got + "\n");
  ::chmod(hook.c_str(), 0755);
  write_profile("  rules: {exfil-credential-then-egress: [run]}\n  run:\n    command: [" + hook +
                "]\n    timeout: 5s\n");
  auto agent = start(exfil(5) + "echo done");
  ProcResult r = agent->wait(std::chrono::seconds(60));
  EXPECT_EQ(r.status, 0) << r.err;
  // vigil run waits for running commands before it exits.
  const auto lines = read_json_lines(got);
  ASSERT_EQ(lines.size(), 1u) << read_file(got) << read_file(alerts_);
  EXPECT_EQ(lines[0]["rule"], "exfil-credential-then-egress");
  EXPECT_EQ(lines[0]["destination"]["ip"], "127.0.0.2");
  EXPECT_EQ(read_file(argc), "0\n") << "nothing of the alert's on the command line";
  EXPECT_EQ(alerts("response-run").size(), 1u) << read_file(alerts_);
  const auto result = alerts("response-run-result");
  ASSERT_EQ(result.size(), 1u) << read_file(alerts_);
  EXPECT_NE(result[0]["output"].get<std::string>().find(hook + " exited 0"), std::string::npos)
      << result[0];
}

INSTANTIATE_TEST_SUITE_P(AsRootAndNobody, ResponseTest, ::testing::Bool(), param_name);

} // namespace
} // namespace vigil::test
