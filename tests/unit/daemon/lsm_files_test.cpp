// SPDX-License-Identifier: Apache-2.0
// Credential patterns -> the LSM tier's inode rules and name patterns, over a temp home.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <filesystem>
#include <fstream>

#include "daemon/lsm_files.h"

namespace vigil::daemon {
namespace {

namespace fs = std::filesystem;

class LsmFiles : public ::testing::Test {
protected:
  void SetUp() override
  {
    home_ = (fs::temp_directory_path() / ("vg-lsmfiles-" + std::to_string(::getpid()))).string();
    fs::create_directories(home_ + "/.aws");
    fs::create_directories(home_ + "/.ssh");
    fs::create_directories(home_ + "/.config/gcloud/sub");
    std::ofstream(home_ + "/.aws/credentials") << "x";
  }
  void TearDown() override { fs::remove_all(home_); }

  const vg_file_rule *rule_for(const LsmFileRules &r, const std::string &path)
  {
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0)
      return nullptr;
    for (const auto &[k, v] : r.inodes)
      if (k.ino == st.st_ino && k.dev == ((major(st.st_dev) << 20) | minor(st.st_dev)))
        return &v;
    return nullptr;
  }
  LsmFileRules compile(const std::string &yaml)
  {
    auto p = policy::parse_profile(yaml, "t.yaml");
    EXPECT_TRUE(p) << (p ? "" : p.error().message());
    return compile_lsm_files({{1, *p}}, {home_});
  }

  std::string home_;
};

TEST_F(LsmFiles, a_literal_protects_its_inode_and_its_name_in_the_parent)
{
  auto r = compile("profile: p\ncredentials:\n  paths: [~/.aws/credentials]\n");
  const vg_file_rule *file = rule_for(r, home_ + "/.aws/credentials");
  const vg_file_rule *dir = rule_for(r, home_ + "/.aws");
  ASSERT_TRUE(file && dir);
  EXPECT_TRUE(file->flags & VG_FILE_SELF);
  EXPECT_TRUE(dir->flags & VG_FILE_CHILDREN) << "a replacement by rename keeps the name";
  ASSERT_EQ(r.names.size(), 1u);
  EXPECT_EQ(r.names[0].group, dir->name_pat);
  EXPECT_EQ(r.names[0].whole, 1);
  EXPECT_EQ(std::string(r.names[0].prefix, r.names[0].prefix_len), "credentials");
  EXPECT_EQ(r.names[0].anywhere, 0);
}

TEST_F(LsmFiles, globs_subtrees_and_basenames_become_the_right_rules)
{
  auto r = compile("profile: p\ncredentials:\n  paths: [~/.ssh/id_*, ~/.config/gcloud/**, "
                   "\"*.key\", .env, \"a?c\", ~/x/*/y]\n");
  const vg_file_rule *ssh = rule_for(r, home_ + "/.ssh");
  ASSERT_TRUE(ssh);
  EXPECT_TRUE(ssh->flags & VG_FILE_CHILDREN);
  const vg_file_rule *gcloud = rule_for(r, home_ + "/.config/gcloud");
  ASSERT_TRUE(gcloud);
  EXPECT_TRUE(gcloud->flags & VG_FILE_SUBTREE);
  int anywhere = 0;
  for (const auto &n : r.names)
    anywhere += n.anywhere;
  EXPECT_EQ(anywhere, 2) << "*.key and .env";
  EXPECT_EQ(r.unsupported, (std::vector<std::string>{"a?c", "~/x/*/y"}));
}

TEST_F(LsmFiles, ipc_allow_names_existing_sockets_only)
{
  std::ofstream(home_ + "/agent.sock") << "";
  auto r = compile("profile: p\nipc:\n  allow: [~/agent.sock, /nonexistent/sock]\n");
  ASSERT_EQ(r.ipc_allow.size(), 1u);
  EXPECT_EQ(r.ipc_allow[0].profile_id, 1u);
}

} // namespace
} // namespace vigil::daemon
