// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the event-log reader on arbitrary segment bytes, as `vigil log verify|export` and
// replay meet a damaged or forged log: every record found is exported to JSON as `vigil log
// export` does. First byte odd: before reading, the CRCs of the header, of every block frame
// found by walking the frames, and of the records in stored blocks are recomputed, so that
// mutations reach the record and payload parsers instead of stopping at a checksum.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "eventlog/crc32c.h"
#include "eventlog/format.h"
#include "eventlog/json.h"
#include "eventlog/reader.h"
#include "eventlog/wire.h"
#include "fuzz.h"

namespace {

using namespace vigil;
using namespace vigil::eventlog;

void fix_crc(std::string &b, size_t at, size_t from, size_t len)
{
  wire::store_le<uint32_t>(reinterpret_cast<std::byte *>(&b[at]), crc32c(b.data() + from, len));
}

void fix_records(std::string &b, size_t off, size_t len)
{
  size_t p = 0;
  while (len - p >= kRecordHeaderSize) {
    const auto *r = reinterpret_cast<const std::byte *>(b.data() + off + p);
    const uint32_t n = wire::load_le<uint32_t>(r);
    if (n > len - p - kRecordHeaderSize)
      return;
    const uint32_t crc = crc32c(r + kRecordHeaderSize, n, crc32c(r, 8));
    wire::store_le<uint32_t>(reinterpret_cast<std::byte *>(&b[off + p + 8]), crc);
    p += kRecordHeaderSize + n;
  }
}

void fix_checksums(std::string &b)
{
  if (b.size() < kSegmentHeaderSize)
    return;
  fix_crc(b, 508, 0, 508);
  size_t pos = kSegmentHeaderSize;
  while (b.size() - pos >= kFrameHeaderSize && b.compare(pos, 4, kBlockMagic, 4) == 0) {
    const auto *f = reinterpret_cast<const std::byte *>(b.data() + pos);
    const uint16_t codec = wire::load_le<uint16_t>(f + 6);
    const uint32_t stored = wire::load_le<uint32_t>(f + 12);
    const size_t have = std::min<size_t>(stored, b.size() - pos - kFrameHeaderSize);
    if (codec == static_cast<uint16_t>(BlockCodec::stored))
      fix_records(b, pos + kFrameHeaderSize, have);
    fix_crc(b, pos + 64, pos + kFrameHeaderSize, have);
    fix_crc(b, pos + 68, pos, 68);
    pos += kFrameHeaderSize + have;
  }
}

// One memory file for the whole run, named through /proc/self/fd as the reader opens a path.
const std::string &segment_path()
{
  static const std::string path = [] {
    const int fd = ::memfd_create("seg-fuzz.vglog", MFD_CLOEXEC);
    VG_FUZZ_CHECK(fd >= 0);
    return "/proc/self/fd/" + std::to_string(fd);
  }();
  return path;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size == 0)
    return 0;
  std::string bytes(reinterpret_cast<const char *>(data) + 1, size - 1);
  if (data[0] & 1)
    fix_checksums(bytes);
  const std::string &path = segment_path();
  const int fd = std::atoi(path.c_str() + std::string("/proc/self/fd/").size());
  VG_FUZZ_CHECK(::ftruncate(fd, 0) == 0);
  VG_FUZZ_CHECK(::pwrite(fd, bytes.data(), bytes.size(), 0) == static_cast<ssize_t>(bytes.size()));

  uint64_t seen = 0;
  Visitor v;
  v.on_record = [&](const RecordView &r) {
    VG_FUZZ_CHECK(r.payload.size() <= bytes.size());
    const std::string line =
        to_json(r).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    VG_FUZZ_CHECK(!line.empty());
    ++seen;
    return true;
  };
  std::vector<Problem> problems;
  v.on_problem = [&](const Problem &p) { (void)describe(p); };
  const SegmentResult res = read_segment(path, v, problems);
  VG_FUZZ_CHECK(res.records == seen);
  VG_FUZZ_CHECK(res.end_of_good <= bytes.size() || bytes.size() < kSegmentHeaderSize);
  // Damage is reported, never silent: a segment that is not a closed, whole log says why.
  VG_FUZZ_CHECK(res.closed || !problems.empty());
  return 0;
}
