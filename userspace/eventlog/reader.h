// SPDX-License-Identifier: Apache-2.0
// Reading an event log: every record of a directory's segments (in seq order) or of given segment
// files, with every CRC and the hash chain checked. Damage is reported, never fatal: a bad block
// or record is skipped and reading goes on; a torn tail (a recorder killed mid-write) is reported
// and everything complete before it is returned. Replay, `vigil log verify|export` and the tests
// all read through here.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "eventlog/format.h"

namespace vigil::eventlog {

struct Problem {
  enum class Kind {
    io,          // the file could not be read
    bad_header,  // segment header: magic, version or CRC
    bad_block,   // block frame or stored bytes: CRC, decompression, record count
    bad_record,  // a record inside a good block: CRC or length
    chain_break, // hash chain: a block or segment altered, removed, inserted or replaced
    torn_tail,   // the segment ends mid-block or without its trailer
    active,      // no trailer yet, but a recorder holds the segment open: not damage
  };
  Kind kind;
  std::string segment; // path as given or found
  uint64_t offset = 0; // byte offset in the segment file (a block's frame for block problems)
  std::string what;
  // Everything but `active` counts as damage for `vigil log verify`.
  bool damage() const { return kind != Kind::active; }
};
std::string_view to_string(Problem::Kind k);
// "seg-0000000000000003.vglog: offset 4242: block data CRC mismatch (...)"
std::string describe(const Problem &p);

struct SegmentInfo {
  std::string path;
  bool header_ok = false;
  SegmentHeader header; // meaningful when header_ok
};

struct RecordView {
  uint16_t type = 0; // RecordType, or a type this version does not know
  uint16_t flags = 0;
  std::span<const std::byte> payload; // valid only during the callback
  const SegmentInfo *segment = nullptr;
  uint64_t block_offset = 0; // file offset of the frame of the block holding the record
  uint64_t index = 0;        // the record's index in its segment
};

struct Visitor {
  std::function<void(const SegmentInfo &)> on_segment; // before the segment's records
  std::function<bool(const RecordView &)> on_record;   // false stops the read
  std::function<void(const Problem &)> on_problem;     // as found, in file order
};

struct SegmentResult {
  std::optional<SegmentHeader> header;
  Hash final_hash{};        // the trailer's, or the chain through the last complete block
  bool closed = false;      // a valid trailer was found
  uint64_t end_of_good = 0; // offset just past the last complete block
  uint64_t records = 0;     // records delivered
  uint64_t records_skipped = 0;
};

struct ReadSummary {
  uint64_t segments = 0;
  uint64_t records = 0;
  uint64_t records_skipped = 0; // inside blocks or records found damaged
  std::vector<Problem> problems;
  bool stopped = false; // on_record returned false
  bool clean() const;   // no damage
};

// Expands directories to their seg-*.vglog files; files are taken as given. The result is ordered
// by the seq in each name (files whose names do not parse keep their place at the end).
Result<std::vector<std::string>> segment_files(const std::vector<std::string> &paths);

// Reads the segments in order. The chain is checked across consecutive segments (seq n+1 must name
// the final hash of seq n); the first segment's predecessor is not checked, since the size cap
// deletes the oldest segments.
ReadSummary read_log(const std::vector<std::string> &files, const Visitor &v);

// One segment alone. `problems` receives what read_log would report for it.
SegmentResult read_segment(const std::string &path, const Visitor &v,
                           std::vector<Problem> &problems);

} // namespace vigil::eventlog
