// SPDX-License-Identifier: Apache-2.0
// The watchdog process: the parent's side (fork, finish) and the child's (raw system calls only).
#include "enforce/watchdog.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <thread>
#include <utility>

namespace vigil::enforce {

namespace {

// Everything below up to Watchdog:: runs in the forked child of a multi-threaded process: only
// async-signal-safe calls, fixed buffers on the stack, no allocation.

constexpr int kMaxDepth = 32; // sub-cgroups below the agent cgroup that are walked

struct LinuxDirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[1];
};

size_t c_len(const char *s)
{
  size_t n = 0;
  while (s[n])
    ++n;
  return n;
}

// A line for stderr, built without stdio.
struct Line {
  char buf[512];
  size_t n = 0;
  Line &add(const char *s)
  {
    for (; *s && n < sizeof(buf) - 1; ++s)
      buf[n++] = *s;
    return *this;
  }
  Line &num(long v)
  {
    char tmp[24];
    size_t k = 0;
    const bool neg = v < 0;
    unsigned long u = neg ? 0ul - static_cast<unsigned long>(v) : static_cast<unsigned long>(v);
    do {
      tmp[k++] = static_cast<char>('0' + u % 10);
      u /= 10;
    } while (u && k < sizeof(tmp));
    if (neg && n < sizeof(buf) - 1)
      buf[n++] = '-';
    while (k && n < sizeof(buf) - 1)
      buf[n++] = tmp[--k];
    return *this;
  }
  void emit()
  {
    buf[n++] = '\n';
    (void)!::write(2, buf, n);
  }
};

int64_t now_ms()
{
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

void sleep_ms(long ms)
{
  timespec ts{ms / 1000, (ms % 1000) * 1000000};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

bool write_at(int dir, const char *name, const char *value)
{
  const int fd = ::openat(dir, name, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  const bool ok = ::write(fd, value, c_len(value)) >= 0;
  ::close(fd);
  return ok;
}

// cgroup.events of dir says "populated 1". False also when the cgroup is gone.
bool populated(int dir)
{
  const int fd = ::openat(dir, "cgroup.events", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  char buf[256];
  const ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
  ::close(fd);
  if (n <= 0)
    return false;
  buf[n] = 0;
  const char *needle = "populated 1";
  for (ssize_t i = 0; i + 11 <= n; ++i)
    if (std::memcmp(buf + i, needle, 11) == 0)
      return true;
  return false;
}

// SIGKILLs every pid in dir/cgroup.procs (read in chunks; a number may span two reads).
void kill_procs(int dir)
{
  const int fd = ::openat(dir, "cgroup.procs", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  char buf[4096];
  long pid = 0;
  bool in_number = false;
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0)
      break;
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] >= '0' && buf[i] <= '9') {
        pid = pid * 10 + (buf[i] - '0');
        in_number = true;
      } else {
        if (in_number && pid > 0)
          ::kill(static_cast<pid_t>(pid), SIGKILL);
        pid = 0;
        in_number = false;
      }
    }
  }
  if (in_number && pid > 0)
    ::kill(static_cast<pid_t>(pid), SIGKILL);
  ::close(fd);
}

// The index-th sub-directory of dir (cgroupfs reports d_type), its name copied to name.
bool nth_subdir(int dir, int index, char (&name)[256])
{
  if (::lseek(dir, 0, SEEK_SET) < 0)
    return false;
  alignas(LinuxDirent64) char buf[4096];
  int seen = 0;
  for (;;) {
    const long n = ::syscall(SYS_getdents64, dir, buf, sizeof(buf));
    if (n <= 0)
      return false;
    for (long off = 0; off < n;) {
      const auto *d = reinterpret_cast<const LinuxDirent64 *>(buf + off);
      off += d->d_reclen;
      if (d->d_type != DT_DIR || std::strcmp(d->d_name, ".") == 0 ||
          std::strcmp(d->d_name, "..") == 0)
        continue;
      if (seen++ < index)
        continue;
      const size_t len = c_len(d->d_name);
      if (len >= sizeof(name))
        continue;
      std::memcpy(name, d->d_name, len + 1);
      return true;
    }
  }
}

// The fallback for kernels without cgroup.kill: SIGKILL every process of the subtree.
void kill_tree(int dir, int depth)
{
  kill_procs(dir);
  if (depth >= kMaxDepth)
    return;
  char name[256];
  for (int i = 0; nth_subdir(dir, i, name); ++i) {
    const int sub = ::openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0)
      continue;
    kill_tree(sub, depth + 1);
    ::close(sub);
  }
}

// Removes every sub-cgroup of dir, deepest first. A directory that cannot be removed is skipped.
void remove_subtree(int dir, int depth)
{
  if (depth >= kMaxDepth)
    return;
  char name[256];
  int skipped = 0;
  while (nth_subdir(dir, skipped, name)) {
    const int sub = ::openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub >= 0) {
      remove_subtree(sub, depth + 1);
      ::close(sub);
    }
    if (::unlinkat(dir, name, AT_REMOVEDIR) != 0)
      ++skipped;
  }
}

struct ChildFds {
  int vigil_pidfd; // -1 where pidfd_open is missing (< 5.3): the pipe's EOF alone tells
  int control;     // read end of the control pipe
  int cgroup;      // the agent cgroup directory
  int parent;      // its parent directory, to remove it
  int hold;        // kept until the cgroup is empty, or -1
};

struct ChildArgs {
  pid_t vigil;
  const char *cgroup_dir;
  const char *cgroup_name;
  long drain_ms;
  bool use_cgroup_kill;
};

// Closes every descriptor but keep[] (and 0-2), in ranges.
void close_all_but(int *keep, int count)
{
  for (int i = 1; i < count; ++i) // insertion sort: a handful of entries
    for (int j = i; j > 0 && keep[j - 1] > keep[j]; --j)
      std::swap(keep[j - 1], keep[j]);
  unsigned next = 3;
  for (int i = 0; i < count; ++i) {
    if (keep[i] < static_cast<int>(next))
      continue;
    if (static_cast<unsigned>(keep[i]) > next)
      ::syscall(SYS_close_range, next, static_cast<unsigned>(keep[i]) - 1, 0);
    next = static_cast<unsigned>(keep[i]) + 1;
  }
  ::syscall(SYS_close_range, next, ~0u, 0);
}

[[noreturn]] void child_main(ChildFds fds, const ChildArgs &args)
{
  sigset_t all;
  sigfillset(&all);
  ::sigprocmask(SIG_SETMASK, &all, nullptr); // ^C on the terminal is not for the watchdog
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  ::prctl(PR_SET_NAME, "vigil-watchdog", 0, 0, 0);
  int keep[] = {fds.vigil_pidfd, fds.control, fds.cgroup, fds.parent, fds.hold};
  close_all_but(keep, sizeof(keep) / sizeof(keep[0]));
  const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    ::dup2(null, 0);
    ::dup2(null, 1);
    if (null > 2)
      ::close(null);
  }
  // The OOM killer must not pick the watchdog over the agent it watches (needs
  // CAP_SYS_RESOURCE; without it the score stays as it was).
  write_at(AT_FDCWD, "/proc/self/oom_score_adj", "-1000");

  bool asked = false; // a normal exit: vigil has removed the cgroup itself
  for (;;) {
    pollfd p[2] = {{fds.control, POLLIN, 0}, {fds.vigil_pidfd, POLLIN, 0}};
    const int nfds = fds.vigil_pidfd >= 0 ? 2 : 1;
    if (::poll(p, nfds, -1) < 0) {
      if (errno == EINTR)
        continue;
      sleep_ms(100); // ENOMEM: try again rather than give up the watch
      continue;
    }
    if (p[0].revents) {
      char byte = 0;
      const ssize_t n = ::read(fds.control, &byte, 1);
      if (n < 0 && errno == EINTR)
        continue;
      asked = n == 1 && byte == 'q';
      break; // 'q', or EOF: vigil is gone (its write end closes before its pidfd reports)
    }
    if (p[1].revents)
      break;
  }

  const int64_t t0 = now_ms();
  bool was_populated = false;
  // cgroup.events is readable while the cgroup exists; if it is gone there is nothing to kill.
  const int events = ::openat(fds.cgroup, "cgroup.events", O_RDONLY | O_CLOEXEC);
  if (events >= 0) {
    ::close(events);
    was_populated = populated(fds.cgroup);
    const bool has_kill = args.use_cgroup_kill && write_at(fds.cgroup, "cgroup.kill", "1");
    if (!has_kill) // frozen, nothing forks between reading cgroup.procs and the kill
      write_at(fds.cgroup, "cgroup.freeze", "1");
    while (populated(fds.cgroup) && now_ms() - t0 < args.drain_ms) {
      if (!has_kill)
        kill_tree(fds.cgroup, 0);
      sleep_ms(5);
    }
  }
  const bool drained = !populated(fds.cgroup);
  // Every agent task is gone (or, past drain_ms, has SIGKILL pending and never runs user code
  // again): the group may go. Opens that waited for it meanwhile are answered FAN_ALLOW.
  if (fds.hold >= 0)
    ::close(fds.hold);
  remove_subtree(fds.cgroup, 0);
  ::close(fds.cgroup);
  const bool removed =
      ::unlinkat(fds.parent, args.cgroup_name, AT_REMOVEDIR) == 0 || errno == ENOENT;
  if (!asked) {
    Line l;
    l.add("vigil watchdog: vigil (pid ").num(args.vigil).add(") is gone; ");
    if (was_populated)
      l.add(drained ? "killed its agent cgroup " : "killed, but could not empty, its agent cgroup ")
          .add(args.cgroup_dir)
          .add(" in ")
          .num(static_cast<long>(now_ms() - t0))
          .add(" ms");
    else
      l.add("its agent cgroup ").add(args.cgroup_dir).add(" was empty");
    l.add(removed ? "; removed it" : "; could not remove it");
    l.emit();
  }
  ::_exit(drained && removed ? 0 : 1);
}

} // namespace

Result<Watchdog> Watchdog::start(const WatchdogOptions &opts)
{
  const size_t slash = opts.cgroup_dir.rfind('/');
  if (slash == std::string::npos || slash + 1 >= opts.cgroup_dir.size())
    return fail("watchdog: not an absolute cgroup path: " + opts.cgroup_dir);
  const std::string parent_dir = slash == 0 ? "/" : opts.cgroup_dir.substr(0, slash);
  const std::string name = opts.cgroup_dir.substr(slash + 1);
  UniqueFd cg(::open(opts.cgroup_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cg)
    return fail_errno(errno, "watchdog: open " + opts.cgroup_dir);
  UniqueFd parent(::open(parent_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!parent)
    return fail_errno(errno, "watchdog: open " + parent_dir);
  // The pidfd refers to vigil itself; taken before the fork, so no death can slip between.
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0)));
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0)
    return fail_errno(errno, "watchdog: pipe");
  UniqueFd control_read(pipefd[0]);
  Watchdog w;
  w.control_.reset(pipefd[1]);
  const ChildFds fds{pidfd.get(), control_read.get(), cg.get(), parent.get(), opts.hold_fd};
  const ChildArgs args{::getpid(), opts.cgroup_dir.c_str(), name.c_str(),
                       static_cast<long>(opts.drain_timeout.count()), opts.use_cgroup_kill};
  const pid_t pid = ::fork();
  if (pid < 0)
    return fail_errno(errno, "watchdog: fork");
  if (pid == 0)
    child_main(fds, args);
  w.pid_ = pid;
  return w;
}

Watchdog::Watchdog(Watchdog &&o) noexcept
    : pid_(std::exchange(o.pid_, -1)), control_(std::move(o.control_)),
      reaped_(std::exchange(o.reaped_, false))
{
}

Watchdog &Watchdog::operator=(Watchdog &&o) noexcept
{
  if (this != &o) {
    finish();
    pid_ = std::exchange(o.pid_, -1);
    control_ = std::move(o.control_);
    reaped_ = std::exchange(o.reaped_, false);
  }
  return *this;
}

Watchdog::~Watchdog()
{
  finish();
}

bool Watchdog::alive()
{
  if (pid_ <= 0 || reaped_)
    return false;
  int status = 0;
  const pid_t w = ::waitpid(pid_, &status, WNOHANG);
  if (w == pid_ || (w < 0 && errno == ECHILD))
    reaped_ = true;
  return !reaped_;
}

void Watchdog::finish(std::chrono::milliseconds timeout)
{
  if (pid_ <= 0 || reaped_) {
    control_.reset();
    return;
  }
  if (control_)
    (void)!::write(control_.get(), "q", 1);
  control_.reset();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (alive()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      reaped_ = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

} // namespace vigil::enforce
