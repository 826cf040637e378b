// SPDX-License-Identifier: Apache-2.0
// logwriter: a recorder under load for the crash tests. Appends test::mixed_event(0), (1), ... to
// an event log as fast as the writer takes them, and keeps PROGRESS up to date with how many
// records have reached the file (written by pwrite, so a SIGKILL leaves the last value). Prints
// "ready" on stderr once the log is open; runs until killed.
//   logwriter DIR PROGRESS [SEGMENT_BYTES]
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "eventlog/writer.h"
#include "samples.h"

int main(int argc, char **argv)
{
  if (argc < 3) {
    std::fprintf(stderr, "usage: logwriter DIR PROGRESS [SEGMENT_BYTES]\n");
    return 2;
  }
  vigil::eventlog::WriterOptions o;
  o.dir = argv[1];
  o.block_bytes = 16 * 1024;
  o.flush_interval = std::chrono::milliseconds(20);
  if (argc > 3)
    o.segment_max_bytes = std::strtoull(argv[3], nullptr, 10);
  auto w = vigil::eventlog::Writer::open(o);
  if (!w) {
    std::fprintf(stderr, "logwriter: %s\n", w.error().message().c_str());
    return 1;
  }
  int progress = ::open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (progress < 0) {
    std::perror("logwriter: progress file");
    return 1;
  }
  std::fprintf(stderr, "ready\n");
  std::thread reporter([&] {
    for (;;) {
      char buf[32];
      int n = std::snprintf(buf, sizeof(buf), "%020llu\n",
                            static_cast<unsigned long long>((*w)->stats().records_written.load()));
      (void)!::pwrite(progress, buf, static_cast<size_t>(n), 0);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  // Keep the queue from filling (a refused append would be a drop, and a NOTE in the log):
  // stay well within the queue's capacity of what the writer has written.
  for (uint64_t i = 0;; ++i) {
    while (i - (*w)->stats().records_written.load() > o.queue_capacity / 2)
      std::this_thread::yield();
    (*w)->append_event(vigil::eventlog::test::mixed_event(i));
  }
}
