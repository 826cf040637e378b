// SPDX-License-Identifier: Apache-2.0
// tamperprobe: one attempt to switch vigil off or leave the agent cgroup, its outcome on stdout
// as "<op> ok" or "<op> <errno name>", exit 0/1. The privileged launch tests run it as the
// hostile root agent under `vigil run`, so each test names exactly the system call it tries.
//   tamperprobe kill PID SIG            kill(2)
//   tamperprobe tkill TID SIG           tkill(2) (one thread of a process)
//   tamperprobe pidfd-signal PID SIG    pidfd_send_signal(2) on an open /proc/PID directory
//   tamperprobe prlimit-cpu PID         prlimit(2): RLIMIT_CPU of PID to one second
//   tamperprobe read PATH               open(2) and read(2) a few bytes
//   tamperprobe write PATH TEXT         open(2) for writing and write(2) TEXT
//   tamperprobe unlink PATH             unlink(2)
//   tamperprobe clone-into CGROUP_DIR [MARK]  clone3(2) with CLONE_INTO_CGROUP; the child exits
//                                       at once, or with MARK waits 1 s and creates file MARK
//                                       (proof that it ran on)
//   tamperprobe read-mem PID            pread(2) 16 bytes of PID's first mapping via /proc/PID/mem
//   tamperprobe bpf-next-id             bpf(BPF_PROG_GET_NEXT_ID)
//   tamperprobe umount PATH             umount2(2)
//   tamperprobe unshare-umount PATH     unshare(CLONE_NEWNS), then umount2(PATH, MNT_DETACH)
//   tamperprobe userns-umount PATH      unshare(CLONE_NEWUSER | CLONE_NEWNS), then umount2
//   tamperprobe userns-remount-rw PATH  the same, then a read-write bind remount of PATH
//   tamperprobe userns-mount-cgroup2 DIR  the same, then mount(2) a cgroup2 on DIR
//   tamperprobe ptrace PID              ptrace(PTRACE_ATTACH)
//   tamperprobe ptrace-peek PID         ptrace(PTRACE_ATTACH), wait, PTRACE_PEEKDATA at the first
//                                       mapping, detach (PID's maps are read from /proc, or at
//                                       0x400000 where they cannot be)
//   tamperprobe vm-read PID             process_vm_readv(2) 16 bytes at PID's first mapping
//   tamperprobe pidfd-open PID          pidfd_open(2)
//   tamperprobe mount DIR               mount(2) a tmpfs on DIR
//   tamperprobe unshare-user            unshare(CLONE_NEWUSER)
//   tamperprobe unshare-mnt             unshare(CLONE_NEWNS)
//   tamperprobe setns NSFILE            setns(2) into the namespace of an open NSFILE
//   tamperprobe io-uring                io_uring_setup(2) of a one-entry ring
//   tamperprobe userfaultfd             userfaultfd(2)
//   tamperprobe in-deleted-cwd CMD      makes a directory, enters it, removes it, then runs
//                                       sh -c CMD there (a working directory that is deleted)
//   tamperprobe openat2-in-root DIR NAME  openat2(DIR, NAME, O_WRONLY|O_CREAT, RESOLVE_IN_ROOT)
//   tamperprobe chroot-create DIR NAME  chroot(DIR), then open(NAME, O_WRONLY|O_CREAT)
//   tamperprobe race-create TARGET DECOY SECONDS
//                                       open(O_WRONLY|O_CREAT) of DECOY in a loop while a second
//                                       thread flips the path buffer between DECOY and TARGET:
//                                       a supervisor that reads the path and lets the call run
//                                       can be shown DECOY and have the kernel create TARGET.
//                                       "race-create won" once TARGET exists, else "... lost"
//   tamperprobe child OP                forks a child that sleeps, runs OP (ptrace-peek, vm-read,
//                                       pidfd-open) on it, then kills it: the agent's own process
#include <fcntl.h>
#include <linux/bpf.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <atomic>
#include <thread>

namespace {

// clone3's argument (CLONE_ARGS_SIZE_VER2), spelled here: <linux/sched.h> clashes with <sched.h>.
struct CloneArgs {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
      set_tid_size, cgroup;
};
constexpr uint64_t kCloneIntoCgroup = 0x200000000ULL;

int report(const std::string &op, long rc)
{
  if (rc >= 0) {
    std::printf("%s ok\n", op.c_str());
    return 0;
  }
  const char *name = strerrorname_np(errno);
  std::printf("%s %s\n", op.c_str(), name ? name : "?");
  return 1;
}

long in_userns_mountns()
{
  return ::unshare(CLONE_NEWUSER | CLONE_NEWNS);
}

// The first mapping's start: an address that is surely mapped (0x400000 where maps is hidden).
unsigned long first_mapping(const std::string &pid)
{
  std::FILE *maps = std::fopen(("/proc/" + pid + "/maps").c_str(), "r");
  unsigned long addr = 0x400000;
  if (maps) {
    if (std::fscanf(maps, "%lx", &addr) != 1)
      addr = 0x400000;
    std::fclose(maps);
  }
  return addr;
}

long ptrace_peek(pid_t pid, const std::string &spid)
{
  const unsigned long addr = first_mapping(spid);
  if (::ptrace(PTRACE_ATTACH, pid, nullptr, nullptr) != 0)
    return -1;
  ::waitpid(pid, nullptr, __WALL);
  errno = 0;
  const long word = ::ptrace(PTRACE_PEEKDATA, pid, reinterpret_cast<void *>(addr), nullptr);
  const int err = errno;
  ::ptrace(PTRACE_DETACH, pid, nullptr, nullptr);
  errno = err;
  (void)word;
  return err != 0 ? -1 : 0;
}

long vm_read(pid_t pid, const std::string &spid)
{
  char buf[16];
  iovec local{buf, sizeof(buf)};
  iovec remote{reinterpret_cast<void *>(first_mapping(spid)), sizeof(buf)};
  return ::process_vm_readv(pid, &local, 1, &remote, 1, 0);
}

long on_process(const std::string &op, pid_t pid)
{
  const std::string spid = std::to_string(pid);
  if (op == "ptrace-peek")
    return ptrace_peek(pid, spid);
  if (op == "vm-read")
    return vm_read(pid, spid);
  if (op == "pidfd-open")
    return ::syscall(SYS_pidfd_open, pid, 0);
  errno = EINVAL;
  return -1;
}

} // namespace

int main(int argc, char **argv)
{
  if (argc < 2) {
    std::fprintf(stderr, "usage: tamperprobe OP [ARGS...] (see the source)\n");
    return 2;
  }
  const std::string op = argv[1];
  auto arg = [&](int i) -> const char * { return i < argc ? argv[i] : ""; };
  const int n2 = std::atoi(arg(2)), n3 = std::atoi(arg(3));
  std::fflush(stdout);
  if (op == "kill")
    return report(op, ::kill(n2, n3));
  if (op == "tkill")
    return report(op, ::syscall(SYS_tkill, n2, n3));
  if (op == "pidfd-signal") {
    const std::string dir = "/proc/" + std::string(arg(2));
    const int fd = ::open(dir.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return report(op + " (open " + dir + ")", -1);
    return report(op, ::syscall(SYS_pidfd_send_signal, fd, n3, nullptr, 0));
  }
  if (op == "prlimit-cpu") {
    const rlimit cpu{1, 1};
    return report(op, ::prlimit(n2, RLIMIT_CPU, &cpu, nullptr));
  }
  if (op == "read") {
    const int fd = ::open(arg(2), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return report(op, -1);
    char buf[16];
    return report(op, ::read(fd, buf, sizeof(buf)));
  }
  if (op == "write") {
    const int fd = ::open(arg(2), O_WRONLY | O_CLOEXEC);
    if (fd < 0)
      return report(op, -1);
    return report(op, ::write(fd, arg(3), std::strlen(arg(3))));
  }
  if (op == "unlink")
    return report(op, ::unlink(arg(2)));
  if (op == "clone-into") {
    const int cg = ::open(arg(2), O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (cg < 0)
      return report(op + " (open)", -1);
    CloneArgs ca{};
    ca.flags = kCloneIntoCgroup;
    ca.exit_signal = SIGCHLD;
    ca.cgroup = static_cast<uint64_t>(cg);
    const long pid = ::syscall(SYS_clone3, &ca, sizeof(ca));
    if (pid == 0) {
      if (argc > 3) {
        ::sleep(1);
        ::close(::open(arg(3), O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
      }
      ::_exit(0);
    }
    if (pid > 0)
      ::waitpid(static_cast<pid_t>(pid), nullptr, 0);
    return report(op, pid);
  }
  if (op == "read-mem") {
    // The first mapping's start: an address that is surely mapped.
    std::FILE *maps = std::fopen(("/proc/" + std::string(arg(2)) + "/maps").c_str(), "r");
    unsigned long addr = 0;
    const bool found = maps && std::fscanf(maps, "%lx", &addr) == 1;
    if (maps)
      std::fclose(maps);
    if (!found)
      return report(op + " (maps)", -1);
    const int fd = ::open(("/proc/" + std::string(arg(2)) + "/mem").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return report(op, -1);
    char buf[16];
    return report(op, ::pread(fd, buf, sizeof(buf), static_cast<off_t>(addr)));
  }
  if (op == "bpf-next-id") {
    bpf_attr attr{};
    attr.start_id = 0;
    return report(op, ::syscall(SYS_bpf, BPF_PROG_GET_NEXT_ID, &attr, sizeof(attr)));
  }
  if (op == "umount")
    return report(op, ::umount2(arg(2), MNT_DETACH));
  if (op == "unshare-umount") {
    if (::unshare(CLONE_NEWNS) != 0)
      return report(op + " (unshare)", -1);
    return report(op, ::umount2(arg(2), MNT_DETACH));
  }
  if (op == "userns-umount" || op == "userns-remount-rw" || op == "userns-mount-cgroup2") {
    if (in_userns_mountns() != 0)
      return report(op + " (unshare)", -1);
    if (op == "userns-umount")
      return report(op, ::umount2(arg(2), MNT_DETACH));
    if (op == "userns-remount-rw")
      return report(op, ::mount(nullptr, arg(2), nullptr, MS_REMOUNT | MS_BIND, nullptr));
    return report(op, ::mount("none", arg(2), "cgroup2", 0, nullptr));
  }
  if (op == "ptrace")
    return report(op, ::ptrace(PTRACE_ATTACH, n2, nullptr, nullptr));
  if (op == "ptrace-peek" || op == "vm-read" || op == "pidfd-open")
    return report(op, on_process(op, n2));
  if (op == "child") {
    const pid_t child = ::fork();
    if (child == 0) {
      ::pause();
      ::_exit(0);
    }
    const long rc = on_process(arg(2), child);
    const int err = errno;
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    errno = err;
    return report(op + "-" + arg(2), rc);
  }
  if (op == "mount")
    return report(op, ::mount("none", arg(2), "tmpfs", 0, nullptr));
  if (op == "unshare-user")
    return report(op, ::unshare(CLONE_NEWUSER));
  if (op == "unshare-mnt")
    return report(op, ::unshare(CLONE_NEWNS));
  if (op == "setns") {
    const int fd = ::open(arg(2), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return report(op + " (open)", -1);
    return report(op, ::setns(fd, 0));
  }
  if (op == "race-create") {
    const std::string target = arg(2), decoy = arg(3);
    const int seconds = std::atoi(arg(4));
    // One buffer, both names padded to the same length so that a flip is a plain copy.
    const size_t len = std::max(target.size(), decoy.size()) + 1;
    std::string t = target, d = decoy;
    t.resize(len, '\0');
    d.resize(len, '\0');
    static char buf[4096];
    if (len > sizeof(buf))
      return report(op + " (too long)", -1);
    std::memcpy(buf, d.data(), len);
    std::atomic<bool> done{false};
    std::thread flipper([&] {
      while (!done.load(std::memory_order_relaxed)) {
        std::memcpy(buf, t.data(), len);
        std::memcpy(buf, d.data(), len);
      }
    });
    struct stat st{};
    bool won = false;
    const time_t end = ::time(nullptr) + seconds;
    while (!won && ::time(nullptr) < end) {
      const int fd = ::open(buf, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd >= 0)
        ::close(fd);
      won = ::stat(target.c_str(), &st) == 0;
    }
    done.store(true);
    flipper.join();
    std::printf("%s %s\n", op.c_str(), won ? "won" : "lost");
    return won ? 0 : 1;
  }
  if (op == "userfaultfd")
    return report(op, ::syscall(SYS_userfaultfd, 0));
  if (op == "in-deleted-cwd") {
    const std::string dir = "vg-deleted-" + std::to_string(::getpid());
    if (::mkdir(dir.c_str(), 0700) != 0 || ::chdir(dir.c_str()) != 0 ||
        ::rmdir(("../" + dir).c_str()) != 0)
      return report(op + " (setup)", -1);
    ::execl("/bin/sh", "sh", "-c", arg(2), static_cast<char *>(nullptr));
    return report(op + " (exec)", -1);
  }
  if (op == "openat2-in-root") {
    const int dir = ::open(arg(2), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
      return report(op + " (open)", -1);
    struct {
      uint64_t flags, mode, resolve;
    } how{O_WRONLY | O_CREAT | O_CLOEXEC, 0644, 0x10 /* RESOLVE_IN_ROOT */};
    const long fd = ::syscall(SYS_openat2, dir, arg(3), &how, sizeof(how));
    if (fd >= 0)
      ::close(static_cast<int>(fd));
    return report(op, fd);
  }
  if (op == "chroot-create") {
    if (::chroot(arg(2)) != 0 || ::chdir("/") != 0)
      return report(op + " (chroot)", -1);
    const int fd = ::open(arg(3), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0)
      ::close(fd);
    return report(op, fd);
  }
  if (op == "io-uring") {
    // struct io_uring_params: 120 bytes, all in (but the sizes the kernel fills) zero.
    uint64_t params[15] = {};
    const long fd = ::syscall(SYS_io_uring_setup, 1, params);
    if (fd >= 0)
      ::close(static_cast<int>(fd));
    return report(op, fd < 0 ? -1 : 0);
  }
  std::fprintf(stderr, "tamperprobe: unknown op %s\n", op.c_str());
  return 2;
}
