// SPDX-License-Identifier: Apache-2.0
// Encoders and parsers of the segment header, block frames and trailer.
#include "eventlog/format.h"

#include <cstdio>
#include <cstring>

#include "eventlog/crc32c.h"
#include "eventlog/wire.h"

namespace vigil::eventlog {

namespace {

using namespace wire;

void put_fixed(std::string &out, std::string_view s, size_t width)
{
  const size_t n = std::min(s.size(), width);
  out.append(s.data(), n);
  out.append(width - n, '\0');
}

std::string get_fixed(std::span<const std::byte> b)
{
  const auto *p = reinterpret_cast<const char *>(b.data());
  return std::string(p, ::strnlen(p, b.size()));
}

void put_hash(std::string &out, const Hash &h)
{
  out.append(reinterpret_cast<const char *>(h.data()), h.size());
}

Hash get_hash(std::span<const std::byte> b)
{
  Hash h{};
  std::memcpy(h.data(), b.data(), h.size());
  return h;
}

} // namespace

std::string_view to_string(RecordType t)
{
  switch (t) {
  case RecordType::event:
    return "event";
  case RecordType::policy:
    return "policy";
  case RecordType::process:
    return "process";
  case RecordType::cgroup:
    return "cgroup";
  case RecordType::alert:
    return "alert";
  case RecordType::note:
    return "note";
  }
  return "unknown";
}

std::string encode_header(const SegmentHeader &h)
{
  std::string out;
  out.reserve(kSegmentHeaderSize);
  out.append(kSegmentMagic, sizeof(kSegmentMagic));
  put_u16(out, h.version);
  put_u16(out, static_cast<uint16_t>(kSegmentHeaderSize));
  put_u32(out, 0);
  put_u64(out, h.seq);
  put_u64(out, h.created_realtime_ns);
  put_u64(out, h.created_boottime_ns);
  put_hash(out, h.policy_hash);
  put_hash(out, h.prev_hash);
  put_fixed(out, h.host, 64);
  put_fixed(out, h.kernel, 64);
  put_fixed(out, h.vigil_version, 32);
  out.append(kSegmentHeaderSize - 4 - out.size(), '\0');
  put_u32(out, crc32c(out.data(), out.size()));
  return out;
}

Result<SegmentHeader> parse_header(std::span<const std::byte> b)
{
  if (b.size() < kSegmentHeaderSize)
    return fail("segment header: " + std::to_string(b.size()) + " bytes, need " +
                std::to_string(kSegmentHeaderSize));
  if (std::memcmp(b.data(), kSegmentMagic, sizeof(kSegmentMagic)) != 0)
    return fail("segment header: bad magic (not a vigil event log segment)");
  const uint32_t want = load_le<uint32_t>(b.data() + kSegmentHeaderSize - 4);
  if (crc32c(b.data(), kSegmentHeaderSize - 4) != want)
    return fail("segment header: CRC mismatch");
  SegmentHeader h;
  h.version = load_le<uint16_t>(b.data() + 8);
  if (h.version != kFormatVersion)
    return fail("segment header: format version " + std::to_string(h.version) +
                " (this vigil reads " + std::to_string(kFormatVersion) + ")");
  if (load_le<uint16_t>(b.data() + 10) != kSegmentHeaderSize)
    return fail("segment header: unexpected header size");
  h.seq = load_le<uint64_t>(b.data() + 16);
  h.created_realtime_ns = load_le<uint64_t>(b.data() + 24);
  h.created_boottime_ns = load_le<uint64_t>(b.data() + 32);
  h.policy_hash = get_hash(b.subspan(40, 32));
  h.prev_hash = get_hash(b.subspan(72, 32));
  h.host = get_fixed(b.subspan(104, 64));
  h.kernel = get_fixed(b.subspan(168, 64));
  h.vigil_version = get_fixed(b.subspan(232, 32));
  return h;
}

std::string encode_frame(const FrameHeader &f)
{
  std::string out;
  out.reserve(kFrameHeaderSize);
  out.append(kBlockMagic, sizeof(kBlockMagic));
  put_u16(out, static_cast<uint16_t>(f.kind));
  put_u16(out, static_cast<uint16_t>(f.codec));
  put_u32(out, f.raw_len);
  put_u32(out, f.stored_len);
  put_u32(out, f.count);
  put_u32(out, 0);
  put_u64(out, f.first_index);
  put_hash(out, f.chain);
  put_u32(out, f.data_crc);
  put_u32(out, crc32c(out.data(), out.size()));
  return out;
}

std::optional<FrameHeader> parse_frame(std::span<const std::byte> b)
{
  if (b.size() < kFrameHeaderSize || std::memcmp(b.data(), kBlockMagic, sizeof(kBlockMagic)) != 0)
    return std::nullopt;
  if (crc32c(b.data(), kFrameHeaderSize - 4) != load_le<uint32_t>(b.data() + 68))
    return std::nullopt;
  FrameHeader f;
  const uint16_t kind = load_le<uint16_t>(b.data() + 4);
  const uint16_t codec = load_le<uint16_t>(b.data() + 6);
  if (kind != static_cast<uint16_t>(BlockKind::records) &&
      kind != static_cast<uint16_t>(BlockKind::trailer))
    return std::nullopt;
  if (codec > static_cast<uint16_t>(BlockCodec::zstd))
    return std::nullopt;
  f.kind = static_cast<BlockKind>(kind);
  f.codec = static_cast<BlockCodec>(codec);
  f.raw_len = load_le<uint32_t>(b.data() + 8);
  f.stored_len = load_le<uint32_t>(b.data() + 12);
  f.count = load_le<uint32_t>(b.data() + 16);
  f.first_index = load_le<uint64_t>(b.data() + 24);
  f.chain = get_hash(b.subspan(32, 32));
  f.data_crc = load_le<uint32_t>(b.data() + 64);
  if (f.raw_len > kMaxBlockBytes || f.stored_len > kMaxStoredBytes)
    return std::nullopt;
  if (f.codec == BlockCodec::stored && f.raw_len != f.stored_len)
    return std::nullopt;
  return f;
}

Hash chain_start(Sha256 &sha, std::span<const std::byte> header_bytes)
{
  sha.update(header_bytes);
  return sha.finish();
}

Hash chain_next(Sha256 &sha, const Hash &prev, std::span<const std::byte> frame_bytes,
                std::span<const std::byte> stored)
{
  sha.update(prev.data(), prev.size());
  sha.update(frame_bytes.first(32));
  sha.update(stored);
  return sha.finish();
}

std::string encode_trailer(const Trailer &t)
{
  std::string out;
  put_u64(out, t.records);
  put_u64(out, t.closed_realtime_ns);
  put_u32(out, static_cast<uint32_t>(t.reason));
  put_u32(out, 0);
  return out;
}

std::optional<Trailer> parse_trailer(std::span<const std::byte> b)
{
  if (b.size() != kTrailerSize)
    return std::nullopt;
  Trailer t;
  t.records = load_le<uint64_t>(b.data());
  t.closed_realtime_ns = load_le<uint64_t>(b.data() + 8);
  t.reason = static_cast<CloseReason>(load_le<uint32_t>(b.data() + 16));
  return t;
}

std::string segment_name(uint64_t seq)
{
  char buf[48];
  std::snprintf(buf, sizeof(buf), "seg-%016llu.vglog", static_cast<unsigned long long>(seq));
  return buf;
}

std::optional<uint64_t> parse_segment_name(std::string_view name)
{
  constexpr std::string_view kPrefix = "seg-", kSuffix = ".vglog";
  if (name.size() != kPrefix.size() + 16 + kSuffix.size() || name.substr(0, 4) != kPrefix ||
      name.substr(name.size() - kSuffix.size()) != kSuffix)
    return std::nullopt;
  uint64_t v = 0;
  for (char ch : name.substr(kPrefix.size(), 16)) {
    if (ch < '0' || ch > '9')
      return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(ch - '0');
  }
  return v;
}

} // namespace vigil::eventlog
