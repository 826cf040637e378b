// SPDX-License-Identifier: Apache-2.0
// Segment scanning: frames, CRCs, decompression, records and the hash chain.
#include "eventlog/reader.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

#include <zstd.h>

#include "common/unique_fd.h"
#include "eventlog/crc32c.h"
#include "eventlog/wire.h"

namespace vigil::eventlog {

namespace {

namespace fs = std::filesystem;
using wire::load_le;

// A segment's bytes: mapped when it is closed (a closed segment is never written again, only
// deleted, which leaves a mapping intact), so a replay reads them where the page cache holds
// them; read into memory while a recorder writes it (it may cut a failed write back, and a
// mapping must not outlive the bytes it maps).
class FileBytes {
public:
  FileBytes() = default;
  FileBytes(const FileBytes &) = delete;
  FileBytes &operator=(const FileBytes &) = delete;
  FileBytes(FileBytes &&o) noexcept { *this = std::move(o); }
  FileBytes &operator=(FileBytes &&o) noexcept
  {
    std::swap(map_, o.map_);
    std::swap(map_len_, o.map_len_);
    copy_.swap(o.copy_);
    std::swap(active, o.active);
    return *this;
  }
  ~FileBytes()
  {
    if (map_)
      ::munmap(map_, map_len_);
  }
  std::span<const std::byte> bytes() const
  {
    return map_ ? std::span<const std::byte>(static_cast<const std::byte *>(map_), map_len_)
                : std::span<const std::byte>(copy_);
  }
  bool map(int fd, size_t len)
  {
    void *p = ::mmap(nullptr, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED)
      return false;
    (void)::madvise(p, len, MADV_SEQUENTIAL);
    map_ = p;
    map_len_ = len;
    return true;
  }
  std::vector<std::byte> &copy() { return copy_; }
  bool active = false; // a writer holds the segment's lock

private:
  void *map_ = nullptr;
  size_t map_len_ = 0;
  std::vector<std::byte> copy_;
};

Result<FileBytes> slurp(const std::string &path)
{
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd)
    return fail_errno(errno, "open");
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0)
    return fail_errno(errno, "stat");
  FileBytes out;
  // The recorder holds LOCK_EX on the segment it is writing; a segment without its trailer
  // under a live lock is in progress, not torn.
  if (::flock(fd.get(), LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK)
    out.active = true;
  if (!out.active && st.st_size > 0 && out.map(fd.get(), static_cast<size_t>(st.st_size)))
    return out;
  std::vector<std::byte> &data = out.copy();
  data.resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < data.size()) {
    ssize_t n = ::read(fd.get(), data.data() + got, data.size() - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return fail_errno(errno, "read");
    if (n == 0)
      break; // shrank while we read: what we have is what there is
    got += static_cast<size_t>(n);
  }
  data.resize(got);
  return out;
}

// "records 204..226" (inclusive), "record 7", "no records".
std::string record_range(uint64_t first, uint32_t count)
{
  if (count == 0)
    return "no records";
  if (count == 1)
    return "record " + std::to_string(first);
  return "records " + std::to_string(first) + ".." + std::to_string(first + count - 1);
}

struct DctxFree {
  void operator()(ZSTD_DCtx *c) const { ZSTD_freeDCtx(c); }
};

class SegmentScan {
public:
  SegmentScan(const std::string &path, const Visitor &v, std::vector<Problem> &problems)
      : path_(path), v_(v), problems_(problems)
  {
    info_.path = path;
  }

  SegmentResult run();
  bool stopped() const { return stopped_; }

private:
  void problem(Problem::Kind k, uint64_t offset, std::string what)
  {
    Problem p{k, path_, offset, std::move(what)};
    if (v_.on_problem)
      v_.on_problem(p);
    problems_.push_back(std::move(p));
  }
  size_t find_frame(size_t from) const;
  // Returns false when reading must stop (the visitor said so).
  bool records_block(const FrameHeader &f, size_t off, std::span<const std::byte> stored);
  bool deliver(std::span<const std::byte> raw, const FrameHeader &f, size_t off);

  const std::string &path_;
  const Visitor &v_;
  std::vector<Problem> &problems_;
  SegmentInfo info_;
  SegmentResult res_;
  FileBytes file_;
  std::span<const std::byte> buf_; // the segment's bytes (file_'s)
  std::unique_ptr<std::byte[]> raw_;
  size_t raw_cap_ = 0;
  std::unique_ptr<ZSTD_DCtx, DctxFree> dctx_;
  Sha256 sha_;
  bool stopped_ = false;
};

size_t SegmentScan::find_frame(size_t from) const
{
  const auto *base = reinterpret_cast<const char *>(buf_.data());
  for (size_t p = from; p + kFrameHeaderSize <= buf_.size(); ++p) {
    const void *hit = ::memmem(base + p, buf_.size() - p, kBlockMagic, sizeof(kBlockMagic));
    if (!hit)
      return SIZE_MAX;
    p = static_cast<size_t>(static_cast<const char *>(hit) - base);
    if (p + kFrameHeaderSize <= buf_.size() &&
        parse_frame(buf_.subspan(p, kFrameHeaderSize)))
      return p;
  }
  return SIZE_MAX;
}

bool SegmentScan::deliver(std::span<const std::byte> raw, const FrameHeader &f, size_t off)
{
  size_t p = 0;
  uint32_t i = 0;
  while (p < raw.size()) {
    auto where = [&] {
      return "record " + std::to_string(f.first_index + i) + " (byte " + std::to_string(p) +
             " of the block's records)";
    };
    if (raw.size() - p < kRecordHeaderSize) {
      problem(Problem::Kind::bad_record, off, where() + ": truncated record header");
      break;
    }
    const uint32_t len = load_le<uint32_t>(raw.data() + p);
    const uint16_t type = load_le<uint16_t>(raw.data() + p + 4);
    const uint16_t flags = load_le<uint16_t>(raw.data() + p + 6);
    const uint32_t crc = load_le<uint32_t>(raw.data() + p + 8);
    if (len > kMaxRecordPayload || len > raw.size() - p - kRecordHeaderSize) {
      problem(Problem::Kind::bad_record, off,
              where() + ": length " + std::to_string(len) + " runs past the block");
      break;
    }
    auto payload = raw.subspan(p + kRecordHeaderSize, len);
    if (crc32c(payload, crc32c(raw.data() + p, 8)) != crc) {
      // The length is covered by this CRC too, so the records after it cannot be found safely.
      problem(Problem::Kind::bad_record, off, where() + ": CRC mismatch");
      break;
    }
    ++i;
    p += kRecordHeaderSize + len;
    ++res_.records;
    if (v_.on_record) {
      RecordView r{type, flags, payload, &info_, off, f.first_index + i - 1};
      if (!v_.on_record(r)) {
        stopped_ = true;
        return false;
      }
    }
  }
  if (i < f.count) {
    res_.records_skipped += f.count - i;
    if (p >= raw.size())
      problem(Problem::Kind::bad_block, off,
              "block holds " + std::to_string(i) + " records, its header says " +
                  std::to_string(f.count));
  } else if (i > f.count) {
    problem(Problem::Kind::bad_block, off,
            "block holds " + std::to_string(i) + " records, its header says " +
                std::to_string(f.count));
  }
  return true;
}

bool SegmentScan::records_block(const FrameHeader &f, size_t off, std::span<const std::byte> stored)
{
  std::span<const std::byte> raw = stored;
  if (f.codec == BlockCodec::zstd) {
    if (raw_cap_ < f.raw_len) {
      raw_cap_ = std::max<size_t>(f.raw_len, 256 * 1024);
      raw_.reset(new std::byte[raw_cap_]);
    }
    if (!dctx_)
      dctx_.reset(ZSTD_createDCtx());
    const size_t n = dctx_ ? ZSTD_decompressDCtx(dctx_.get(), raw_.get(), f.raw_len, stored.data(),
                                                 stored.size())
                           : 0;
    if (!dctx_ || ZSTD_isError(n) || n != f.raw_len) {
      problem(Problem::Kind::bad_block, off,
              "block does not decompress (" +
                  std::string(dctx_ && ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong size") +
                  "); " + record_range(f.first_index, f.count) + " skipped");
      res_.records_skipped += f.count;
      return true;
    }
    raw = std::span<const std::byte>(raw_.get(), f.raw_len);
  }
  return deliver(raw, f, off);
}

SegmentResult SegmentScan::run()
{
  auto bytes = slurp(path_);
  if (!bytes) {
    problem(Problem::Kind::io, 0, bytes.error().message());
    return res_;
  }
  file_ = std::move(*bytes);
  buf_ = file_.bytes();
  const std::span<const std::byte> all(buf_);
  const bool active = file_.active;
  auto tail = [&](uint64_t off, std::string what) {
    if (active)
      problem(Problem::Kind::active, off, "segment still being written (recorder holds its lock)");
    else
      problem(Problem::Kind::torn_tail, off, std::move(what));
  };

  if (buf_.size() < kSegmentHeaderSize) {
    if (v_.on_segment)
      v_.on_segment(info_);
    tail(0, "segment of " + std::to_string(buf_.size()) + " bytes ends inside its header");
    return res_;
  }
  Hash h{};
  bool resync = false;     // the chain cannot be followed here: take the next stored value as truth
  uint64_t next_index = 0; // the first record index the next block should carry
  if (auto hdr = parse_header(all.first(kSegmentHeaderSize))) {
    info_.header_ok = true;
    info_.header = *hdr;
    res_.header = *hdr;
    h = chain_start(sha_, all.first(kSegmentHeaderSize));
  } else {
    problem(Problem::Kind::bad_header, 0, hdr.error().message());
    resync = true;
  }
  if (v_.on_segment)
    v_.on_segment(info_);

  size_t pos = kSegmentHeaderSize;
  res_.end_of_good = pos;
  while (pos < buf_.size()) {
    if (buf_.size() - pos < kFrameHeaderSize) {
      tail(pos, "ends inside a block header (" + std::to_string(buf_.size() - pos) +
                    " bytes after the last complete block)");
      return res_;
    }
    auto f = parse_frame(all.subspan(pos, kFrameHeaderSize));
    if (!f) {
      const size_t next = find_frame(pos + 1);
      problem(Problem::Kind::bad_block, pos,
              "block header corrupt; " +
                  (next == SIZE_MAX
                       ? std::string("no further block in the segment")
                       : "resuming at the next block, offset " + std::to_string(next)));
      resync = true;
      if (next == SIZE_MAX)
        return res_;
      pos = next;
      continue;
    }
    const size_t stored_off = pos + kFrameHeaderSize;
    if (f->stored_len > buf_.size() - stored_off) {
      tail(pos, "ends inside a block (" + std::to_string(buf_.size() - stored_off) + " of " +
                    std::to_string(f->stored_len) + " bytes present)");
      return res_;
    }
    auto stored = all.subspan(stored_off, f->stored_len);
    const auto frame_bytes = all.subspan(pos, kFrameHeaderSize);
    if (f->first_index > next_index) // records in blocks whose headers were unreadable
      res_.records_skipped += f->first_index - next_index;
    next_index = f->first_index + f->count;
    if (resync) {
      h = f->chain;
      resync = false;
    } else if (f->chain != h) {
      problem(Problem::Kind::chain_break, pos,
              "chain hash stored here does not match the segment before it (a block was "
              "altered, removed or inserted before this offset)");
      h = f->chain;
    }
    if (f->kind == BlockKind::trailer) {
      auto t = crc32c(stored) == f->data_crc ? parse_trailer(stored) : std::nullopt;
      if (!t) {
        problem(Problem::Kind::bad_block, pos, "trailer corrupt");
      } else {
        res_.closed = true;
        res_.final_hash = h;
        res_.end_of_good = stored_off + stored.size();
        if (res_.end_of_good != buf_.size())
          problem(Problem::Kind::bad_block, res_.end_of_good,
                  std::to_string(buf_.size() - res_.end_of_good) + " bytes after the trailer");
        return res_;
      }
    } else if (crc32c(stored) != f->data_crc) {
      problem(Problem::Kind::bad_block, pos,
              "block data CRC mismatch; " + record_range(f->first_index, f->count) + " skipped");
      res_.records_skipped += f->count;
      h = chain_next(sha_, h, frame_bytes, stored);
      resync = true;
    } else {
      h = chain_next(sha_, h, frame_bytes, stored);
      if (!records_block(*f, pos, stored))
        return res_;
    }
    pos = stored_off + stored.size();
    res_.end_of_good = pos;
    res_.final_hash = h;
  }
  if (!res_.closed) {
    res_.final_hash = h;
    tail(buf_.size(), "no trailer: the segment was not closed (recorder killed or crashed)");
  }
  return res_;
}

} // namespace

std::string_view to_string(Problem::Kind k)
{
  switch (k) {
  case Problem::Kind::io:
    return "io";
  case Problem::Kind::bad_header:
    return "bad-header";
  case Problem::Kind::bad_block:
    return "bad-block";
  case Problem::Kind::bad_record:
    return "bad-record";
  case Problem::Kind::chain_break:
    return "chain-break";
  case Problem::Kind::torn_tail:
    return "torn-tail";
  case Problem::Kind::active:
    return "active";
  }
  return "unknown";
}

std::string describe(const Problem &p)
{
  return fs::path(p.segment).filename().string() + ": offset " + std::to_string(p.offset) + ": " +
         std::string(to_string(p.kind)) + ": " + p.what;
}

bool ReadSummary::clean() const
{
  return std::none_of(problems.begin(), problems.end(),
                      [](const Problem &p) { return p.damage(); });
}

Result<std::vector<std::string>> segment_files(const std::vector<std::string> &paths)
{
  std::vector<std::pair<uint64_t, std::string>> named;
  std::vector<std::string> unnamed;
  for (const auto &p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      for (auto it = fs::directory_iterator(p, ec); !ec && it != fs::directory_iterator();
           it.increment(ec))
        if (auto seq = parse_segment_name(it->path().filename().string()))
          named.emplace_back(*seq, it->path().string());
      if (ec)
        return fail_errno(ec.value(), "list " + p);
    } else if (fs::exists(p, ec)) {
      if (auto seq = parse_segment_name(fs::path(p).filename().string()))
        named.emplace_back(*seq, p);
      else
        unnamed.push_back(p);
    } else {
      return fail_errno(ENOENT, p);
    }
  }
  std::stable_sort(named.begin(), named.end(),
                   [](const auto &a, const auto &b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (auto &[seq, p] : named)
    out.push_back(std::move(p));
  out.insert(out.end(), unnamed.begin(), unnamed.end());
  return out;
}

SegmentResult read_segment(const std::string &path, const Visitor &v,
                           std::vector<Problem> &problems)
{
  SegmentScan scan(path, v, problems);
  return scan.run();
}

ReadSummary read_log(const std::vector<std::string> &files, const Visitor &v)
{
  ReadSummary sum;
  std::optional<SegmentResult> prev;
  std::string prev_path;
  for (const auto &path : files) {
    SegmentScan scan(path, v, sum.problems);
    SegmentResult r = scan.run();
    ++sum.segments;
    sum.records += r.records;
    sum.records_skipped += r.records_skipped;
    if (prev && prev->header && r.header) {
      const std::string prev_name = fs::path(prev_path).filename().string();
      auto report = [&](std::string what) {
        Problem p{Problem::Kind::chain_break, path, 0, std::move(what)};
        if (v.on_problem)
          v.on_problem(p);
        sum.problems.push_back(std::move(p));
      };
      if (r.header->seq <= prev->header->seq)
        report("seq " + std::to_string(r.header->seq) + " does not follow " + prev_name + " (seq " +
               std::to_string(prev->header->seq) + ")");
      else if (r.header->seq != prev->header->seq + 1)
        report("segments " + std::to_string(prev->header->seq + 1) + ".." +
               std::to_string(r.header->seq - 1) + " are missing (after " + prev_name + ")");
      else if (r.header->prev_hash != prev->final_hash)
        report("header names a previous hash that is not the final hash of " + prev_name +
               " (a segment was replaced or altered)");
    }
    if (scan.stopped()) {
      sum.stopped = true;
      break;
    }
    prev = std::move(r);
    prev_path = path;
  }
  return sum;
}

} // namespace vigil::eventlog
