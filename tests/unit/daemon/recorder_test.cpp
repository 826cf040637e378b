// SPDX-License-Identifier: Apache-2.0
// daemon::Recorder: the engine's records (process snapshot, policy with its hashes, cgroups,
// events, alerts) as they read back, and a log that cannot be written becoming one alert.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "daemon/recorder.h"
#include "eventlog/hash.h"
#include "eventlog/json.h"
#include "eventlog/reader.h"
#include "policy/profile.h"

namespace vigil::daemon {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class RecorderTest : public ::testing::Test {
protected:
  void SetUp() override
  {
    std::string tmpl = (fs::temp_directory_path() / "vg_recorder_test_XXXXXX").string();
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
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
  }
  void fake_proc(uint32_t pid, const std::string &comm, uint32_t ppid, const std::string &cmdline)
  {
    const fs::path dir = root_ / "proc" / std::to_string(pid);
    write(dir / "stat", std::to_string(pid) + " (" + comm + ") S " + std::to_string(ppid) +
                            " 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 1 1\n");
    write(dir / "cmdline", cmdline);
    write(dir / "status", "Name:\t" + comm + "\nUid:\t1000\t1000\t1000\t1000\n");
  }

  std::vector<nlohmann::ordered_json>
  read_all(std::optional<eventlog::SegmentHeader> *hdr = nullptr)
  {
    std::vector<nlohmann::ordered_json> out;
    eventlog::Visitor v;
    v.on_segment = [&](const eventlog::SegmentInfo &s) {
      if (hdr)
        *hdr = s.header;
    };
    v.on_record = [&](const eventlog::RecordView &r) {
      out.push_back(eventlog::to_json(r));
      return true;
    };
    auto files = eventlog::segment_files({(root_ / "log").string()});
    EXPECT_TRUE(files);
    auto sum = eventlog::read_log(*files, v);
    EXPECT_TRUE(sum.problems.empty());
    return out;
  }

  fs::path root_;
};

TEST_F(RecorderTest, records_what_replay_needs_in_order)
{
  fake_proc(1, "init", 0, std::string("/sbin/init\0splash\0", 18));
  fake_proc(300, "bash", 1, std::string("bash\0", 5));
  pipeline::ProcessTable procs((root_ / "proc").string());
  ASSERT_EQ(procs.seed(), 2u);
  write(root_ / "a.yaml", "name: a\n");
  write(root_ / "b.yaml", "name: b\nmode: audit\n");
  policy::Profile a, b;
  a.name = "a";
  a.source = (root_ / "a.yaml").string();
  b.name = "b";
  b.source = (root_ / "b.yaml").string();

  eventlog::WriterOptions o;
  o.dir = (root_ / "log").string();
  o.flush_interval = 10s; // one block, sealed at close: the header sees the final policy
  auto rec = Recorder::open(o);
  ASSERT_TRUE(rec) << rec.error().message();
  (*rec)->processes(procs);
  (*rec)->policy(1, a);
  (*rec)->policy(2, b);
  (*rec)->cgroup(42, "/sys/fs/cgroup/vigil/run-1", 1, "a");
  pipeline::Event ev{};
  ev.hdr.tgid = 300;
  ev.hdr.comm = "cat";
  ev.body = pipeline::ExitBody{3};
  (*rec)->event(ev);
  detect::Alert alert;
  alert.rule = "credential-read";
  alert.pid = 300;
  (*rec)->alert(alert);
  EXPECT_FALSE((*rec)->take_alert());
  (*rec)->close();

  std::optional<eventlog::SegmentHeader> hdr;
  auto recs = read_all(&hdr);
  ASSERT_EQ(recs.size(), 7u);
  std::set<uint32_t> pids{recs[0]["pid"].get<uint32_t>(), recs[1]["pid"].get<uint32_t>()};
  EXPECT_EQ(pids, (std::set<uint32_t>{1, 300}));
  for (int i : {0, 1}) {
    EXPECT_EQ(recs[i]["record"], "process");
    if (recs[i]["pid"] == 1) {
      EXPECT_EQ(recs[i]["argv"], nlohmann::json::array({"/sbin/init", "splash"}));
      EXPECT_EQ(recs[i]["comm"], "init");
      EXPECT_EQ(recs[i]["uid"], 1000);
    } else {
      EXPECT_EQ(recs[i]["ppid"], 1);
    }
  }
  const std::string ha = eventlog::to_hex(eventlog::sha256("name: a\n"));
  const std::string hb = eventlog::to_hex(eventlog::sha256("name: b\nmode: audit\n"));
  EXPECT_EQ(recs[2]["record"], "policy");
  EXPECT_EQ(recs[2]["name"], "a");
  EXPECT_EQ(recs[2]["text"], "name: a\n");
  EXPECT_EQ(recs[2]["sha256"], ha);
  EXPECT_EQ(recs[2]["policy_sha256"], eventlog::to_hex(eventlog::sha256("1 a " + ha + "\n")));
  const eventlog::Hash both = eventlog::sha256("1 a " + ha + "\n2 b " + hb + "\n");
  EXPECT_EQ(recs[3]["policy_sha256"], eventlog::to_hex(both)) << "the whole policy in force";
  ASSERT_TRUE(hdr);
  EXPECT_EQ(hdr->policy_hash, both) << "segment headers carry the policy in force";
  EXPECT_EQ(recs[4]["record"], "cgroup");
  EXPECT_EQ(recs[4]["cgroup_id"], 42);
  EXPECT_EQ(recs[4]["profile"], "a");
  EXPECT_EQ(recs[5]["type"], "exit");
  EXPECT_EQ(recs[5]["exit_code"], 3);
  EXPECT_EQ(recs[6]["record"], "alert");
  EXPECT_EQ(recs[6]["alert"]["rule"], "credential-read");
  EXPECT_EQ(recs[6]["alert"]["pid"], 300);
}

TEST_F(RecorderTest, a_log_that_cannot_be_written_is_one_alert)
{
  eventlog::WriterOptions o;
  o.dir = (root_ / "log").string();
  o.flush_interval = 20ms;
  auto rec = Recorder::open(o);
  ASSERT_TRUE(rec);
  // The directory vanishes under the recorder and a file takes its place: every create fails.
  fs::rename(root_ / "log", root_ / "gone");
  write(root_ / "log", "not a directory");
  pipeline::Event ev{};
  ev.body = pipeline::ExitBody{0};
  for (int i = 0; i < 20 && (*rec)->stats().write_errors.load() < 2; ++i) {
    (*rec)->event(ev);
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_GE((*rec)->stats().write_errors.load(), 2u);
  auto a = (*rec)->take_alert();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->rule, "eventlog-write-failed");
  EXPECT_EQ(a->severity, policy::Severity::error);
  EXPECT_NE(a->output.find("Not a directory"), std::string::npos) << a->output;
  EXPECT_NE(a->output.find("enforcement continues"), std::string::npos) << a->output;
  EXPECT_FALSE((*rec)->take_alert()) << "once per failure episode";
  (*rec)->close();
}

} // namespace
} // namespace vigil::daemon
