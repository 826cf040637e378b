// SPDX-License-Identifier: Apache-2.0
// The event log against the real world: a recorder SIGKILLed under load, a disk that fills up
// (a small tmpfs), `vigil log export` read by jq, `vigil log verify` on a damaged log, and
// `vigil run --log-dir` end to end on this host's kernel.
#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "eventlog/codec.h"
#include "eventlog/reader.h"
#include "eventlog/writer.h"
#include "harness.h"
#include "samples.h"

namespace vigil::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using eventlog::Problem;

inline const char *logwriter_bin()
{
  return env_or("VIGIL_LOGWRITER", VG_LOGWRITER);
}

uint64_t seq_of(const pipeline::Event &ev)
{
  return (ev.hdr.ts_ns - 1'000'000'000ull) / 1000;
}

struct Contents {
  std::vector<uint64_t> seqs;          // mixed_event sequence numbers, in order
  std::vector<uint64_t> block_offsets; // per event
  uint64_t records = 0;                // all types
  std::vector<std::string> notes;
  eventlog::ReadSummary sum;

  std::vector<Problem> damage() const
  {
    std::vector<Problem> out;
    for (const auto &p : sum.problems)
      if (p.damage())
        out.push_back(p);
    return out;
  }
  std::string problems() const
  {
    std::string s;
    for (const auto &p : sum.problems)
      s += eventlog::describe(p) + "\n";
    return s;
  }
};

Contents read_dir(const std::string &dir)
{
  Contents c;
  auto files = eventlog::segment_files({dir});
  EXPECT_TRUE(files) << files.error().message();
  eventlog::Visitor v;
  v.on_record = [&](const eventlog::RecordView &r) {
    ++c.records;
    if (r.type == static_cast<uint16_t>(eventlog::RecordType::event)) {
      auto ev = eventlog::decode(r.payload);
      EXPECT_TRUE(ev) << ev.error().message();
      if (ev) {
        c.seqs.push_back(seq_of(*ev));
        c.block_offsets.push_back(r.block_offset);
      }
    } else if (r.type == static_cast<uint16_t>(eventlog::RecordType::note)) {
      auto *p = reinterpret_cast<const char *>(r.payload.data());
      c.notes.push_back(nlohmann::json::parse(p, p + r.payload.size())["text"]);
    }
    return true;
  };
  c.sum = eventlog::read_log(files ? *files : std::vector<std::string>{}, v);
  return c;
}

bool contiguous_from_zero(const std::vector<uint64_t> &seqs)
{
  for (size_t i = 0; i < seqs.size(); ++i)
    if (seqs[i] != i)
      return false;
  return true;
}

// A recorder killed at a random moment under full load: every record that reached the file
// reads back, in order, with nothing missing in between; the torn tail is reported and is not
// fatal; the next recorder continues the chain.
TEST(EventLogCrash, sigkill_under_load_keeps_every_complete_record)
{
  std::random_device rd;
  const unsigned seed = rd();
  std::mt19937 rng(seed);
  SCOPED_TRACE("seed " + std::to_string(seed));
  int torn_rounds = 0;
  for (int round = 0; round < 8; ++round) {
    TempDir tmp;
    const std::string dir = tmp / "log", progress = tmp / "progress";
    Proc writer({logwriter_bin(), dir, progress, "1048576"});
    ASSERT_TRUE(writer.wait_for_err("ready")) << writer.err_so_far();
    const auto delay = std::chrono::milliseconds(50 + rng() % 900);
    std::this_thread::sleep_for(delay);
    writer.signal(SIGKILL);
    ProcResult r = writer.wait();
    ASSERT_EQ(r.status, 128 + SIGKILL) << r.err;
    const uint64_t durable = std::stoull("0" + read_file(progress));

    Contents c = read_dir(dir);
    SCOPED_TRACE("round " + std::to_string(round) + ", killed after " +
                 std::to_string(delay.count()) + " ms, " + std::to_string(c.sum.segments) +
                 " segments");
    EXPECT_GT(c.seqs.size(), 0u);
    EXPECT_GE(c.records, durable) << "every record the writer had written must read back";
    EXPECT_TRUE(contiguous_from_zero(c.seqs)) << "events in order with no gap";
    for (const auto &n : c.notes)
      ADD_FAILURE() << "the load generator never drops, yet the log notes: " << n;
    // Killed mid-segment, the segment being written has no trailer: a torn tail. Killed between
    // closing a segment and writing the next one's first block, there is none.
    auto damage = c.damage();
    ASSERT_LE(damage.size(), 1u) << c.problems();
    auto files = eventlog::segment_files({dir});
    ASSERT_TRUE(files);
    torn_rounds += !damage.empty();
    for (const auto &p : damage) {
      EXPECT_EQ(p.kind, Problem::Kind::torn_tail) << c.problems();
      EXPECT_EQ(p.segment, files->back()) << "only the segment being written can be torn";
    }

    // The next recorder picks up after the crash and the chain holds across it.
    const size_t before = c.seqs.size();
    {
      eventlog::WriterOptions o;
      o.dir = dir;
      auto w = eventlog::Writer::open(o);
      ASSERT_TRUE(w) << w.error().message();
      for (uint64_t i = 0; i < 100; ++i)
        (*w)->append_event(eventlog::test::mixed_event(1'000'000 + i));
      (*w)->close();
    }
    Contents after = read_dir(dir);
    ASSERT_EQ(after.seqs.size(), before + 100);
    EXPECT_EQ(after.seqs[before], 1'000'000u);
    auto damage2 = after.damage();
    ASSERT_LE(damage2.size(), 1u) << after.problems();
    for (const auto &p : damage2)
      EXPECT_EQ(p.kind, Problem::Kind::torn_tail) << after.problems();
    if (!damage.empty()) {
      ASSERT_FALSE(after.notes.empty()) << "the next recorder notes the crash in the log";
      const std::string &note = after.notes.back();
      EXPECT_TRUE(note.find("no trailer") != std::string::npos ||
                  note.find("no header") != std::string::npos)
          << note;
    }
  }
  EXPECT_GT(torn_rounds, 0) << "no kill landed mid-segment: the torn-tail path went untested";
}

class SmallDisk : public ::testing::Test {
protected:
  void SetUp() override
  {
    VG_REQUIRE_ROOT();
    mnt_ = tmp_ / "mnt";
    fs::create_directories(mnt_);
    ProcResult r = run({"mount", "-t", "tmpfs", "-o", "size=4m", "vigil-test-eventlog", mnt_});
    ASSERT_EQ(r.status, 0) << r.err;
    mounted_ = true;
  }
  void TearDown() override
  {
    if (mounted_ && ::umount2(mnt_.c_str(), 0) != 0)
      ::umount2(mnt_.c_str(), MNT_DETACH);
  }
  // Fills the tmpfs up to `leave` free bytes with a file the test can delete later.
  void fill(const std::string &name, uint64_t leave)
  {
    const auto space = fs::space(mnt_);
    std::ofstream f(mnt_ + "/" + name, std::ios::binary);
    std::string chunk(4096, 'f');
    for (uint64_t left = space.available > leave ? space.available - leave : 0; left >= 4096;
         left -= 4096)
      f.write(chunk.data(), 4096);
  }

  TempDir tmp_;
  std::string mnt_;
  bool mounted_ = false;
};

// Disk full while recording: the error is counted and reported once through the hook, the writer
// keeps taking records (dropping what it cannot hold, counted), and it recovers when space returns.
TEST_F(SmallDisk, full_disk_is_counted_reported_and_survived)
{
  fill("filler", 256 * 1024);
  std::atomic<int> hook_calls{0};
  std::mutex mu;
  std::string hook_message;
  eventlog::WriterOptions o;
  o.dir = mnt_ + "/log";
  o.segment_max_bytes = 128 * 1024;
  o.block_bytes = 8 * 1024;
  o.flush_interval = 20ms;
  o.pending_max_bytes = 64 * 1024;
  o.on_write_error = [&](const Error &e) {
    ++hook_calls;
    std::lock_guard lock(mu);
    hook_message = e.message();
  };
  auto w = eventlog::Writer::open(o);
  ASSERT_TRUE(w) << w.error().message();
  const eventlog::WriterStats &st = (*w)->stats();

  // Paths with random hex compress badly, so the disk fills quickly.
  std::mt19937_64 rng(1);
  uint64_t appended = 0;
  auto append_some = [&](uint64_t base, uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) {
      pipeline::Event ev = eventlog::test::mixed_event(base + i);
      if (auto *op = std::get_if<pipeline::OpenBody>(&ev.body))
        for (int k = 0; k < 4; ++k)
          op->path += "/" + std::to_string(rng());
      appended += (*w)->append_event(ev);
    }
  };
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  uint64_t next = 0;
  while ((st.write_errors.load() == 0 || st.records_dropped_io.load() == 0) &&
         std::chrono::steady_clock::now() < deadline) {
    append_some(next, 1000);
    next += 1000;
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_GT(st.write_errors.load(), 0u) << "the disk never filled";
  ASSERT_GT(st.records_dropped_io.load(), 0u) << "past the pending bound records are dropped";
  EXPECT_TRUE(st.failing.load());
  EXPECT_GE(hook_calls.load(), 1);
  EXPECT_LT(static_cast<uint64_t>(hook_calls.load()), st.write_errors.load())
      << "one report per failure episode, not one per failed retry";
  {
    std::lock_guard lock(mu);
    EXPECT_NE(hook_message.find("No space left on device"), std::string::npos) << hook_message;
  }
  // Still accepting (and dropping, counted) while the disk stays full.
  const uint64_t errors = st.write_errors.load();
  append_some(next, 2000);
  next += 2000;
  std::this_thread::sleep_for(200ms);
  EXPECT_GT(st.write_errors.load(), errors) << "it keeps retrying";

  // Space comes back: writing resumes and says what was lost.
  fs::remove(mnt_ + "/filler");
  const uint64_t written = st.records_written.load();
  const uint64_t marker = 10'000'000;
  append_some(marker, 100);
  const auto resume = std::chrono::steady_clock::now() + 20s;
  while ((st.failing.load() || st.records_written.load() < written + 100) &&
         std::chrono::steady_clock::now() < resume)
    std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(st.failing.load());
  (*w)->close();

  Contents c = read_dir(o.dir);
  for (const auto &p : c.damage()) // a trailer lost to ENOSPC leaves a torn (not corrupt) segment
    EXPECT_EQ(p.kind, Problem::Kind::torn_tail) << c.problems();
  EXPECT_EQ(c.seqs.size() + st.records_dropped_io.load() + st.records_dropped_queue.load() >=
                appended,
            true)
      << "every event is on disk or counted as dropped";
  EXPECT_LE(c.seqs.size(), appended);
  std::set<uint64_t> seen(c.seqs.begin(), c.seqs.end());
  for (uint64_t i = 0; i < 100; ++i)
    EXPECT_TRUE(seen.count(marker + i)) << "record " << marker + i << " after recovery is missing";
  bool resumed_note = false;
  for (const auto &n : c.notes)
    resumed_note |= n.find("writing resumed after failures") != std::string::npos;
  EXPECT_TRUE(resumed_note) << "the log itself says records were dropped";
}

// The daemon side: a full disk under `vigil run --log-dir` is an alert, and enforcement and the
// command carry on.
TEST_F(SmallDisk, vigil_run_on_a_full_disk_alerts_and_keeps_running)
{
  fill("filler", 0);
  const std::string log = mnt_ + "/log";
  fs::create_directories(log); // the directory itself needs no space we do not have
  ProcResult r = run({vigil_bin(), "run", "--log-dir", log, "--", "bash", "-c",
                      "for i in $(seq 40); do cat /etc/hostname >/dev/null; sleep 0.05; done; "
                      "echo done"},
                     {}, 60s);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "done\n");
  EXPECT_NE(r.err.find("eventlog-write-failed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r.err;
}

std::string make_log(const std::string &dir)
{
  eventlog::WriterOptions o;
  o.dir = dir;
  o.block_bytes = 1024;
  auto w = eventlog::Writer::open(o);
  EXPECT_TRUE(w);
  for (const auto &ev : eventlog::test::one_of_each())
    (*w)->append_event(ev);
  pipeline::Event odd = eventlog::test::one_of_each()[3];
  std::get<pipeline::OpenBody>(odd.body).path = "/tmp/not-utf8-\xff\xfe-\"quoted\"\n";
  (*w)->append_event(odd);
  for (uint64_t i = 0; i < 400; ++i)
    (*w)->append_event(eventlog::test::mixed_event(i));
  (*w)->append_policy(R"({"profile_id":1,"name":"coding-agent","text":"mode: enforce\n"})",
                      eventlog::sha256("x"));
  (*w)->append(eventlog::RecordType::process, R"({"pid":1,"comm":"init"})");
  (*w)->append(eventlog::RecordType::cgroup, R"({"cgroup_id":9,"path":"/vigil/run-1"})");
  (*w)->append(eventlog::RecordType::alert, R"({"rule":"credential-read","pid":7})");
  (*w)->append(eventlog::RecordType::note, R"({"text":"hello"})");
  (*w)->close();
  return dir;
}

TEST(EventLogCli, export_is_one_json_object_per_record_that_jq_reads)
{
  TempDir tmp;
  const std::string dir = make_log(tmp / "log");
  const std::string out = tmp / "export.jsonl";
  ProcResult r = run({"sh", "-c",
                      "set -e; '" + std::string(vigil_bin()) + "' log export '" + dir +
                          "' --format json > '" + out + "'; jq -c . '" + out + "'"});
  ASSERT_EQ(r.status, 0) << r.err;
  Contents c = read_dir(dir);
  std::istringstream lines(r.out);
  std::vector<nlohmann::json> objs;
  for (std::string line; std::getline(lines, line);)
    objs.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(objs.size(), c.records) << "jq printed one object per record";
  std::map<std::string, int> kinds;
  for (const auto &j : objs)
    ++kinds[j["record"].get<std::string>()];
  EXPECT_EQ(kinds["event"], static_cast<int>(eventlog::test::one_of_each().size() + 1 + 400));
  EXPECT_EQ(kinds["policy"], 1);
  EXPECT_EQ(kinds["process"], 1);
  EXPECT_EQ(kinds["cgroup"], 1);
  EXPECT_EQ(kinds["alert"], 1);
  EXPECT_EQ(kinds["note"], 1);

  const nlohmann::json &exec = objs[0];
  EXPECT_EQ(exec["type"], "exec");
  EXPECT_EQ(exec["pid"], 4242);
  EXPECT_EQ(exec["comm"], "python3");
  EXPECT_EQ(exec["exe"], "/usr/bin/python3.11");
  EXPECT_EQ(exec["argv"][2], "print('hello world')");
  EXPECT_EQ(exec["verdict"], "denied");
  EXPECT_EQ(exec["tier"], "fanotify");
  // jq 1.6 reads numbers as doubles: compare the exact u64 in vigil's own output instead.
  EXPECT_EQ(nlohmann::json::parse(read_file(out).substr(0, read_file(out).find('\n')))["cgroup_id"],
            0x1122334455667788ull);
  EXPECT_EQ(exec["profile_id"], 7);
  EXPECT_EQ(exec["time"].get<std::string>().back(), 'Z');
  EXPECT_EQ(objs[3]["path"], "/home/dev/.aws/credentials");
  EXPECT_EQ(objs[4]["ip"], "2001:db8::1");
  EXPECT_EQ(objs[4]["port"], 443);
  EXPECT_EQ(objs[eventlog::test::one_of_each().size()]["path"],
            "/tmp/not-utf8-\xef\xbf\xbd\xef\xbf\xbd-\"quoted\"\n")
      << "invalid UTF-8 is replaced, the line stays valid JSON";
  EXPECT_EQ(objs.back()["text"], "hello");

  // jq can filter it as a SIEM would: the argv of every exec.
  ProcResult q = run({"jq", "-r", "select(.type == \"exec\") | .argv[0]", out});
  ASSERT_EQ(q.status, 0) << q.err;
  EXPECT_EQ(q.out.substr(0, 8), "python3\n");
}

TEST(EventLogCli, verify_names_the_segment_and_offset_of_a_flipped_byte)
{
  TempDir tmp;
  const std::string dir = make_log(tmp / "log");
  ProcResult ok = run({vigil_bin(), "log", "verify", dir});
  EXPECT_EQ(ok.status, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find(": ok"), std::string::npos) << ok.out;

  auto files = eventlog::segment_files({dir});
  ASSERT_TRUE(files);
  ASSERT_EQ(files->size(), 1u);
  const std::string seg = files->front();
  Contents before = read_dir(dir);
  std::set<uint64_t> blocks(before.block_offsets.begin(), before.block_offsets.end());
  ASSERT_GE(blocks.size(), 4u);
  std::string bytes = read_file(seg);
  const uint64_t pos = bytes.size() / 2;
  const uint64_t block = *std::prev(blocks.upper_bound(pos));
  bytes[pos] = static_cast<char>(bytes[pos] ^ 0x01);
  write_file(seg, bytes);

  ProcResult bad = run({vigil_bin(), "log", "verify", dir});
  EXPECT_EQ(bad.status, 1) << bad.out << bad.err;
  const std::string want =
      fs::path(seg).filename().string() + ": offset " + std::to_string(block) + ": bad-block";
  EXPECT_EQ(bad.out.substr(0, want.size()), want) << bad.out;

  // The reader skips exactly that block and carries on to the end.
  Contents after = read_dir(dir);
  size_t in_block = 0;
  for (auto off : before.block_offsets)
    in_block += off == block;
  EXPECT_GT(in_block, 0u);
  EXPECT_EQ(after.seqs.size(), before.seqs.size() - in_block);
  EXPECT_EQ(after.seqs.back(), before.seqs.back());

  // Export still gives everything readable, and says what it skipped on stderr.
  ProcResult ex = run({vigil_bin(), "log", "export", dir});
  EXPECT_EQ(ex.status, 0);
  EXPECT_NE(ex.err.find(want), std::string::npos) << ex.err;
}

TEST(EventLogCli, verify_and_export_refuse_paths_without_a_log)
{
  TempDir tmp;
  EXPECT_EQ(run({vigil_bin(), "log", "verify", tmp.path()}).status, 1);
  EXPECT_EQ(run({vigil_bin(), "log", "verify", tmp / "nonexistent"}).status, 1);
  EXPECT_EQ(run({vigil_bin(), "log", "export", tmp / "nonexistent"}).status, 1);
}

// End to end on this host's kernel: everything the agent did is in the log, which verifies.
TEST(EventLogRun, vigil_run_records_the_exec_and_open_of_cat)
{
  VG_REQUIRE_ROOT();
  TempDir tmp;
  const std::string log = tmp / "log";
  ProcResult r =
      run({vigil_bin(), "run", "--log-dir", log, "--", "bash", "-c", "cat /etc/hostname; true"});
  ASSERT_EQ(r.status, 0) << r.err;
  ProcResult v = run({vigil_bin(), "log", "verify", log});
  EXPECT_EQ(v.status, 0) << v.out << v.err;
  ProcResult ex = run({vigil_bin(), "log", "export", log, "--format", "json"});
  ASSERT_EQ(ex.status, 0) << ex.err;
  std::istringstream lines(ex.out);
  int64_t cat_pid = -1;
  bool opened = false, policy = false, cgroup = false, processes = false;
  std::vector<nlohmann::json> events;
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line);
    policy |= j["record"] == "policy" && j["name"] == "coding-agent";
    cgroup |= j["record"] == "cgroup";
    processes |= j["record"] == "process";
    if (j["record"] == "event")
      events.push_back(j);
  }
  for (const auto &j : events)
    if (j["type"] == "exec" && j["exe"] == "/usr/bin/cat" &&
        j["argv"] == nlohmann::json::array({"cat", "/etc/hostname"}))
      cat_pid = j["pid"].get<int64_t>();
  ASSERT_GT(cat_pid, 0) << "no exec of cat in the log:\n" << ex.out.substr(0, 4000);
  for (const auto &j : events)
    opened |= j["type"] == "open" && j["pid"] == cat_pid && j["path"] == "/etc/hostname" &&
              j["ret"].get<int64_t>() >= 0;
  EXPECT_TRUE(opened) << "no open of /etc/hostname by cat (pid " << cat_pid << ")";
  EXPECT_TRUE(policy) << "the profile in force is in the log";
  EXPECT_TRUE(cgroup) << "the agent cgroup is in the log";
  EXPECT_TRUE(processes) << "the processes that predate the log are in it";
}

// Node mode: the daemon's log_dir records the policy, the confined cgroup, the agent's events and
// the alert raised live, and the log it leaves after SIGTERM verifies clean.
TEST(EventLogDaemon, daemon_log_dir_records_policy_cgroup_events_and_alerts)
{
  VG_REQUIRE_ROOT();
  TempDir tmp;
  const std::string tag = "vigil-test-eventlog-" + std::to_string(::getpid());
  const std::string root = cgroup2_mount() + "/" + tag, pins = "/sys/fs/bpf/" + tag;
  const std::string secret = tmp / "secret.pem", log = tmp / "log";
  write_file(secret, "-----BEGIN PRIVATE KEY-----\n");
  const std::string profile = "profile: log-agent\ncredentials:\n  paths:\n    - " + secret + "\n";
  write_file(tmp / "profile.yaml", profile);
  write_file(tmp / "vigil.yaml", "profiles: [profile.yaml]\ncgroups:\n  - path: /" + tag +
                                     "/agent-*\n    profile: log-agent\nlog_dir: " + log +
                                     "\nmetrics_address: 127.0.0.1:" + std::to_string(free_port()) +
                                     "\nrescan_ms: 100\npin_dir: " + pins + "\n");
  fs::create_directories(root + "/agent-1");
  struct Cleanup {
    std::string root, pins;
    ~Cleanup()
    {
      run({vigil_bin(), "unload", "--pin-dir", pins});
      std::error_code ec;
      fs::remove(root + "/agent-1", ec);
      fs::remove(root, ec);
    }
  } cleanup{root, pins};

  Proc daemon({vigil_bin(), "daemon", "--config", tmp / "vigil.yaml"});
  ASSERT_TRUE(daemon.wait_for_err("confining " + root + "/agent-1")) << daemon.err_so_far();
  ProcResult agent = run(
      {"sh", "-c", "echo $$ > " + root + "/agent-1/cgroup.procs && cat " + secret + " >/dev/null"});
  EXPECT_EQ(agent.status, 1) << "the agent's read is denied\n" << agent.err;
  ASSERT_TRUE(daemon.wait_for_err("credential-read")) << daemon.err_so_far();
  daemon.signal(SIGTERM);
  ProcResult d = daemon.wait(30s);
  ASSERT_EQ(d.status, 0) << d.err;

  ProcResult v = run({vigil_bin(), "log", "verify", log});
  EXPECT_EQ(v.status, 0) << v.out << v.err;
  ProcResult ex = run({vigil_bin(), "log", "export", log});
  ASSERT_EQ(ex.status, 0) << ex.err;
  std::istringstream lines(ex.out);
  bool policy = false, cgroup = false, alert = false, denied_open = false;
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line);
    if (j["record"] == "policy")
      policy |= j["name"] == "log-agent" && j["text"] == profile;
    if (j["record"] == "cgroup")
      cgroup |= j["path"] == root + "/agent-1" && j["profile"] == "log-agent";
    if (j["record"] == "alert")
      alert |= j["alert"]["rule"] == "credential-read" && j["alert"]["path"] == secret;
    if (j["record"] == "event" && j["type"] == "open" && j["path"] == secret)
      denied_open |= j["verdict"] == "denied";
  }
  EXPECT_TRUE(policy) << "POLICY with the profile file's text";
  EXPECT_TRUE(cgroup) << "CGROUP naming the confined directory";
  EXPECT_TRUE(alert) << "ALERT as raised live";
  EXPECT_TRUE(denied_open) << "the denied open itself, as an EVENT";
}

} // namespace
} // namespace vigil::test
