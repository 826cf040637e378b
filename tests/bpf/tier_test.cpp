// SPDX-License-Identifier: Apache-2.0
// Tier selection at start on this host: what run says it enforces, the metric that says it, and
// a profile whose requirement this kernel cannot meet.
#include <gtest/gtest.h>

#include <thread>

#include "harness.h"

namespace vigil::test {
namespace {

TEST(TierTest, run_logs_and_exports_the_tiers_in_force)
{
  VG_REQUIRE_ROOT();
  const std::string addr = "127.0.0.1:" + std::to_string(free_port());
  Proc vigil({vigil_bin(), "run", "-v", "--metrics-address", addr, "--", "sleep", "2"});
  ASSERT_TRUE(vigil.wait_for_err("confines cgroup")) << vigil.err_so_far();
  const std::string err = vigil.err_so_far();
  EXPECT_NE(err.find("file enforcement: fanotify (lsm tier unavailable: EPERM"), std::string::npos)
      << err;
  EXPECT_NE(err.find("network enforcement: cgroup (lsm tier unavailable: EPERM"),
            std::string::npos)
      << err;
  const std::string m = http_get(addr, "/metrics");
  EXPECT_NE(m.find("vigil_enforcement_tier{kind=\"file\",tier=\"fanotify\"} 1"), std::string::npos)
      << m;
  EXPECT_NE(m.find("vigil_enforcement_tier{kind=\"network\",tier=\"cgroup\"} 1"),
            std::string::npos)
      << m;
  EXPECT_EQ(vigil.wait().status, 0);
}

TEST(TierTest, profile_requiring_lsm_is_refused_with_exit_code_3)
{
  VG_REQUIRE_ROOT();
  TempDir tmp;
  write_file(tmp / "p.yaml", "profile: strict\nrequire: lsm\n");
  ProcResult r = run({vigil_bin(), "run", "--profile", tmp / "p.yaml", "--", "true"});
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_NE(r.err.find("profile 'strict' requires 'lsm' enforcement, which this kernel cannot "
                       "give: files get tier fanotify"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("the network gets tier cgroup"), std::string::npos) << r.err;
}

TEST(TierTest, profile_requiring_enforcement_starts_where_fallbacks_enforce)
{
  VG_REQUIRE_ROOT();
  TempDir tmp;
  write_file(tmp / "p.yaml", "profile: strict\nrequire: enforce\n");
  ProcResult r = run({vigil_bin(), "run", "--profile", tmp / "p.yaml", "--", "true"});
  EXPECT_EQ(r.status, 0) << r.err;
}

TEST(TierTest, monitor_only_observes_alerts_and_says_loudly_nothing_is_enforced)
{
  VG_REQUIRE_ROOT();
  TempDir tmp;
  write_file(tmp / "home/.aws/credentials", "secret-creds\n");
  const std::string alerts = tmp / "alerts.jsonl";
  ProcResult r = run({vigil_bin(), "run", "--max-tier", "monitor", "--alerts-json", alerts, "--",
                      "bash", "-c",
                      "cat ~/.aws/credentials; (exec 3<>/dev/tcp/127.0.0.2/9) 2>/dev/null; true"},
                     {"HOME=" + tmp.path() + "/home"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("secret-creds"), std::string::npos) << "monitor-only must not block";
  EXPECT_NE(r.err.find("NOTHING IS ENFORCED FOR FILES"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("NOTHING IS ENFORCED FOR THE NETWORK"), std::string::npos) << r.err;
  auto list = read_json_lines(alerts);
  ASSERT_EQ(list.size(), 3u) << read_file(alerts);
  for (const auto &a : list) {
    EXPECT_EQ(a["verdict"], "observed") << a.dump();
    EXPECT_EQ(a["tier"], "none") << a.dump();
  }
  EXPECT_EQ(list[0]["rule"], "cred-aws");
  EXPECT_EQ(list[1]["rule"], "egress-not-allowed");
  EXPECT_EQ(list[2]["rule"], "exfil-credential-then-egress") << "read, then connect: both seen";
  EXPECT_EQ(list[1]["result_name"], "ECONNREFUSED") << "the connect really happened";
}

TEST(TierTest, monitor_only_refuses_a_profile_that_requires_enforcement)
{
  VG_REQUIRE_ROOT();
  TempDir tmp;
  write_file(tmp / "p.yaml", "profile: strict\nrequire: enforce\n");
  ProcResult r = run({vigil_bin(), "run", "--max-tier", "monitor", "--profile", tmp / "p.yaml",
                      "--", "true"});
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_NE(r.err.find("requires 'enforce' enforcement"), std::string::npos) << r.err;
}

} // namespace
} // namespace vigil::test
