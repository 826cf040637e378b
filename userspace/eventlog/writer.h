// SPDX-License-Identifier: Apache-2.0
// The event-log recorder: callers append records to a bounded queue and never wait for the disk;
// one writer thread packs them into zstd-compressed, CRC-framed, hash-chained blocks and writes
// whole blocks to segment files, rotating by size and age under a total size cap.
//
// Crash guarantee: a block is written (one pwritev) when it reaches the block target or when its
// first record is flush_interval old, so a recorder killed at any point loses at most the records
// not yet in a written block (by default up to 200 ms or 64 KiB of records) plus the queue; every
// record of every complete block reads back, and the torn tail is reported by the reader.
//
// Write failures (ENOSPC, EIO) never throw or abort: the error is counted, on_write_error is
// called once per failure episode, sealed blocks are held in memory up to pending_max_bytes and
// retried every flush_interval, and blocks beyond that bound are dropped (counted, and a NOTE
// record says how many once writing works again).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "common/result.h"
#include "eventlog/batch_queue.h"
#include "eventlog/format.h"
#include "eventlog/hash.h"
#include "pipeline/event.h"

namespace vigil::eventlog {

struct WriterOptions {
  std::string dir;
  uint64_t segment_max_bytes = 64ull << 20;
  std::chrono::milliseconds segment_max_age = std::chrono::hours(1);
  uint64_t total_max_bytes = 1ull << 30; // oldest closed segments are deleted beyond this
  size_t block_bytes = 64u << 10;        // uncompressed records per block (target)
  std::chrono::milliseconds flush_interval{200};
  size_t queue_capacity = 65536;        // records queued and not yet taken by the writer thread
  size_t queue_max_bytes = 64u << 20;   // and their payload bytes
  size_t pending_max_bytes = 16u << 20; // compressed blocks held across write failures
  int zstd_level = 1;
  std::string host;   // empty: gethostname()
  std::string kernel; // empty: uname() release
  Hash policy_hash{}; // the policy in force at start (append_policy() changes it)
  // Called on the writer thread when writing starts failing: once per failure episode, not per
  // retry. Must not block for long (it runs where the disk writes run).
  std::function<void(const Error &)> on_write_error;
};

// Counters the daemon publishes. Written by the writer thread (and the producers for queue
// drops); read from anywhere.
struct WriterStats {
  std::atomic<uint64_t> records_written{0}; // records in blocks that reached the file
  std::atomic<uint64_t> bytes_written{0};   // file bytes: headers, frames, trailers included
  std::atomic<uint64_t> blocks_written{0};
  std::atomic<uint64_t> records_dropped_queue{0}; // the queue was full: the pipeline did not wait
  std::atomic<uint64_t> records_dropped_io{0};    // write failures lasted past the pending bound
  std::atomic<uint64_t> records_rejected{0};      // larger than kMaxRecordPayload
  std::atomic<uint64_t> write_errors{0};          // failed writes, opens or trailers
  std::atomic<uint64_t> segments_opened{0};
  std::atomic<uint64_t> segments_deleted{0}; // by the total size cap
  std::atomic<uint64_t> log_bytes{0};        // gauge: bytes of all segments in the directory
  std::atomic<bool> failing{false};          // gauge: the last write attempt failed
};

class Writer {
public:
  // Creates dir if needed, takes its lock (one recorder per directory), and picks up after the
  // newest segment there: the next segment continues its hash chain, and a torn one left by a
  // crash is noted in the log. Fails on a directory that cannot be created or locked.
  static Result<std::unique_ptr<Writer>> open(WriterOptions opts);
  ~Writer();
  Writer(const Writer &) = delete;
  Writer &operator=(const Writer &) = delete;

  // Queue a record; false (and a counted drop) when the queue is full or the writer closed.
  bool append(RecordType type, std::string payload) noexcept;
  bool append_event(const pipeline::Event &ev) noexcept;
  // A POLICY record, and the policy hash later segment headers carry.
  bool append_policy(std::string payload, const Hash &policy_hash) noexcept;
  // Writes everything queued, closes the segment with its trailer and stops the thread.
  void close() noexcept;

  const WriterStats &stats() const { return stats_; }
  const std::string &dir() const { return opts_.dir; }

  struct State; // the writer thread's own state (writer.cpp)

private:
  struct Item {
    uint16_t type = 0;
    std::string payload;
    std::optional<Hash> policy;
  };

  explicit Writer(WriterOptions opts);
  void run() noexcept;

  WriterOptions opts_;
  WriterStats stats_;
  BatchQueue<Item> queue_;
  std::unique_ptr<State> st_; // owned by the writer thread once it runs
  std::thread thread_;
  std::atomic<bool> closed_{false};
};

} // namespace vigil::eventlog
