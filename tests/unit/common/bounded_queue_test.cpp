// SPDX-License-Identifier: Apache-2.0
// The queues between the ring reader, the worker and the event log writer: bounded by items and
// by bytes, since the agent picks how big its events are.

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/bounded_queue.h"
#include "eventlog/batch_queue.h"
#include "pipeline/event.h"

namespace vigil {
namespace {

pipeline::Event big_exec(uint32_t pid)
{
  pipeline::Event ev;
  ev.hdr.type = pipeline::EventType::exec;
  ev.hdr.tgid = pid;
  pipeline::ExecBody b;
  b.exe = "/tmp/" + std::string(4000, 'x');
  b.argv.assign(8, std::string(120, 'a'));
  b.env.assign(2, std::string(1000, 'e'));
  ev.body = std::move(b);
  return ev;
}

TEST(BoundedQueue, big_events_are_bounded_by_bytes)
{
  BoundedQueue<pipeline::Event> q(65536, 1u << 20, &pipeline::footprint);
  size_t pushed = 0;
  for (uint32_t pid = 1; pid < 10'000; ++pid)
    pushed += q.try_push(big_exec(pid)) ? 1 : 0;
  EXPECT_GT(pushed, 100u);
  EXPECT_LT(pushed, 200u) << "about 1 MiB of ~7 KiB events";
  EXPECT_EQ(q.size(), pushed);
  EXPECT_LE(q.bytes(), 1u << 20);
  auto first = q.pop(std::chrono::milliseconds(0));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->hdr.tgid, 1u);
  EXPECT_TRUE(q.try_push(big_exec(20'000))) << "popping makes room";
  while (q.pop(std::chrono::milliseconds(0))) {
  }
  EXPECT_EQ(q.bytes(), 0u);
}

TEST(BoundedQueue, small_events_are_bounded_by_count)
{
  BoundedQueue<pipeline::Event> q(4, 1u << 20, &pipeline::footprint);
  for (uint32_t pid = 1; pid <= 4; ++pid)
    EXPECT_TRUE(q.try_push(pipeline::Event{}));
  EXPECT_FALSE(q.try_push(pipeline::Event{}));
}

TEST(BatchQueue, payload_bytes_are_bounded_and_freed_by_take_all)
{
  eventlog::BatchQueue<std::string> q(65536, 10'000,
                                      [](const std::string &s) { return s.size(); });
  size_t pushed = 0;
  for (int i = 0; i < 100; ++i)
    pushed += q.try_push(std::string(1000, 'r')) ? 1 : 0;
  EXPECT_EQ(pushed, 10u);
  std::vector<std::string> out;
  ASSERT_TRUE(q.take_all(out, std::chrono::milliseconds(0)));
  EXPECT_EQ(out.size(), 10u);
  EXPECT_TRUE(q.try_push(std::string(1000, 'r')));
}

} // namespace
} // namespace vigil
