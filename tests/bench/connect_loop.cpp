// SPDX-License-Identifier: Apache-2.0
// connect_loop HOST PORT ITERATIONS ROUNDS: a load generator for the connect() path that vigil's
// egress programs sit on (cgroup/connect4 or BPF LSM socket_connect, and the connect
// tracepoints). PORT 0 starts a listener of its own on HOST (an ephemeral port, accepting and
// closing on a thread); otherwise the listener must already be there. Each round times
// ITERATIONS socket()+connect()+close() with CLOCK_MONOTONIC and with the loop thread's CPU time,
// and prints "round N: X ns/op (cpu Y ns/op)"; then "median: X ns/op" and "cpu-median: Y ns/op".
// Exit 0, 1 when a call fails (named with its errno), 2 on bad
// arguments.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
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
using vigil::bench::parse_count;
using vigil::bench::median;

[[noreturn]] void die(const char *what)
{
  std::fprintf(stderr, "connect_loop: %s: %s\n", what, strerrorname_np(errno));
  std::exit(1);
}

// Accepts and closes forever; the thread dies with the process.
void serve(int lfd) noexcept
{
  while (true) {
    int c = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c >= 0)
      ::close(c);
  }
}

} // namespace

int main(int argc, char **argv)
{
  if (argc != 5) {
    std::fprintf(stderr, "usage: connect_loop HOST PORT ITERATIONS ROUNDS\n");
    return 2;
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  const long port = parse_count(argv[2], 0);
  const long iterations = parse_count(argv[3], 1);
  const long rounds = parse_count(argv[4], 1);
  if (::inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1 || port < 0 || port > 65535 ||
      iterations < 0 || rounds < 0) {
    std::fprintf(stderr, "connect_loop: HOST must be an IPv4 address, PORT 0..65535, "
                         "ITERATIONS and ROUNDS positive integers\n");
    return 2;
  }
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (port == 0) {
    int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0)
      die("socket (listener)");
    if (::bind(lfd, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) != 0)
      die("bind");
    if (::listen(lfd, 4096) != 0)
      die("listen");
    socklen_t len = sizeof(sa);
    if (::getsockname(lfd, reinterpret_cast<sockaddr *>(&sa), &len) != 0)
      die("getsockname");
    std::thread(serve, lfd).detach();
  }
  std::vector<double> per_op, cpu_per_op;
  for (long r = 1; r <= rounds; ++r) {
    const int64_t start = now_ns();
    const int64_t cpu_start = now_ns(CLOCK_THREAD_CPUTIME_ID);
    for (long i = 0; i < iterations; ++i) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0)
        die("socket");
      if (::connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) != 0)
        die("connect");
      // RST instead of FIN: no TIME_WAIT, so a long loop does not exhaust the ephemeral ports.
      const linger lg{1, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
      ::close(fd);
    }
    const double cpu = static_cast<double>(now_ns(CLOCK_THREAD_CPUTIME_ID) - cpu_start) /
                       static_cast<double>(iterations);
    const double ns = static_cast<double>(now_ns() - start) / static_cast<double>(iterations);
    per_op.push_back(ns);
    cpu_per_op.push_back(cpu);
    std::printf("round %ld: %.1f ns/op (cpu %.1f ns/op)\n", r, ns, cpu);
    std::fflush(stdout);
  }
  std::printf("median: %.1f ns/op\n", median(per_op));
  std::printf("cpu-median: %.1f ns/op\n", median(cpu_per_op));
  return 0;
}
