// SPDX-License-Identifier: Apache-2.0
// ProtectedSet over a temporary home: resolution to inodes and directories, the patterns it
// cannot guard, lookup/matches, and noticing (inotify) and following (refresh) a replaced file.
#include <gtest/gtest.h>

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "enforce/protected_set.h"

namespace vigil::enforce {
namespace {

namespace fs = std::filesystem;

struct Inode {
  uint64_t dev = 0;
  uint64_t ino = 0;
};

Inode inode_of(const std::string &path)
{
  struct stat st{};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
}

class ProtectedSetTest : public ::testing::Test {
protected:
  void SetUp() override
  {
    std::string tmpl = (fs::temp_directory_path() / "vg-pset.XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    // realpath: /tmp may itself be a symlink, and the set reports canonical paths.
    home_ = fs::canonical(tmpl).string();
  }
  void TearDown() override
  {
    std::error_code ec;
    fs::remove_all(home_, ec);
  }
  std::string put(const std::string &rel, const std::string &content = "secret\n")
  {
    std::string path = home_ + "/" + rel;
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path) << content;
    return path;
  }
  void mkdir(const std::string &rel) { fs::create_directories(home_ + "/" + rel); }
  ProtectedSet make(std::vector<std::string> patterns)
  {
    auto set = ProtectedSet::create(std::move(patterns), home_);
    EXPECT_TRUE(set) << set.error().message();
    return std::move(*set);
  }
  std::vector<std::string> dir_paths(const ProtectedSet &set)
  {
    std::vector<std::string> out;
    for (const GuardedDir &d : set.dirs())
      out.push_back(d.path);
    std::sort(out.begin(), out.end());
    return out;
  }

  std::string home_;
};

TEST_F(ProtectedSetTest, literal_files_resolve_to_their_inode)
{
  const std::string creds = put(".aws/credentials");
  const std::string shadow_like = put("etc/shadow");
  ProtectedSet set = make({"~/.aws/credentials", home_ + "/etc/shadow"});
  ASSERT_EQ(set.files().size(), 2u);
  const ProtectedFile &f = set.files()[0];
  EXPECT_EQ(f.path, creds);
  EXPECT_EQ(f.pattern, "~/.aws/credentials");
  EXPECT_EQ(f.dev, inode_of(creds).dev);
  EXPECT_EQ(f.ino, inode_of(creds).ino);
  EXPECT_EQ(set.files()[1].path, shadow_like);
  EXPECT_TRUE(set.dirs().empty());
  EXPECT_TRUE(set.unguarded().empty());
}

TEST_F(ProtectedSetTest, missing_literal_files_are_skipped_and_listed)
{
  put(".aws/credentials");
  ProtectedSet set = make({"~/.aws/credentials", "~/.netrc", "~/.config/nope/token"});
  ASSERT_EQ(set.files().size(), 1u);
  EXPECT_EQ(set.missing(), (std::vector<std::string>{"~/.netrc", "~/.config/nope/token"}));
  EXPECT_TRUE(set.notes().empty()) << set.notes()[0];
}

TEST_F(ProtectedSetTest, a_symlinked_literal_resolves_to_the_target)
{
  const std::string target = put("vault/creds");
  mkdir(".aws");
  fs::create_symlink(target, home_ + "/.aws/credentials");
  ProtectedSet set = make({"~/.aws/credentials"});
  ASSERT_EQ(set.files().size(), 1u);
  EXPECT_EQ(set.files()[0].path, target);
  EXPECT_EQ(set.files()[0].ino, inode_of(target).ino);
}

TEST_F(ProtectedSetTest, last_component_globs_guard_the_parent_directory)
{
  put(".ssh/id_ed25519");
  put(".ssh/known_hosts");
  ProtectedSet set = make({"~/.ssh/id_*", "~/.ssh/*.key"});
  ASSERT_EQ(set.files().size(), 1u) << "id_ed25519 is guarded by its inode too";
  EXPECT_EQ(set.files()[0].path, home_ + "/.ssh/id_ed25519");
  EXPECT_EQ(set.files()[0].pattern, "~/.ssh/id_*");
  ASSERT_EQ(set.dirs().size(), 1u) << "two patterns, one directory";
  EXPECT_EQ(set.dirs()[0].path, home_ + "/.ssh");
  ASSERT_EQ(set.dirs()[0].rules.size(), 2u);
  EXPECT_EQ(set.dirs()[0].rules[0].pattern, "~/.ssh/id_*");
  EXPECT_EQ(set.dirs()[0].rules[0].canonical, home_ + "/.ssh/id_*");
}

TEST_F(ProtectedSetTest, double_star_guards_the_directory_and_every_subdirectory)
{
  put(".config/gcloud/credentials.db");
  put(".config/gcloud/legacy/a/adc.json");
  mkdir(".config/gcloud/configurations");
  put(".config/other/x");
  ProtectedSet set = make({"~/.config/gcloud/**"});
  const std::string g = home_ + "/.config/gcloud";
  EXPECT_EQ(dir_paths(set), (std::vector<std::string>{g, g + "/configurations", g + "/legacy",
                                                      g + "/legacy/a"}));
  EXPECT_TRUE(set.truncated().empty());
}

TEST_F(ProtectedSetTest, middle_wildcards_guard_only_matching_directories)
{
  mkdir("projects/a/.secrets");
  mkdir("projects/b");
  mkdir("other/a/.secrets");
  ProtectedSet set = make({"~/projects/*/.secrets/*"});
  EXPECT_EQ(dir_paths(set), (std::vector<std::string>{home_ + "/projects/a/.secrets"}));
}

TEST_F(ProtectedSetTest, directory_walk_is_bounded)
{
  for (int i = 0; i < 15; ++i)
    mkdir("big/d" + std::to_string(i));
  auto set = ProtectedSet::create({"~/big/**"}, home_, 10);
  ASSERT_TRUE(set) << set.error().message();
  EXPECT_EQ(set->dirs().size(), 10u);
  EXPECT_EQ(set->truncated(), (std::vector<std::string>{"~/big/**"}));
}

TEST_F(ProtectedSetTest, basename_patterns_and_root_globs_are_unguarded)
{
  ProtectedSet set = make({".env", "*.pem", "relative/x", "/*.key", "/**/id_rsa"});
  EXPECT_TRUE(set.files().empty());
  EXPECT_TRUE(set.dirs().empty());
  EXPECT_EQ(set.unguarded(),
            (std::vector<std::string>{".env", "*.pem", "relative/x", "/*.key", "/**/id_rsa"}));
}

TEST_F(ProtectedSetTest, home_patterns_without_a_home_are_unguarded)
{
  auto set = ProtectedSet::create({"~/.aws/credentials"}, "");
  ASSERT_TRUE(set) << set.error().message();
  EXPECT_EQ(set->unguarded(), (std::vector<std::string>{"~/.aws/credentials"}));
}

TEST_F(ProtectedSetTest, lookup_and_matches)
{
  const std::string creds = put(".aws/credentials");
  put(".ssh/id_test");
  ProtectedSet set = make({"~/.aws/credentials", "~/.ssh/id_*", "~/.config/gcloud/**"});
  const Inode in = inode_of(creds);
  EXPECT_EQ(set.lookup(in.dev, in.ino), creds);
  EXPECT_EQ(set.lookup(in.dev, in.ino + 1), std::nullopt);
  EXPECT_EQ(set.matches(home_ + "/.ssh/id_test"), "~/.ssh/id_*");
  EXPECT_EQ(set.matches(home_ + "/.ssh/id_new"), "~/.ssh/id_*") << "children created later";
  EXPECT_EQ(set.matches(home_ + "/.ssh/known_hosts"), std::nullopt);
  EXPECT_EQ(set.matches(creds), "~/.aws/credentials");
  EXPECT_EQ(set.matches(home_ + "/.config/gcloud/a/b"), "~/.config/gcloud/**")
      << "a rule is kept even when its directory does not exist yet";
}

TEST_F(ProtectedSetTest, refresh_after_rename_replace_picks_up_the_new_inode)
{
  const std::string creds = put(".aws/credentials", "old\n");
  ProtectedSet set = make({"~/.aws/credentials"});
  const Inode before = inode_of(creds);
  ASSERT_EQ(set.files().at(0).ino, before.ino);

  // What editors do: write a sibling, rename it over the original.
  const std::string tmp = put(".aws/.credentials.swp", "new\n");
  ASSERT_EQ(::rename(tmp.c_str(), creds.c_str()), 0);
  const Inode after = inode_of(creds);
  ASSERT_NE(after.ino, before.ino);
  EXPECT_EQ(set.lookup(after.dev, after.ino), std::nullopt) << "stale until refresh()";

  ASSERT_TRUE(set.refresh());
  EXPECT_EQ(set.lookup(after.dev, after.ino), creds);
  // The old inode stays keyed (it might have been moved, not replaced) until the guard, which
  // holds it, reports that it has no name left.
  EXPECT_EQ(set.lookup(before.dev, before.ino), creds);
  set.forget({{before.dev, before.ino}});
  EXPECT_EQ(set.lookup(before.dev, before.ino), std::nullopt);
  ASSERT_TRUE(set.refresh());
  EXPECT_EQ(set.lookup(before.dev, before.ino), std::nullopt) << "forgotten for good";
  EXPECT_EQ(set.lookup(after.dev, after.ino), creds);
}

TEST_F(ProtectedSetTest, inotify_reports_the_replacement_and_ignores_unrelated_names)
{
  const std::string creds = put(".aws/credentials");
  ProtectedSet set = make({"~/.aws/credentials"});
  ASSERT_GE(set.watch_fd(), 0);
  auto quiet = set.handle_watch();
  ASSERT_TRUE(quiet);
  EXPECT_FALSE(*quiet);

  put(".aws/config"); // a sibling: no refresh needed
  auto r = set.handle_watch();
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);

  const std::string tmp = put(".aws/credentials.new", "new\n");
  ASSERT_EQ(::rename(tmp.c_str(), creds.c_str()), 0);
  r = set.handle_watch();
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(*r) << "rename onto the protected name";
}

TEST_F(ProtectedSetTest, inotify_reports_a_missing_file_appearing)
{
  ProtectedSet set = make({"~/.config/tool/token"});
  ASSERT_EQ(set.missing().size(), 1u);
  mkdir(".config"); // the next component on the way down
  auto r = set.handle_watch();
  ASSERT_TRUE(r);
  EXPECT_TRUE(*r);
  ASSERT_TRUE(set.refresh());
  put(".config/tool/token");
  // .config/tool appeared under the now-watched .config.
  r = set.handle_watch();
  ASSERT_TRUE(r);
  EXPECT_TRUE(*r);
  ASSERT_TRUE(set.refresh());
  EXPECT_EQ(set.files().size(), 1u);
  EXPECT_TRUE(set.missing().empty());
}

TEST_F(ProtectedSetTest, inotify_reports_new_subdirectories_under_double_star)
{
  mkdir(".config/gcloud");
  ProtectedSet set = make({"~/.config/gcloud/**"});
  ASSERT_EQ(set.dirs().size(), 1u);
  mkdir(".config/gcloud/sub");
  auto r = set.handle_watch();
  ASSERT_TRUE(r);
  EXPECT_TRUE(*r);
  ASSERT_TRUE(set.refresh());
  EXPECT_EQ(set.dirs().size(), 2u);
}

TEST_F(ProtectedSetTest, a_globs_file_stays_guarded_by_inode_after_it_moves)
{
  const std::string key = put(".ssh/id_rsa");
  put(".config/gcloud/legacy/adc.json");
  ProtectedSet set = make({"~/.ssh/id_*", "~/.config/gcloud/**"});
  const Inode id = inode_of(key);
  ASSERT_TRUE(set.lookup(id.dev, id.ino)) << "keyed by identity when matched";
  EXPECT_EQ(set.files().size(), 2u);
  // The agent moves it away (or a new file appears, which calls for a refresh): the moved
  // inode is still guarded, under the name it was matched by.
  mkdir("out");
  fs::rename(key, home_ + "/out/moved");
  put(".ssh/id_new");
  auto r = set.handle_watch();
  ASSERT_TRUE(r);
  EXPECT_TRUE(*r) << "a new file in a glob's directory calls for a refresh";
  ASSERT_TRUE(set.refresh());
  auto path = set.lookup(id.dev, id.ino);
  ASSERT_TRUE(path);
  EXPECT_EQ(*path, key);
  EXPECT_EQ(set.files().size(), 3u) << "id_new joined; the moved file stayed";
}

TEST_F(ProtectedSetTest, files_keyed_by_globs_are_bounded)
{
  for (int i = 0; i < 5; ++i)
    put(".ssh/id_" + std::to_string(i));
  auto set = ProtectedSet::create({"~/.ssh/id_*"}, home_, ProtectedSet::kMaxDirs, 3);
  ASSERT_TRUE(set) << set.error().message();
  EXPECT_EQ(set->files().size(), 3u);
  EXPECT_EQ(set->truncated(), (std::vector<std::string>{"~/.ssh/id_*"}));
  EXPECT_EQ(set->dirs().size(), 1u) << "the directory mark still covers every name in it";
}

// A rebuilt set (a profile reinstalled) must not free a credential that moved out of the
// glob's directory: no walk finds it again, only the old set knew it.
TEST_F(ProtectedSetTest, a_rebuilt_set_keeps_the_inodes_the_old_one_keyed)
{
  const std::string key = put(".ssh/id_rsa");
  ProtectedSet old = make({"~/.ssh/id_*"});
  const Inode id = inode_of(key);
  mkdir("out");
  fs::rename(key, home_ + "/out/moved");
  ProtectedSet walked = make({"~/.ssh/id_*"});
  EXPECT_FALSE(walked.lookup(id.dev, id.ino)) << "a walk alone no longer finds it";
  auto fresh = ProtectedSet::create({"~/.ssh/id_*"}, home_, ProtectedSet::kMaxDirs,
                                    ProtectedSet::kMaxFiles, &old);
  ASSERT_TRUE(fresh) << fresh.error().message();
  EXPECT_TRUE(fresh->lookup(id.dev, id.ino));
  auto other = ProtectedSet::create({"~/.aws/credentials"}, home_, ProtectedSet::kMaxDirs,
                                    ProtectedSet::kMaxFiles, &old);
  ASSERT_TRUE(other) << other.error().message();
  EXPECT_FALSE(other->lookup(id.dev, id.ino)) << "only for patterns the new set still has";
}

} // namespace
} // namespace vigil::enforce
