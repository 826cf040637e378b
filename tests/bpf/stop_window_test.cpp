// SPDX-License-Identifier: Apache-2.0
// A daemon's stop: the fanotify file guard keeps deciding until the engine is destroyed, after the
// event queue closed and the worker made its last vigil-reports-lost check.
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "harness.h"

namespace vigil::test {
namespace {

namespace fs = std::filesystem;

// Every open the guard refuses is alerted, or counted in vigil-reports-lost: also those refused
// while the daemon stops (its sinks drain for up to 3 s; a webhook that does not answer takes
// all of it).
TEST(StopWindow, denials_while_the_daemon_stops_are_alerted_or_counted)
{
  VG_REQUIRE_ROOT();
  if (expected_file_tier() != "fanotify")
    GTEST_SKIP() << "the file tier here is " << expected_file_tier();
  TempDir tmp;
  const std::string root = cgroup2_mount() + "/vigil-stop-" + std::to_string(::getpid());
  const std::string agent = root + "/agent-1";
  const std::string pins = "/sys/fs/bpf/vigil-stop-" + std::to_string(::getpid());
  fs::create_directories(agent);
  write_file(tmp / "secret.pem", "-----BEGIN PRIVATE KEY-----\n");
  write_file(tmp / "profile.yaml", "profile: test-agent\ncredentials:\n  paths:\n    - " +
                                       (tmp / "secret.pem") + "\n");
  const std::string alerts = tmp / "alerts.jsonl";
  write_file(tmp / "vigil.yaml",
             "profiles: [profile.yaml]\ncgroups:\n  - path: /vigil-stop-" +
                 std::to_string(::getpid()) + "/agent-*\n    profile: test-agent\nalerts_json: " +
                 alerts + "\nmetrics_address: 127.0.0.1:" + std::to_string(free_port()) +
                 "\nrescan_ms: 100\npin_dir: " + pins + "\ncontrol_socket: " +
                 (tmp / "control.sock") +
                 "\noutputs:\n  webhook: http://10.255.255.1:9/hook\n");
  Proc daemon({vigil_bin(), "daemon", "--config", tmp / "vigil.yaml"});
  ASSERT_TRUE(daemon.wait_for_err("confining " + agent)) << daemon.err_so_far();
  const std::string log = tmp / "loop.out";
  Proc loop({"sh", "-c",
             "echo $$ > " + agent + "/cgroup.procs; while true; do if cat " + (tmp / "secret.pem") +
                 " >/dev/null 2>&1; then echo ok; else echo denied; fi; sleep 0.01; done > " +
                 log});
  // The stop comes while the loop is being refused.
  for (int i = 0; i < 200 && read_file(log).find("denied") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_NE(read_file(log).find("denied"), std::string::npos) << read_file(log);
  daemon.signal(SIGTERM);
  daemon.wait();
  loop.signal(SIGKILL);
  loop.wait();
  size_t denied = 0, alerted = 0, lost = 0;
  for (size_t at = 0, next; (next = read_file(log).find("denied", at)) != std::string::npos;
       at = next + 1)
    ++denied;
  for (const auto &a : read_json_lines(alerts)) {
    alerted += a["rule"] == "credential-read";
    lost += a["rule"] == "vigil-reports-lost";
  }
  EXPECT_TRUE(alerted >= denied || lost > 0)
      << denied << " opens refused, " << alerted << " alerted, no vigil-reports-lost";
  run({vigil_bin(), "unload", "--pin-dir", pins});
  std::error_code ec;
  fs::remove(agent, ec);
  fs::remove(root, ec);
}

} // namespace
} // namespace vigil::test
