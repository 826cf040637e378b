// SPDX-License-Identifier: Apache-2.0
// ProcessTable over a fake /proc tree: seeding, on-demand reads, fork/exec/exit events, ancestry
// and the retirement of exited processes.

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/heap.h"
#include "pipeline/process_table.h"

namespace vigil::pipeline {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A fake /proc in a fresh temporary directory, removed with the fixture.
class FakeProc : public ::testing::Test {
protected:
  void SetUp() override
  {
    std::string tmpl = (fs::temp_directory_path() / "vg_proc_test_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
  }
  void TearDown() override
  {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  static void write(const fs::path &p, const std::string &text)
  {
    std::ofstream out(p, std::ios::binary);
    out << text;
  }

  // /proc/PID with stat, exe, cmdline and status as the kernel lays them out.
  void add(uint32_t pid, const std::string &comm, uint32_t ppid, const std::string &exe,
           const std::string &cmdline, uint32_t uid)
  {
    const fs::path dir = root_ / std::to_string(pid);
    fs::create_directories(dir);
    write(dir / "stat", std::to_string(pid) + " (" + comm + ") S " + std::to_string(ppid) + " " +
                            std::to_string(pid) + " " + std::to_string(pid) +
                            " 0 -1 4194560 1234 0 0 0 7 3 0 0 20 0 1 0 4567 12345678 901\n");
    if (!exe.empty())
      fs::create_symlink(exe, dir / "exe");
    write(dir / "cmdline", cmdline);
    write(dir / "status", "Name:\t" + comm.substr(0, 15) +
                              "\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t" +
                              std::to_string(pid) + "\nPPid:\t" + std::to_string(ppid) +
                              "\nUid:\t" + std::to_string(uid) + "\t" + std::to_string(uid + 1) +
                              "\t" + std::to_string(uid + 2) + "\t" + std::to_string(uid + 3) +
                              "\nGid:\t100\t100\t100\t100\n");
  }

  std::string root() const { return root_.string(); }

  fs::path root_;
};

Event make_event(uint32_t tgid)
{
  Event ev;
  ev.hdr.tgid = tgid;
  ev.hdr.tid = tgid;
  ev.hdr.uid = 1000;
  ev.hdr.cgroup_id = 77;
  ev.hdr.profile_id = 1;
  ev.hdr.ts_ns = 5000;
  ev.hdr.comm = "agent";
  return ev;
}

Event fork_event(uint32_t parent, uint32_t child)
{
  Event ev = make_event(parent);
  ev.hdr.type = EventType::fork;
  ev.body = ForkBody{child};
  return ev;
}

Event exec_event(uint32_t pid, uint32_t ppid, std::string exe, std::vector<std::string> argv)
{
  Event ev = make_event(pid);
  ev.hdr.type = EventType::exec;
  ExecBody b;
  b.ppid = ppid;
  b.exe = std::move(exe);
  b.argv = std::move(argv);
  ev.body = std::move(b);
  return ev;
}

Event exit_event(uint32_t pid)
{
  Event ev = make_event(pid);
  ev.hdr.type = EventType::exit;
  ev.body = ExitBody{0};
  return ev;
}

std::vector<uint32_t> pids(const std::vector<const ProcessInfo *> &chain)
{
  std::vector<uint32_t> out;
  for (const ProcessInfo *p : chain)
    out.push_back(p->pid);
  return out;
}

TEST_F(FakeProc, seed_reads_every_numeric_directory)
{
  add(1, "systemd", 0, "/usr/lib/systemd/systemd", std::string("/sbin/init\0splash\0", 18), 0);
  add(300, "bash", 1, "/usr/bin/bash", std::string("-bash\0", 6), 1000);
  add(4242, "python3", 300, "/usr/bin/python3.11", std::string("python3\0agent.py\0", 17), 1000);
  fs::create_directories(root_ / "self");
  fs::create_directories(root_ / "sys");
  fs::create_directories(root_ / "0");
  fs::create_directories(root_ / "12ab");
  fs::create_directories(root_ / "999"); // a process that vanished: no stat

  ProcessTable table(root());
  EXPECT_EQ(table.seed(), 3u);
  EXPECT_EQ(table.size(), 3u);
  const ProcessInfo *p = table.find(4242);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->ppid, 300u);
  EXPECT_EQ(p->uid, 1000u);
  EXPECT_EQ(p->comm, "python3");
  EXPECT_EQ(p->exe, "/usr/bin/python3.11");
  EXPECT_THAT(p->argv, ElementsAre("python3", "agent.py"));
  EXPECT_EQ(p->start_ns, 0u);
  EXPECT_EQ(p->profile_id, 0u);
  EXPECT_FALSE(p->exited);
}

TEST_F(FakeProc, seed_of_missing_root_reads_nothing)
{
  ProcessTable table((root_ / "absent").string());
  EXPECT_EQ(table.seed(), 0u);
  EXPECT_EQ(table.size(), 0u);
}

TEST_F(FakeProc, find_parses_comm_with_spaces_and_parentheses)
{
  add(77, "my (odd) ) name", 12, "/opt/odd", std::string("odd\0", 4), 1000);
  ProcessTable table(root());
  const ProcessInfo *p = table.find(77);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->comm, "my (odd) ) name");
  EXPECT_EQ(p->ppid, 12u);
  EXPECT_EQ(p->pid, 77u);
}

TEST_F(FakeProc, find_reads_cmdline_with_nuls_and_real_uid)
{
  add(50, "node", 1, "/usr/bin/node", std::string("node\0--eval\0\0a b\0", 17), 1234);
  add(51, "kworker/0:1", 2, "", "", 0); // kernel thread: no exe, empty cmdline
  ProcessTable table(root());
  const ProcessInfo *p = table.find(50);
  ASSERT_NE(p, nullptr);
  EXPECT_THAT(p->argv, ElementsAre("node", "--eval", "", "a b"));
  EXPECT_EQ(p->uid, 1234u); // the real uid, first of the four
  const ProcessInfo *k = table.find(51);
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->exe, "");
  EXPECT_THAT(k->argv, IsEmpty());
  EXPECT_EQ(k->comm, "kworker/0:1");
}

TEST_F(FakeProc, find_reads_on_demand_once_and_caches)
{
  add(600, "curl", 1, "/usr/bin/curl", std::string("curl\0", 5), 1000);
  ProcessTable table(root());
  EXPECT_EQ(table.size(), 0u);
  const ProcessInfo *p = table.find(600);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->exe, "/usr/bin/curl");
  EXPECT_EQ(table.size(), 1u);
  fs::remove_all(root_ / "600");
  const ProcessInfo *again = table.find(600);
  EXPECT_EQ(again, p);
  EXPECT_EQ(table.size(), 1u);
}

TEST_F(FakeProc, find_returns_null_for_unknown_or_malformed_process)
{
  fs::create_directories(root_ / "700");
  std::ofstream(root_ / "700" / "stat") << "700 garbage without parentheses\n";
  ProcessTable table(root());
  EXPECT_EQ(table.find(12345), nullptr);
  EXPECT_EQ(table.find(700), nullptr);
  EXPECT_EQ(table.size(), 0u);
}

TEST_F(FakeProc, fork_copies_the_parent_image_to_the_child)
{
  add(300, "bash", 1, "/usr/bin/bash", std::string("bash\0-c\0ls\0", 11), 1000);
  ProcessTable table(root());
  Event ev = fork_event(300, 301);
  ev.hdr.ts_ns = 9000;
  ev.hdr.profile_id = 4;
  table.apply(ev);
  const ProcessInfo *c = table.find(301);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->pid, 301u);
  EXPECT_EQ(c->ppid, 300u);
  EXPECT_EQ(c->exe, "/usr/bin/bash");
  EXPECT_THAT(c->argv, ElementsAre("bash", "-c", "ls"));
  EXPECT_EQ(c->comm, "bash");
  EXPECT_EQ(c->uid, 1000u);
  EXPECT_EQ(c->start_ns, 9000u);
  EXPECT_EQ(c->profile_id, 4u);
  EXPECT_FALSE(c->exited);
  // The parent is untouched.
  EXPECT_EQ(table.find(300)->ppid, 1u);
}

TEST_F(FakeProc, fork_of_unknown_parent_records_the_link)
{
  ProcessTable table(root());
  table.apply(fork_event(800, 801));
  const ProcessInfo *c = table.find(801);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->ppid, 800u);
  EXPECT_EQ(c->exe, "");
  EXPECT_EQ(table.find(800), nullptr);
}

TEST_F(FakeProc, exec_replaces_image_and_kernel_context)
{
  add(300, "bash", 1, "/usr/bin/bash", std::string("bash\0", 5), 0);
  ProcessTable table(root());
  table.seed();
  Event ev = exec_event(300, 2, "/usr/bin/cat", {"cat", "/etc/shadow"});
  ev.hdr.comm = "cat";
  ev.hdr.uid = 1000;
  ev.hdr.cgroup_id = 99;
  ev.hdr.profile_id = 3;
  ev.hdr.ts_ns = 777;
  table.apply(ev);
  const ProcessInfo *p = table.find(300);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->ppid, 2u);
  EXPECT_EQ(p->exe, "/usr/bin/cat");
  EXPECT_THAT(p->argv, ElementsAre("cat", "/etc/shadow"));
  EXPECT_EQ(p->comm, "cat");
  EXPECT_EQ(p->uid, 1000u);
  EXPECT_EQ(p->cgroup_id, 99u);
  EXPECT_EQ(p->profile_id, 3u);
  EXPECT_EQ(p->start_ns, 777u);
}

TEST_F(FakeProc, exit_marks_the_process_but_keeps_it)
{
  ProcessTable table(root());
  table.apply(exec_event(900, 1, "/bin/true", {"true"}));
  table.apply(exit_event(900));
  const ProcessInfo *p = table.find(900);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->exited);
  EXPECT_EQ(p->exe, "/bin/true");
}

TEST_F(FakeProc, other_events_refresh_known_processes_only)
{
  ProcessTable table(root());
  table.apply(exec_event(900, 1, "/bin/cat", {"cat"}));
  Event open = make_event(900);
  open.hdr.type = EventType::open;
  open.hdr.uid = 0;
  open.hdr.cgroup_id = 1234;
  open.hdr.profile_id = 8;
  open.body = OpenBody{};
  table.apply(open);
  const ProcessInfo *p = table.find(900);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->uid, 0u);
  EXPECT_EQ(p->cgroup_id, 1234u);
  EXPECT_EQ(p->profile_id, 8u);
  EXPECT_EQ(p->exe, "/bin/cat");

  Event stranger = make_event(901);
  stranger.body = ConnectBody{};
  table.apply(stranger);
  EXPECT_EQ(table.find(901), nullptr);
}

// An event that changes no name (an open) keeps the process's counted bytes and makes it the
// most recently seen: the bound then pushes out another process first.
TEST_F(FakeProc, other_events_keep_the_byte_count_and_refresh_recency)
{
  ProcessTable table(root(), 16, 3);
  table.apply(exec_event(900, 1, "/bin/cat", {"cat", std::string(300, 'a')}));
  table.apply(exec_event(901, 1, "/bin/ls", {"ls"}));
  table.apply(exec_event(902, 1, "/bin/sh", {"sh"}));
  const size_t bytes = table.bytes();
  Event open = make_event(900);
  open.hdr.type = EventType::open;
  open.body = OpenBody{};
  for (int i = 0; i < 3; ++i)
    table.apply(open);
  EXPECT_EQ(table.bytes(), bytes);
  table.apply(exec_event(903, 1, "/bin/env", {"env"}));
  EXPECT_EQ(table.size(), 3u);
  EXPECT_EQ(table.evictions(), 1u);
  EXPECT_NE(table.find(900), nullptr) << "seen by its opens";
  EXPECT_EQ(table.find(901), nullptr) << "the least recently seen went";
  EXPECT_LT(table.bytes(), bytes + 100) << "the bytes of 901 went with it";
}

// The last pid looked up is answered without the map: a process evicted or retired since is
// not, and a copied table answers from its own entries.
TEST_F(FakeProc, the_last_lookup_follows_evictions_and_copies)
{
  ProcessTable table(root(), 1, 2);
  table.apply(exec_event(900, 1, "/bin/cat", {"cat"}));
  ASSERT_NE(table.find(900), nullptr);
  table.apply(exec_event(901, 1, "/bin/ls", {"ls"}));
  table.apply(exec_event(902, 1, "/bin/sh", {"sh"}));
  EXPECT_EQ(table.find(900), nullptr) << "evicted by the bound, and /proc does not know it";
  ASSERT_NE(table.find(902), nullptr);
  table.apply(exit_event(902));
  table.apply(exit_event(901)); // max_exited 1: 902 goes
  EXPECT_EQ(table.find(902), nullptr);
  ASSERT_NE(table.find(901), nullptr);
  ProcessTable copy = table;
  const ProcessInfo *mine = copy.find(901);
  ASSERT_NE(mine, nullptr);
  EXPECT_NE(mine, table.find(901));
  EXPECT_EQ(mine->exe, "/bin/ls");
}

// Without a proc root (replay) the table holds only what its events said: the fake tree's
// processes are not read, seeded or swept.
TEST_F(FakeProc, an_empty_proc_root_reads_no_proc)
{
  add(1, "agent", 0, "/usr/bin/agent", std::string("agent\0", 6), 0);
  ProcessTable table("");
  EXPECT_EQ(table.seed(), 0u);
  EXPECT_EQ(table.find(1), nullptr);
  table.apply(exec_event(900, 1, "/bin/cat", {"cat"}));
  EXPECT_EQ(table.sweep(), 0u) << "900 is not under any root, and is not gone";
  ASSERT_NE(table.find(900), nullptr);
  EXPECT_FALSE(table.find(900)->exited);
  EXPECT_TRUE(table.ancestry(900).empty()) << "its parent was never seen";
}

TEST_F(FakeProc, ancestry_lists_parents_nearest_first)
{
  add(1, "systemd", 0, "/sbin/init", std::string("/sbin/init\0", 11), 0);
  add(10, "sshd", 1, "/usr/sbin/sshd", std::string("sshd\0", 5), 0);
  add(20, "bash", 10, "/usr/bin/bash", std::string("bash\0", 5), 1000);
  add(30, "python3", 20, "/usr/bin/python3", std::string("python3\0", 8), 1000);
  ProcessTable table(root());
  table.apply(fork_event(30, 40));
  EXPECT_THAT(pids(table.ancestry(40)), ElementsAre(30, 20, 10, 1));
  EXPECT_THAT(pids(table.ancestry(40, 2)), ElementsAre(30, 20));
  EXPECT_THAT(pids(table.ancestry(1)), IsEmpty());
  EXPECT_THAT(pids(table.ancestry(31337)), IsEmpty());
  EXPECT_EQ(table.ancestry(40)[1]->exe, "/usr/bin/bash");
}

TEST_F(FakeProc, ancestry_stops_at_an_unknown_parent)
{
  add(20, "bash", 15, "/usr/bin/bash", std::string("bash\0", 5), 1000);
  add(30, "python3", 20, "/usr/bin/python3", std::string("python3\0", 8), 1000);
  ProcessTable table(root());
  EXPECT_THAT(pids(table.ancestry(30)), ElementsAre(20));
}

TEST_F(FakeProc, ancestry_stops_at_a_ppid_cycle)
{
  add(10, "a", 11, "/a", "", 0);
  add(11, "b", 12, "/b", "", 0);
  add(12, "c", 11, "/c", "", 0);
  add(13, "self", 13, "/self", "", 0);
  ProcessTable table(root());
  EXPECT_THAT(pids(table.ancestry(10)), ElementsAre(11, 12));
  EXPECT_THAT(pids(table.ancestry(11)), ElementsAre(12));
  EXPECT_THAT(pids(table.ancestry(13)), IsEmpty());
}

TEST_F(FakeProc, retires_exited_processes_beyond_max_exited)
{
  ProcessTable table(root(), 2);
  for (uint32_t pid : {101u, 102u, 103u, 104u})
    table.apply(exec_event(pid, 1, "/bin/sh", {"sh"}));
  table.apply(exit_event(101));
  table.apply(exit_event(102));
  EXPECT_NE(table.find(101), nullptr);
  table.apply(exit_event(103));
  EXPECT_EQ(table.find(101), nullptr);
  ASSERT_NE(table.find(102), nullptr);
  EXPECT_TRUE(table.find(102)->exited);
  ASSERT_NE(table.find(103), nullptr);
  ASSERT_NE(table.find(104), nullptr);
  EXPECT_FALSE(table.find(104)->exited);
  EXPECT_EQ(table.size(), 3u);
}

TEST_F(FakeProc, does_not_retire_a_reused_pid_that_is_alive)
{
  ProcessTable table(root(), 1);
  table.apply(exec_event(101, 1, "/bin/old", {"old"}));
  table.apply(exit_event(101));
  table.apply(fork_event(1, 101)); // the pid is reused by a new process
  table.apply(exec_event(102, 1, "/bin/sh", {"sh"}));
  table.apply(exit_event(102));
  const ProcessInfo *p = table.find(101);
  ASSERT_NE(p, nullptr);
  EXPECT_FALSE(p->exited);
}

TEST_F(FakeProc, keeps_the_latest_exit_of_a_reused_pid)
{
  // pid 101 exits, is reused, and exits again: its second exit is the second newest of three,
  // so with max_exited 2 it must still be kept.
  ProcessTable table(root(), 2);
  table.apply(exec_event(101, 1, "/bin/first", {"first"}));
  table.apply(exit_event(101));
  table.apply(exec_event(101, 1, "/bin/second", {"second"}));
  table.apply(exit_event(101));
  table.apply(exec_event(102, 1, "/bin/sh", {"sh"}));
  table.apply(exit_event(102));
  const ProcessInfo *p = table.find(101);
  ASSERT_NE(p, nullptr) << "the newer exit of pid 101 was retired by its older queue entry";
  EXPECT_EQ(p->exe, "/bin/second");
}

// A million children whose exit events were lost (a full ring): the table stays at its bound,
// the least recently seen go first and are counted, and the heap does not grow.
TEST_F(FakeProc, a_million_lost_exits_stay_bounded)
{
  add(1, "agent", 0, "/usr/bin/agent", std::string("agent\0", 6), 0);
  constexpr size_t kBound = 65536;
  ProcessTable table(root(), 4096, kBound);
  uint32_t child = 2;
  for (; child < 2 + 2 * kBound; ++child)
    table.apply(fork_event(1, child));
  const size_t heap = test::heap_in_use();
  constexpr uint32_t kEnd = 2 + 1'000'000;
  for (; child < kEnd; ++child)
    table.apply(fork_event(1, child));
  EXPECT_EQ(table.size(), kBound);
  EXPECT_EQ(table.evictions(), 1'000'000u + 1u - kBound);
  const size_t now = test::heap_in_use();
  EXPECT_LT(now > heap ? now - heap : 0, 8u << 20) << "heap " << heap << " -> " << now;
  ASSERT_NE(table.find(1), nullptr) << "the parent is seen with every fork";
  ASSERT_NE(table.find(kEnd - 1), nullptr) << "the newest child stays";
  EXPECT_EQ(table.find(kEnd - 1)->ppid, 1u);
  EXPECT_EQ(table.find(2), nullptr) << "the oldest child went (and /proc does not know it)";
}

// Execs with the longest exe, argv and environment the kernel reports: the byte bound holds
// before the count does.
TEST_F(FakeProc, big_execs_are_bounded_by_bytes)
{
  ProcessTable table(root(), 16, 65536, 4u << 20);
  const std::string exe = "/tmp/" + std::string(4000, 'x');
  const std::vector<std::string> argv(8, std::string(120, 'a'));
  for (uint32_t pid = 100; pid < 100'000; ++pid)
    table.apply(exec_event(pid, 1, exe, argv));
  EXPECT_LE(table.bytes(), 4u << 20);
  EXPECT_LT(table.size(), 1000u);
  EXPECT_EQ(table.evictions(), 99'900u - table.size());
  ASSERT_NE(table.find(99'999), nullptr);
  EXPECT_EQ(table.find(99'999)->exe, exe);
}

TEST_F(FakeProc, an_evicted_live_process_is_read_again_from_proc)
{
  add(7, "bash", 1, "/usr/bin/bash", std::string("bash\0", 5), 1000);
  ProcessTable table(root(), 16, 4);
  ASSERT_NE(table.find(7), nullptr);
  for (uint32_t pid = 100; pid < 110; ++pid)
    table.apply(exec_event(pid, 1, "/bin/sh", {"sh"}));
  EXPECT_EQ(table.size(), 4u);
  EXPECT_GE(table.evictions(), 7u);
  const ProcessInfo *p = table.find(7);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->exe, "/usr/bin/bash");
}

// Processes the table holds as running whose pid is gone from /proc lost their exit event: the
// sweep retires them; a pid that exists (a live process, or a reused pid) stays.
TEST_F(FakeProc, sweep_retires_processes_whose_exit_was_lost)
{
  add(10, "a", 1, "/a", "", 0);
  add(11, "b", 1, "/b", "", 0);
  ProcessTable table(root(), 2);
  for (uint32_t pid : {10u, 11u, 12u, 13u, 14u})
    table.apply(exec_event(pid, 1, "/bin/sh", {"sh"}));
  table.apply(exit_event(14)); // its exit arrived: not the sweep's business
  EXPECT_EQ(table.sweep(), 2u);
  EXPECT_EQ(table.swept(), 2u);
  ASSERT_NE(table.find(10), nullptr);
  EXPECT_FALSE(table.find(10)->exited);
  EXPECT_FALSE(table.find(11)->exited);
  // Retired like any exit: kept while max_exited allows (late events still name them).
  EXPECT_EQ(table.find(14), nullptr) << "the oldest of three exits beyond max_exited 2";
  ASSERT_NE(table.find(12), nullptr);
  EXPECT_TRUE(table.find(12)->exited);
  ASSERT_NE(table.find(13), nullptr);
  EXPECT_TRUE(table.find(13)->exited);
  EXPECT_EQ(table.sweep(), 0u) << "an exited process is not swept twice";
  // The pid comes back (reused): its fork makes it a running process again.
  table.apply(fork_event(10, 13));
  EXPECT_FALSE(table.find(13)->exited);
}

} // namespace
} // namespace vigil::pipeline
