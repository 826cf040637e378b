// SPDX-License-Identifier: Apache-2.0
// RingQueue against std::deque: pushes, pops and erase_if across the ring's wrap and growth.

#include <cstdint>
#include <deque>

#include <gtest/gtest.h>

#include "common/ring_queue.h"

namespace vigil {
namespace {

void expect_same(RingQueue<uint64_t> &ring, const std::deque<uint64_t> &model, uint64_t step)
{
  ASSERT_EQ(ring.size(), model.size()) << "step " << step;
  if (!model.empty()) {
    EXPECT_EQ(ring.front(), model.front()) << "step " << step;
    EXPECT_EQ(ring.back(), model.back()) << "step " << step;
  }
}

TEST(RingQueue, keeps_fifo_order_across_wrap_growth_and_erase_if)
{
  RingQueue<uint64_t> ring;
  std::deque<uint64_t> model;
  uint64_t next = 0;
  // Phases of mostly pushes and mostly pops, so the head wraps at several sizes (64, 128, 256).
  for (uint64_t step = 0; step < 20000; ++step) {
    const bool grow = (step / 700) % 2 == 0;
    if (model.empty() || step % (grow ? 3 : 2) != 0) {
      ring.emplace_back(next);
      model.push_back(next++);
    } else {
      ring.pop_front();
      model.pop_front();
    }
    if (step % 997 == 0) {
      ring.erase_if([](uint64_t v) { return v % 3 == 0; });
      std::erase_if(model, [](uint64_t v) { return v % 3 == 0; });
    }
    expect_same(ring, model, step);
  }
  while (!model.empty()) {
    ASSERT_EQ(ring.front(), model.front());
    ring.pop_front();
    model.pop_front();
  }
  EXPECT_TRUE(ring.empty());
}

} // namespace
} // namespace vigil
