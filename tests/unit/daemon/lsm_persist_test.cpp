// SPDX-License-Identifier: Apache-2.0
// The persistence guard's targets -> the LSM tier's persistence maps, over a temp home and project.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "daemon/lsm_persist.h"

namespace vigil::daemon {
namespace {

namespace fs = std::filesystem;

class LsmPersist : public ::testing::Test {
protected:
  void SetUp() override
  {
    root_ = (fs::temp_directory_path() / ("vg-lsmpersist-" + std::to_string(::getpid()))).string();
    home_ = root_ + "/home";
    proj_ = root_ + "/proj";
    fs::create_directories(home_ + "/.config");
    fs::create_directories(proj_ + "/.git/hooks");
    fs::create_directories(proj_ + "/.git/objects");
    std::ofstream(home_ + "/.bashrc") << "x";
    std::ofstream(proj_ + "/.git/HEAD") << "ref: refs/heads/main\n";
    std::ofstream(proj_ + "/.git/config") << "[core]\n";
  }
  void TearDown() override { fs::remove_all(root_); }

  LsmPersistRules compile(const std::string &yaml)
  {
    auto p = policy::parse_profile(yaml, "t.yaml");
    EXPECT_TRUE(p) << (p ? "" : p.error().message());
    profile_ = *p;
    const auto layout = enforce::discover_git(proj_);
    return compile_lsm_persistence(
        7, profile_, enforce::resolve_guard_targets(profile_, home_, proj_, layout),
        enforce::resolve_absent_targets(profile_, home_, proj_, layout));
  }
  static const vg_persist_rule *inode(const LsmPersistRules &r, const std::string &path)
  {
    struct stat st{};
    if (::lstat(path.c_str(), &st) != 0)
      return nullptr;
    for (const auto &[k, v] : r.inodes)
      if (k.ino == st.st_ino && k.dev == ((major(st.st_dev) << 20) | minor(st.st_dev)) &&
          k.profile_id == 7)
        return &v;
    return nullptr;
  }
  static const vg_persist_rule *name(const LsmPersistRules &r, const std::string &dir,
                                     const std::string &leaf)
  {
    struct stat st{};
    if (::stat(dir.c_str(), &st) != 0)
      return nullptr;
    for (const auto &[k, v] : r.names)
      if (k.ino == st.st_ino && std::string(k.name) == leaf && k.profile_id == 7)
        return &v;
    return nullptr;
  }

  static const vg_persist_rule *node_name(const LsmPersistRules &r, uint32_t node,
                                          const std::string &leaf)
  {
    for (const auto &[k, v] : r.names)
      if (k.dev == 0 && k.ino == node && std::string(k.name) == leaf && k.profile_id == 7)
        return &v;
    return nullptr;
  }

  std::string root_, home_, proj_;
  policy::Profile profile_;
};

TEST_F(LsmPersist, existing_paths_are_keyed_by_inode_and_name_and_their_directories_as_ancestors)
{
  auto r = compile("profile: p\npersistence:\n  paths: [.git/hooks/**, .git/config, ~/.bashrc]\n");
  const vg_persist_rule *hooks = inode(r, proj_ + "/.git/hooks");
  const vg_persist_rule *rc = inode(r, home_ + "/.bashrc");
  ASSERT_TRUE(hooks && rc);
  EXPECT_EQ(hooks->flags, VG_PERSIST_SELF | VG_PERSIST_SUBTREE);
  EXPECT_EQ(hooks->rule_id, 1u);
  EXPECT_EQ(rc->flags, VG_PERSIST_SELF);
  EXPECT_EQ(rc->rule_id, 3u);
  EXPECT_EQ(rc->mode, VG_MODE_ENFORCE);
  ASSERT_TRUE(name(r, home_, ".bashrc"));
  ASSERT_TRUE(name(r, proj_ + "/.git", "config"));
  // mv .git .git.old, mv home elsewhere: the directories above are ancestors, up to "/".
  for (const std::string &d : {proj_ + "/.git", proj_, home_, root_}) {
    const vg_persist_rule *a = inode(r, d);
    ASSERT_TRUE(a) << d;
    EXPECT_TRUE(a->flags & VG_PERSIST_ANCESTOR) << d;
    EXPECT_FALSE(a->flags & VG_PERSIST_SUBTREE) << d;
  }
}

TEST_F(LsmPersist, a_path_not_yet_made_is_its_name_in_its_directory_if_that_exists)
{
  auto r = compile("profile: p\npersistence:\n  paths:\n    - ~/.zshrc\n"
                   "    - ~/.config/fish/**\n    - .git/info/attributes\n"
                   "    - {path: .mcp.json, mode: audit}\n    - ~/.ssh/authorized_keys\n");
  EXPECT_TRUE(name(r, home_, ".zshrc"));
  EXPECT_TRUE(name(r, home_ + "/.config", "fish"));
  // .git/info and ~/.ssh do not exist: the agent may make them (mkdir only), and the names
  // below are keyed under their nodes, which the kernel gives the directories as they are made.
  const vg_persist_rule *info = name(r, proj_ + "/.git", "info");
  const vg_persist_rule *ssh = name(r, home_, ".ssh");
  ASSERT_TRUE(info && ssh);
  EXPECT_EQ(info->flags, VG_PERSIST_WAY);
  EXPECT_EQ(ssh->flags, VG_PERSIST_WAY);
  EXPECT_NE(info->node, ssh->node);
  const vg_persist_rule *keys = node_name(r, ssh->node, "authorized_keys");
  ASSERT_TRUE(keys);
  EXPECT_EQ(keys->flags, VG_PERSIST_SELF);
  EXPECT_EQ(keys->rule_id, 5u);
  ASSERT_TRUE(node_name(r, info->node, "attributes"));
  EXPECT_TRUE(r.unreachable.empty());
  const vg_persist_rule *mcp = name(r, proj_, ".mcp.json");
  ASSERT_TRUE(mcp);
  EXPECT_EQ(mcp->mode, VG_MODE_AUDIT);
  EXPECT_EQ(mcp->rule_id, 4u);
  const vg_persist_rule *config = inode(r, home_ + "/.config");
  ASSERT_TRUE(config);
  EXPECT_EQ(config->flags, VG_PERSIST_ANCESTOR);
}

TEST_F(LsmPersist, paths_below_the_same_missing_directory_share_its_node)
{
  auto r = compile("profile: p\npersistence:\n  paths:\n    - ~/.ssh/authorized_keys\n"
                   "    - ~/.ssh/config\n    - ~/.local/share/systemd/user/**\n"
                   "    - ~/.local/share/autostart/**\n");
  const vg_persist_rule *ssh = name(r, home_, ".ssh");
  ASSERT_TRUE(ssh);
  EXPECT_TRUE(node_name(r, ssh->node, "authorized_keys"));
  EXPECT_TRUE(node_name(r, ssh->node, "config"));
  const vg_persist_rule *local = name(r, home_, ".local");
  ASSERT_TRUE(local);
  const vg_persist_rule *share = node_name(r, local->node, "share");
  ASSERT_TRUE(share);
  EXPECT_EQ(share->flags, VG_PERSIST_WAY);
  const vg_persist_rule *systemd = node_name(r, share->node, "systemd");
  ASSERT_TRUE(systemd);
  EXPECT_EQ(node_name(r, systemd->node, "user")->flags, VG_PERSIST_SELF);
  EXPECT_TRUE(node_name(r, share->node, "autostart"));
}

TEST_F(LsmPersist, a_name_too_long_for_the_table_is_reported)
{
  const std::string longname(40, 'n');
  auto r = compile("profile: p\npersistence:\n  paths: [~/" + longname + "]\n");
  ASSERT_EQ(r.unkeyed.size(), 1u);
  EXPECT_EQ(r.unkeyed[0], home_ + "/" + longname);
}

} // namespace
} // namespace vigil::daemon
