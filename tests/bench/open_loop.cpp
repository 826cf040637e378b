// SPDX-License-Identifier: Apache-2.0
// open_loop PATH ITERATIONS ROUNDS: a load generator for the open()+close() path that vigil's
// file_open programs sit on. Each round times ITERATIONS open(O_RDONLY)+close() of PATH with
// CLOCK_MONOTONIC and with the thread's CPU time, and prints "round N: X ns/op (cpu Y ns/op)"; then
// "median: X ns/op" and "cpu-median: Y ns/op". CPU time leaves out the time the loop waited for
// a CPU, so it holds up on a busy host; it also leaves out waits (a fanotify permission answer).
// open_loop --distinct DIR ITERATIONS ROUNDS: the first open of each file instead: each round
// creates ITERATIONS new files in DIR (untimed), then times one open+close of each, and removes
// them. (The fanotify tier answers a file's first open in userspace and caches the answer.)
// open_loop --write PATH ITERATIONS ROUNDS: open(O_WRONLY) instead of O_RDONLY: under `vigil run`
// where no BPF LSM decides, each such open is a call the persistence gate judges in userspace.
// Exit 0, or 1 when an open fails (the errno is named), 2 on bad arguments.
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "loadgen.h"

using vigil::bench::now_ns;
using vigil::bench::parse_count;
using vigil::bench::median;

int main(int argc, char **argv)
{
  const bool distinct = argc == 5 && std::strcmp(argv[1], "--distinct") == 0;
  const bool write = argc == 5 && std::strcmp(argv[1], "--write") == 0;
  if (distinct || write) {
    ++argv;
    --argc;
  }
  const int mode = write ? O_WRONLY : O_RDONLY;
  if (argc != 4) {
    std::fprintf(stderr, "usage: open_loop [--distinct DIR | --write PATH | PATH] ITERATIONS "
                         "ROUNDS\n");
    return 2;
  }
  const char *path = argv[1];
  const long iterations = parse_count(argv[2]);
  const long rounds = parse_count(argv[3]);
  if (iterations < 0 || rounds < 0) {
    std::fprintf(stderr, "open_loop: ITERATIONS and ROUNDS must be positive integers\n");
    return 2;
  }
  std::vector<double> per_op, cpu_per_op;
  std::vector<std::string> names;
  for (long r = 1; r <= rounds; ++r) {
    if (distinct) {
      names.clear();
      for (long i = 0; i < iterations; ++i) {
        names.push_back(std::string(path) + "/f" + std::to_string(r) + "-" + std::to_string(i));
        int fd = ::open(names.back().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
          std::fprintf(stderr, "open_loop: create %s: %s\n", names.back().c_str(),
                       strerrorname_np(errno));
          return 1;
        }
        ::close(fd);
      }
    }
    const int64_t start = now_ns();
    const int64_t cpu_start = now_ns(CLOCK_THREAD_CPUTIME_ID);
    for (long i = 0; i < iterations; ++i) {
      const char *p = distinct ? names[static_cast<size_t>(i)].c_str() : path;
      int fd = ::open(p, mode | O_CLOEXEC);
      if (fd < 0) {
        std::fprintf(stderr, "open_loop: open %s: %s\n", p, strerrorname_np(errno));
        return 1;
      }
      ::close(fd);
    }
    const double cpu = static_cast<double>(now_ns(CLOCK_THREAD_CPUTIME_ID) - cpu_start) /
                       static_cast<double>(iterations);
    const double ns = static_cast<double>(now_ns() - start) / static_cast<double>(iterations);
    per_op.push_back(ns);
    cpu_per_op.push_back(cpu);
    for (const auto &n : names)
      ::unlink(n.c_str());
    std::printf("round %ld: %.1f ns/op (cpu %.1f ns/op)\n", r, ns, cpu);
    std::fflush(stdout);
  }
  std::printf("median: %.1f ns/op\n", median(per_op));
  std::printf("cpu-median: %.1f ns/op\n", median(cpu_per_op));
  return 0;
}
