// SPDX-License-Identifier: Apache-2.0
// The writer thread: record packing, compression, framing, segment rotation, the size cap and
// write-failure handling.
#include "eventlog/writer.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <deque>
#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>
#include <zstd.h>

#include "common/kernel_ids.h"
#include "common/unique_fd.h"
#include "eventlog/codec.h"
#include "eventlog/crc32c.h"
#include "eventlog/reader.h"
#include "eventlog/wire.h"

namespace vigil::eventlog {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;


std::string note_json(const std::string &text)
{
  return nlohmann::json{{"text", text}}.dump(-1, ' ', false,
                                             nlohmann::json::error_handler_t::replace);
}

struct CctxFree {
  void operator()(ZSTD_CCtx *c) const { ZSTD_freeCCtx(c); }
};

// Writes all of iov at offset, retrying short writes. false with errno set on failure.
bool pwrite_all(int fd, std::string_view a, std::string_view b, uint64_t offset)
{
  size_t done = 0;
  const size_t total = a.size() + b.size();
  while (done < total) {
    iovec iov[2];
    int n = 0;
    if (done < a.size())
      iov[n++] = {const_cast<char *>(a.data() + done), a.size() - done};
    const size_t bdone = done > a.size() ? done - a.size() : 0;
    if (bdone < b.size())
      iov[n++] = {const_cast<char *>(b.data() + bdone), b.size() - bdone};
    ssize_t w = ::pwritev(fd, iov, n, static_cast<off_t>(offset + done));
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      if (w == 0)
        errno = EIO;
      return false;
    }
    done += static_cast<size_t>(w);
  }
  return true;
}

} // namespace

// Everything the writer thread owns.
struct Writer::State {
  UniqueFd dir_lock;
  std::unique_ptr<ZSTD_CCtx, CctxFree> cctx{ZSTD_createCCtx()};
  Sha256 sha;
  std::string host, kernel;
  Hash policy_hash{};

  // The block being filled.
  std::string block;
  uint32_t block_count = 0;
  Clock::time_point block_deadline{};

  // Sealed blocks not yet written (compressed).
  struct Sealed {
    std::string stored;
    uint32_t raw_len = 0;
    uint32_t count = 0;
    BlockCodec codec = BlockCodec::stored;
  };
  std::deque<Sealed> pending;
  size_t pending_bytes = 0;
  Clock::time_point retry_at{};
  bool failing = false;
  uint64_t dropped_unnoted = 0;   // records dropped by write failures, not yet in a NOTE
  uint64_t queue_drops_noted = 0; // stats_.records_dropped_queue already reported in a NOTE

  // The open segment.
  UniqueFd fd;
  std::string path;
  uint64_t seq = 0;
  uint64_t size = 0;
  uint64_t records = 0;
  uint64_t blocks = 0;
  Hash chain{};
  Clock::time_point opened_at{};

  uint64_t next_seq = 1;
  Hash prev_final{};                  // the final hash of the segment before the next one
  std::map<uint64_t, uint64_t> sizes; // seq -> bytes, every segment in the directory
  uint64_t total = 0;
};

Writer::Writer(WriterOptions opts)
    : opts_(std::move(opts)),
      queue_(opts_.queue_capacity, opts_.queue_max_bytes,
             [](const Item &i) { return sizeof(Item) + i.payload.size(); }),
      st_(std::make_unique<State>())
{
}

Writer::~Writer()
{
  close();
}

Result<std::unique_ptr<Writer>> Writer::open(WriterOptions opts)
{
  if (opts.dir.empty())
    return fail("event log: no directory given");
  if (opts.block_bytes == 0 || opts.block_bytes > kMaxBlockBytes / 2)
    return fail("event log: block size must be between 1 byte and " +
                std::to_string(kMaxBlockBytes / 2));
  std::error_code ec;
  fs::create_directories(opts.dir, ec);
  if (ec)
    return fail_errno(ec.value(), "create event log directory " + opts.dir);
  std::unique_ptr<Writer> w(new Writer(std::move(opts)));
  State &s = *w->st_;
  const std::string &dir = w->opts_.dir;
  s.dir_lock.reset(::open((dir + "/.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640));
  if (!s.dir_lock)
    return fail_errno(errno, "event log " + dir + ": create lock file");
  if (::flock(s.dir_lock.get(), LOCK_EX | LOCK_NB) != 0)
    return fail_errno(errno, "event log " + dir + ": another recorder holds its lock");
  if (!s.cctx)
    return fail_errno(ENOMEM, "event log: zstd compression context");

  s.host = w->opts_.host;
  if (s.host.empty()) {
    char buf[256] = {};
    s.host = ::gethostname(buf, sizeof(buf) - 1) == 0 ? buf : "unknown";
  }
  s.kernel = w->opts_.kernel;
  if (s.kernel.empty()) {
    utsname u{};
    s.kernel = ::uname(&u) == 0 ? u.release : "unknown";
  }
  s.policy_hash = w->opts_.policy_hash;

  auto files = segment_files({dir});
  if (!files)
    return tl::unexpected(with_context(files.error(), "event log"));
  for (const auto &f : *files) {
    auto seq = parse_segment_name(fs::path(f).filename().string());
    const auto bytes = fs::file_size(f, ec);
    if (!seq || ec)
      continue;
    s.sizes[*seq] = bytes;
    s.total += bytes;
  }
  std::vector<std::string> notes;
  if (!s.sizes.empty()) {
    const auto [last_seq, last_size] = *s.sizes.rbegin();
    const std::string last = dir + "/" + segment_name(last_seq);
    s.next_seq = last_seq + 1;
    if (last_size < kSegmentHeaderSize) {
      // Killed between creating the file and writing its header: nothing to keep. Its seq is
      // reused so the chain from the segment before it continues without a gap.
      ::unlink(last.c_str());
      s.total -= last_size;
      s.sizes.erase(last_seq);
      s.next_seq = last_seq;
      notes.push_back("removed " + segment_name(last_seq) + " (" + std::to_string(last_size) +
                      " bytes, no header): the previous recorder died while creating it");
      if (!s.sizes.empty()) {
        std::vector<Problem> ignored;
        s.prev_final =
            read_segment(dir + "/" + segment_name(s.sizes.rbegin()->first), {}, ignored).final_hash;
      }
    } else {
      std::vector<Problem> problems;
      SegmentResult r = read_segment(last, {}, problems);
      s.prev_final = r.final_hash;
      if (!r.closed)
        notes.push_back("previous segment " + segment_name(last_seq) +
                        " has no trailer (the previous recorder was killed or crashed); its " +
                        std::to_string(r.records) + " complete records end at offset " +
                        std::to_string(r.end_of_good));
    }
  }
  w->stats_.log_bytes.store(s.total);
  for (auto &n : notes)
    w->queue_.try_push(Item{static_cast<uint16_t>(RecordType::note), note_json(n), std::nullopt});
  Writer *self = w.get();
  w->thread_ = std::thread([self] { self->run(); });
  return w;
}

bool Writer::append(RecordType type, std::string payload) noexcept
{
  if (queue_.try_push(Item{static_cast<uint16_t>(type), std::move(payload), std::nullopt}))
    return true;
  stats_.records_dropped_queue.fetch_add(1, std::memory_order_relaxed);
  return false;
}

bool Writer::append_event(const pipeline::Event &ev) noexcept
{
  std::string payload;
  payload.reserve(128);
  encode(ev, payload);
  return append(RecordType::event, std::move(payload));
}

bool Writer::append_policy(std::string payload, const Hash &policy_hash) noexcept
{
  if (queue_.try_push(
          Item{static_cast<uint16_t>(RecordType::policy), std::move(payload), policy_hash}))
    return true;
  stats_.records_dropped_queue.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void Writer::close() noexcept
{
  if (closed_.exchange(true))
    return;
  queue_.close();
  if (thread_.joinable())
    thread_.join();
}

namespace {

// The writer thread's operations on State; a class so the steps read as named functions.
class Packer {
public:
  Packer(const WriterOptions &o, WriterStats &stats, Writer::State &s) : o_(o), stats_(stats), s_(s)
  {
  }

  void add(uint16_t type, std::string_view payload);
  void note(const std::string &text)
  {
    add(static_cast<uint16_t>(RecordType::note), note_json(text));
  }
  void seal();
  void write_pending(bool force);
  void close_segment(CloseReason why);
  void tick();
  void note_queue_drops();
  bool has_block() const { return s_.block_count > 0; }

private:
  bool ensure_segment();
  void failed(int err, const std::string &what);
  void succeeded();
  void enforce_cap();

  const WriterOptions &o_;
  WriterStats &stats_;
  Writer::State &s_;
};

void Packer::add(uint16_t type, std::string_view payload)
{
  if (payload.size() > kMaxRecordPayload) {
    stats_.records_rejected.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (s_.block_count > 0 && s_.block.size() + kRecordHeaderSize + payload.size() > o_.block_bytes)
    seal();
  char hdr[kRecordHeaderSize];
  auto *h = reinterpret_cast<std::byte *>(hdr);
  wire::store_le<uint32_t>(h, static_cast<uint32_t>(payload.size()));
  wire::store_le<uint16_t>(h + 4, type);
  wire::store_le<uint16_t>(h + 6, 0);
  wire::store_le<uint32_t>(h + 8, crc32c(payload.data(), payload.size(), crc32c(hdr, 8)));
  s_.block.append(hdr, sizeof(hdr));
  s_.block.append(payload);
  if (s_.block_count++ == 0)
    s_.block_deadline = Clock::now() + o_.flush_interval;
  if (s_.block.size() >= o_.block_bytes)
    seal();
}

void Packer::seal()
{
  if (s_.block_count == 0)
    return;
  Writer::State::Sealed b;
  b.raw_len = static_cast<uint32_t>(s_.block.size());
  b.count = s_.block_count;
  b.stored.resize(ZSTD_compressBound(s_.block.size()));
  const size_t n = ZSTD_compressCCtx(s_.cctx.get(), b.stored.data(), b.stored.size(),
                                     s_.block.data(), s_.block.size(), o_.zstd_level);
  if (!ZSTD_isError(n) && n < s_.block.size()) {
    b.stored.resize(n);
    b.codec = BlockCodec::zstd;
  } else {
    b.stored = s_.block; // incompressible (or zstd refused): stored as is
    b.codec = BlockCodec::stored;
  }
  s_.block.clear();
  s_.block_count = 0;
  s_.pending_bytes += b.stored.size();
  s_.pending.push_back(std::move(b));
  write_pending(false);
}

void Packer::failed(int err, const std::string &what)
{
  stats_.write_errors.fetch_add(1, std::memory_order_relaxed);
  s_.retry_at = Clock::now() + o_.flush_interval;
  if (!s_.failing) {
    s_.failing = true;
    stats_.failing.store(true);
    if (o_.on_write_error)
      o_.on_write_error(
          Error{std::error_code(err, std::system_category()), "event log " + o_.dir + ": " + what});
  }
}

void Packer::succeeded()
{
  if (!s_.failing)
    return;
  s_.failing = false;
  stats_.failing.store(false);
  if (s_.dropped_unnoted) {
    note("writing resumed after failures; " + std::to_string(s_.dropped_unnoted) +
         " records were dropped while the log could not be written");
    s_.dropped_unnoted = 0;
  }
}

bool Packer::ensure_segment()
{
  if (s_.fd)
    return true;
  for (int attempt = 0; attempt < 16; ++attempt) {
    const std::string path = o_.dir + "/" + segment_name(s_.next_seq);
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640));
    if (!fd && errno == EEXIST) {
      ++s_.next_seq; // not ours (a copy put back?): never overwrite a segment
      continue;
    }
    if (!fd) {
      failed(errno, "create " + path);
      return false;
    }
    SegmentHeader h;
    h.seq = s_.next_seq;
    h.created_realtime_ns = clock_ns(CLOCK_REALTIME);
    h.created_boottime_ns = clock_ns(CLOCK_BOOTTIME);
    h.policy_hash = s_.policy_hash;
    h.prev_hash = s_.prev_final;
    h.host = s_.host;
    h.kernel = s_.kernel;
    h.vigil_version = VIGIL_VERSION;
    const std::string bytes = encode_header(h);
    (void)::flock(fd.get(), LOCK_EX | LOCK_NB); // readers see the segment as in progress
    if (!pwrite_all(fd.get(), bytes, {}, 0)) {
      const int err = errno;
      fd.reset();
      ::unlink(path.c_str());
      failed(err, "write the header of " + path);
      return false;
    }
    s_.fd = std::move(fd);
    s_.path = path;
    s_.seq = h.seq;
    s_.size = bytes.size();
    s_.records = 0;
    s_.blocks = 0;
    s_.chain = chain_start(s_.sha, wire::as_bytes(bytes));
    s_.opened_at = Clock::now();
    s_.sizes[s_.seq] = s_.size;
    s_.total += s_.size;
    ++s_.next_seq;
    stats_.segments_opened.fetch_add(1, std::memory_order_relaxed);
    stats_.bytes_written.fetch_add(bytes.size(), std::memory_order_relaxed);
    stats_.log_bytes.store(s_.total);
    return true;
  }
  failed(EEXIST, "no free segment name after seq " + std::to_string(s_.next_seq));
  return false;
}

void Packer::close_segment(CloseReason why)
{
  if (!s_.fd)
    return;
  Trailer t{s_.records, clock_ns(CLOCK_REALTIME), why};
  const std::string payload = encode_trailer(t);
  FrameHeader f;
  f.kind = BlockKind::trailer;
  f.codec = BlockCodec::stored;
  f.raw_len = f.stored_len = static_cast<uint32_t>(payload.size());
  f.first_index = s_.records;
  f.chain = s_.chain;
  f.data_crc = crc32c(payload.data(), payload.size());
  const std::string frame = encode_frame(f);
  if (pwrite_all(s_.fd.get(), frame, payload, s_.size)) {
    s_.size += frame.size() + payload.size();
    s_.total += frame.size() + payload.size();
    stats_.bytes_written.fetch_add(frame.size() + payload.size(), std::memory_order_relaxed);
  } else {
    // Without its trailer the segment reads as torn at its last complete block; the next
    // segment's header still names that block's chain hash, so the chain holds.
    failed(errno, "write the trailer of " + s_.path);
    (void)::ftruncate(s_.fd.get(), static_cast<off_t>(s_.size));
  }
  s_.sizes[s_.seq] = s_.size;
  (void)::fdatasync(s_.fd.get());
  s_.fd.reset();
  s_.prev_final = s_.chain;
  stats_.log_bytes.store(s_.total);
}

void Packer::enforce_cap()
{
  while (s_.total > o_.total_max_bytes && s_.sizes.size() > 1) {
    auto oldest = s_.sizes.begin();
    if (s_.fd && oldest->first == s_.seq)
      break;
    const std::string name = segment_name(oldest->first);
    if (::unlink((o_.dir + "/" + name).c_str()) != 0 && errno != ENOENT) {
      failed(errno, "delete " + name + " for the size cap");
      break;
    }
    s_.total -= oldest->second;
    s_.sizes.erase(oldest);
    stats_.segments_deleted.fetch_add(1, std::memory_order_relaxed);
    note("deleted " + name + " (the log exceeded its size cap of " +
         std::to_string(o_.total_max_bytes) + " bytes)");
  }
  stats_.log_bytes.store(s_.total);
}

void Packer::write_pending(bool force)
{
  if (s_.failing && !force && Clock::now() < s_.retry_at)
    return;
  while (!s_.pending.empty()) {
    auto &b = s_.pending.front();
    if (s_.fd && s_.blocks > 0 &&
        s_.size + 2 * kFrameHeaderSize + b.stored.size() + kTrailerSize > o_.segment_max_bytes)
      close_segment(CloseReason::size);
    if (!ensure_segment())
      break;
    FrameHeader f;
    f.kind = BlockKind::records;
    f.codec = b.codec;
    f.raw_len = b.raw_len;
    f.stored_len = static_cast<uint32_t>(b.stored.size());
    f.count = b.count;
    f.first_index = s_.records;
    f.chain = s_.chain;
    f.data_crc = crc32c(b.stored.data(), b.stored.size());
    const std::string frame = encode_frame(f);
    if (!pwrite_all(s_.fd.get(), frame, b.stored, s_.size)) {
      const int err = errno;
      // Give back whatever part of the block made it: the retry rewrites it at the same offset.
      (void)::ftruncate(s_.fd.get(), static_cast<off_t>(s_.size));
      failed(err, "write " + s_.path);
      break;
    }
    s_.chain = chain_next(s_.sha, s_.chain, wire::as_bytes(frame), wire::as_bytes(b.stored));
    const uint64_t n = frame.size() + b.stored.size();
    s_.size += n;
    s_.total += n;
    s_.records += b.count;
    ++s_.blocks;
    s_.sizes[s_.seq] = s_.size;
    stats_.records_written.fetch_add(b.count, std::memory_order_relaxed);
    stats_.blocks_written.fetch_add(1, std::memory_order_relaxed);
    stats_.bytes_written.fetch_add(n, std::memory_order_relaxed);
    s_.pending_bytes -= b.stored.size();
    s_.pending.pop_front();
    succeeded();
    enforce_cap();
  }
  // Bounded memory: past the bound the oldest held blocks go.
  while (s_.pending_bytes > o_.pending_max_bytes && !s_.pending.empty()) {
    auto &b = s_.pending.front();
    stats_.records_dropped_io.fetch_add(b.count, std::memory_order_relaxed);
    s_.dropped_unnoted += b.count;
    s_.pending_bytes -= b.stored.size();
    s_.pending.pop_front();
  }
}

void Packer::note_queue_drops()
{
  const uint64_t qdrops = stats_.records_dropped_queue.load(std::memory_order_relaxed);
  if (qdrops != s_.queue_drops_noted) {
    note(std::to_string(qdrops - s_.queue_drops_noted) +
         " records dropped: the recorder's queue was full");
    s_.queue_drops_noted = qdrops;
  }
}

void Packer::tick()
{
  const auto now = Clock::now();
  if (!s_.failing)
    note_queue_drops();
  if (s_.block_count > 0 && now >= s_.block_deadline)
    seal();
  if (!s_.pending.empty() && now >= s_.retry_at)
    write_pending(true);
  if (s_.fd && now - s_.opened_at >= o_.segment_max_age) {
    seal();
    close_segment(CloseReason::age);
  }
}

} // namespace

void Writer::run() noexcept
{
  State &s = *st_;
  Packer e(opts_, stats_, s);
  std::vector<Item> batch;
  for (;;) {
    auto now = Clock::now();
    std::chrono::milliseconds wait = opts_.flush_interval;
    if (e.has_block())
      wait = std::chrono::duration_cast<std::chrono::milliseconds>(s.block_deadline - now) +
             std::chrono::milliseconds(1);
    if (wait < std::chrono::milliseconds(0))
      wait = std::chrono::milliseconds(0);
    if (!queue_.take_all(batch, wait))
      break;
    for (auto &item : batch) {
      if (item.policy)
        s.policy_hash = *item.policy;
      e.add(item.type, item.payload);
    }
    e.tick();
  }
  e.note_queue_drops();
  e.seal();
  e.write_pending(true);
  e.close_segment(CloseReason::shutdown);
  for (const auto &b : s.pending) // the disk never took them
    stats_.records_dropped_io.fetch_add(b.count, std::memory_order_relaxed);
  s.pending.clear();
}

} // namespace vigil::eventlog
