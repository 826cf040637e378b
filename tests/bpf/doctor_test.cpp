// SPDX-License-Identifier: Apache-2.0
// `vigil doctor` on this host's kernel (6.18, which refuses trampoline programs with EPERM): the
// probes report what was checked by hand, the tiers follow, and nothing is left behind.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "harness.h"

namespace vigil::test {
namespace {

namespace fs = std::filesystem;

// Names of the BPF objects of one kind ("prog" or "map") currently in the kernel.
std::vector<std::string> bpf_object_names(const std::string &kind)
{
  ProcResult r = run({"bpftool", "-j", kind, "show"});
  std::vector<std::string> names;
  if (r.status != 0)
    return names;
  for (const auto &obj : nlohmann::json::parse(r.out, nullptr, false))
    if (obj.contains("name"))
      names.push_back(obj["name"].get<std::string>());
  return names;
}

// The probes' own objects (vg_probe_lsm, vg_probe_conn4, vg_probe_rb, ...) still in the kernel.
std::vector<std::string> leftover_probe_objects()
{
  std::vector<std::string> left;
  for (const char *kind : {"prog", "map"})
    for (const auto &name : bpf_object_names(kind))
      if (name.rfind("vg_probe", 0) == 0)
        left.push_back(std::string(kind) + " " + name);
  return left;
}

std::vector<std::string> probe_cgroups(const std::string &mount)
{
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto &e : fs::directory_iterator(mount + "/vigil", ec))
    if (e.path().filename().string().rfind("probe-", 0) == 0)
      found.push_back(e.path().string());
  return found;
}

class DoctorTest : public ::testing::Test {
protected:
  void SetUp() override { VG_REQUIRE_ROOT(); }
};

TEST_F(DoctorTest, json_reports_this_hosts_probes_and_tiers)
{
  const auto start = std::chrono::steady_clock::now();
  ProcResult r = run({vigil_bin(), "doctor", "--json"});
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_LT(took, std::chrono::seconds(5)) << "probing should take well under a second";
  const nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;

  for (const char *key : {"kernel", "btf", "cgroup2", "bpffs", "lsm_list", "bpf_lsm", "lsm_prog",
                          "lsm_cgroup", "cgroup_sock_addr", "cgroup_skb", "ringbuf", "bpf_loop",
                          "fanotify_perm"}) {
    ASSERT_TRUE(j.contains(key)) << key << " missing in " << r.out;
    EXPECT_TRUE(j[key]["ok"].is_boolean()) << key;
    EXPECT_TRUE(j[key]["detail"].is_string()) << key;
    EXPECT_FALSE(j[key]["detail"].get<std::string>().empty()) << key << ": empty detail";
  }
  for (const char *key : {"kernel", "btf", "cgroup2", "ringbuf", "cgroup_sock_addr", "cgroup_skb",
                          "bpf_loop", "fanotify_perm"})
    EXPECT_TRUE(j[key]["ok"].get<bool>()) << key << ": " << j[key]["detail"];
  EXPECT_EQ(j["cgroup2"]["detail"], cgroup2_mount());

  EXPECT_FALSE(j["lsm_prog"]["ok"].get<bool>()) << "this kernel refuses lsm/ programs";
  EXPECT_NE(j["lsm_prog"]["detail"].get<std::string>().find("EPERM"), std::string::npos)
      << j["lsm_prog"]["detail"];
  EXPECT_FALSE(j["lsm_cgroup"]["ok"].get<bool>()) << "lsm_cgroup programs are trampolines too";

  EXPECT_EQ(j["tiers"]["file"]["tier"], "fanotify");
  EXPECT_EQ(j["tiers"]["network"]["tier"], "cgroup");
  EXPECT_TRUE(j["inbound"]["enforced"].get<bool>()) << j["inbound"];
  EXPECT_NE(j["inbound"]["detail"].get<std::string>().find("cgroup_skb/ingress"), std::string::npos)
      << j["inbound"];
  // Per attempt class, for vigil run and daemon mode, as this kernel (tier 2) serves it.
  for (const char *attempt :
       {"credential_by_name", "renamed_directory", "basename_pattern", "hard_link", "foreign_fifo",
        "unix_socket", "inbound_connection", "foreign_process_memory", "raw_socket",
        "nested_namespace", "persistence_write", "io_uring"}) {
    ASSERT_TRUE(j["confinement"].contains(attempt)) << attempt << " missing in " << r.out;
    EXPECT_FALSE(j["confinement"][attempt]["vigil_run"].get<std::string>().empty()) << attempt;
    EXPECT_FALSE(j["confinement"][attempt]["daemon"].get<std::string>().empty()) << attempt;
  }
  EXPECT_NE(j["confinement"]["persistence_write"]["vigil_run"].get<std::string>().find(
                "launch filter's persistence gate"),
            std::string::npos)
      << j["confinement"]["persistence_write"];
  EXPECT_NE(j["confinement"]["basename_pattern"]["vigil_run"].get<std::string>().find("refused"),
            std::string::npos)
      << j["confinement"]["basename_pattern"];
  EXPECT_NE(j["confinement"]["basename_pattern"]["daemon"].get<std::string>().find("not refused"),
            std::string::npos)
      << j["confinement"]["basename_pattern"];
  for (const char *kind : {"file", "network"}) {
    const std::string reason = j["tiers"][kind]["reason"].get<std::string>();
    EXPECT_NE(reason.find("lsm tier unavailable"), std::string::npos) << kind << ": " << reason;
    EXPECT_NE(reason.find("EPERM"), std::string::npos) << kind << ": " << reason;
  }
}

TEST_F(DoctorTest, text_report_ends_with_the_two_tier_lines)
{
  ProcResult r = run({vigil_bin(), "doctor"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("\nfile enforcement: tier fanotify (lsm tier unavailable: EPERM"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\nnetwork enforcement: tier cgroup (lsm tier unavailable: EPERM"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("missing  lsm_prog"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ok       fanotify_perm"), std::string::npos) << r.out;
}

TEST_F(DoctorTest, leaves_no_program_map_or_cgroup_behind)
{
  const std::string mount = cgroup2_mount();
  ASSERT_FALSE(mount.empty());
  ASSERT_TRUE(leftover_probe_objects().empty()) << "left by an earlier run";
  const bool had_vigil_dir = fs::exists(mount + "/vigil");

  ProcResult r = run({vigil_bin(), "doctor"});
  ASSERT_EQ(r.status, 0) << r.err;

  // Closing the last fd frees a program at once, but give deferred frees a moment.
  std::vector<std::string> left = leftover_probe_objects();
  for (int i = 0; i < 50 && !left.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    left = leftover_probe_objects();
  }
  EXPECT_TRUE(left.empty()) << ::testing::PrintToString(left);
  EXPECT_TRUE(probe_cgroups(mount).empty()) << ::testing::PrintToString(probe_cgroups(mount));
  EXPECT_EQ(fs::exists(mount + "/vigil"), had_vigil_dir) << "the probe's parent cgroup";
  const std::string tree_after = run({"bpftool", "cgroup", "tree", mount}).out;
  EXPECT_EQ(tree_after.find("vg_probe"), std::string::npos) << tree_after;
}

TEST_F(DoctorTest, unprivileged_run_fails_with_a_clear_message)
{
  for (bool json : {false, true}) {
    std::vector<std::string> argv{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                  "--inh-caps=-all", vigil_bin(), "doctor"};
    if (json)
      argv.push_back("--json");
    ProcResult r = run(argv);
    EXPECT_EQ(r.status, 1) << r.out << r.err;
    EXPECT_TRUE(r.out.empty()) << "no report without probes: " << r.out;
    EXPECT_NE(r.err.find("vigil needs root, or the capabilities CAP_BPF, CAP_PERFMON and "
                         "CAP_SYS_ADMIN"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("effective uid 65534"), std::string::npos) << r.err;
  }
}

} // namespace
} // namespace vigil::test

namespace vigil::test {
namespace {

// The response actions this kernel can carry out: this host (6.18) has them all.
TEST(DoctorResponse, json_says_which_response_actions_this_kernel_supports)
{
  VG_REQUIRE_ROOT();
  ProcResult r = run({vigil_bin(), "doctor", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.contains("response")) << r.out;
  EXPECT_TRUE(j["response"]["freeze"].get<bool>()) << j["response"];
  EXPECT_TRUE(j["response"]["kill"].get<bool>()) << j["response"];
  EXPECT_EQ(j["response"]["isolate"].get<bool>(), j["tiers"]["network"]["tier"] != "monitor");
  // Whether isolate also cuts open connections, and the line says which.
  ASSERT_TRUE(j["response"]["cut_connections"].is_boolean()) << j["response"];
  EXPECT_NE(j["response"]["detail"].get<std::string>().find(
                j["response"]["cut_connections"].get<bool>() ? "open connections cut by SOCK_DESTROY"
                                                             : "open connections stay up"),
            std::string::npos)
      << j["response"];
  ProcResult t = run({vigil_bin(), "doctor"});
  EXPECT_NE(t.out.find("response actions: freeze ok"), std::string::npos) << t.out;
}

} // namespace
} // namespace vigil::test
