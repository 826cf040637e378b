// SPDX-License-Identifier: Apache-2.0
// Credential patterns -> the LSM tier's inode rules and name patterns, over a temp home.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <filesystem>
#include <fstream>
#include <set>

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

TEST_F(LsmFiles, files_a_glob_or_subtree_matches_are_keyed_by_identity)
{
  std::ofstream(home_ + "/.ssh/id_ed25519") << "k";
  std::ofstream(home_ + "/.ssh/known_hosts") << "h";
  std::ofstream(home_ + "/.config/gcloud/sub/adc.json") << "c";
  auto r = compile("profile: p\ncredentials:\n  paths: [~/.ssh/id_*, ~/.config/gcloud/**]\n");
  const vg_file_rule *key = rule_for(r, home_ + "/.ssh/id_ed25519");
  ASSERT_TRUE(key) << "a hard link or a moved copy must still be the key";
  EXPECT_TRUE(key->flags & VG_FILE_SELF);
  const vg_file_rule *adc = rule_for(r, home_ + "/.config/gcloud/sub/adc.json");
  ASSERT_TRUE(adc);
  EXPECT_TRUE(adc->flags & VG_FILE_SELF);
  EXPECT_FALSE(rule_for(r, home_ + "/.ssh/known_hosts")) << "not matched by id_*";
  EXPECT_FALSE(r.expanded_full);
}

// Every home's ~/.ssh has the same child patterns: one group serves them all, so the 128-slot
// name table does not overflow with the number of users (it did at about 8 homes).
TEST_F(LsmFiles, the_name_table_does_not_grow_with_the_number_of_homes)
{
  std::vector<std::string> homes;
  for (int i = 0; i < 50; ++i) {
    const std::string h = home_ + "/u" + std::to_string(i);
    fs::create_directories(h + "/.ssh");
    fs::create_directories(h + "/.aws");
    std::ofstream(h + "/.aws/credentials") << "x";
    homes.push_back(h);
  }
  auto p = policy::parse_profile(
      "profile: p\ncredentials:\n  paths: [~/.ssh/id_*, ~/.ssh/*_key, ~/.aws/credentials, "
      "~/.aws/config, .env]\n",
      "t.yaml");
  ASSERT_TRUE(p) << p.error().message();
  auto r = compile_lsm_files({{1, *p}, {2, *p}}, homes);
  // Per profile: {id_*, *_key} for .ssh, {credentials, config} for .aws, and .env anywhere.
  EXPECT_EQ(r.names.size(), 10u);
  EXPECT_LE(r.names.size(), static_cast<size_t>(VG_NAME_PATS));
  std::set<uint16_t> groups;
  for (const auto &h : homes) {
    const vg_file_rule *ssh = rule_for(r, h + "/.ssh");
    ASSERT_TRUE(ssh) << h;
    EXPECT_NE(ssh->name_pat, 0) << h;
    groups.insert(ssh->name_pat);
  }
  EXPECT_EQ(groups.size(), 1u) << "one profile's .ssh directories share one group";
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
