// SPDX-License-Identifier: Apache-2.0
// OpenDedup: a fanotify decision and the open's tracepoint event are one report; decisions whose
// event never comes are bounded.

#include <gtest/gtest.h>

#include "daemon/dedup.h"
#include "support/heap.h"

namespace vigil::daemon {
namespace {

pipeline::Event open_event(uint32_t tid, pipeline::Tier tier, uint64_t ts, uint64_t ino)
{
  pipeline::Event ev;
  ev.hdr.type = pipeline::EventType::open;
  ev.hdr.tgid = tid;
  ev.hdr.tid = tid;
  ev.hdr.ts_ns = ts;
  ev.hdr.tier = tier;
  pipeline::OpenBody b;
  b.dev = 8;
  b.ino = ino;
  b.ret = 3;
  ev.body = b;
  return ev;
}

TEST(OpenDedup, drops_the_tracepoint_copy_of_a_decision)
{
  OpenDedup d;
  EXPECT_FALSE(d.duplicate(open_event(7, pipeline::Tier::fanotify, 100, 42)));
  EXPECT_EQ(d.size(), 1u);
  EXPECT_TRUE(d.duplicate(open_event(7, pipeline::Tier::none, 101, 42)));
  EXPECT_EQ(d.size(), 0u);
  EXPECT_FALSE(d.duplicate(open_event(7, pipeline::Tier::none, 102, 42)));
}

// Decisions whose tracepoint event was lost (a full ring), from millions of threads: the table
// stays at its bound, the oldest go first and are counted, and the heap does not grow.
TEST(OpenDedup, lost_events_of_millions_of_threads_stay_bounded)
{
  OpenDedup d(4096);
  uint32_t tid = 1;
  for (; tid <= 2 * 4096; ++tid)
    d.duplicate(open_event(tid, pipeline::Tier::fanotify, tid, tid));
  const size_t heap = test::heap_in_use();
  for (; tid <= 2'000'000; ++tid)
    d.duplicate(open_event(tid, pipeline::Tier::fanotify, tid, tid));
  EXPECT_EQ(d.size(), 4096u);
  EXPECT_EQ(d.evictions(), 2'000'000u - 4096u);
  const size_t after = test::heap_in_use();
  EXPECT_LT(after > heap ? after - heap : 0, 1u << 20) << "heap before " << heap << ", after "
                                                       << after;
  // The newest decisions are still matched; the oldest are forgotten.
  EXPECT_TRUE(d.duplicate(open_event(tid - 1, pipeline::Tier::none, tid, tid - 1)));
  EXPECT_FALSE(d.duplicate(open_event(1, pipeline::Tier::none, tid, 1)));
}

} // namespace
} // namespace vigil::daemon
