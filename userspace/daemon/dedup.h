// SPDX-License-Identifier: Apache-2.0
// OpenDedup: a fanotify decision is reported by the file guard before the kernel completes the
// open; the open's own tracepoint event then follows on the same thread and is the same
// operation. The live engine and `vigil replay` drop the second report the same way.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <variant>

#include "pipeline/event.h"

namespace vigil::daemon {

class OpenDedup {
public:
  // True when ev repeats a fanotify decision already processed.
  bool duplicate(const pipeline::Event &ev)
  {
    const auto *o = std::get_if<pipeline::OpenBody>(&ev.body);
    if (!o)
      return false;
    if (ev.hdr.tier == pipeline::Tier::fanotify) {
      seen_[ev.hdr.tid] = Seen{o->dev, o->ino, o->ret, ev.hdr.ts_ns};
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

private:
  struct Seen {
    uint32_t dev;
    uint64_t ino;
    int64_t ret;
    uint64_t ts_ns;
  };
  std::unordered_map<uint32_t, Seen> seen_; // per tid
};

} // namespace vigil::daemon
