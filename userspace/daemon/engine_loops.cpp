// SPDX-License-Identifier: Apache-2.0
// The engine's threads: the ring reader (records to the queue, the kernel's counters), the
// worker (queue to detection, with the fanotify decisions held until the ring catches up), the
// unix socket scanner, and the alert for reports lost on the way.
#include <poll.h>

#include <chrono>
#include <thread>

#include <spdlog/spdlog.h>

#include "common/kernel_ids.h"
#include "daemon/engine.h"
#include "vigil/abi.h"

namespace vigil::daemon {

void Engine::on_sample(std::span<const std::byte> data) noexcept
{
  auto ev = pipeline::decode(data);
  if (!ev) {
    metrics_->decode_error();
    spdlog::debug("undecodable record: {}", ev.error().message());
    return;
  }
  // A unix name refused by the cgroup programs may belong to a server the agent started after
  // the last scan (a datagram socket: no listen(2) told vigil run): scan again, so the next
  // attempt finds it. At most one scan per 20 ms however fast the refusals come.
  if (const auto *c = std::get_if<pipeline::ConnectBody>(&ev->body);
      c && c->ipc && ev->hdr.tier == pipeline::Tier::cgroup) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_unix_scan_ >= std::chrono::milliseconds(20)) {
      // On the scanner thread, never here: a scan walks every unix socket of the machine, and
      // an agent holding many of them must not slow the reading of the ring (and its alerts).
      last_unix_scan_ = now;
      {
        std::lock_guard lock(scan_mu_);
        scan_wanted_ = true;
      }
      scan_cv_.notify_one();
    }
  }
  if (!queue_->try_push(std::move(*ev)))
    count_drop(*ev);
}

void Engine::count_drop(const pipeline::Event &ev)
{
  metrics_->queue_drop();
  if (ev.hdr.verdict != pipeline::Verdict::none)
    queue_lost_decisions_.fetch_add(1);
}

void Engine::publish_kernel_stats()
{
  const KernelStats ks = loader_->stats();
  ring_full_.store(ks.ringbuf_full);
  metrics_->kernel_stats(ks);
}

void Engine::alert_unreported()
{
  const uint64_t ring = ring_full_.load(), queued = queue_lost_decisions_.load();
  if (ring == ring_full_alerted_ && queued == queue_lost_alerted_)
    return;
  const uint64_t new_ring = ring - ring_full_alerted_, new_queued = queued - queue_lost_alerted_;
  ring_full_alerted_ = ring;
  queue_lost_alerted_ = queued;
  std::string what;
  if (new_ring)
    what = std::to_string(new_ring) + " kernel record(s) not written (the event ring was full)";
  if (new_queued)
    what += std::string(what.empty() ? "" : "; ") + std::to_string(new_queued) +
            " decision(s) dropped by the full event queue";
  raise_internal("vigil-reports-lost", policy::Severity::critical,
                 what + ": what was refused stayed refused, but its alert is lost (an agent "
                        "flooding vigil, or vigil starved of CPU); the event log and the "
                        "ring's metrics show the gap");
}

void Engine::scan_loop() noexcept
{
  std::unique_lock lock(scan_mu_);
  while (!stopping_.load()) {
    scan_cv_.wait_for(lock, std::chrono::milliseconds(200),
                      [this] { return scan_wanted_ || stopping_.load(); });
    if (!scan_wanted_ || stopping_.load())
      continue;
    scan_wanted_ = false; // requests made during the scan are served by the next one
    lock.unlock();
    rescan_unix_bound();
    lock.lock();
  }
}

void Engine::rescan_unix_bound() noexcept
{
  if (!loader_)
    return;
  if (auto r = loader_->rescan_unix_bound(); !r)
    spdlog::debug("unix socket scan: {}", r.error().message());
}

// The event log's counters are cumulative; the metrics take what changed since the last look.
void Engine::publish_guard_stats()
{
  if (!files_)
    return;
  const enforce::Stats s = files_->stats();
  metrics_->file_guard({s.events, s.denied, s.errors, s.cached, s.cache_full, s.mounts});
}

void Engine::publish_log_stats()
{
  if (!recorder_)
    return;
  const eventlog::WriterStats &s = recorder_->stats();
  auto delta = [](const std::atomic<uint64_t> &now, uint64_t &seen) {
    const uint64_t v = now.load();
    const uint64_t d = v - seen;
    seen = v;
    return d;
  };
  if (uint64_t d = delta(s.bytes_written, log_seen_.bytes))
    metrics_->eventlog_written(d);
  const uint64_t dropped = s.records_dropped_queue.load() + s.records_dropped_io.load() +
                           s.records_rejected.load();
  if (dropped > log_seen_.dropped) {
    metrics_->eventlog_dropped(dropped - log_seen_.dropped);
    log_seen_.dropped = dropped;
  }
  for (uint64_t d = delta(s.segments_deleted, log_seen_.deleted); d > 0; --d)
    metrics_->eventlog_segment_deleted();
  for (uint64_t d = delta(s.write_errors, log_seen_.errors); d > 0; --d)
    metrics_->eventlog_write_error();
}

void Engine::reader_loop() noexcept
{
  auto last_stats = std::chrono::steady_clock::now();
  while (hold_ring_.load() && !stopping_.load()) {
    metrics_->health().beat(reader_beat_);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  int quiet_rounds = 0;
  while (!stopping_.load()) {
    // The ring wakes the poll for a decision, and for an observation at most once per
    // VG_WAKE_NS (0.5 ms) per CPU (bpf/lib/task.bpf.h, vg_ring_flags): the others are read by a
    // round that comes within 1 ms while records come in and for two rounds after the last
    // (a record that did not wake the ring may follow the last one read by up to VG_WAKE_NS).
    // Quiet, a round waits 20 ms (stop() ends the wait at once: Loader::wake_poll).
    const int timeout_ms = quiet_rounds < 2 ? 1 : 20;
    if (auto r = loader_->poll(timeout_ms); !r) {
      spdlog::warn("{}", r.error().message());
    } else if (*r > 0) {
      quiet_rounds = 0;
    } else if (quiet_rounds < 2) {
      ++quiet_rounds;
    }
    metrics_->health().beat(reader_beat_);
    auto now = std::chrono::steady_clock::now();
    if (now - last_stats > std::chrono::seconds(1)) {
      publish_kernel_stats();
      publish_guard_stats();
      publish_log_stats();
      metrics_->queue_depth(queue_->size(), opts_.queue_capacity);
      last_stats = now;
    }
  }
  metrics_->health().retire(reader_beat_);
  // Final drain: everything the kernel wrote before stop() was called.
  while (true) {
    auto r = loader_->poll(0);
    if (!r || *r == 0)
      break;
  }
  publish_kernel_stats();
  publish_log_stats();
  queue_->close();
}


void Engine::worker_loop() noexcept
{
  while (true) {
    if (std::chrono::steady_clock::now() >= next_volume_) {
      next_volume_ = std::chrono::steady_clock::now() + opts_.volume_interval;
      {
        std::lock_guard lock(state_mu_);
        sample_volume();
        report_open_counts();
        publish_tables();
        publish_contained();
      }
      alert_unreported();
    }
    auto ev = queue_->pop(std::chrono::milliseconds(50));
    metrics_->health().beat(worker_beat_);
    if (!ev) {
      std::unique_lock lock(state_mu_);
      if (queue_->closed_and_empty()) {
        release_held(UINT64_MAX);
        sample_volume(); // what was sent since the last read
        report_open_counts();
        metrics_->health().retire(worker_beat_);
        lock.unlock();
        alert_unreported();
        return;
      }
      // A quiet ring: whatever it still had to say about held decisions has been said.
      release_held(boottime_ns() - 100'000'000ull);
      release_if_caught_up();
      continue;
    }
    handle(*ev);
  }
}

void Engine::handle(pipeline::Event &ev)
{
  std::lock_guard lock(state_mu_);
  if (ev.hdr.tier == pipeline::Tier::fanotify || (ev.hdr.flags & VG_F_GUARD)) {
    held_.push_back(std::move(ev));
  } else {
    release_held(ev.hdr.ts_ns);
    process(ev);
  }
  release_if_caught_up();
}

void Engine::release_if_caught_up()
{
  if (held_.empty())
    return;
  // The ring read up to now and the queue empty: every record the kernel wrote before now has
  // been processed, so the held decisions need not wait for a later record (or a quiet 100 ms)
  // to know that their process's earlier records are in.
  const uint64_t now = boottime_ns();
  if (queue_->size() == 0 && loader_->ring_read_up_to_now())
    release_held(now);
}

void Engine::release_held(uint64_t cutoff_ns)
{
  while (!held_.empty() && held_.front().hdr.ts_ns <= cutoff_ns) {
    pipeline::Event ev = std::move(held_.front());
    held_.pop_front();
    process(ev);
  }
}

} // namespace vigil::daemon
