// SPDX-License-Identifier: Apache-2.0
// Userspace values in the kernel's encodings, as BPF programs see them.
#pragma once

#include <sys/sysmacros.h>
#include <sys/types.h>
#include <time.h>

#include <cstdint>

namespace vigil {

// stat(2)'s st_dev -> the kernel's dev_t (major << 20 | minor), as in super_block.s_dev.
inline uint32_t kernel_dev(dev_t dev)
{
  return static_cast<uint32_t>((major(dev) << 20) | minor(dev));
}

// Now on a clock, in nanoseconds.
inline uint64_t clock_ns(clockid_t id)
{
  timespec ts{};
  ::clock_gettime(id, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// Now on CLOCK_BOOTTIME, the clock of bpf_ktime_get_boot_ns() and so of every event.
inline uint64_t boottime_ns()
{
  return clock_ns(CLOCK_BOOTTIME);
}

} // namespace vigil
