// SPDX-License-Identifier: Apache-2.0
// tamperprobe: one attempt on vigil or on the agent's boundary, its outcome on stdout ("ok" or
// the errno name), exit 0/1. The tests' hostile agent for what shell tools cannot do directly:
//   tamperprobe clone-into DIR MARK  clone3(CLONE_INTO_CGROUP) into cgroup DIR; the child waits
//                                    1 s, then creates file MARK (proof that it ran on)
//   tamperprobe bpf-next-id          bpf(BPF_PROG_GET_NEXT_ID)
//   tamperprobe kill PID             kill(PID, SIGKILL)
//   tamperprobe read-mem PID         read 16 bytes of PID's memory through /proc/PID/mem
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

static int fail()
{
  std::printf("%s\n", strerrorname_np(errno));
  std::fflush(stdout);
  return 1;
}

static int ok()
{
  std::printf("ok\n");
  std::fflush(stdout);
  return 0;
}

static int clone_into(const char *dir, const char *mark)
{
  const int cg = ::open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cg < 0)
    return fail();
  clone_args args{};
  args.flags = CLONE_INTO_CGROUP;
  args.exit_signal = SIGCHLD;
  args.cgroup = static_cast<uint64_t>(cg);
  const long pid = ::syscall(SYS_clone3, &args, sizeof(args));
  if (pid < 0)
    return fail();
  if (pid == 0) {
    ::sleep(1);
    ::close(::open(mark, O_CREAT | O_WRONLY, 0600));
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(static_cast<pid_t>(pid), &status, 0);
  return ok();
}

static int bpf_next_id()
{
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.start_id = 0;
  if (::syscall(SYS_bpf, BPF_PROG_GET_NEXT_ID, &attr, sizeof(attr)) != 0)
    return fail();
  std::printf("ok:%u\n", attr.next_id);
  return 0;
}

static int read_mem(const std::string &pid)
{
  // The first mapping's start: an address that is surely mapped.
  std::ifstream maps("/proc/" + pid + "/maps");
  std::string line;
  if (!std::getline(maps, line))
    return fail();
  const unsigned long addr = std::strtoul(line.c_str(), nullptr, 16);
  const int fd = ::open(("/proc/" + pid + "/mem").c_str(), O_RDONLY);
  if (fd < 0)
    return fail();
  char buf[16];
  if (::pread(fd, buf, sizeof(buf), static_cast<off_t>(addr)) != static_cast<ssize_t>(sizeof(buf)))
    return fail();
  return ok();
}

int main(int argc, char **argv)
{
  const std::string op = argc > 1 ? argv[1] : "";
  if (op == "clone-into" && argc == 4)
    return clone_into(argv[2], argv[3]);
  if (op == "bpf-next-id" && argc == 2)
    return bpf_next_id();
  if (op == "kill" && argc == 3)
    return ::kill(std::atoi(argv[2]), SIGKILL) == 0 ? ok() : fail();
  if (op == "read-mem" && argc == 3)
    return read_mem(argv[2]);
  std::fprintf(stderr, "usage: tamperprobe clone-into DIR MARK | bpf-next-id | kill PID | "
                       "read-mem PID\n");
  return 2;
}
