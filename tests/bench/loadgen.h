// SPDX-License-Identifier: Apache-2.0
// What every load generator needs: argument counts, a clock, and a median that one slow round
// does not move. Header-only: each generator is one small binary.
#pragma once

#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <vector>

namespace vigil::bench {

// A whole number >= min, or -1 when s is not one.
inline long parse_count(const char *s, long min = 1)
{
  char *end = nullptr;
  errno = 0;
  long v = std::strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < min)
    return -1;
  return v;
}

inline int64_t now_ns(clockid_t clock = CLOCK_MONOTONIC)
{
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// The median (the lower middle for an even count): one slow round (a timer tick, a page fault)
// does not move it.
inline double median(std::vector<double> v)
{
  std::nth_element(v.begin(), v.begin() + static_cast<long>((v.size() - 1) / 2), v.end());
  return v[(v.size() - 1) / 2];
}

} // namespace vigil::bench
