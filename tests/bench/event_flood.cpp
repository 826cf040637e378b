// SPDX-License-Identifier: Apache-2.0
// event_flood RATE SECONDS PATH [THREADS [ALERT_EVERY ALERT_PATH]]: drives vigil's pipeline
// with open()+close() of PATH at RATE opens per second in total for SECONDS, spread over
// THREADS threads (1). Inside an agent cgroup each open is one event of the heaviest frequent
// kind (the kernel resolves the opened path). With ALERT_EVERY N, every Nth open of each
// thread is of ALERT_PATH instead (a credential file: one alert each; a denial is not an
// error). Pacing: each thread owes RATE/THREADS * elapsed opens and catches up in a burst every
// 100 µs (never past the end), so a generator that cannot keep up shows as an achieved rate
// below the target.
// Prints one line: "opens N alert_opens A failed F seconds S rate R target T".
// Exit 0; 1 when PATH cannot be opened; 2 on bad arguments.
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "loadgen.h"

namespace {

using vigil::bench::now_ns;

double parse_num(const char *s)
{
  char *end = nullptr;
  errno = 0;
  double v = std::strtod(s, &end);
  if (errno != 0 || end == s || *end != '\0' || !(v > 0))
    return -1;
  return v;
}

struct Totals {
  std::atomic<uint64_t> opens{0}, alert_opens{0}, failed{0};
};

void flood(double rate, int64_t start, int64_t end, const char *path, uint64_t alert_every,
           const char *alert_path, Totals &t) noexcept
{
  uint64_t done = 0, alerts = 0, failed = 0;
  timespec pause{0, 100'000};
  for (int64_t now = start; now < end; now = now_ns()) {
    const auto owed = static_cast<uint64_t>(rate * static_cast<double>(now - start) / 1e9);
    while (done < owed) {
      // A thread that fell behind catches up in a burst, but never past the end.
      if (done % 1024 == 0 && now_ns() >= end)
        break;
      ++done;
      const bool alert = alert_every != 0 && done % alert_every == 0;
      int fd = ::open(alert ? alert_path : path, O_RDONLY | O_CLOEXEC);
      alerts += alert;
      if (fd < 0)
        ++failed;
      else
        ::close(fd);
    }
    ::nanosleep(&pause, nullptr);
  }
  t.opens.fetch_add(done);
  t.alert_opens.fetch_add(alerts);
  t.failed.fetch_add(failed);
}

} // namespace

int main(int argc, char **argv)
{
  if (argc != 4 && argc != 5 && argc != 7) {
    std::fprintf(stderr, "usage: event_flood RATE SECONDS PATH [THREADS [ALERT_EVERY ALERT_PATH]]\n");
    return 2;
  }
  const double rate = parse_num(argv[1]);
  const double seconds = parse_num(argv[2]);
  const double threads = argc >= 5 ? parse_num(argv[4]) : 1;
  const double alert_every = argc == 7 ? parse_num(argv[5]) : 0;
  if (rate < 0 || seconds < 0 || threads < 1 || threads > 64 || alert_every < 0) {
    std::fprintf(stderr, "event_flood: RATE, SECONDS, THREADS (1..64) and ALERT_EVERY must be "
                         "positive numbers\n");
    return 2;
  }
  const char *path = argv[3];
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    std::fprintf(stderr, "event_flood: open %s: %s\n", path, strerrorname_np(errno));
    return 1;
  }
  ::close(fd);
  Totals totals;
  const int n = static_cast<int>(threads);
  const int64_t start = now_ns();
  const int64_t end = start + static_cast<int64_t>(seconds * 1e9);
  std::vector<std::thread> pool;
  for (int i = 0; i < n; ++i)
    pool.emplace_back(flood, rate / n, start, end, path, static_cast<uint64_t>(alert_every),
                      argc == 7 ? argv[6] : nullptr, std::ref(totals));
  for (auto &t : pool)
    t.join();
  const double took = static_cast<double>(now_ns() - start) / 1e9;
  std::printf("opens %llu alert_opens %llu failed %llu seconds %.3f rate %.0f target %.0f\n",
              static_cast<unsigned long long>(totals.opens.load()),
              static_cast<unsigned long long>(totals.alert_opens.load()),
              static_cast<unsigned long long>(totals.failed.load()), took,
              static_cast<double>(totals.opens.load()) / took, rate);
  return 0;
}
