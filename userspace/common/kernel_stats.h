// SPDX-License-Identifier: Apache-2.0
// Counters the kernel programs keep (map vg_stats, summed over CPUs) and the ring buffer's
// fill, as plain data.
#pragma once

#include <cstdint>

namespace vigil {

struct KernelStats {
  uint64_t ringbuf_full = 0;
  uint64_t stash_full = 0;
  uint64_t path_truncated = 0;
  uint64_t events = 0;
  uint64_t throttled = 0; // observation events dropped by agents' rate limits
  uint64_t reserved = 0;  // observation events dropped to keep ring room for decisions
  uint64_t tamper = 0;    // self-protection attempts (denied, audited or killed)
  uint64_t inbound = 0;   // packets from outside agents dropped (or audited) at their sockets
  // Ring buffer occupancy when read: bytes produced and not yet consumed, and its size.
  uint64_t ring_used_bytes = 0;
  uint64_t ring_size_bytes = 0;
};

} // namespace vigil
