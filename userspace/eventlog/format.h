// SPDX-License-Identifier: Apache-2.0
// The event log's on-disk format (docs/EVENTLOG.md is the prose version): segment files of a
// fixed header followed by framed, checksummed, hash-chained blocks of records. Every integer is
// little-endian. Encoders and parsers for the fixed structures live here; writer.h and reader.h
// build on them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"
#include "eventlog/hash.h"

namespace vigil::eventlog {

// Record types. The space is open: readers skip (and export names) types they do not know.
enum class RecordType : uint16_t {
  event = 1,   // a pipeline::Event, binary (codec.h)
  policy = 2,  // JSON: a profile file in force, its text and SHA-256; the policy hash after it
  process = 3, // JSON: a process-table entry that predates the log (ancestry for replay)
  cgroup = 4,  // JSON: cgroup id -> path and profile
  alert = 5,   // JSON: an alert as raised live (exporter::to_json)
  note = 6,    // JSON: {"text": ...} from the recorder itself (drops, cap deletions, recovery)
};
std::string_view to_string(RecordType t); // "event", ..., "unknown"

inline constexpr char kSegmentMagic[8] = {'V', 'I', 'G', 'I', 'L', 'L', 'O', 'G'};
inline constexpr char kBlockMagic[4] = {'V', 'G', 'B', 'K'};
inline constexpr uint16_t kFormatVersion = 1;
inline constexpr size_t kSegmentHeaderSize = 512;
inline constexpr size_t kFrameHeaderSize = 72;
inline constexpr size_t kRecordHeaderSize = 12;
inline constexpr size_t kTrailerSize = 24;
// Bounds the reader enforces before allocating: a record payload, and a block's uncompressed and
// stored sizes (a record larger than the block target travels alone in its block).
inline constexpr size_t kMaxRecordPayload = 4u << 20;
inline constexpr size_t kMaxBlockBytes = 8u << 20;
inline constexpr size_t kMaxStoredBytes = kMaxBlockBytes + (kMaxBlockBytes >> 7) + 4096;

enum class BlockKind : uint16_t { records = 1, trailer = 2 };
enum class BlockCodec : uint16_t { stored = 0, zstd = 1 };

// The segment header, 512 bytes at offset 0:
//   0 magic "VIGILLOG" | 8 u16 format version | 10 u16 header size (512) | 12 u32 flags (0)
//   16 u64 seq | 24 u64 created CLOCK_REALTIME ns | 32 u64 created CLOCK_BOOTTIME ns
//   40 32 B policy SHA-256 | 72 32 B previous segment's final chain hash (zero: none)
//   104 64 B host | 168 64 B kernel release | 232 32 B vigil version (NUL-padded, truncated)
//   264..507 zero | 508 u32 CRC32C of bytes 0..507
struct SegmentHeader {
  uint16_t version = kFormatVersion;
  uint64_t seq = 0;
  uint64_t created_realtime_ns = 0;
  uint64_t created_boottime_ns = 0;
  Hash policy_hash{};
  Hash prev_hash{};
  std::string host;
  std::string kernel;
  std::string vigil_version;
};
std::string encode_header(const SegmentHeader &h); // exactly kSegmentHeaderSize bytes
// Checks magic, version, size and CRC.
Result<SegmentHeader> parse_header(std::span<const std::byte> bytes);

// A block frame header, 72 bytes, followed by `stored_len` bytes:
//   0 magic "VGBK" | 4 u16 kind (BlockKind) | 6 u16 codec (BlockCodec) | 8 u32 raw length
//   12 u32 stored length | 16 u32 record count | 20 u32 zero | 24 u64 index of its first record
//   in the segment | 32 32 B chain hash before this block | 64 u32 CRC32C of the stored bytes
//   68 u32 CRC32C of bytes 0..67
struct FrameHeader {
  BlockKind kind = BlockKind::records;
  BlockCodec codec = BlockCodec::stored;
  uint32_t raw_len = 0;
  uint32_t stored_len = 0;
  uint32_t count = 0;
  uint64_t first_index = 0;
  Hash chain{};
  uint32_t data_crc = 0;
};
std::string encode_frame(const FrameHeader &f); // exactly kFrameHeaderSize bytes
// nullopt unless magic, header CRC, kind, codec and the size bounds all check out.
std::optional<FrameHeader> parse_frame(std::span<const std::byte> bytes);

// The chain: h0 = SHA-256(segment header bytes); after each records block,
// h = SHA-256(h || frame bytes 0..31 || stored bytes). The trailer carries the final h.
Hash chain_start(Sha256 &sha, std::span<const std::byte> header_bytes);
Hash chain_next(Sha256 &sha, const Hash &prev, std::span<const std::byte> frame_bytes,
                std::span<const std::byte> stored);

// Trailer payload (a block of kind trailer, codec stored): u64 records in the segment
// | u64 closed CLOCK_REALTIME ns | u32 close reason | u32 zero.
enum class CloseReason : uint32_t { shutdown = 1, size = 2, age = 3 };
struct Trailer {
  uint64_t records = 0;
  uint64_t closed_realtime_ns = 0;
  CloseReason reason = CloseReason::shutdown;
};
std::string encode_trailer(const Trailer &t);
std::optional<Trailer> parse_trailer(std::span<const std::byte> bytes);

// "seg-0000000000000042.vglog"; parse_segment_name reads the seq back from a file name.
std::string segment_name(uint64_t seq);
std::optional<uint64_t> parse_segment_name(std::string_view filename);

} // namespace vigil::eventlog
