// SPDX-License-Identifier: Apache-2.0
// Counters the kernel programs keep (map vg_stats, summed over CPUs), as plain data.
#pragma once

#include <cstdint>

namespace vigil {

struct KernelStats {
  uint64_t ringbuf_full = 0;
  uint64_t stash_full = 0;
  uint64_t path_truncated = 0;
  uint64_t events = 0;
};

} // namespace vigil
