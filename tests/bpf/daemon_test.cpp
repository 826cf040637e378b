// SPDX-License-Identifier: Apache-2.0
// `vigil daemon` end to end: cgroups selected by glob, picked up while running, released when
// they go away; processes in other cgroups are not watched.
#include <gtest/gtest.h>

#include <filesystem>
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
    write_file(tmp_ / "vigil.yaml", "profiles: [profile.yaml]\ncgroups:\n  - path: /vigil-test-" +
                                        std::to_string(::getpid()) +
                                        "/agent-*\n    profile: test-agent\nalerts_json: " +
                                        alerts_ + "\nmetrics_address: " + metrics_ +
                                        "\nrescan_ms: 100\n");
    fs::create_directories(root_);
  }
  void TearDown() override
  {
    if (root_.empty())
      return;
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
  std::string root_, secret_, alerts_, metrics_;
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

TEST_F(DaemonTest, config_naming_an_unknown_profile_is_refused)
{
  write_file(tmp_ / "bad.yaml",
             "profiles: [profile.yaml]\ncgroups:\n  - path: /x/*\n    profile: nope\n");
  ProcResult r = run({vigil_bin(), "daemon", "--config", tmp_ / "bad.yaml"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("'nope'"), std::string::npos) << r.err;
}

} // namespace
} // namespace vigil::test
