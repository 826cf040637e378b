// SPDX-License-Identifier: Apache-2.0
// cgroup helpers that need no cgroup file system: the mount lookup on fake mounts tables, and
// glob_dirs and Namer over a temporary directory tree standing in for the cgroup2 mount.

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cgroup/cgroup.h"

namespace vigil::cgroup {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

class CgroupTest : public ::testing::Test {
protected:
  void SetUp() override
  {
    std::string tmpl = (fs::temp_directory_path() / "vg_cgroup_test_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    mount_ = (dir_ / "mnt").string();
  }
  void TearDown() override
  {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string mounts(const std::string &text)
  {
    const std::string path = (dir_ / "mounts").string();
    std::ofstream(path, std::ios::trunc) << text;
    return path;
  }

  // A tree laid out as a cgroup2 mount with agent cgroups at several depths, plus a file and a
  // symlink that glob_dirs must not return.
  void make_tree()
  {
    for (const char *d : {"agents/a1/sub", "agents/a2", "agents.old/a3",
                          "kubepods/burstable/pod1/agent-x", "kubepods/besteffort/agent-y",
                          "kubepods/agent-z", "other/agent-q", "system.slice/agent-w.service"})
      fs::create_directories(fs::path(mount_) / d);
    std::ofstream(fs::path(mount_) / "agents" / "cgroup.procs") << "1\n";
    fs::create_directory_symlink("../other", fs::path(mount_) / "agents" / "link");
  }

  std::vector<std::string> glob(const std::string &pattern)
  {
    std::vector<std::string> out;
    for (const std::string &d : glob_dirs(mount_, pattern)) {
      EXPECT_EQ(d.rfind(mount_, 0), 0u) << d;
      out.push_back(d.substr(mount_.size()));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  fs::path dir_;
  std::string mount_;
};

TEST_F(CgroupTest, finds_unified_cgroup2_mount)
{
  auto r = find_cgroup2_mount(mounts("sysfs /sys sysfs rw,nosuid,nodev,noexec 0 0\n"
                                     "proc /proc proc rw,nosuid 0 0\n"
                                     "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev 0 0\n"));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, "/sys/fs/cgroup");
}

TEST_F(CgroupTest, finds_cgroup2_mount_of_hybrid_hierarchy_by_type)
{
  auto r = find_cgroup2_mount(
      mounts("tmpfs /sys/fs/cgroup tmpfs ro,nosuid 0 0\n"
             "cgroup2 /mnt/fake tmpfs rw 0 0\n"
             "cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,cpu,cpuacct 0 0\n"
             "none /sys/fs/cgroup/unified cgroup2 rw,nosuid,nodev,noexec,nsdelegate 0 0\n"));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, "/sys/fs/cgroup/unified");
}

TEST_F(CgroupTest, unescapes_octal_sequences_in_mount_point)
{
  // The kernel writes ' ', '\t', '\n' and '\\' in mount points as \040, \011, \012 and \134.
  auto r = find_cgroup2_mount(mounts("cgroup2 /mnt/my\\040cgroups cgroup2 rw 0 0\n"));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, "/mnt/my cgroups");
}

TEST_F(CgroupTest, explains_a_missing_cgroup2_mount)
{
  const std::string path =
      mounts("tmpfs /sys/fs/cgroup tmpfs ro 0 0\ncgroup /sys/fs/cgroup/memory cgroup rw 0 0\n");
  auto r = find_cgroup2_mount(path);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "no cgroup2 file system is mounted (" + path +
                                     "); vigil needs cgroup v2: mount -t cgroup2 none "
                                     "/sys/fs/cgroup/unified");
  auto empty = find_cgroup2_mount(mounts(""));
  ASSERT_FALSE(empty);
}

TEST_F(CgroupTest, reports_unreadable_mounts_file)
{
  const std::string path = (dir_ / "absent").string();
  auto r = find_cgroup2_mount(path);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, std::errc::no_such_file_or_directory);
  EXPECT_EQ(r.error().message(), "read " + path + ": No such file or directory");
}

TEST_F(CgroupTest, glob_star_does_not_cross_slash)
{
  make_tree();
  EXPECT_THAT(glob("/agents/*"), ElementsAre("/agents/a1", "/agents/a2"));
  EXPECT_THAT(glob("agents/*"), ElementsAre("/agents/a1", "/agents/a2"));
  EXPECT_THAT(glob("/agents*/*"), ElementsAre("/agents.old/a3", "/agents/a1", "/agents/a2"));
  EXPECT_THAT(glob("/*/agent-*"),
              ElementsAre("/kubepods/agent-z", "/other/agent-q", "/system.slice/agent-w.service"));
  EXPECT_THAT(glob("/agents/a?/sub"), ElementsAre("/agents/a1/sub"));
}

TEST_F(CgroupTest, glob_double_star_crosses_slash)
{
  make_tree();
  EXPECT_THAT(glob("/kubepods/**/agent-*"),
              ElementsAre("/kubepods/agent-z", "/kubepods/besteffort/agent-y",
                          "/kubepods/burstable/pod1/agent-x"));
  EXPECT_THAT(glob("/**/agent-*"), ElementsAre("/kubepods/agent-z", "/kubepods/besteffort/agent-y",
                                               "/kubepods/burstable/pod1/agent-x", "/other/agent-q",
                                               "/system.slice/agent-w.service"));
  // "**" matches zero components too, so the directory itself is selected with its subtree.
  EXPECT_THAT(glob("/agents/**"),
              ElementsAre("/agents", "/agents/a1", "/agents/a1/sub", "/agents/a2"));
}

TEST_F(CgroupTest, glob_returns_nothing_without_match_or_mount)
{
  make_tree();
  EXPECT_THAT(glob("/nothing/*"), IsEmpty());
  EXPECT_THAT(glob_dirs((dir_ / "absent").string(), "/**"), IsEmpty());
}

TEST_F(CgroupTest, namer_names_ids_below_its_roots)
{
  make_tree();
  const std::string agents = mount_ + "/agents";
  Namer namer(mount_);
  namer.add_root(agents);
  auto sub = cgroup_id(agents + "/a1/sub");
  ASSERT_TRUE(sub) << sub.error().message();
  auto root = cgroup_id(agents);
  ASSERT_TRUE(root) << root.error().message();
  auto outside = cgroup_id(mount_ + "/other/agent-q");
  ASSERT_TRUE(outside) << outside.error().message();
  EXPECT_EQ(namer.name(*sub), "/agents/a1/sub");
  EXPECT_EQ(namer.name(*root), "/agents");
  EXPECT_EQ(namer.name(*outside), "");
  // The root's name was cached when it was added: it outlives the directory.
  fs::remove_all(agents);
  EXPECT_EQ(namer.name(*root), "/agents");
}

// An agent creating cgroup after cgroup below its own: the name cache starts over at its bound,
// keeping the roots' names, and counts what it dropped.
TEST_F(CgroupTest, namer_cache_is_bounded_and_keeps_its_roots)
{
  const std::string agents = mount_ + "/agents";
  fs::create_directories(agents);
  for (int i = 0; i < 40; ++i)
    fs::create_directories(agents + "/c" + std::to_string(i));
  Namer namer(mount_, 8);
  namer.add_root(agents);
  auto root = cgroup_id(agents);
  ASSERT_TRUE(root);
  for (int i = 0; i < 40; ++i) {
    auto id = cgroup_id(agents + "/c" + std::to_string(i));
    ASSERT_TRUE(id);
    EXPECT_EQ(namer.name(*id), "/agents/c" + std::to_string(i));
    EXPECT_LE(namer.size(), 8u);
  }
  EXPECT_GE(namer.evictions(), 32u);
  fs::remove_all(agents);
  EXPECT_EQ(namer.name(*root), "/agents") << "the root's name survives every restart";
}

TEST_F(CgroupTest, cgroup_id_is_the_directory_inode)
{
  fs::create_directories(mount_);
  struct stat st {};
  ASSERT_EQ(::stat(mount_.c_str(), &st), 0);
  auto id = cgroup_id(mount_);
  ASSERT_TRUE(id) << id.error().message();
  EXPECT_EQ(*id, static_cast<uint64_t>(st.st_ino));
  auto missing = cgroup_id(mount_ + "/absent");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, std::errc::no_such_file_or_directory);
}

} // namespace
} // namespace vigil::cgroup

namespace vigil::cgroup {
namespace {

TEST(NearestAgent, the_cgroup_itself_or_its_nearest_confined_ancestor)
{
  const std::map<std::string, uint32_t> agents{{"/vigil/run-1", 1}, {"/vigil/run-1/inner", 2}};
  EXPECT_EQ(nearest_agent(agents, "/vigil/run-1"), 1u);
  EXPECT_EQ(nearest_agent(agents, "/vigil/run-1/sub/deeper"), 1u);
  EXPECT_EQ(nearest_agent(agents, "/vigil/run-1/inner/x"), 2u);
  EXPECT_EQ(nearest_agent(agents, "/vigil/run-10"), 0u) << "a name prefix is not an ancestor";
  EXPECT_EQ(nearest_agent(agents, "/vigil"), 0u);
  EXPECT_EQ(nearest_agent(agents, "/"), 0u);
}

TEST(HostCgroupPath, resolves_namespace_relative_paths_under_the_mount)
{
  EXPECT_EQ(host_cgroup_path("", "/a/b"), "/a/b");
  EXPECT_EQ(host_cgroup_path("/", "/a/b"), "/a/b");
  EXPECT_EQ(host_cgroup_path("/kubepods/pod1/ctr", "/../other"), "/kubepods/pod1/other");
  EXPECT_EQ(host_cgroup_path("/kubepods/pod1/ctr", "/../../../vigil/run-1"), "/vigil/run-1");
  EXPECT_EQ(host_cgroup_path("/kubepods/pod1/ctr", "/"), "/kubepods/pod1/ctr");
  EXPECT_EQ(host_cgroup_path("/kubepods/pod1/ctr", "/sub"), "/kubepods/pod1/ctr/sub");
}

TEST(Cgroup, level_counts_components_below_the_mount)
{
  EXPECT_EQ(cgroup::level_below("/sys/fs/cgroup", "/sys/fs/cgroup"), 0u);
  EXPECT_EQ(cgroup::level_below("/sys/fs/cgroup", "/sys/fs/cgroup/a"), 1u);
  EXPECT_EQ(cgroup::level_below("/sys/fs/cgroup", "/sys/fs/cgroup/a//b/./c/"), 3u);
}

} // namespace
} // namespace vigil::cgroup
