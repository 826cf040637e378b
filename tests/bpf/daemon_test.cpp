// SPDX-License-Identifier: Apache-2.0
// `vigil daemon` end to end: cgroups selected by glob, picked up while running, released when
// they go away; processes in other cgroups are not watched.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <set>
#include <thread>

#include "harness.h"

namespace vigil::test {
namespace {

namespace fs = std::filesystem;

class DaemonTest : public ::testing::Test {
protected:
  void SetUp() override
  {
    VG_REQUIRE_ROOT();
    root_ = cgroup2_mount() + "/vigil-test-" + std::to_string(::getpid());
    secret_ = tmp_ / "secret.pem";
    write_file(secret_, "-----BEGIN PRIVATE KEY-----\n");
    write_file(tmp_ / "profile.yaml", "profile: test-agent\ncredentials:\n  paths:\n    - " +
                                          tmp_.path() + "/secret.pem\negress:\n  allow:\n    - "
                                          "127.0.0.1/32\n");
    alerts_ = tmp_ / "alerts.jsonl";
    metrics_ = "127.0.0.1:" + std::to_string(free_port());
    pins_ = "/sys/fs/bpf/vigil-test-" + std::to_string(::getpid());
    control_ = tmp_ / "control.sock";
    write_file(tmp_ / "vigil.yaml", "profiles: [profile.yaml]\ncgroups:\n  - path: /vigil-test-" +
                                        std::to_string(::getpid()) +
                                        "/agent-*\n    profile: test-agent\nalerts_json: " +
                                        alerts_ + "\nmetrics_address: " + metrics_ +
                                        "\nrescan_ms: 100\npin_dir: " + pins_ +
                                        "\ncontrol_socket: " + control_ + "\n");
    fs::create_directories(root_);
  }
  void TearDown() override
  {
    if (root_.empty())
      return;
    run({vigil_bin(), "unload", "--pin-dir", pins_});
    if (fs::exists(root_ + "/agent-1/cgroup.freeze")) // a failed response test: thaw, then kill
      write_file(root_ + "/agent-1/cgroup.freeze", "0");
    // Move ourselves nowhere: only the children were placed in test cgroups. Remove leaves.
    std::error_code ec;
    for (const auto &d : {root_ + "/agent-1", root_ + "/other", root_})
      fs::remove(d, ec);
  }

  // A shell in cgroup dir: joins it, waits for the go file, then runs script.
  std::unique_ptr<Proc> in_cgroup(const std::string &dir, const std::string &go,
                                  const std::string &script)
  {
    fs::create_directories(dir);
    return std::make_unique<Proc>(std::vector<std::string>{
        "sh", "-c",
        "echo $$ > " + dir + "/cgroup.procs && while [ ! -e " + go +
            " ]; do sleep 0.02; done; " + script});
  }

  TempDir tmp_;
  std::string root_, secret_, alerts_, metrics_, pins_, control_;
};

TEST_F(DaemonTest, confines_matching_cgroups_created_while_running)
{
  Proc daemon({vigil_bin(), "daemon", "--config", tmp_ / "vigil.yaml"});
  ASSERT_TRUE(daemon.wait_for_err("daemon running")) << daemon.err_so_far();

  const std::string go = tmp_ / "go";
  auto agent = in_cgroup(root_ + "/agent-1", go, "cat " + secret_ + " >/dev/null");
  auto other = in_cgroup(root_ + "/other", go, "cat " + secret_ + " >/dev/null");
  ASSERT_TRUE(daemon.wait_for_err("confining " + root_ + "/agent-1")) << daemon.err_so_far();
  write_file(go, "");
  EXPECT_EQ(agent->wait().status, 1) << "the agent's read is denied";
  EXPECT_EQ(other->wait().status, 0) << "an unconfined sibling reads freely";

  std::vector<nlohmann::json> found;
  for (int i = 0; i < 100 && found.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    found = read_json_lines(alerts_);
  }
  ASSERT_EQ(found.size(), 1u) << read_file(alerts_);
  EXPECT_EQ(found[0]["rule"], "credential-read");
  EXPECT_EQ(found[0]["profile"], "test-agent");
  EXPECT_EQ(found[0]["path"], secret_);
  EXPECT_EQ(found[0]["cgroup"], "/vigil-test-" + std::to_string(::getpid()) + "/agent-1");

  std::string metrics = http_get(metrics_, "/metrics");
  EXPECT_NE(metrics.find("vigil_agent_cgroups 1"), std::string::npos) << metrics;

  fs::remove(root_ + "/agent-1");
  EXPECT_TRUE(daemon.wait_for_err("released " + root_ + "/agent-1")) << daemon.err_so_far();
  daemon.signal(SIGTERM);
  ProcResult r = daemon.wait(std::chrono::seconds(15));
  EXPECT_EQ(r.status, 0) << r.err;
}

// A daemon started in a cgroup namespace of its own (as in a pod) reads other processes' cgroups
// relative to it; it resolves them against its view of the cgroup2 mount, so the file guard still
// knows its agents.
TEST_F(DaemonTest, a_daemon_in_its_own_cgroup_namespace_still_confines_its_agents)
{
  // The daemon sits in a cgroup of its own when its namespace is made, as a pod's container does,
  // so the agents' cgroups show as "/../agent-1" from inside.
  fs::create_directories(root_ + "/daemon");
  Proc daemon({"sh", "-c",
               "echo $$ > " + root_ + "/daemon/cgroup.procs && exec unshare --cgroup " +
                   vigil_bin() + " daemon --config " + tmp_ / "vigil.yaml"});
  ASSERT_TRUE(daemon.wait_for_err("daemon running")) << daemon.err_so_far();
  const std::string go = tmp_ / "go";
  auto agent = in_cgroup(root_ + "/agent-1", go, "cat " + secret_ + " >/dev/null");
  ASSERT_TRUE(daemon.wait_for_err("confining " + root_ + "/agent-1")) << daemon.err_so_far();
  write_file(go, "");
  EXPECT_EQ(agent->wait().status, 1) << "the agent's read is denied";
  std::vector<nlohmann::json> found;
  for (int i = 0; i < 100 && found.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    found = read_json_lines(alerts_);
  }
  ASSERT_EQ(found.size(), 1u) << read_file(alerts_);
  EXPECT_EQ(found[0]["cgroup"], "/vigil-test-" + std::to_string(::getpid()) + "/agent-1");
  fs::remove(root_ + "/agent-1");
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(std::chrono::seconds(15)).status, 0);
  std::error_code ec;
  fs::remove(root_ + "/daemon", ec);
}

TEST_F(DaemonTest, config_naming_an_unknown_profile_is_refused)
{
  write_file(tmp_ / "bad.yaml",
             "profiles: [profile.yaml]\ncgroups:\n  - path: /x/*\n    profile: nope\n");
  ProcResult r = run({vigil_bin(), "daemon", "--config", tmp_ / "bad.yaml"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("'nope'"), std::string::npos) << r.err;
}

// A process placed in the agent cgroup runs one netprobe; returns its outcome line.
static std::string probe_in(const std::string &cgroup, const std::string &op,
                            const std::string &addr, int port)
{
  ProcResult r = run({"sh", "-c",
                      "echo $$ > " + cgroup + "/cgroup.procs && exec " + netprobe_bin() + " " + op +
                          " " + addr + " " + std::to_string(port)});
  return r.out;
}

TEST_F(DaemonTest, enforcement_survives_sigkill_is_adopted_and_unload_removes_it)
{
  // A real listener on 127.0.0.2, outside the profile's allowlist (127.0.0.1 only).
  const int port = free_port();
  Proc listener({"sh", "-c", "exec " + std::string(netprobe_bin()) + " listen 127.0.0.2 " +
                                 std::to_string(port)});
  const std::string agent = root_ + "/agent-1";
  fs::create_directories(agent);

  // The first daemon's ring is 1 MiB; the second asks for the default: it keeps the pinned one,
  // which the adopted programs write to.
  write_file(tmp_ / "small-ring.yaml", read_file(tmp_ / "vigil.yaml") + "ring_buffer: 1MiB\n");
  Proc first({vigil_bin(), "daemon", "--config", tmp_ / "small-ring.yaml"});
  ASSERT_TRUE(first.wait_for_err("confining " + agent)) << first.err_so_far();
  EXPECT_EQ(probe_in(agent, "tcp", "127.0.0.2", port), "EPERM\n");
  std::string metrics; // the reader publishes the kernel's figures once a second
  for (int i = 0; i < 100 && metrics.find("vigil_ringbuf_size_bytes 1048576") == std::string::npos;
       ++i) {
    if (i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    metrics = http_get(metrics_, "/metrics");
  }
  EXPECT_NE(metrics.find("vigil_ringbuf_size_bytes 1048576"), std::string::npos) << metrics;

  first.signal(SIGKILL);
  first.wait();
  EXPECT_EQ(probe_in(agent, "tcp", "127.0.0.2", port), "EPERM\n")
      << "enforcement must outlive a SIGKILLed daemon";
  if (expected_file_tier() == "lsm") {
    ProcResult cat = run({"sh", "-c", "echo $$ > " + agent + "/cgroup.procs && exec cat " + secret_});
    EXPECT_NE(cat.status, 0) << "file enforcement in the lsm tier outlives the daemon too";
  }

  const size_t before = read_json_lines(alerts_).size();
  Proc second({vigil_bin(), "daemon", "--config", tmp_ / "vigil.yaml"});
  ASSERT_TRUE(second.wait_for_err("adopting the enforcement pinned under " + pins_))
      << second.err_so_far();
  EXPECT_NE(second.err_so_far().find("the event ring pinned under " + pins_ +
                                     " is 1024 KiB (asked for 4096 KiB): kept"),
            std::string::npos)
      << second.err_so_far();
  ASSERT_TRUE(second.wait_for_err("confining " + agent)) << second.err_so_far();
  EXPECT_EQ(probe_in(agent, "tcp", "127.0.0.2", port), "EPERM\n");
  std::vector<nlohmann::json> found;
  for (int i = 0; i < 100 && found.size() <= before; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    found = read_json_lines(alerts_);
  }
  ASSERT_GT(found.size(), before) << "the adopting daemon reads the pinned ring";
  EXPECT_EQ(found.back()["rule"], "egress-not-allowed");

  second.signal(SIGTERM);
  EXPECT_EQ(second.wait().status, 0);
  EXPECT_EQ(probe_in(agent, "tcp", "127.0.0.2", port), "EPERM\n")
      << "a clean stop leaves enforcement in force too";
  ProcResult unload = run({vigil_bin(), "unload", "--pin-dir", pins_});
  EXPECT_EQ(unload.status, 0) << unload.err;
  EXPECT_FALSE(fs::exists(pins_));
  // The last link reference goes with the unlink; some kernels (6.12) finish the detach a
  // moment later.
  std::string after;
  for (int i = 0; i < 50 && after != "ok\n"; ++i) {
    if (i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    after = probe_in(agent, "tcp", "127.0.0.2", port);
  }
  EXPECT_EQ(after, "ok\n") << "unload removed enforcement";
}

// Tier 2's file tier is the daemon's fanotify group, which is not pinned: it goes with the
// daemon, and the kernel then lets every open pass until the next daemon guards the set again
// (docs/SECURITY.md, "When vigil dies"). This pins down that documented window.
// The daemon's start in the journal: one line per fact. Every self-protection gap of this kernel
// in one line, a profile's egress host names being resolved in one line; -v logs one line per
// item as before.
TEST_F(DaemonTest, start_logs_one_line_per_fact)
{
  write_file(tmp_ / "hosts.yaml", "profile: hosts-agent\negress:\n  allow:\n"
                                  "    - {host: one.vigil-test.invalid}\n"
                                  "    - {host: two.vigil-test.invalid}\n"
                                  "    - {host: three.vigil-test.invalid}\n");
  const std::string config = read_file(tmp_ / "vigil.yaml");
  write_file(tmp_ / "vigil.yaml", "profiles: [profile.yaml, hosts.yaml]\n" +
                                      config.substr(config.find('\n') + 1));
  auto start_lines = [&](bool verbose) {
    std::vector<std::string> argv{vigil_bin(), "daemon", "--config", tmp_ / "vigil.yaml"};
    if (verbose)
      argv.push_back("-v");
    Proc daemon(argv);
    EXPECT_TRUE(daemon.wait_for_err("daemon running")) << daemon.err_so_far();
    const std::string err = daemon.err_so_far();
    daemon.signal(SIGTERM);
    ProcResult r = daemon.wait(std::chrono::seconds(15));
    EXPECT_EQ(r.status, 0) << r.err;
    run({vigil_bin(), "unload", "--pin-dir", pins_});
    std::vector<std::string> lines;
    for (size_t at = 0, nl; (nl = err.find('\n', at)) != std::string::npos; at = nl + 1)
      if (err.compare(at, nl - at, "") != 0)
        lines.push_back(err.substr(at, nl - at));
    return lines;
  };
  auto count = [](const std::vector<std::string> &lines, const std::string &needle) {
    return std::count_if(lines.begin(), lines.end(), [&](const std::string &l) {
      return l.find(needle) != std::string::npos;
    });
  };

  const std::vector<std::string> lines = start_lines(false);
  const std::string all = ::testing::PrintToString(lines);
  EXPECT_EQ(count(lines, "file enforcement: "), 1) << all;
  EXPECT_EQ(count(lines, "network enforcement: "), 1) << all;
  EXPECT_EQ(count(lines, "daemon running"), 1) << all;
  EXPECT_EQ(count(lines, ": resolving;"), 0) << all;
  ASSERT_EQ(count(lines, "profile 'hosts-agent': 3 egress host(s) resolving"), 1) << all;
  for (const char *host : {"one", "two", "three"})
    EXPECT_EQ(count(lines, std::string(host) + ".vigil-test.invalid"), 1) << host << all;
  // A kernel without BPF LSM leaves attempts on vigil unrefused: one line names them all.
  const bool lsm =
      count(lines, "file enforcement: lsm") + count(lines, "network enforcement: lsm") > 0;
  EXPECT_EQ(count(lines, "self-protection: "), lsm ? 0 : 1) << all;
  if (!lsm) {
    EXPECT_EQ(count(lines, "does not stop bpf, bpffs, mount, module, sysctl, process_memory"), 1)
        << all;
    EXPECT_EQ(count(lines, "`vigil doctor`"), 1) << all;
  }
  // No fact twice.
  std::set<std::string> distinct(lines.begin(), lines.end());
  EXPECT_EQ(distinct.size(), lines.size()) << all;

  const std::vector<std::string> verbose = start_lines(true);
  const std::string vall = ::testing::PrintToString(verbose);
  EXPECT_EQ(count(verbose, ": resolving; it allows nothing"), 3) << vall;
  if (!lsm) {
    EXPECT_GT(count(verbose, "self-protection: "), 1) << vall;
  }
}

TEST_F(DaemonTest, the_fanotify_tier_does_not_outlive_the_daemon)
{
  if (expected_file_tier() != "fanotify")
    GTEST_SKIP() << "the lsm tier enforces from pinned programs (the test above)";
  const std::string agent = root_ + "/agent-1";
  fs::create_directories(agent);
  auto cat = [&] {
    return run({"sh", "-c", "echo $$ > " + agent + "/cgroup.procs && exec cat " + secret_});
  };
  Proc first({vigil_bin(), "daemon", "--config", tmp_ / "vigil.yaml"});
  ASSERT_TRUE(first.wait_for_err("confining " + agent)) << first.err_so_far();
  ProcResult before = cat();
  EXPECT_NE(before.status, 0) << "denied while the daemon runs\n" << before.out;
  first.signal(SIGKILL);
  first.wait();
  ProcResult gap = cat();
  EXPECT_EQ(gap.status, 0) << gap.err;
  EXPECT_NE(gap.out.find("PRIVATE KEY"), std::string::npos) << "the read passes in the gap";
  Proc second({vigil_bin(), "daemon", "--config", tmp_ / "vigil.yaml"});
  ASSERT_TRUE(second.wait_for_err("confining " + agent)) << second.err_so_far();
  ProcResult after = cat();
  EXPECT_NE(after.status, 0) << "the next daemon denies it again\n" << after.out;
  EXPECT_EQ(after.out.find("PRIVATE KEY"), std::string::npos);
  second.signal(SIGTERM);
  EXPECT_EQ(second.wait().status, 0);
}

TEST_F(DaemonTest, an_adopting_daemon_prunes_cgroups_that_vanished_meanwhile)
{
  const std::string agent = root_ + "/agent-1";
  fs::create_directories(agent);
  Proc first({vigil_bin(), "daemon", "--config", tmp_ / "vigil.yaml"});
  ASSERT_TRUE(first.wait_for_err("confining " + agent)) << first.err_so_far();
  first.signal(SIGKILL);
  first.wait();
  fs::remove(agent); // empty: it never held a process
  Proc second({vigil_bin(), "daemon", "--config", tmp_ / "vigil.yaml"});
  EXPECT_TRUE(second.wait_for_err("pruned 1 agent cgroup(s) that vanished while no daemon ran"))
      << second.err_so_far();
  second.signal(SIGTERM);
  EXPECT_EQ(second.wait().status, 0);
}

} // namespace
} // namespace vigil::test

namespace vigil::test {
namespace {

// Response actions in daemon mode: the exfiltration sequence in a confined cgroup isolates and
// freezes that cgroup (and no other); `vigil resume CGROUP` thaws it and, through the daemon's
// control socket, lifts the isolation (recorded as response-restore).
TEST_F(DaemonTest, response_isolates_and_freezes_the_confined_cgroup_until_vigil_resume)
{
  write_file(tmp_ / "profile.yaml",
             read_file(tmp_ / "profile.yaml") +
                 "response:\n  rules: {exfil-credential-then-egress: [isolate, freeze]}\n");
  const int port = free_port();
  const std::string ps = std::to_string(port);
  Proc listener({netprobe_bin(), "listen", "127.0.0.1", ps});
  Proc daemon({vigil_bin(), "daemon", "--config", tmp_ / "vigil.yaml"});
  ASSERT_TRUE(daemon.wait_for_err("daemon running")) << daemon.err_so_far();
  const std::string go = tmp_ / "go", stop = tmp_ / "stop", ticks = tmp_ / "ticks";
  const std::string probe = std::string(netprobe_bin()) + " tcp 127.0.0.1 " + ps;
  auto agent = in_cgroup(root_ + "/agent-1", go,
                         "echo before $(" + probe + "); cat " + secret_ +
                             " >/dev/null 2>&1; for i in 1 2 3; do " + netprobe_bin() +
                             " tcp 127.0.0.2 9 >/dev/null; done; n=0; while [ ! -e " + stop +
                             " ]; do n=$((n+1)); echo $n > " + ticks +
                             "; sleep 0.02; done; echo after $(" + probe + ")");
  ASSERT_TRUE(daemon.wait_for_err("confining " + root_ + "/agent-1")) << daemon.err_so_far();
  write_file(go, "");
  auto has = [&](const std::string &rule) {
    size_t n = 0;
    for (const auto &a : read_json_lines(alerts_))
      n += a.value("rule", "") == rule;
    return n;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (has("response-freeze") == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(has("response-freeze"), 1u) << read_file(alerts_) << daemon.err_so_far();
  EXPECT_EQ(has("response-isolate"), 1u) << read_file(alerts_);
  const std::string events = root_ + "/agent-1/cgroup.events";
  auto frozen = [&] { return read_file(events).find("frozen 1") != std::string::npos; };
  for (int i = 0; i < 250 && !frozen(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(frozen()) << read_file(events);
  // A process outside the agent still reaches the listener.
  EXPECT_EQ(run({netprobe_bin(), "tcp", "127.0.0.1", ps}).out, "ok\n");

  const std::string rel = "/vigil-test-" + std::to_string(::getpid()) + "/agent-1";
  ProcResult r = run({vigil_bin(), "resume", rel, "--socket", control_});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("thawed " + root_ + "/agent-1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("the daemon restored the egress of " + root_ + "/agent-1"),
            std::string::npos)
      << r.out << r.err;
  EXPECT_EQ(has("response-restore"), 1u) << read_file(alerts_);
  const std::string t0 = read_file(ticks);
  bool moved = false;
  for (int i = 0; i < 250 && !moved; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    moved = read_file(ticks) != t0;
  }
  EXPECT_TRUE(moved) << "the agent did not run again after vigil resume";
  write_file(stop, "");
  ProcResult done = agent->wait(std::chrono::seconds(30));
  EXPECT_EQ(done.out, "before ok\nafter ok\n") << done.err;
  listener.signal(SIGKILL);
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(std::chrono::seconds(15)).status, 0);
}

// Polls cond every 20 ms until it holds or the timeout passes.
template <typename F> bool eventually(F cond, std::chrono::milliseconds timeout)
{
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

std::vector<nlohmann::json> records(const std::string &alerts, const std::string &rule)
{
  std::vector<nlohmann::json> out;
  for (auto &a : read_json_lines(alerts))
    if (a.value("rule", "") == rule)
      out.push_back(a);
  return out;
}

// One sample of a scrape ("name{labels} value"), -1 when the series is missing.
double metric(const std::string &body, const std::string &series)
{
  const size_t at = body.find("\n" + series + " ");
  if (at == std::string::npos)
    return -1;
  return std::stod(body.substr(at + series.size() + 2));
}

// An alert's "time" (RFC 3339 UTC with nanoseconds) as ns since the epoch; 0 when malformed.
int64_t report_time(const std::string &t)
{
  std::tm tm{};
  long ns = 0;
  if (std::sscanf(t.c_str(), "%d-%d-%dT%d:%d:%d.%ldZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ns) != 7)
    return 0;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(::timegm(&tm)) * 1'000'000'000 + ns;
}

// Waits (bounded) for a file the agent writes; "" when it never came.
std::string await_file(const std::string &path)
{
  std::string out;
  eventually([&] { return !(out = read_file(path)).empty(); }, std::chrono::seconds(30));
  return out;
}

// A shell step of an agent script: wait (up to 30 s) for the test's go file.
std::string wait_step(const std::string &file)
{
  return "for i in $(seq 1500); do [ -e " + file + " ] && break; sleep 0.02; done; ";
}

// The isolated flag lives in the pinned map, so a daemon killed with SIGKILL and started again
// keeps the agent isolated (the kernel never lets a connect through meanwhile) and knows it: it
// says so, exports it, and lifts it on `vigil resume` (response-restore). Only root may ask.
TEST_F(DaemonTest, isolation_survives_a_daemon_killed_and_restarted_until_vigil_resume)
{
  write_file(tmp_ / "profile.yaml",
             read_file(tmp_ / "profile.yaml") +
                 "response:\n  rules: {exfil-credential-then-egress: [isolate]}\n");
  const int port = free_port();
  const std::string ps = std::to_string(port);
  Proc listener({netprobe_bin(), "listen", "127.0.0.1", ps});
  ASSERT_TRUE(eventually([&] { return run({netprobe_bin(), "tcp", "127.0.0.1", ps}).out == "ok\n"; },
                         std::chrono::seconds(10)));
  const std::string agent_dir = root_ + "/agent-1";
  const std::string rel = "/vigil-test-" + std::to_string(::getpid()) + "/agent-1";
  const std::string probe = std::string(netprobe_bin()) + " tcp 127.0.0.1 " + ps;
  // Each probe's answer lands in a file of its own (written whole, then renamed).
  auto probe_to = [&](const std::string &name) {
    return "echo $(" + probe + ") > " + (tmp_ / name) + ".tmp && mv " + (tmp_ / name) + ".tmp " +
           (tmp_ / name) + "; ";
  };
  auto daemon = std::make_unique<Proc>(
      std::vector<std::string>{vigil_bin(), "daemon", "--config", tmp_ / "vigil.yaml"});
  ASSERT_TRUE(daemon->wait_for_err("daemon running")) << daemon->err_so_far();
  auto agent = in_cgroup(agent_dir, tmp_ / "go",
                         probe_to("before") + "cat " + secret_ + " >/dev/null 2>&1; " +
                             "for i in 1 2 3; do " + netprobe_bin() +
                             " tcp 127.0.0.2 9 >/dev/null; done; " + wait_step(tmp_ / "go2") +
                             probe_to("after") + wait_step(tmp_ / "go3") + probe_to("restored"));
  ASSERT_TRUE(daemon->wait_for_err("confining " + agent_dir)) << daemon->err_so_far();
  write_file(tmp_ / "go", "");
  EXPECT_EQ(await_file(tmp_ / "before"), "ok\n");
  ASSERT_TRUE(eventually([&] { return !records(alerts_, "response-isolate").empty(); },
                         std::chrono::seconds(30)))
      << read_file(alerts_) << daemon->err_so_far();
  const auto isolated = records(alerts_, "response-isolate");
  ASSERT_EQ(isolated.size(), 1u);
  EXPECT_EQ(isolated[0]["response"]["action"], "isolate");
  EXPECT_EQ(isolated[0]["response"]["result"], "done");
  EXPECT_EQ(isolated[0]["response"]["target"], agent_dir);
  EXPECT_TRUE(eventually(
      [&] {
        const std::string m = http_get(metrics_, "/metrics");
        return metric(m, R"(vigil_response_actions_total{action="isolate",profile="test-agent",)"
                         R"(result="done"})") == 1 &&
               metric(m, R"(vigil_contained_agents{state="isolated"})") == 1;
      },
      std::chrono::seconds(10)))
      << http_get(metrics_, "/metrics");

  daemon->signal(SIGKILL);
  daemon->wait();
  daemon = std::make_unique<Proc>(
      std::vector<std::string>{vigil_bin(), "daemon", "--config", tmp_ / "vigil.yaml"});
  ASSERT_TRUE(daemon->wait_for_err("confining " + agent_dir)) << daemon->err_so_far();
  EXPECT_TRUE(daemon->wait_for_err("agent cgroup " + agent_dir + " stays isolated"))
      << daemon->err_so_far();
  write_file(tmp_ / "go2", "");
  EXPECT_EQ(await_file(tmp_ / "after"), "EPERM\n") << "the restarted daemon dropped the isolation";
  EXPECT_EQ(run({netprobe_bin(), "tcp", "127.0.0.1", ps}).out, "ok\n") << "outside: unaffected";
  EXPECT_TRUE(eventually(
      [&] {
        return metric(http_get(metrics_, "/metrics"),
                      R"(vigil_contained_agents{state="isolated"})") == 1;
      },
      std::chrono::seconds(10)))
      << http_get(metrics_, "/metrics");

  // Another user cannot lift it, even when the socket's mode would let it connect: the daemon
  // checks the peer's credentials.
  ::chmod(tmp_.path().c_str(), 0755);
  ::chmod(control_.c_str(), 0666);
  int answer[2];
  ASSERT_EQ(::pipe(answer), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(answer[0]);
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0)
      ::_exit(2);
    int fd = ::socket(AF_UNIX, SOCK_SEQPACKET, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof(a.sun_path), "%s", control_.c_str());
    if (::connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof(a)) != 0)
      ::_exit(3);
    const std::string req = "resume " + agent_dir;
    // The daemon may refuse (and close) before it reads: no SIGPIPE, the answer is queued.
    (void)!::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    char buf[256];
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    (void)!::write(answer[1], buf, n > 0 ? static_cast<size_t>(n) : 0);
    ::_exit(0);
  }
  ::close(answer[1]);
  std::string got;
  char buf[256];
  for (ssize_t n; (n = ::read(answer[0], buf, sizeof(buf))) > 0;)
    got.append(buf, static_cast<size_t>(n));
  ::close(answer[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "the child could not connect (status " << status << ")";
  EXPECT_EQ(got, "error: the vigil daemon takes requests from root only\n");
  EXPECT_TRUE(records(alerts_, "response-restore").empty()) << read_file(alerts_);
  EXPECT_TRUE(daemon->wait_for_err("control socket: refused a request from uid 65534"))
      << daemon->err_so_far();

  ProcResult r = run({vigil_bin(), "resume", rel, "--socket", control_});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("the daemon restored the egress of " + agent_dir), std::string::npos)
      << r.out << r.err;
  const auto restored = records(alerts_, "response-restore");
  ASSERT_EQ(restored.size(), 1u) << read_file(alerts_);
  EXPECT_EQ(restored[0]["response"]["action"], "restore");
  EXPECT_EQ(restored[0]["response"]["target"], agent_dir);
  EXPECT_EQ(restored[0]["profile"], "test-agent");
  write_file(tmp_ / "go3", "");
  EXPECT_EQ(await_file(tmp_ / "restored"), "ok\n") << "the allowlist holds again";
  EXPECT_TRUE(eventually(
      [&] {
        return metric(http_get(metrics_, "/metrics"),
                      R"(vigil_contained_agents{state="isolated"})") == 0;
      },
      std::chrono::seconds(10)));
  // A second resume has nothing left to lift.
  ProcResult again = run({vigil_bin(), "resume", rel, "--socket", control_});
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_NE(again.out.find("is not isolated"), std::string::npos) << again.out;
  EXPECT_EQ(agent->wait(std::chrono::seconds(30)).status, 0);
  listener.signal(SIGKILL);
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait(std::chrono::seconds(15)).status, 0);
}

// A freeze outlives the daemon too (the kernel keeps cgroup.freeze): the restarted daemon says it
// found the agent frozen, exports it, and `vigil resume` thaws it.
TEST_F(DaemonTest, a_frozen_agent_stays_frozen_across_a_daemon_restart_until_vigil_resume)
{
  write_file(tmp_ / "profile.yaml",
             read_file(tmp_ / "profile.yaml") +
                 "response:\n  rules: {exfil-credential-then-egress: [freeze]}\n");
  const std::string agent_dir = root_ + "/agent-1";
  const std::string ticks = tmp_ / "ticks";
  auto daemon = std::make_unique<Proc>(
      std::vector<std::string>{vigil_bin(), "daemon", "--config", tmp_ / "vigil.yaml"});
  ASSERT_TRUE(daemon->wait_for_err("daemon running")) << daemon->err_so_far();
  auto agent = in_cgroup(agent_dir, tmp_ / "go",
                         "cat " + secret_ + " >/dev/null 2>&1; " + netprobe_bin() +
                             " tcp 127.0.0.2 9 >/dev/null; n=0; while [ ! -e " + (tmp_ / "stop") +
                             " ]; do n=$((n+1)); echo $n > " + ticks +
                             "; sleep 0.02; done; echo done");
  ASSERT_TRUE(daemon->wait_for_err("confining " + agent_dir)) << daemon->err_so_far();
  write_file(tmp_ / "go", "");
  ASSERT_TRUE(eventually(
      [&] {
        return !records(alerts_, "response-freeze").empty() &&
               read_file(agent_dir + "/cgroup.events").find("frozen 1") != std::string::npos;
      },
      std::chrono::seconds(30)))
      << read_file(alerts_) << daemon->err_so_far();
  daemon->signal(SIGKILL);
  daemon->wait();
  daemon = std::make_unique<Proc>(
      std::vector<std::string>{vigil_bin(), "daemon", "--config", tmp_ / "vigil.yaml"});
  ASSERT_TRUE(daemon->wait_for_err("agent cgroup " + agent_dir + " is frozen"))
      << daemon->err_so_far();
  EXPECT_TRUE(eventually(
      [&] {
        return metric(http_get(metrics_, "/metrics"), R"(vigil_contained_agents{state="frozen"})") ==
               1;
      },
      std::chrono::seconds(10)))
      << http_get(metrics_, "/metrics");
  const std::string t0 = read_file(ticks);
  EXPECT_NE(read_file(agent_dir + "/cgroup.events").find("frozen 1"), std::string::npos);
  ProcResult r = run({vigil_bin(), "resume", agent_dir, "--socket", control_});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("thawed " + agent_dir), std::string::npos) << r.out;
  EXPECT_TRUE(eventually([&] { return read_file(ticks) != t0; }, std::chrono::seconds(10)))
      << "the agent did not run again after vigil resume";
  write_file(tmp_ / "stop", "");
  EXPECT_EQ(agent->wait(std::chrono::seconds(30)).out, "done\n");
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait(std::chrono::seconds(15)).status, 0);
}

// An agent in a network namespace of its own (as a pod is): isolate finds its open connections
// there (the daemon enters the namespace to dump and abort them), so a connection opened before
// the alert, to a server inside the agent's namespace, is cut.
TEST_F(DaemonTest, isolate_cuts_open_connections_in_the_agents_own_network_namespace)
{
  write_file(tmp_ / "profile.yaml",
             read_file(tmp_ / "profile.yaml") +
                 "response:\n  rules: {exfil-credential-then-egress: [isolate]}\n");
  const std::string agent_dir = root_ + "/agent-1";
  const std::string np = netprobe_bin();
  const std::string ps = "9977"; // inside the agent's own namespace: no one else is there
  const std::string write_held = "(echo x >&3) 2>/dev/null && echo held open || echo held cut; ";
  const std::string inner =
      "ip link set lo up; " + np + " listen-hold 127.0.0.1 " + ps +
      " & for i in $(seq 500); do [ \"$(" + np + " tcp 127.0.0.1 " + ps +
      ")\" = ok ] && break; sleep 0.02; done; exec 3<>/dev/tcp/127.0.0.1/" + ps + "; " +
      write_held + "cat " + secret_ + " >/dev/null 2>&1; for i in 1 2 3; do " + np +
      " tcp 127.0.0.2 9 >/dev/null; done; " + wait_step(tmp_ / "go2") + write_held +
      "kill %1";
  Proc daemon({vigil_bin(), "daemon", "--config", tmp_ / "vigil.yaml"});
  ASSERT_TRUE(daemon.wait_for_err("daemon running")) << daemon.err_so_far();
  write_file(tmp_ / "inner.sh", inner);
  auto agent = in_cgroup(agent_dir, tmp_ / "go", "exec unshare --net bash " + (tmp_ / "inner.sh"));
  ASSERT_TRUE(daemon.wait_for_err("confining " + agent_dir)) << daemon.err_so_far();
  write_file(tmp_ / "go", "");
  ASSERT_TRUE(eventually([&] { return !records(alerts_, "response-isolate").empty(); },
                         std::chrono::seconds(30)))
      << read_file(alerts_) << daemon.err_so_far();
  const std::string out = records(alerts_, "response-isolate")[0]["output"];
  EXPECT_NE(out.find(" open connection(s) cut"), std::string::npos) << out;
  EXPECT_EQ(out.find(" 0 open connection(s) cut"), std::string::npos) << out;
  write_file(tmp_ / "go2", "");
  ProcResult r = agent->wait(std::chrono::seconds(30));
  EXPECT_EQ(r.out, "held open\nheld cut\n") << r.err;
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(std::chrono::seconds(15)).status, 0);
}

// Two daemons named the same control socket: the second does not take it over (the first keeps
// answering `vigil resume`), says it cannot be reached, and runs on, enforcing.
TEST_F(DaemonTest, a_control_socket_held_by_another_daemon_is_left_to_it)
{
  const std::string agent_dir = root_ + "/agent-1";
  fs::create_directories(agent_dir);
  Proc first({vigil_bin(), "daemon", "--config", tmp_ / "vigil.yaml"});
  ASSERT_TRUE(first.wait_for_err("confining " + agent_dir)) << first.err_so_far();
  // The second: another pin directory, metrics port and cgroup, the same socket.
  const std::string pins2 = pins_ + "-2";
  const std::string metrics2 = "127.0.0.1:" + std::to_string(free_port());
  write_file(tmp_ / "second.yaml", "profiles: [profile.yaml]\ncgroups:\n  - path: /vigil-test-" +
                                       std::to_string(::getpid()) +
                                       "/other\n    profile: test-agent\nmetrics_address: " +
                                       metrics2 + "\npin_dir: " + pins2 +
                                       "\ncontrol_socket: " + control_ + "\n");
  Proc second({vigil_bin(), "daemon", "--config", tmp_ / "second.yaml"});
  EXPECT_TRUE(second.wait_for_err("daemon running")) << second.err_so_far();
  EXPECT_NE(second.err_so_far().find("no control socket (another daemon listens on " + control_),
            std::string::npos)
      << second.err_so_far();
  // The degraded one says so in its metrics too.
  EXPECT_EQ(metric(http_get(metrics2, "/metrics"), "vigil_control_socket_listening"), 0);
  EXPECT_EQ(metric(http_get(metrics_, "/metrics"), "vigil_control_socket_listening"), 1);
  ProcResult r = run({vigil_bin(), "resume", agent_dir, "--socket", control_});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find(agent_dir + " is not isolated"), std::string::npos) << r.out << r.err;
  second.signal(SIGTERM);
  EXPECT_EQ(second.wait(std::chrono::seconds(15)).status, 0);
  run({vigil_bin(), "unload", "--pin-dir", pins2});
  EXPECT_TRUE(fs::exists(control_)) << "the second daemon removed the first one's socket";
  first.signal(SIGTERM);
  EXPECT_EQ(first.wait(std::chrono::seconds(15)).status, 0);
  EXPECT_FALSE(fs::exists(control_)) << "the first daemon's socket outlived it";
}

// kill in daemon mode: every process of the confined cgroup is gone, children that would outlive
// their parent included, and nothing outside it.
TEST_F(DaemonTest, response_kill_leaves_none_of_the_confined_cgroups_processes)
{
  write_file(tmp_ / "profile.yaml",
             read_file(tmp_ / "profile.yaml") +
                 "response:\n  rules: {exfil-credential-then-egress: [kill]}\n");
  const std::string agent_dir = root_ + "/agent-1";
  const std::string marker = "vg-dkill-" + std::to_string(::getpid());
  Proc outside({"sh", "-c", "exec -a " + marker + "-outside sleep 60"});
  Proc daemon({vigil_bin(), "daemon", "--config", tmp_ / "vigil.yaml"});
  ASSERT_TRUE(daemon.wait_for_err("daemon running")) << daemon.err_so_far();
  auto agent = in_cgroup(agent_dir, tmp_ / "go",
                         "for i in 1 2 3; do (exec -a " + marker + " sleep 60) & done; cat " +
                             secret_ + " >/dev/null 2>&1; for i in 1 2 3; do " + netprobe_bin() +
                             " tcp 127.0.0.2 9 >/dev/null; done; sleep 60; echo survived");
  ASSERT_TRUE(daemon.wait_for_err("confining " + agent_dir)) << daemon.err_so_far();
  write_file(tmp_ / "go", "");
  ProcResult r = agent->wait(std::chrono::seconds(50));
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.out, "") << "the agent outlived the kill";
  ASSERT_TRUE(eventually([&] { return !records(alerts_, "response-kill").empty(); },
                         std::chrono::seconds(10)))
      << read_file(alerts_);
  const auto rec = records(alerts_, "response-kill");
  ASSERT_EQ(rec.size(), 1u) << read_file(alerts_);
  EXPECT_EQ(rec[0]["response"]["result"], "done");
  EXPECT_EQ(rec[0]["response"]["target"], agent_dir);
  EXPECT_NE(rec[0]["output"].get<std::string>().find("killed every process of agent cgroup " +
                                                      agent_dir),
            std::string::npos)
      << rec[0];
  EXPECT_TRUE(eventually([&] { return read_file(agent_dir + "/cgroup.procs").empty(); },
                         std::chrono::seconds(10)))
      << read_file(agent_dir + "/cgroup.procs");
  for (const auto &e : fs::directory_iterator("/proc")) {
    const std::string cmd = read_file(e.path().string() + "/cmdline");
    EXPECT_NE(cmd.substr(0, cmd.find('\0')), marker) << "pid " << e.path() << " survived";
  }
  EXPECT_EQ(::kill(outside.pid(), 0), 0) << "a process outside the agent was killed";
  outside.signal(SIGKILL);
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(std::chrono::seconds(15)).status, 0);
}

// run in daemon mode: the command gets the alert JSON on its stdin exactly once, however many
// alerts of the rule come, and its result is recorded.
TEST_F(DaemonTest, response_run_receives_the_alert_json_exactly_once)
{
  const std::string got = tmp_ / "received.jsonl";
  const std::string hook = tmp_ / "revoke.sh";
  write_file(hook, "#!/bin/sh\ncat >> " + got + "\n");
  ::chmod(hook.c_str(), 0755);
  write_file(tmp_ / "profile.yaml",
             read_file(tmp_ / "profile.yaml") +
                 "response:\n  rules: {exfil-credential-then-egress: [run]}\n  run:\n    "
                 "command: [" +
                 hook + "]\n    timeout: 5s\n");
  const std::string agent_dir = root_ + "/agent-1";
  Proc daemon({vigil_bin(), "daemon", "--config", tmp_ / "vigil.yaml"});
  ASSERT_TRUE(daemon.wait_for_err("daemon running")) << daemon.err_so_far();
  auto agent = in_cgroup(agent_dir, tmp_ / "go",
                         "cat " + secret_ + " >/dev/null 2>&1; for i in 1 2 3 4 5; do " +
                             netprobe_bin() + " tcp 127.0.0.2 9 >/dev/null; done; echo done");
  ASSERT_TRUE(daemon.wait_for_err("confining " + agent_dir)) << daemon.err_so_far();
  write_file(tmp_ / "go", "");
  EXPECT_EQ(agent->wait(std::chrono::seconds(30)).out, "done\n");
  ASSERT_TRUE(eventually([&] { return !records(alerts_, "response-run-result").empty(); },
                         std::chrono::seconds(20)))
      << read_file(alerts_) << daemon.err_so_far();
  // Five sequence alerts at most: wait until the daemon has seen every one of them.
  EXPECT_TRUE(eventually([&] { return records(alerts_, "egress-not-allowed").size() >= 5; },
                         std::chrono::seconds(10)))
      << read_file(alerts_);
  const auto lines = read_json_lines(got);
  ASSERT_EQ(lines.size(), 1u) << read_file(got) << read_file(alerts_);
  EXPECT_EQ(lines[0]["rule"], "exfil-credential-then-egress");
  EXPECT_EQ(lines[0]["destination"]["ip"], "127.0.0.2");
  EXPECT_EQ(lines[0]["cgroup"], "/vigil-test-" + std::to_string(::getpid()) + "/agent-1");
  EXPECT_EQ(records(alerts_, "response-run").size(), 1u) << read_file(alerts_);
  const auto result = records(alerts_, "response-run-result");
  ASSERT_EQ(result.size(), 1u) << read_file(alerts_);
  EXPECT_EQ(result[0]["response"]["result"], "done");
  EXPECT_NE(result[0]["output"].get<std::string>().find(hook + " exited 0"), std::string::npos)
      << result[0];
  EXPECT_TRUE(eventually(
      [&] {
        return metric(http_get(metrics_, "/metrics"),
                      R"(vigil_response_actions_total{action="run",profile="test-agent",)"
                      R"(result="done"})") == 1;
      },
      std::chrono::seconds(10)))
      << http_get(metrics_, "/metrics");
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(std::chrono::seconds(15)).status, 0);
}

// freeze_timeout: the daemon thaws the agent by itself once the timeout runs out (response-thaw),
// and not before. The test waits on the kernel's own state (cgroup.events), not on a clock.
TEST_F(DaemonTest, freeze_timeout_thaws_the_agent_by_itself)
{
  write_file(tmp_ / "profile.yaml",
             read_file(tmp_ / "profile.yaml") +
                 "response:\n  rules: {exfil-credential-then-egress: [freeze]}\n"
                 "  freeze_timeout: 2s\n");
  const std::string agent_dir = root_ + "/agent-1";
  const std::string ticks = tmp_ / "ticks";
  Proc daemon({vigil_bin(), "daemon", "--config", tmp_ / "vigil.yaml"});
  ASSERT_TRUE(daemon.wait_for_err("daemon running")) << daemon.err_so_far();
  auto agent = in_cgroup(agent_dir, tmp_ / "go",
                         "cat " + secret_ + " >/dev/null 2>&1; " + netprobe_bin() +
                             " tcp 127.0.0.2 9 >/dev/null; n=0; while [ ! -e " + (tmp_ / "stop") +
                             " ]; do n=$((n+1)); echo $n > " + ticks +
                             "; sleep 0.02; done; echo done");
  ASSERT_TRUE(daemon.wait_for_err("confining " + agent_dir)) << daemon.err_so_far();
  write_file(tmp_ / "go", "");
  ASSERT_TRUE(eventually([&] { return !records(alerts_, "response-freeze").empty(); },
                         std::chrono::seconds(30)))
      << read_file(alerts_) << daemon.err_so_far();
  const auto froze = records(alerts_, "response-freeze");
  EXPECT_NE(froze[0]["output"].get<std::string>().find("or for 2s"), std::string::npos) << froze[0];
  // Thawed by the daemon: the kernel says so, the agent runs again, and the thaw is recorded.
  EXPECT_TRUE(eventually(
      [&] {
        return !records(alerts_, "response-thaw").empty() &&
               read_file(agent_dir + "/cgroup.events").find("frozen 0") != std::string::npos;
      },
      std::chrono::seconds(20)))
      << read_file(agent_dir + "/cgroup.events") << read_file(alerts_);
  const std::string t0 = read_file(ticks);
  EXPECT_TRUE(eventually([&] { return read_file(ticks) != t0; }, std::chrono::seconds(10)))
      << "the agent did not run again after the thaw";
  const auto thaw = records(alerts_, "response-thaw");
  ASSERT_EQ(thaw.size(), 1u) << read_file(alerts_);
  EXPECT_EQ(thaw[0]["response"]["action"], "thaw");
  EXPECT_EQ(thaw[0]["response"]["result"], "done");
  EXPECT_EQ(thaw[0]["response"]["target"], agent_dir);
  // Not before its time: the records' clocks are 2 s apart at least.
  const auto at = [](const nlohmann::json &j) {
    return report_time(j["time"].get<std::string>());
  };
  EXPECT_GE(at(thaw[0]) - at(froze[0]), 1'900'000'000) << froze[0] << thaw[0];
  write_file(tmp_ / "stop", "");
  EXPECT_EQ(agent->wait(std::chrono::seconds(30)).out, "done\n");
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(std::chrono::seconds(15)).status, 0);
}

} // namespace
} // namespace vigil::test
