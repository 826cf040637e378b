// SPDX-License-Identifier: Apache-2.0
// The persistence guard's userspace side: git discovery on repositories made by the real git
// (worktrees, submodules, nested repositories, .git files), and the targets and binds a profile
// gives for them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "enforce/persistence.h"
#include "policy/profile.h"

namespace vigil::enforce {
namespace {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::Not;

class GitDiscovery : public ::testing::Test {
protected:
  void SetUp() override
  {
    if (std::system("git --version >/dev/null 2>&1") != 0)
      GTEST_SKIP() << "git is not installed";
    char tmpl[] = "/tmp/vg-persist-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override
  {
    if (!root_.empty())
      fs::remove_all(root_);
  }
  void git(const std::string &args)
  {
    const std::string cmd = "git -c user.name=t -c user.email=t@t -c init.defaultBranch=main "
                            "-c protocol.file.allow=always " +
                            args + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  std::string root_;
};

TEST_F(GitDiscovery, finds_worktrees_submodules_nested_repos_and_gitdir_files)
{
  const std::string lib = root_ + "/lib", proj = root_ + "/proj";
  git("init -q " + lib);
  git("-C " + lib + " commit -q --allow-empty -m l");
  git("init -q " + proj);
  git("-C " + proj + " commit -q --allow-empty -m p");
  git("-C " + proj + " submodule -q add " + lib + " sub");
  git("-C " + proj + " worktree add -q " + proj + "/wt");
  git("init -q " + proj + "/vendor/inner");
  // A separate git directory (git init --separate-git-dir writes a .git file).
  git("init -q --separate-git-dir " + root_ + "/elsewhere.git " + proj + "/sep");

  const GitLayout l = discover_git(proj);
  EXPECT_FALSE(l.truncated);
  EXPECT_THAT(l.git_dirs, Contains(proj + "/.git"));
  EXPECT_THAT(l.git_dirs, Contains(proj + "/.git/modules/sub"));
  EXPECT_THAT(l.git_dirs, Contains(proj + "/.git/worktrees/wt"));
  EXPECT_THAT(l.git_dirs, Contains(proj + "/vendor/inner/.git"));
  EXPECT_THAT(l.git_dirs, Contains(root_ + "/elsewhere.git"));
  EXPECT_THAT(l.work_trees, Contains(proj + "/sub"));
  EXPECT_THAT(l.work_trees, Contains(proj + "/wt"));

  // From a subdirectory, git walks up to the repository that holds it.
  fs::create_directories(proj + "/src/deep");
  const GitLayout from_sub = discover_git(proj + "/src/deep");
  EXPECT_THAT(from_sub.git_dirs, Contains(proj + "/.git"));
  EXPECT_THAT(from_sub.git_dirs, Contains(proj + "/.git/modules/sub"));

  auto profile = policy::parse_profile(
      "profile: p\npersistence:\n  paths:\n    - .git/hooks/**\n    - .git/config\n"
      "    - .git/config.worktree\n    - .gitmodules\n    - {path: .envrc, mode: audit}\n"
      "    - ~/.bashrc\n    - .vscode/**\n",
      "t.yaml");
  ASSERT_TRUE(profile) << profile.error().message();
  const std::string home = root_ + "/home";
  fs::create_directories(home);
  std::ofstream(home + "/.bashrc") << "# rc\n";
  std::ofstream(proj + "/vendor/.envrc") << "export X=1\n";
  std::ofstream(proj + "/.git/worktrees/wt/config.worktree") << "[core]\n";
  fs::create_directories(proj + "/vendor/inner/.vscode");
  const auto targets = resolve_guard_targets(*profile, home, proj, discover_git(proj));
  std::vector<std::string> paths;
  for (const auto &t : targets)
    paths.push_back(t.path);
  for (const std::string &want :
       {proj + "/.git/hooks", proj + "/.git/config", proj + "/.git/modules/sub/hooks",
        proj + "/.git/modules/sub/config", proj + "/vendor/inner/.git/hooks",
        root_ + "/elsewhere.git/config", proj + "/.gitmodules", proj + "/vendor/.envrc",
        proj + "/.git/worktrees/wt/config.worktree", home + "/.bashrc",
        proj + "/vendor/inner/.vscode"})
    EXPECT_THAT(paths, Contains(want));
  // What git writes in everyday work is not a target.
  for (const std::string &never : {proj + "/.git/index", proj + "/.git/objects",
                                  proj + "/.git/refs", proj + "/.git/HEAD"})
    EXPECT_THAT(paths, Not(Contains(never)));

  const GuardMounts m = guard_mounts(targets);
  EXPECT_THAT(m.read_only, Contains(proj + "/.git/hooks"));
  EXPECT_THAT(m.read_only, Not(Contains(proj + "/vendor/.envrc"))); // audit: stays writable
  // The git directory and the home are pinned (renaming them away fails), "/" never is.
  EXPECT_THAT(m.pinned, Contains(proj + "/.git"));
  EXPECT_THAT(m.pinned, Contains(home));
  EXPECT_THAT(m.pinned, Not(Contains("/")));
  // Parents are bound before their children.
  for (size_t i = 1; i < m.pinned.size(); ++i)
    EXPECT_FALSE(m.pinned[i - 1].starts_with(m.pinned[i] + "/"));
}

TEST_F(GitDiscovery, a_missing_hooks_directory_is_created_to_be_protected)
{
  const std::string proj = root_ + "/p";
  git("init -q " + proj);
  fs::remove_all(proj + "/.git/hooks");
  const GitLayout l = discover_git(proj);
  const auto made = create_missing_hook_dirs(l);
  EXPECT_THAT(made, Contains(proj + "/.git/hooks"));
  EXPECT_TRUE(fs::is_directory(proj + "/.git/hooks"));
}

TEST_F(GitDiscovery, the_walk_is_bounded)
{
  const std::string proj = root_ + "/deep";
  std::string d = proj;
  for (int i = 0; i < 6; ++i)
    d += "/d";
  fs::create_directories(d);
  git("init -q " + d);
  GitWalkLimits shallow;
  shallow.max_depth = 3;
  const GitLayout l = discover_git(proj, shallow);
  EXPECT_TRUE(l.truncated);
  EXPECT_THAT(l.git_dirs, Not(Contains(d + "/.git")));
  EXPECT_THAT(discover_git(proj).git_dirs, Contains(d + "/.git"));
}

} // namespace
} // namespace vigil::enforce
