// SPDX-License-Identifier: Apache-2.0
// OpenDedup: a fanotify decision is reported by the file guard before the kernel completes the
// open; the open's own tracepoint event then follows on the same thread and is the same
// operation. The live engine, `vigil replay` and the report (report/session.cpp) drop the second
// report the same way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <unordered_map>
#include <variant>

#include "pipeline/event.h"
#include "vigil/abi.h"

namespace vigil::pipeline {

class OpenDedup {
public:
  // A decision whose tracepoint event never comes (a full ring dropped it) would stay for ever:
  // beyond this many threads waiting, the oldest decision is forgotten (its open, should it
  // still arrive, is reported twice).
  static constexpr size_t kMaxEntries = 16384;

  explicit OpenDedup(size_t max_entries = kMaxEntries) : max_(max_entries ? max_entries : 1) {}

  // True when ev repeats a fanotify decision already processed.
  bool duplicate(const Event &ev)
  {
    const auto *o = std::get_if<OpenBody>(&ev.body);
    if (!o)
      return false;
    if (ev.hdr.tier == Tier::fanotify || (ev.hdr.flags & VG_F_GUARD)) {
      const uint64_t seq = ++seq_;
      seen_[ev.hdr.tid] = Seen{o->dev, o->ino, o->ret, ev.hdr.ts_ns, seq};
      order_.emplace_back(ev.hdr.tid, seq);
      bound();
      return false;
    }
    auto it = seen_.find(ev.hdr.tid);
    if (it == seen_.end())
      return false;
    const Seen s = it->second;
    // The decision goes straight to the queue, ahead of ring records the reader has not drained
    // yet: the thread's earlier opens can still arrive after it. They are not this open.
    if (ev.hdr.ts_ns < s.ts_ns)
      return false;
    seen_.erase(it);
    return o->ret < 0 ? o->ret == s.ret : (o->dev == s.dev && o->ino == s.ino);
  }

  size_t size() const { return seen_.size(); }
  uint64_t evictions() const { return evictions_; }

private:
  struct Seen {
    uint32_t dev;
    uint64_t ino;
    int64_t ret;
    uint64_t ts_ns;
    uint64_t seq; // which order_ entry is its own
  };

  void bound()
  {
    while (seen_.size() > max_ && !order_.empty()) {
      auto [tid, seq] = order_.front();
      order_.pop_front();
      auto it = seen_.find(tid);
      if (it != seen_.end() && it->second.seq == seq) {
        seen_.erase(it);
        ++evictions_;
      }
    }
    // Matched decisions leave their queue entry behind; drop those once they dominate.
    if (order_.size() > 2 * max_ + 64)
      std::erase_if(order_, [&](const auto &q) {
        auto it = seen_.find(q.first);
        return it == seen_.end() || it->second.seq != q.second;
      });
  }

  size_t max_;
  std::unordered_map<uint32_t, Seen> seen_;         // per tid
  std::deque<std::pair<uint32_t, uint64_t>> order_; // (tid, seq), oldest first
  uint64_t seq_ = 0;
  uint64_t evictions_ = 0;
};

} // namespace vigil::pipeline
