// SPDX-License-Identifier: Apache-2.0
// File tier 2 on this host's kernel: a real FanotifyGuard whose Decider denies processes of a test
// cgroup; real `cat` processes inside and outside it. No BPF involved.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <stdexcept>

#include "cgroup/cgroup.h"
#include "enforce/fanotify_guard.h"
#include "enforce/protected_set.h"
#include "harness.h"

namespace vigil::test {
namespace {

namespace fs = std::filesystem;
using enforce::Decision;
using enforce::FanotifyGuard;
using enforce::ProtectedSet;
using enforce::Request;

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

class FanotifyTest : public ::testing::Test {
protected:
  void SetUp() override
  {
    VG_REQUIRE_ROOT();
    root_ = fs::canonical(tmp_.path()).string();
    home_ = root_ + "/home";
    creds_ = home_ + "/.aws/credentials";
    id_test_ = home_ + "/.ssh/id_test";
    known_hosts_ = home_ + "/.ssh/known_hosts";
    write_file(creds_, "aws_secret_access_key = canary\n");
    write_file(id_test_, "-----BEGIN OPENSSH PRIVATE KEY-----\n");
    write_file(known_hosts_, "github.com ssh-ed25519 AAAA\n");
    cgroup_rel_ = "/vigil-fanotify-test-" + std::to_string(::getpid());
    cgroup_ = cgroup2_mount() + cgroup_rel_;
    ASSERT_TRUE(cgroup::create(cgroup_));

    auto set = ProtectedSet::create({"~/.aws/credentials", "~/.ssh/id_*", ".env"}, home_);
    ASSERT_TRUE(set) << set.error().message();
    set_ = std::make_unique<ProtectedSet>(std::move(*set));
    auto guard = FanotifyGuard::start([this](const Request &r) { return decide(r); });
    ASSERT_TRUE(guard) << guard.error().message();
    guard_ = std::move(*guard);
    auto marked = guard_->guard(*set_);
    ASSERT_TRUE(marked) << marked.error().message();
  }

  void TearDown() override
  {
    guard_.reset();
    if (!cgroup_.empty())
      (void)cgroup::destroy(cgroup_);
  }

  Decision decide(const Request &r)
  {
    if (throw_)
      throw std::runtime_error("decider failure");
    auto cg = cgroup::cgroup_of_pid(r.tid_or_pid);
    std::lock_guard<std::mutex> lock(mutex_);
    seen_.push_back(r);
    return Decision{cg && *cg == cgroup_rel_};
  }

  std::vector<Request> seen()
  {
    std::lock_guard<std::mutex> lock(mutex_);
    return seen_;
  }
  void clear_seen()
  {
    std::lock_guard<std::mutex> lock(mutex_);
    seen_.clear();
  }

  // `cat path` in the test cgroup (the shell joins it, then execs cat under the same pid).
  ProcResult cat_inside(const std::string &path, pid_t *pid = nullptr)
  {
    Proc p({"sh", "-c", "echo $$ > " + cgroup_ + "/cgroup.procs && exec cat " + path});
    if (pid)
      *pid = p.pid();
    return p.wait(std::chrono::seconds(20));
  }
  ProcResult cat_outside(const std::string &path)
  {
    return run({"cat", path}, {}, std::chrono::seconds(20));
  }

  static void expect_denied(const ProcResult &r)
  {
    EXPECT_EQ(r.status, 1) << r.err;
    EXPECT_NE(r.err.find("Operation not permitted"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
  }

  TempDir tmp_;
  std::string root_, home_, creds_, id_test_, known_hosts_, cgroup_rel_, cgroup_;
  std::unique_ptr<ProtectedSet> set_;
  std::unique_ptr<FanotifyGuard> guard_;
  std::mutex mutex_;
  std::vector<Request> seen_;
  std::atomic<bool> throw_{false};
};

TEST_F(FanotifyTest, unguardable_patterns_are_reported)
{
  EXPECT_EQ(set_->unguarded(), (std::vector<std::string>{".env"}));
}

TEST_F(FanotifyTest, denies_a_protected_file_inside_the_cgroup_and_allows_it_outside)
{
  pid_t pid = 0;
  expect_denied(cat_inside(creds_, &pid));
  auto requests = seen();
  ASSERT_EQ(requests.size(), 1u);
  const Inode in = inode_of(creds_);
  EXPECT_EQ(requests[0].dev, in.dev);
  EXPECT_EQ(requests[0].ino, in.ino);
  EXPECT_EQ(requests[0].path, creds_);
  EXPECT_EQ(requests[0].pattern, "~/.aws/credentials");
  EXPECT_EQ(requests[0].pid, pid) << "sh execs cat under its own pid";
  EXPECT_EQ(requests[0].tid_or_pid, pid) << "cat is single-threaded";
  EXPECT_FALSE(requests[0].via_dir_mark);

  ProcResult out = cat_outside(creds_);
  EXPECT_EQ(out.status, 0) << out.err;
  EXPECT_EQ(out.out, "aws_secret_access_key = canary\n");
  EXPECT_EQ(seen().size(), 2u) << "asked, and allowed";

  auto st = guard_->stats();
  EXPECT_EQ(st.events, 2u);
  EXPECT_EQ(st.denied, 1u);
  EXPECT_EQ(st.allowed, 1u);
  EXPECT_EQ(st.errors, 0u);
}

TEST_F(FanotifyTest, hardlinks_and_symlinks_reach_the_same_inode)
{
  const std::string hardlink = root_ + "/elsewhere/hl";
  const std::string symlink = root_ + "/elsewhere/sl";
  fs::create_directories(root_ + "/elsewhere");
  fs::create_hard_link(creds_, hardlink);
  fs::create_symlink(creds_, symlink);
  const Inode in = inode_of(creds_);

  expect_denied(cat_inside(hardlink));
  expect_denied(cat_inside(symlink));
  auto requests = seen();
  ASSERT_EQ(requests.size(), 2u);
  for (const Request &r : requests) {
    EXPECT_EQ(r.dev, in.dev);
    EXPECT_EQ(r.ino, in.ino);
    EXPECT_FALSE(r.via_dir_mark);
  }
  EXPECT_EQ(requests[0].path, hardlink) << "the name it was opened by";
  EXPECT_EQ(requests[1].path, creds_) << "a symlink resolves to the target";
}

TEST_F(FanotifyTest, directory_glob_denies_matching_children_only)
{
  expect_denied(cat_inside(id_test_));
  auto requests = seen();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_FALSE(requests[0].via_dir_mark) << "a file the glob matches is guarded by its inode too";
  EXPECT_EQ(requests[0].pattern, "~/.ssh/id_*");
  EXPECT_EQ(requests[0].path, id_test_);
  EXPECT_EQ(requests[0].ino, inode_of(id_test_).ino);

  const uint64_t skipped = guard_->stats().skipped;
  ProcResult sibling = cat_inside(known_hosts_);
  EXPECT_EQ(sibling.status, 0) << sibling.err;
  EXPECT_EQ(seen().size(), 1u) << "a non-matching sibling never reaches the Decider";
  EXPECT_EQ(guard_->stats().skipped, skipped + 1) << "but the directory mark did raise an event";

  // A key created after guard(): the directory mark covers it with no refresh.
  write_file(home_ + "/.ssh/id_new", "new key\n");
  expect_denied(cat_inside(home_ + "/.ssh/id_new"));
}

TEST_F(FanotifyTest, own_process_is_allowed_without_the_decider)
{
  std::ifstream in(creds_);
  std::string line;
  EXPECT_TRUE(std::getline(in, line));
  EXPECT_TRUE(seen().empty());
  EXPECT_EQ(guard_->stats().skipped, 1u);
}

TEST_F(FanotifyTest, decider_exception_fails_open_and_is_counted)
{
  throw_ = true;
  ProcResult r = cat_inside(creds_);
  throw_ = false;
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(guard_->stats().errors, 1u);
  EXPECT_EQ(guard_->stats().allowed, 1u);
}

TEST_F(FanotifyTest, everything_is_allowed_after_the_guard_is_destroyed)
{
  expect_denied(cat_inside(creds_));
  guard_.reset();
  EXPECT_EQ(cat_inside(creds_).status, 0);
  EXPECT_EQ(cat_inside(id_test_).status, 0);
}

TEST_F(FanotifyTest, unguard_all_removes_every_mark)
{
  ASSERT_TRUE(guard_->unguard_all());
  EXPECT_EQ(cat_inside(creds_).status, 0);
  EXPECT_EQ(cat_inside(id_test_).status, 0);
  EXPECT_TRUE(seen().empty()) << "no marks, no events";
}

TEST_F(FanotifyTest, editor_replacement_is_guarded_again_after_refresh)
{
  const Inode before = inode_of(creds_);
  write_file(home_ + "/.aws/credentials.tmp", "aws_secret_access_key = rotated\n");
  ASSERT_EQ(::rename((home_ + "/.aws/credentials.tmp").c_str(), creds_.c_str()), 0);
  ASSERT_NE(inode_of(creds_).ino, before.ino);

  auto changed = set_->handle_watch();
  ASSERT_TRUE(changed) << changed.error().message();
  EXPECT_TRUE(*changed);
  // The documented window: until refresh() + guard(), the new inode carries no mark.
  EXPECT_EQ(cat_inside(creds_).status, 0);

  ASSERT_TRUE(set_->refresh());
  ASSERT_TRUE(guard_->guard(*set_));
  clear_seen();
  expect_denied(cat_inside(creds_));
  auto requests = seen();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].ino, inode_of(creds_).ino);
}

// Not a correctness check: prints what a guarded open costs, end to end, next to an unguarded
// one. Each open of the guarded file goes to the guard thread and the Decider (which reads
// /proc/PID/cgroup) and back.
TEST_F(FanotifyTest, measures_the_cost_of_a_permission_decision)
{
  const std::string plain = root_ + "/plain";
  write_file(plain, "x\n");
  constexpr int kOpens = 2000;
  auto time_opens = [&](const std::string &path) {
    const std::string loop = "i=0; while [ $i -lt " + std::to_string(kOpens) + " ]; do : < " +
                             path + "; i=$((i+1)); done";
    auto t0 = std::chrono::steady_clock::now();
    ProcResult r = run({"sh", "-c", loop}, {}, std::chrono::seconds(60));
    EXPECT_EQ(r.status, 0) << r.err;
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
  };
  time_opens(plain); // warm up
  const double plain_us = time_opens(plain);
  const auto before = guard_->stats();
  const double guarded_us = time_opens(creds_);
  const auto after = guard_->stats();
  const uint64_t events = after.events - before.events;
  ASSERT_EQ(events, static_cast<uint64_t>(kOpens));
  const double per_open = (guarded_us - plain_us) / kOpens;
  const double in_guard = static_cast<double>(after.handle_ns - before.handle_ns) / 1000.0 / kOpens;
  std::cout << "[ measure  ] guarded open costs " << per_open << " us more than an unguarded one; "
            << in_guard << " us of it inside the guard thread (fstat, readlink, tgid, Decider, "
            << "answer)" << std::endl;
  RecordProperty("extra_us_per_guarded_open", std::to_string(per_open));
  RecordProperty("guard_thread_us_per_event", std::to_string(in_guard));
}

} // namespace
} // namespace vigil::test
