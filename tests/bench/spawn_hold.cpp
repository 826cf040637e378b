// SPDX-License-Identifier: Apache-2.0
// spawn_hold N SECONDS: forks N children that sleep, so that a daemon has N live processes to
// track (vigil's memory benchmark), holds them for SECONDS, then kills and reaps them. Prints
// "holding N" once every child exists. Children die with the parent (PR_SET_PDEATHSIG), so a
// killed spawn_hold leaves nothing behind. Exit 0; 1 when fork fails (after killing the children
// made so far); 2 on bad arguments.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "loadgen.h"

namespace {

using vigil::bench::parse_count;

void release(const std::vector<pid_t> &kids)
{
  for (pid_t p : kids)
    ::kill(p, SIGKILL);
  for (pid_t p : kids)
    ::waitpid(p, nullptr, 0);
}

} // namespace

int main(int argc, char **argv)
{
  if (argc != 3) {
    std::fprintf(stderr, "usage: spawn_hold N SECONDS\n");
    return 2;
  }
  const long n = parse_count(argv[1]);
  const long seconds = parse_count(argv[2]);
  if (n < 0 || seconds < 0) {
    std::fprintf(stderr, "spawn_hold: N and SECONDS must be positive integers\n");
    return 2;
  }
  const pid_t parent = ::getpid();
  std::vector<pid_t> kids;
  kids.reserve(static_cast<size_t>(n));
  for (long i = 0; i < n; ++i) {
    pid_t p = ::fork();
    if (p < 0) {
      std::fprintf(stderr, "spawn_hold: fork #%ld: %s\n", i + 1, strerrorname_np(errno));
      release(kids);
      return 1;
    }
    if (p == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) // the parent died before prctl
        ::_exit(0);
      while (true)
        ::pause();
    }
    kids.push_back(p);
  }
  std::printf("holding %ld\n", n);
  std::fflush(stdout);
  ::sleep(static_cast<unsigned>(seconds));
  release(kids);
  return 0;
}
