// SPDX-License-Identifier: Apache-2.0
// The writer and reader together on real files: round trips across rotation, the size cap, torn
// tails at every offset, single flipped bytes, removed and replaced segments, crash recovery.
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "eventlog/codec.h"
#include "eventlog/crc32c.h"
#include "eventlog/reader.h"
#include "eventlog/wire.h"
#include "eventlog/writer.h"
#include "samples.h"

namespace vigil::eventlog {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

uint64_t seq_of(const pipeline::Event &ev)
{
  return (ev.hdr.ts_ns - 1'000'000'000ull) / 1000;
}

std::string slurp(const std::string &path)
{
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const std::string &path, const std::string &data)
{
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

struct ReadBack {
  std::vector<uint64_t> seqs;          // mixed_event sequence numbers, in read order
  std::vector<uint64_t> block_offsets; // per event
  std::vector<std::string> segments;   // per event
  std::vector<std::string> notes;      // NOTE texts
  std::map<uint16_t, size_t> types;    // record type -> count
  ReadSummary sum;

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
      s += describe(p) + "\n";
    return s;
  }
};

ReadBack read_back(const std::vector<std::string> &paths)
{
  ReadBack rb;
  auto files = segment_files(paths);
  EXPECT_TRUE(files) << files.error().message();
  Visitor v;
  v.on_record = [&](const RecordView &r) {
    ++rb.types[r.type];
    if (r.type == static_cast<uint16_t>(RecordType::event)) {
      auto ev = decode(r.payload);
      EXPECT_TRUE(ev) << ev.error().message();
      if (ev) {
        rb.seqs.push_back(seq_of(*ev));
        rb.block_offsets.push_back(r.block_offset);
        rb.segments.push_back(r.segment->path);
      }
    } else if (r.type == static_cast<uint16_t>(RecordType::note)) {
      auto *p = reinterpret_cast<const char *>(r.payload.data());
      rb.notes.push_back(nlohmann::json::parse(p, p + r.payload.size())["text"]);
    }
    return true;
  };
  rb.sum = read_log(files ? *files : std::vector<std::string>{}, v);
  return rb;
}

std::vector<uint64_t> iota(uint64_t from, uint64_t to)
{
  std::vector<uint64_t> v;
  for (uint64_t i = from; i < to; ++i)
    v.push_back(i);
  return v;
}

class EventLog : public ::testing::Test {
protected:
  void SetUp() override
  {
    // tmpfs when there is one: the damage tests rewrite a segment thousands of times.
    std::error_code ec;
    const fs::path base =
        fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
    std::string tmpl = (base / "vigil-eventlog.XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/log";
  }
  void TearDown() override
  {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  WriterOptions options(const std::string &dir) const
  {
    WriterOptions o;
    o.dir = dir;
    o.block_bytes = 2048;
    o.flush_interval = 20ms;
    o.host = "testhost";
    o.kernel = "6.1.0-test";
    return o;
  }

  // Writes events [from, to) and closes the writer.
  void write_events(const WriterOptions &o, uint64_t from, uint64_t to)
  {
    auto w = Writer::open(o);
    ASSERT_TRUE(w) << w.error().message();
    for (uint64_t i = from; i < to; ++i)
      while (!(*w)->append_event(test::mixed_event(i)))
        std::this_thread::sleep_for(1ms); // these tests want every record: wait out a full queue
    (*w)->close();
  }

  std::vector<std::string> segments() const
  {
    auto f = segment_files({dir_});
    return f ? *f : std::vector<std::string>{};
  }

  std::string root_, dir_;
};

TEST_F(EventLog, round_trips_every_record_type_in_one_segment)
{
  {
    auto w = Writer::open(options(dir_));
    ASSERT_TRUE(w) << w.error().message();
    for (const auto &ev : test::one_of_each())
      EXPECT_TRUE((*w)->append_event(ev));
    EXPECT_TRUE((*w)->append_policy(R"({"name":"p"})", sha256("policy text")));
    EXPECT_TRUE((*w)->append(RecordType::process, R"({"pid":1})"));
    EXPECT_TRUE((*w)->append(RecordType::cgroup, R"({"id":5})"));
    EXPECT_TRUE((*w)->append(RecordType::alert, R"({"rule":"r"})"));
    EXPECT_TRUE((*w)->append(RecordType::note, R"({"text":"hello"})"));
    EXPECT_TRUE((*w)->append(static_cast<RecordType>(999), "opaque"));
    (*w)->close();
    EXPECT_EQ((*w)->stats().records_written.load(), test::one_of_each().size() + 6);
    EXPECT_EQ((*w)->stats().segments_opened.load(), 1u);
  }
  ReadBack rb = read_back({dir_});
  EXPECT_TRUE(rb.sum.clean()) << rb.problems();
  EXPECT_TRUE(rb.sum.problems.empty()) << rb.problems();
  EXPECT_EQ(rb.sum.records, test::one_of_each().size() + 6);
  EXPECT_EQ(rb.types[1], test::one_of_each().size());
  for (uint16_t t = 2; t <= 6; ++t)
    EXPECT_EQ(rb.types[t], 1u) << t;
  EXPECT_EQ(rb.types[999], 1u) << "unknown types are delivered, not errors";
  EXPECT_THAT(rb.notes, ::testing::ElementsAre("hello"));

  // The header says where and what recorded it.
  std::vector<Problem> problems;
  Visitor v;
  std::optional<SegmentHeader> hdr;
  v.on_segment = [&](const SegmentInfo &s) { hdr = s.header; };
  SegmentResult r = read_segment(segments().at(0), v, problems);
  ASSERT_TRUE(hdr);
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(hdr->seq, 1u);
  EXPECT_EQ(hdr->host, "testhost");
  EXPECT_EQ(hdr->kernel, "6.1.0-test");
  EXPECT_EQ(hdr->vigil_version, VIGIL_VERSION);
  EXPECT_EQ(hdr->prev_hash, Hash{});
  EXPECT_GT(hdr->created_realtime_ns, hdr->created_boottime_ns);
  EXPECT_EQ(fs::path(segments().at(0)).filename(), "seg-0000000000000001.vglog");
}

TEST_F(EventLog, rotates_by_size_and_chains_the_segments)
{
  WriterOptions o = options(dir_);
  o.segment_max_bytes = 16 * 1024;
  write_events(o, 0, 20000);
  const auto segs = segments();
  ASSERT_GT(segs.size(), 5u);
  for (const auto &s : segs)
    EXPECT_LE(fs::file_size(s), o.segment_max_bytes) << s;
  ReadBack rb = read_back({dir_});
  EXPECT_TRUE(rb.sum.problems.empty()) << rb.problems();
  EXPECT_EQ(rb.seqs, iota(0, 20000));
  EXPECT_EQ(rb.sum.segments, segs.size());

  // A second recorder on the same directory continues the numbering and the chain.
  write_events(o, 20000, 21000);
  ReadBack again = read_back({dir_});
  EXPECT_TRUE(again.sum.problems.empty()) << again.problems();
  EXPECT_EQ(again.seqs, iota(0, 21000));
}

TEST_F(EventLog, rotates_by_age)
{
  WriterOptions o = options(dir_);
  o.segment_max_age = 150ms;
  auto w = Writer::open(o);
  ASSERT_TRUE(w);
  for (uint64_t i = 0; i < 30; ++i) {
    (*w)->append_event(test::mixed_event(i));
    std::this_thread::sleep_for(20ms);
  }
  (*w)->close();
  EXPECT_GE(segments().size(), 3u);
  ReadBack rb = read_back({dir_});
  EXPECT_TRUE(rb.sum.problems.empty()) << rb.problems();
  EXPECT_EQ(rb.seqs, iota(0, 30));
}

TEST_F(EventLog, one_recorder_per_directory)
{
  auto a = Writer::open(options(dir_));
  ASSERT_TRUE(a);
  auto b = Writer::open(options(dir_));
  ASSERT_FALSE(b);
  EXPECT_THAT(b.error().message(), HasSubstr("another recorder"));
}

TEST_F(EventLog, size_cap_deletes_the_oldest_segments_and_says_so)
{
  WriterOptions o = options(dir_);
  o.segment_max_bytes = 16 * 1024;
  o.total_max_bytes = 64 * 1024;
  auto w = Writer::open(o);
  ASSERT_TRUE(w);
  for (uint64_t i = 0; i < 30000; ++i)
    while (!(*w)->append_event(test::mixed_event(i)))
      std::this_thread::sleep_for(1ms);
  (*w)->close();
  const uint64_t deleted = (*w)->stats().segments_deleted.load();
  EXPECT_GT(deleted, 0u);
  uint64_t total = 0;
  for (const auto &s : segments())
    total += fs::file_size(s);
  EXPECT_LE(total, o.total_max_bytes + o.segment_max_bytes);
  EXPECT_EQ((*w)->stats().log_bytes.load(), total);
  auto first = parse_segment_name(fs::path(segments().front()).filename().string());
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, deleted + 1) << "the oldest go first";

  ReadBack rb = read_back({dir_});
  EXPECT_TRUE(rb.sum.problems.empty()) << "a capped log verifies clean\n" << rb.problems();
  ASSERT_FALSE(rb.seqs.empty());
  EXPECT_EQ(rb.seqs, iota(rb.seqs.front(), 30000)) << "what is left is contiguous to the end";
  size_t cap_notes = 0;
  for (const auto &n : rb.notes)
    cap_notes += n.find("size cap") != std::string::npos;
  EXPECT_GT(cap_notes, 0u);
}

// A closed log of several blocks; returns its one segment and each block's [start, end).
class Damage : public EventLog {
protected:
  void SetUp() override
  {
    EventLog::SetUp();
    write_events(options(dir_), 0, 300);
    ASSERT_EQ(segments().size(), 1u);
    seg_ = segments()[0];
    original_ = slurp(seg_);
    ReadBack rb = read_back({dir_});
    ASSERT_TRUE(rb.sum.problems.empty()) << rb.problems();
    ASSERT_EQ(rb.seqs, iota(0, 300));
    for (size_t i = 0; i < rb.seqs.size(); ++i)
      block_of_[rb.seqs[i]] = rb.block_offsets[i];
    std::set<uint64_t> starts(rb.block_offsets.begin(), rb.block_offsets.end());
    trailer_ = original_.size() - kFrameHeaderSize - kTrailerSize;
    starts.insert(trailer_);
    blocks_.assign(starts.begin(), starts.end());
    ASSERT_GE(blocks_.size(), 6u) << "the test needs several blocks";
  }

  // The start of the block (or trailer) holding byte pos.
  uint64_t block_at(uint64_t pos) const
  {
    return *std::prev(std::upper_bound(blocks_.begin(), blocks_.end(), pos));
  }

  std::string seg_, original_;
  std::map<uint64_t, uint64_t> block_of_; // event seq -> block offset
  std::vector<uint64_t> blocks_;          // record blocks, then the trailer
  uint64_t trailer_ = 0;
};

TEST_F(Damage, torn_tail_at_every_offset_keeps_every_complete_record)
{
  for (uint64_t cut = 0; cut < original_.size(); ++cut) {
    spit(seg_, original_.substr(0, cut));
    ReadBack rb = read_back({seg_});
    // Complete blocks are those that end at or before the cut.
    std::vector<uint64_t> want;
    for (const auto &[seq, off] : block_of_) {
      auto next = std::upper_bound(blocks_.begin(), blocks_.end(), off);
      if (*next <= cut)
        want.push_back(seq);
    }
    ASSERT_EQ(rb.seqs, want) << "cut at " << cut;
    auto damage = rb.damage();
    ASSERT_EQ(damage.size(), 1u) << "cut at " << cut << "\n" << rb.problems();
    EXPECT_EQ(damage[0].kind, Problem::Kind::torn_tail) << describe(damage[0]);
    // At the block (or trailer) the cut falls in; a cut on a boundary is "no trailer" there.
    const uint64_t expect_at = cut < kSegmentHeaderSize ? 0 : block_at(cut);
    EXPECT_EQ(damage[0].offset, expect_at) << "cut at " << cut << ": " << describe(damage[0]);
  }
}

TEST_F(Damage, flipped_byte_is_named_at_its_block_and_only_that_block_is_skipped)
{
  for (uint64_t pos = 0; pos < original_.size(); ++pos) {
    std::string bad = original_;
    bad[pos] = static_cast<char>(bad[pos] ^ 0x40);
    spit(seg_, bad);
    ReadBack rb = read_back({seg_});
    auto damage = rb.damage();
    ASSERT_FALSE(damage.empty()) << "flip at " << pos << " went unnoticed";
    const Problem &first = damage[0];
    EXPECT_EQ(first.segment, seg_);
    if (pos < kSegmentHeaderSize) {
      EXPECT_EQ(first.kind, Problem::Kind::bad_header) << pos << ": " << describe(first);
      EXPECT_EQ(first.offset, 0u);
      EXPECT_EQ(rb.seqs, iota(0, 300)) << "a bad header loses no record";
      continue;
    }
    const uint64_t block = block_at(pos);
    EXPECT_EQ(first.offset, block) << "flip at " << pos << ": " << rb.problems();
    EXPECT_EQ(first.kind, Problem::Kind::bad_block) << pos << ": " << describe(first);
    std::vector<uint64_t> want;
    for (const auto &[seq, off] : block_of_)
      if (off != block)
        want.push_back(seq);
    ASSERT_EQ(rb.seqs, want) << "flip at " << pos << ": exactly that block's records go\n"
                             << rb.problems();
    EXPECT_EQ(rb.sum.records_skipped, block_of_.size() - want.size())
        << "flip at " << pos << ": the skipped records are counted";
    if (block != trailer_) {
      EXPECT_EQ(damage.size(), 1u) << "flip at " << pos << ": one flip, one report\n"
                                   << rb.problems();
    }
  }
}

// A block whose stored bytes are intact but one record inside is corrupt (as memory damage before
// compression would leave it): that record and the rest of its block are skipped, nothing else.
TEST_F(EventLog, bad_record_in_a_good_block_is_skipped)
{
  ASSERT_TRUE(fs::create_directories(dir_));
  const std::string path = dir_ + "/" + segment_name(1);
  SegmentHeader h;
  h.seq = 1;
  const std::string header = encode_header(h);
  Sha256 sha;
  Hash chain = chain_start(sha, wire::as_bytes(header));
  std::string file = header;
  auto add_block = [&](const std::vector<std::string> &payloads, int corrupt) {
    std::string raw;
    for (size_t i = 0; i < payloads.size(); ++i) {
      std::string rec;
      wire::put_u32(rec, static_cast<uint32_t>(payloads[i].size()));
      wire::put_u16(rec, static_cast<uint16_t>(RecordType::note));
      wire::put_u16(rec, 0);
      uint32_t crc = crc32c(payloads[i].data(), payloads[i].size(), crc32c(rec.data(), 8));
      wire::put_u32(rec, static_cast<int>(i) == corrupt ? crc ^ 1 : crc);
      raw += rec + payloads[i];
    }
    FrameHeader f;
    f.codec = BlockCodec::stored;
    f.raw_len = f.stored_len = static_cast<uint32_t>(raw.size());
    f.count = static_cast<uint32_t>(payloads.size());
    f.chain = chain;
    f.data_crc = crc32c(raw.data(), raw.size());
    const std::string frame = encode_frame(f);
    chain = chain_next(sha, chain, wire::as_bytes(frame), wire::as_bytes(raw));
    file += frame + raw;
  };
  add_block({R"({"text":"a"})", R"({"text":"b"})", R"({"text":"c"})"}, 1);
  const uint64_t second = file.size();
  add_block({R"({"text":"d"})"}, -1);
  FrameHeader t;
  t.kind = BlockKind::trailer;
  const std::string tp = encode_trailer(Trailer{4, 0, CloseReason::shutdown});
  t.raw_len = t.stored_len = static_cast<uint32_t>(tp.size());
  t.chain = chain;
  t.data_crc = crc32c(tp.data(), tp.size());
  file += encode_frame(t) + tp;
  spit(path, file);

  ReadBack rb = read_back({dir_});
  EXPECT_THAT(rb.notes, ::testing::ElementsAre("a", "d"));
  ASSERT_EQ(rb.damage().size(), 1u) << rb.problems();
  EXPECT_EQ(rb.damage()[0].kind, Problem::Kind::bad_record);
  EXPECT_EQ(rb.damage()[0].offset, kSegmentHeaderSize);
  EXPECT_THAT(rb.damage()[0].what, HasSubstr("record 1"));
  EXPECT_EQ(rb.sum.records_skipped, 2u);
  (void)second;
}

// Many flips at once, cuts, duplicated and spliced ranges: the reader reports and carries on,
// never crashes, and whatever it delivers has a valid CRC (so it decodes or is refused cleanly).
TEST_F(Damage, random_damage_never_crashes_the_reader)
{
  std::mt19937 rng(1234);
  size_t damaged = 0;
  for (int iter = 0; iter < 1500; ++iter) {
    std::string bad = original_;
    switch (iter % 4) {
    case 0:
      for (int k = 0, n = 1 + static_cast<int>(rng() % 20); k < n; ++k)
        bad[rng() % bad.size()] = static_cast<char>(rng());
      break;
    case 1:
      bad.resize(rng() % bad.size());
      break;
    case 2: { // a range repeated
      const size_t a = rng() % bad.size(), n = rng() % 4096;
      bad.insert(a, bad.substr(a, n));
      break;
    }
    default: { // a range removed
      const size_t a = rng() % bad.size();
      bad.erase(a, rng() % 4096);
      break;
    }
    }
    spit(seg_, bad);
    ReadBack rb = read_back({seg_});
    damaged += !rb.damage().empty();
    EXPECT_LE(rb.seqs.size(), 2 * block_of_.size());
  }
  EXPECT_GT(damaged, 1400u) << "nearly every mutation must be noticed";
}

TEST_F(Damage, a_block_cut_out_breaks_the_chain_at_the_next_block)
{
  const uint64_t a = blocks_[2], b = blocks_[3];
  spit(seg_, original_.substr(0, a) + original_.substr(b));
  ReadBack rb = read_back({seg_});
  auto damage = rb.damage();
  ASSERT_EQ(damage.size(), 1u) << rb.problems();
  EXPECT_EQ(damage[0].kind, Problem::Kind::chain_break);
  EXPECT_EQ(damage[0].offset, a) << "the block now at the cut names a chain that is gone";
}

class Chain : public EventLog {
protected:
  void SetUp() override
  {
    EventLog::SetUp();
    WriterOptions o = options(dir_);
    o.segment_max_bytes = 8 * 1024;
    write_events(o, 0, 3000);
    ASSERT_GE(segments().size(), 4u);
  }
};

TEST_F(Chain, a_deleted_middle_segment_is_a_chain_break_at_the_next)
{
  auto segs = segments();
  fs::remove(segs[1]);
  ReadBack rb = read_back({dir_});
  auto damage = rb.damage();
  ASSERT_EQ(damage.size(), 1u) << rb.problems();
  EXPECT_EQ(damage[0].kind, Problem::Kind::chain_break);
  EXPECT_EQ(damage[0].segment, segs[2]);
  EXPECT_EQ(damage[0].offset, 0u);
  EXPECT_THAT(damage[0].what, HasSubstr("missing"));
}

TEST_F(Chain, a_replaced_segment_is_a_chain_break_at_itself)
{
  // Another log written the same way: its segment 2 is well formed but is not ours.
  const std::string other = root_ + "/other";
  WriterOptions o = options(other);
  o.segment_max_bytes = 8 * 1024;
  write_events(o, 0, 3000);
  auto segs = segments();
  fs::copy_file(other + "/" + segment_name(2), segs[1], fs::copy_options::overwrite_existing);
  ReadBack rb = read_back({dir_});
  auto damage = rb.damage();
  ASSERT_FALSE(damage.empty()) << rb.problems();
  EXPECT_EQ(damage[0].kind, Problem::Kind::chain_break);
  EXPECT_EQ(damage[0].segment, segs[1]);
  EXPECT_THAT(damage[0].what, HasSubstr("replaced"));
  ASSERT_EQ(damage.size(), 2u) << rb.problems();
  EXPECT_EQ(damage[1].segment, segs[2]) << "and the one after it no longer follows";
}

TEST_F(Chain, reading_a_subset_checks_only_what_is_given)
{
  auto segs = segments();
  ReadBack rb = read_back({segs[2], segs[1]}); // any order: sorted by seq
  EXPECT_TRUE(rb.sum.problems.empty()) << rb.problems();
  ReadBack gap = read_back({segs[0], segs[2]});
  ASSERT_EQ(gap.damage().size(), 1u);
  EXPECT_EQ(gap.damage()[0].kind, Problem::Kind::chain_break);
}

// A recorder that dies without closing (no trailer): the log reads back whole up to its last
// written block, the torn tail is reported once, and the next recorder continues the chain.
TEST_F(EventLog, recovers_after_a_recorder_dies_without_closing)
{
  WriterOptions o = options(dir_);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto w = Writer::open(o);
    if (!w)
      ::_exit(2);
    for (uint64_t i = 0; i < 500; ++i)
      while (!(*w)->append_event(test::mixed_event(i)))
        std::this_thread::sleep_for(1ms);
    while ((*w)->stats().records_written.load() < 500)
      std::this_thread::sleep_for(5ms);
    ::_exit(0); // no close(): no trailer
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ReadBack torn = read_back({dir_});
  EXPECT_EQ(torn.seqs, iota(0, 500));
  ASSERT_EQ(torn.damage().size(), 1u) << torn.problems();
  EXPECT_EQ(torn.damage()[0].kind, Problem::Kind::torn_tail);

  write_events(o, 500, 800);
  ReadBack rb = read_back({dir_});
  EXPECT_EQ(rb.seqs, iota(0, 800));
  ASSERT_EQ(rb.damage().size(), 1u) << "only the torn tail; the chain holds\n" << rb.problems();
  EXPECT_EQ(rb.damage()[0].kind, Problem::Kind::torn_tail);
  EXPECT_EQ(rb.damage()[0].segment, segments()[0]);
  ASSERT_FALSE(rb.notes.empty());
  EXPECT_THAT(rb.notes[0], HasSubstr("has no trailer"));
}

TEST_F(EventLog, segment_being_written_is_active_not_torn)
{
  WriterOptions o = options(dir_);
  auto w = Writer::open(o);
  ASSERT_TRUE(w);
  for (uint64_t i = 0; i < 100; ++i)
    (*w)->append_event(test::mixed_event(i));
  while ((*w)->stats().records_written.load() < 100)
    std::this_thread::sleep_for(5ms);
  ReadBack rb = read_back({dir_});
  EXPECT_EQ(rb.seqs, iota(0, 100));
  EXPECT_TRUE(rb.sum.clean()) << rb.problems();
  ASSERT_EQ(rb.sum.problems.size(), 1u);
  EXPECT_EQ(rb.sum.problems[0].kind, Problem::Kind::active);
}

TEST_F(EventLog, full_queue_drops_are_counted_and_noted)
{
  WriterOptions o = options(dir_);
  o.queue_capacity = 4;
  auto w = Writer::open(o);
  ASSERT_TRUE(w);
  uint64_t accepted = 0;
  for (uint64_t i = 0; i < 200000; ++i)
    accepted += (*w)->append_event(test::mixed_event(i));
  (*w)->close();
  const uint64_t dropped = (*w)->stats().records_dropped_queue.load();
  EXPECT_EQ(accepted + dropped, 200000u);
  ReadBack rb = read_back({dir_});
  EXPECT_TRUE(rb.sum.problems.empty()) << rb.problems();
  EXPECT_EQ(rb.seqs.size(), accepted);
  if (dropped > 0) {
    uint64_t noted = 0;
    for (const auto &n : rb.notes)
      if (n.find("queue was full") != std::string::npos)
        noted += std::stoull(n);
    EXPECT_EQ(noted, dropped) << "every drop is accounted for in the log itself";
  }
}

TEST(SegmentName, round_trips_and_refuses_others)
{
  EXPECT_EQ(segment_name(42), "seg-0000000000000042.vglog");
  EXPECT_EQ(parse_segment_name("seg-0000000000000042.vglog"), 42u);
  EXPECT_FALSE(parse_segment_name("seg-42.vglog"));
  EXPECT_FALSE(parse_segment_name("seg-00000000000000x2.vglog"));
  EXPECT_FALSE(parse_segment_name(".lock"));
}

} // namespace
} // namespace vigil::eventlog
