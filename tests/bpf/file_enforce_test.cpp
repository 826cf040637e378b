// SPDX-License-Identifier: Apache-2.0
// File enforcement through vigil run on this host (fanotify tier): every way to the same inode
// is denied with EPERM and one alert naming the real file; audit mode lets it through as
// would-deny; outside the agent cgroup everything reads.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "harness.h"

namespace vigil::test {
namespace {

namespace fs = std::filesystem;

class FileEnforceTest : public ::testing::Test {
protected:
  void SetUp() override
  {
    VG_REQUIRE_ROOT();
    home_ = tmp_ / "home";
    creds_ = home_ + "/.aws/credentials";
    key_ = home_ + "/.ssh/id_ed25519";
    write_file(creds_, "secret-creds\n");
    write_file(key_, "secret-key\n");
    write_file(home_ + "/.ssh/known_hosts", "public\n");
    alerts_ = tmp_ / "alerts.jsonl";
  }
  ProcResult agent(const std::string &script, const std::string &profile = "")
  {
    std::vector<std::string> argv{vigil_bin(), "run", "--alerts-json", alerts_};
    if (!profile.empty()) {
      argv.push_back("--profile");
      argv.push_back(profile);
    }
    for (const char *a : {"--", "sh", "-c"})
      argv.push_back(a);
    argv.push_back(script);
    return run(argv, {"HOME=" + home_});
  }
  // "cat F 2>/dev/null || echo denied:F" for each file, so stdout tells what was read.
  static std::string cats(const std::vector<std::string> &files)
  {
    std::string s;
    for (const auto &f : files)
      s += "cat '" + f + "' 2>/dev/null || echo 'denied:" + f + "'; ";
    return s + "true";
  }

  TempDir tmp_;
  std::string home_, creds_, key_, alerts_;
};

TEST_F(FileEnforceTest, hardlink_bind_mount_and_dir_glob_are_all_denied)
{
  const std::string link = home_ + "/innocent.txt";
  fs::create_hard_link(creds_, link);
  const std::string bind = tmp_ / "bind";
  fs::create_directories(bind);
  // A private mount namespace: the agent tries to bind-mount the protected directory elsewhere.
  // The launch took CAP_SYS_ADMIN away, so it would do that in a user namespace of its own,
  // which the launch refuses too (launch.nested_namespaces: deny), with an alert.
  const std::string script = "unshare -Urm sh -c \"mount --bind " + home_ + "/.aws " + bind +
                             " && " + cats({bind + "/credentials"}) + "\"; " +
                             cats({link, key_, home_ + "/.ssh/known_hosts"});
  ProcResult r = agent(script);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("denied:" + link), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("denied:" + key_), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("public"), std::string::npos) << "known_hosts is not protected: " << r.out;
  EXPECT_EQ(r.out.find("secret"), std::string::npos) << r.out;
  std::vector<nlohmann::json> list;
  int namespaces = 0;
  for (auto &a : read_json_lines(alerts_)) {
    if (a["rule"] == "vigil-launch-namespace")
      ++namespaces;
    else
      list.push_back(a);
  }
  EXPECT_EQ(namespaces, 1) << "unshare -Urm\n" << read_file(alerts_);
  ASSERT_EQ(list.size(), 2u) << read_file(alerts_);
  EXPECT_EQ(list[0]["path"], creds_) << "the hardlink is reported as the real file";
  EXPECT_EQ(list[1]["path"], key_);
  for (const auto &a : list) {
    EXPECT_EQ(a["tier"], expected_file_tier());
    EXPECT_EQ(a["verdict"], "denied");
  }
}

TEST_F(FileEnforceTest, a_key_created_after_start_and_a_replaced_file_are_denied)
{
  // The agent waits until vigil guards, then the test replaces the credentials file by rename
  // (as editors and CLIs do) and writes a new key into the protected directory. The fanotify
  // tier re-marks on inotify within milliseconds; the agent gives it 1.5 s of slack for a
  // loaded CI machine (the lsm tier needs none: the parent's name rule covers the new inode).
  const std::string go = tmp_ / "go";
  Proc vigil({vigil_bin(), "run", "--alerts-json", alerts_, "--", "sh", "-c",
              "while [ ! -e " + go + " ]; do sleep 0.05; done; sleep 1.5; " +
                  cats({creds_, home_ + "/.ssh/id_new"})},
             {"HOME=" + home_});
  ASSERT_TRUE(vigil.wait_for_err("confines cgroup")) << vigil.err_so_far();
  write_file(home_ + "/.aws/credentials.tmp", "secret-rotated\n");
  fs::rename(home_ + "/.aws/credentials.tmp", creds_);
  write_file(home_ + "/.ssh/id_new", "secret-new-key\n");
  write_file(go, "");
  ProcResult r = vigil.wait();
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.find("secret"), std::string::npos) << r.out;
  EXPECT_EQ(read_json_lines(alerts_).size(), 2u) << read_file(alerts_);
}

TEST_F(FileEnforceTest, audit_mode_allows_and_reports_would_deny)
{
  const std::string profile = tmp_ / "audit.yaml";
  write_file(profile, "profile: audit-agent\nmode: audit\ncredentials:\n  paths: [~/.aws/credentials]\n");
  ProcResult r = agent(cats({creds_}), profile);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("secret-creds"), std::string::npos) << r.out;
  auto list = read_json_lines(alerts_);
  ASSERT_EQ(list.size(), 1u) << read_file(alerts_);
  EXPECT_EQ(list[0]["verdict"], "would-deny");
  EXPECT_EQ(list[0]["tier"], expected_file_tier());
  EXPECT_EQ(list[0]["path"], creds_);
}

TEST_F(FileEnforceTest, outside_the_agent_cgroup_everything_reads)
{
  Proc vigil({vigil_bin(), "run", "--alerts-json", alerts_, "--", "sleep", "3"},
             {"HOME=" + home_});
  ASSERT_TRUE(vigil.wait_for_err("confines cgroup")) << vigil.err_so_far();
  ProcResult r = run({"sh", "-c", cats({creds_, key_})});
  EXPECT_NE(r.out.find("secret-creds"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("secret-key"), std::string::npos) << r.out;
  EXPECT_EQ(vigil.wait().status, 0);
  EXPECT_EQ(read_json_lines(alerts_).size(), 0u) << read_file(alerts_);
}

TEST_F(FileEnforceTest, every_syscall_path_to_the_inode_is_denied)
{
  // fanotify permission events and the file_open hook both sit below the syscalls: openat2
  // reaches them like open(2) does. open_by_handle_at would too, but `vigil run` refuses it
  // earlier (no CAP_DAC_READ_SEARCH, and seccomp, which raises vigil-launch-tamper), and so it
  // refuses io_uring_setup (its rings would make the persistence gate's calls past the filter).
  std::string script;
  for (const char *op : {"open", "openat2", "handle", "uring"})
    script += std::string(fileprobe_bin()) + " " + op + " '" + creds_ + "'; ";
  ProcResult r = agent(script + "true");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "EPERM\nEPERM\nEPERM\nEPERM\n") << r.err;
  std::vector<nlohmann::json> list, tamper, uring;
  for (auto &a : read_json_lines(alerts_))
    (a["rule"] == "vigil-launch-tamper"       ? tamper
     : a["rule"] == "vigil-launch-io-uring" ? uring
                                              : list)
        .push_back(a);
  ASSERT_EQ(tamper.size(), 1u) << read_file(alerts_);
  EXPECT_NE(tamper[0]["output"].get<std::string>().find("open_by_handle_at"), std::string::npos);
  EXPECT_EQ(uring.size(), 1u) << read_file(alerts_);
  ASSERT_EQ(list.size(), 2u) << read_file(alerts_);
  for (const auto &a : list) {
    EXPECT_EQ(a["path"], creds_);
    EXPECT_EQ(a["tier"], expected_file_tier());
  }
}

// Basename patterns of the shipped profile ("*.key", "id_rsa*", "privkey*.pem", ".env",
// "credentials.json") at the lengths where a match starts or stops: the shortest name a
// pattern takes, one byte short of it, one byte past an exact name, and 255-byte names whose
// suffix ends where a name can end. BPF LSM compares them a word at a time (masks by length),
// the fanotify tier in userspace: both must draw the same line.
TEST_F(FileEnforceTest, basename_patterns_hold_at_every_length)
{
  const std::string dir = tmp_ / "project";
  const std::string longest_key = std::string(251, 'a') + ".key";
  const std::string longest_rsa = "id_rsa" + std::string(249, 'b');
  const std::vector<std::string> denied{
      ".key",  "x.key",          longest_key,        "id_rsa",         longest_rsa,
      ".env",  "privkey.pem",    "privkey-extra.pem", "credentials.json"};
  const std::vector<std::string> allowed{
      "key",   std::string(251, 'a') + ".kez", "x.keyx", "id_rs", "xid_rsa", ".en", ".envx",
      "privkey.pe", "rivkey.pem", "credentials.jso", "credentials.jsonx"};
  std::string script;
  for (const auto *names : {&denied, &allowed})
    for (const auto &name : *names) {
      ASSERT_LE(name.size(), 255u);
      write_file(dir + "/" + name, "content\n");
      script += std::string(fileprobe_bin()) + " open '" + dir + "/" + name + "'; ";
    }
  ProcResult r = agent(script + "true");
  ASSERT_EQ(r.status, 0) << r.err;
  std::string want;
  for (size_t i = 0; i < denied.size(); ++i)
    want += "EPERM\n";
  for (size_t i = 0; i < allowed.size(); ++i)
    want += "ok:content\n";
  EXPECT_EQ(r.out, want) << r.err;
  std::set<std::string> alerted;
  for (auto &a : read_json_lines(alerts_)) {
    EXPECT_EQ(a["tier"], expected_file_tier()) << a.dump();
    alerted.insert(fs::path(a["path"].get<std::string>()).filename().string());
  }
  EXPECT_EQ(alerted, std::set<std::string>(denied.begin(), denied.end())) << read_file(alerts_);
}

} // namespace
} // namespace vigil::test
