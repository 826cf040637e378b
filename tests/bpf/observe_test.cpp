// SPDX-License-Identifier: Apache-2.0
// Observing where vigil decides: no syscall tracepoint is attached unless asked for (they put
// every process of the machine on the slow syscall path), and the agent's opens and connects are
// still seen, by the hooks that decide them (tier 1: the LSM programs, which count repeated opens
// in the kernel; tier 2: the fanotify events of the agent's mounts and the cgroup programs).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <sstream>
#include <thread>

#include "harness.h"

namespace vigil::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

template <typename Pred> bool wait_until(Pred pred, std::chrono::milliseconds limit = 20s)
{
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred())
      return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

// Names of the BPF programs attached to a tracepoint of the syscalls group right now (bpftool's
// view of perf-event attachments: tracepoint programs hang on perf events).
std::set<std::string> syscall_tracepoint_programs()
{
  std::set<std::string> names;
  ProcResult perf = run({"bpftool", "-j", "perf", "list"});
  if (perf.status != 0)
    return names;
  std::set<int64_t> ids;
  for (const auto &a : nlohmann::json::parse(perf.out, nullptr, false))
    if (a.value("tracepoint", "").rfind("sys_", 0) == 0) // sys_enter_*, raw sys_enter too
      ids.insert(a.value("prog_id", int64_t{-1}));
  ProcResult progs = run({"bpftool", "-j", "prog", "show"});
  for (const auto &p : nlohmann::json::parse(progs.out, nullptr, false))
    if (ids.count(p.value("id", int64_t{-2})))
      names.insert(p.value("name", std::string("?")));
  return names;
}

std::vector<nlohmann::json> log_events(const std::string &log)
{
  std::vector<nlohmann::json> events;
  ProcResult ex = run({vigil_bin(), "log", "export", log, "--format", "json"});
  std::istringstream lines(ex.out);
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("record", "") == "event")
      events.push_back(std::move(j));
  }
  return events;
}

// Runs an agent under `vigil run [extra]` that waits for a file, and reports which syscall
// tracepoint programs are attached while it waits. (Not a FIFO: one made outside the agent is a
// side channel the agent may not open.)
std::set<std::string> attached_during_a_run(const std::vector<std::string> &extra)
{
  TempDir tmp;
  const std::string ready = tmp / "ready", gate = tmp / "go";
  std::vector<std::string> argv = {vigil_bin(), "run"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.insert(argv.end(), {"--", "bash", "-c",
                           "touch " + ready + "; for i in $(seq 600); do [ -e " + gate +
                               " ] && exit 0; sleep 0.05; done; exit 1"});
  Proc vigil(argv);
  EXPECT_TRUE(wait_until([&] { return fs::exists(ready); })) << vigil.err_so_far();
  std::set<std::string> names = syscall_tracepoint_programs();
  write_file(gate, "go\n");
  ProcResult r = vigil.wait(60s);
  EXPECT_EQ(r.status, 0) << r.err;
  return names;
}

TEST(Observe, no_syscall_tracepoint_is_attached_unless_asked_for)
{
  VG_REQUIRE_ROOT();
  if (run({"bpftool", "version"}).status != 0)
    GTEST_SKIP() << "bpftool is not installed";
  const std::set<std::string> before = syscall_tracepoint_programs();
  std::set<std::string> ours;
  for (const auto &n : attached_during_a_run({}))
    if (!before.count(n))
      ours.insert(n);
  EXPECT_TRUE(ours.empty()) << "vigil run attached syscall tracepoint programs by default: "
                            << *ours.begin();
  // The control: asked for, they are there (so the check above can see them).
  std::set<std::string> asked;
  for (const auto &n : attached_during_a_run({"--syscall-tracepoints"}))
    if (!before.count(n))
      asked.insert(n);
  EXPECT_TRUE(asked.count("vg_enter_openat") && asked.count("vg_exit_connect"))
      << "--syscall-tracepoints did not attach the open and connect tracepoints";
}

// The agent's opens and connects are in the event log though no tracepoint watched: a plain file
// read, the allowed connect, and its own unix server reached from inside.
TEST(Observe, opens_and_connects_are_seen_where_they_are_decided)
{
  VG_REQUIRE_ROOT();
  TempDir tmp;
  const std::string log = tmp / "log", data = tmp / "data.txt", sock = tmp / "s.sock";
  write_file(data, "plain\n");
  const int port = free_port();
  Proc server({"python3", "-c",
               "import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET, "
               "socket.SO_REUSEADDR, 1)\ns.bind(('127.0.0.1'," +
                   std::to_string(port) +
                   "))\ns.listen(8)\nwhile True:\n  c,_=s.accept()\n  c.close()\n"});
  ASSERT_TRUE(wait_until([&] {
    return run({"bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(port)}).status == 0;
  }));
  const std::string profile = tmp / "p.yaml";
  write_file(profile, "profile: observe\ncredentials:\n  paths: [~/.aws/credentials]\n"
                      "egress:\n  allow: [127.0.0.1/32]\n");
  const std::string script =
      "cat " + data + " >/dev/null; head -c1 " + data + " >/dev/null; " +
      "exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(port) + "; exec 3>&-; " +
      "python3 -c \"import socket,os\ns=socket.socket(socket.AF_UNIX)\ns.bind('" + sock +
      "')\ns.listen(1)\nif os.fork()==0:\n  c=socket.socket(socket.AF_UNIX)\n  c.connect('" +
      sock + "')\n  c.send(b'hi')\n  os._exit(0)\na,_=s.accept()\nassert a.recv(2)==b'hi'\"";
  ProcResult r = run({vigil_bin(), "run", "--profile", profile, "--log-dir", log, "--", "bash",
                      "-c", script});
  server.signal(SIGKILL);
  ASSERT_EQ(r.status, 0) << "the agent's own unix server must be reachable from it:\n" << r.err;
  std::set<std::string> readers;
  bool connect = false, unix_connect = false;
  for (const auto &j : log_events(log)) {
    if (j["type"] == "open" && j["path"] == data && j["ret"].get<int64_t>() >= 0)
      readers.insert(j.value("comm", std::string()));
    if (j["type"] == "connect" && j.value("ip", "") == "127.0.0.1" && j["port"] == port &&
        j.value("verdict", "") != "deny")
      connect = true;
    if (j["type"] == "connect" && j.value("unix_path", "") == sock &&
        j.value("verdict", "") != "deny")
      unix_connect = true;
  }
  EXPECT_TRUE(readers.count("cat")) << "the open of " << data << " by cat is not in the log";
  // Tier 1 reports each process's first open of a file; tier 2 the agent's first open of it
  // (the kernel allows it from then on), unless a rule names it (the next test).
  if (expected_file_tier() == "lsm") {
    EXPECT_TRUE(readers.count("head")) << "the open of " << data << " by head is not in the log";
  }
  EXPECT_TRUE(connect) << "the allowed connect to 127.0.0.1:" << port << " is not in the log";
  EXPECT_TRUE(unix_connect) << "the agent's connect to its own unix server is not in the log";
}

// A credential path the rules name but the profile does not deny stays visible open by open: a
// second process reading it raises its own alert (in tier 2 the kernel would otherwise allow the
// file from its first open on without asking).
TEST(Observe, every_reader_of_a_rule_named_credential_is_alerted)
{
  VG_REQUIRE_ROOT();
  TempDir tmp;
  const std::string home = tmp / "home", alerts = tmp / "alerts.json";
  fs::create_directories(home + "/.config/gh");
  write_file(home + "/.config/gh/hosts.yml", "oauth_token: canary\n");
  const std::string profile = tmp / "p.yaml";
  write_file(profile, "profile: observe\ncredentials:\n  paths: [~/.aws/credentials]\n");
  ProcResult r = run({vigil_bin(), "run", "--profile", profile, "--alerts-json", alerts, "--",
                      "bash", "-c",
                      "cat ~/.config/gh/hosts.yml >/dev/null; "
                      "head -c1 ~/.config/gh/hosts.yml >/dev/null"},
                     {"HOME=" + home});
  ASSERT_EQ(r.status, 0) << r.err;
  std::set<std::string> who;
  for (const auto &a : read_json_lines(alerts))
    if (a.value("path", "") == home + "/.config/gh/hosts.yml")
      who.insert(a.value("comm", std::string()));
  EXPECT_TRUE(who.count("cat") && who.count("head"))
      << "each reader of the GitHub CLI token must raise its own alert: " << read_file(alerts);
}

// The same credential opened by other names the agent gave it first (a hard link, its directory
// renamed): each read is still alerted, by the name the rules know the file by, in both tiers
// (tier 2 would otherwise allow the inode in the kernel after a first open by a name no rule
// matches, and the rules would never match the names it was read by).
TEST(Observe, a_rule_named_credential_read_by_another_name_is_alerted_by_its_own)
{
  VG_REQUIRE_ROOT();
  TempDir tmp;
  const std::string home = tmp / "home", alerts = tmp / "alerts.json";
  const std::string token = home + "/.config/gh/hosts.yml";
  fs::create_directories(home + "/.config/gh");
  write_file(token, "oauth_token: canary\n");
  const std::string profile = tmp / "p.yaml";
  write_file(profile, "profile: observe\ncredentials:\n  paths: [~/.aws/credentials]\n");
  ProcResult r = run({vigil_bin(), "run", "--profile", profile, "--alerts-json", alerts, "--",
                      "bash", "-c",
                      "set -e; ln ~/.config/gh/hosts.yml ~/h; cat ~/h >/dev/null; "
                      "mv ~/.config/gh ~/g; head -c1 ~/g/hosts.yml >/dev/null; "
                      "tail -c1 ~/h >/dev/null"},
                     {"HOME=" + home});
  ASSERT_EQ(r.status, 0) << r.err;
  std::set<std::string> who;
  for (const auto &a : read_json_lines(alerts))
    if (a.value("path", "") == token)
      who.insert(a.value("comm", std::string()));
  EXPECT_EQ(who, (std::set<std::string>{"cat", "head", "tail"}))
      << "each read of the GitHub CLI token by another name must raise an alert naming it: "
      << read_file(alerts);
}

// vigil follows at most 65,536 files renamed or linked away from a name the credential rules
// know. An agent that makes it follow that many (junk named like keys) and then renames the real
// one must not get a name no rule knows for it: past the bound each such rename is refused, with
// an alert; the files it follows still report by their rule names.
TEST(Observe, renames_past_what_vigil_can_follow_of_rule_named_files_are_refused)
{
  VG_REQUIRE_ROOT();
  if (expected_file_tier() == "lsm")
    GTEST_SKIP() << "tier 1 learns no renamed rule files (a file only a basename pattern names is "
                    "reported by its new name there: docs/SECURITY.md)";
  TempDir tmp;
  const std::string junk = tmp / "junk", proj = tmp / "proj", alerts = tmp / "alerts.json";
  fs::create_directories(junk);
  fs::create_directories(proj);
  constexpr int kFiles = 65600;
  for (int i = 0; i < kFiles; ++i)
    write_file(junk + "/k" + std::to_string(i) + ".key", "");
  const std::string script = tmp / "ren.py";
  write_file(script, R"PY(import os, sys
d, n = sys.argv[1], int(sys.argv[2])
ok = refused = 0
last = None
for i in range(n):
    try:
        os.rename('%s/k%d.key' % (d, i), '%s/k%d.txt' % (d, i))
        ok += 1
        last = i
    except PermissionError:
        refused += 1
with open('%s/k%d.txt' % (d, last)) as f:
    f.read()
print(ok, refused, last)
)PY");
  const std::string profile = tmp / "p.yaml";
  write_file(profile, "profile: observe\ncredentials:\n  paths: [~/.aws/credentials]\n");
  ProcResult r = run({"sh", "-c",
                      "cd " + proj + " && exec " + vigil_bin() + " run -q --profile " + profile +
                          " --alerts-json " + alerts + " -- python3 " + script + " " + junk + " " +
                          std::to_string(kFiles)},
                     {"HOME=" + tmp.path()}, std::chrono::seconds(300));
  ASSERT_EQ(r.status, 0) << r.err;
  int ok = 0, refused = 0, last = -1;
  std::istringstream(r.out) >> ok >> refused >> last;
  ASSERT_EQ(ok + refused, kFiles) << r.out;
  EXPECT_GT(refused, 0) << "vigil followed more renamed key files than it keeps: " << r.out;
  EXPECT_GE(ok, 65536 - 64) << r.out;
  int untracked = 0;
  bool last_read = false;
  for (const auto &a : read_json_lines(alerts)) {
    if (a["rule"] == "credential-untracked") {
      ++untracked;
      EXPECT_NE(a.value("output", std::string()).find("denied by the launch filter"),
                std::string::npos)
          << a.dump();
    } else if (a.value("path", std::string()) == junk + "/k" + std::to_string(last) + ".key") {
      last_read = true;
    }
  }
  EXPECT_EQ(untracked, refused);
  EXPECT_TRUE(last_read) << "the read of k" << last << ".txt, a key file vigil follows, must be "
                         << "alerted by its rule name";
}

// A name the rules know is reported by that name, whatever vigil learned of the file before:
// renamed to a name a rule's exception spares and back, or read first through a hard link.
TEST(Observe, a_credential_read_by_its_own_name_after_a_detour_is_alerted)
{
  VG_REQUIRE_ROOT();
  TempDir tmp;
  const std::string proj = tmp / "proj", alerts = tmp / "alerts.json";
  fs::create_directories(proj);
  write_file(proj + "/deploy.key", "-----BEGIN PRIVATE KEY-----\n");
  write_file(proj + "/signing.key", "-----BEGIN PRIVATE KEY-----\n");
  write_file(proj + "/other.key", "-----BEGIN PRIVATE KEY-----\n");
  write_file(proj + "/plain.txt", "plain\n");
  const std::string profile = tmp / "p.yaml";
  write_file(profile, "profile: observe\ncredentials:\n  paths: [~/.aws/credentials]\n");
  ProcResult r = run({"sh", "-c",
                      "cd " + proj + " && exec " + vigil_bin() + " run --profile " + profile +
                          " --alerts-json " + alerts + " -- bash -c '"
                          "set -e; mv deploy.key id_rsa_x.pub; cat id_rsa_x.pub >/dev/null; "
                          "mv id_rsa_x.pub deploy.key; head -c1 deploy.key >/dev/null; "
                          "ln signing.key notes.txt; cat notes.txt >/dev/null; "
                          "tail -c1 signing.key >/dev/null; "
                          "python3 -c \"import ctypes; ctypes.CDLL(None).renameat2(-100, "
                          "b\\\"plain.txt\\\", -100, b\\\"other.key\\\", 2)\"; "
                          "grep -c KEY plain.txt >/dev/null'"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::set<std::string> seen;
  for (const auto &a : read_json_lines(alerts))
    seen.insert(a.value("comm", std::string()) + " " + a.value("path", std::string()));
  EXPECT_TRUE(seen.count("head " + proj + "/deploy.key")) << read_file(alerts);
  if (expected_file_tier() != "lsm") { // the read by the name the exception spares, too
    EXPECT_TRUE(seen.count("cat " + proj + "/deploy.key")) << read_file(alerts);
  }
  EXPECT_TRUE(seen.count("tail " + proj + "/signing.key")) << read_file(alerts);
  // Tier 2: the launch filter saw the link of a file a rule names, so the read through the
  // link is reported by that name too. (Tier 1 reports it by the link's name: a file that
  // only a basename pattern names is not known by inode there.)
  if (expected_file_tier() != "lsm") {
    EXPECT_TRUE(seen.count("cat " + proj + "/signing.key")) << read_file(alerts);
    // The key that a RENAME_EXCHANGE gave the harmless name, read by it: by the key's name.
    EXPECT_TRUE(seen.count("grep " + proj + "/other.key")) << read_file(alerts);
  }
}

// Tier 1 counts repeated opens in the kernel: the first open of a file by a process is an event
// of its own, the next ones one count (with the first and last time) in the log.
TEST(Observe, repeated_opens_become_one_event_and_a_count_in_tier_1)
{
  VG_REQUIRE_ROOT();
  if (expected_file_tier() != "lsm")
    GTEST_SKIP() << "the kernel counts repeated opens in tier 1 (BPF LSM) only; tier 2's "
                    "fanotify allow cache reports the first open of each file";
  TempDir tmp;
  const std::string log = tmp / "log", data = tmp / "data.txt";
  write_file(data, "x\n");
  ProcResult r = run({vigil_bin(), "run", "--log-dir", log, "--", "python3", "-c",
                      "import time\nfor i in range(50):\n  open('" + data +
                          "').read()\ntime.sleep(1.5)\n"});
  ASSERT_EQ(r.status, 0) << r.err;
  uint64_t firsts = 0, counted = 0;
  for (const auto &j : log_events(log)) {
    if (j["type"] != "open" || j["path"] != data || j.value("comm", "") != "python3")
      continue;
    if (j.contains("repeats")) {
      counted += j["repeats"].get<uint64_t>();
      EXPECT_LE(j["repeat_first_ns"].get<uint64_t>(), j["repeat_last_ns"].get<uint64_t>());
    } else {
      ++firsts;
    }
  }
  EXPECT_GE(firsts, 1u);
  EXPECT_LE(firsts, 3u) << "fifty opens in well under a second: one window, maybe two";
  EXPECT_EQ(firsts + counted, 50u) << "every open is either reported or counted";
}

} // namespace
} // namespace vigil::test
