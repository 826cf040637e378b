// SPDX-License-Identifier: Apache-2.0
// The fanotify group, its marks and the event thread. Every permission event read is answered
// exactly once, whatever happens while deciding it.

#include "enforce/fanotify_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>
#include <unordered_set>

#include "common/text.h"
#include "policy/profile.h"

namespace vigil::enforce {

namespace {

constexpr uint64_t kPermEvents = FAN_OPEN_PERM | FAN_OPEN_EXEC_PERM | FAN_ACCESS_PERM;

std::string proc_fd_path(int fd)
{
  return "/proc/self/fd/" + std::to_string(fd);
}

std::string fd_path(int fd)
{
  char buf[PATH_MAX];
  ssize_t n = ::readlink(proc_fd_path(fd).c_str(), buf, sizeof(buf));
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// The thread group of a thread, from /proc/TID/status ("Tgid:" is its fourth line), or 0.
pid_t tgid_of(pid_t tid)
{
  const std::string file = "/proc/" + std::to_string(tid) + "/status";
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd)
    return 0;
  char buf[512];
  ssize_t n = ::read(fd.get(), buf, sizeof(buf) - 1);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  const char *p = std::strstr(buf, "\nTgid:");
  if (!p)
    return 0;
  return static_cast<pid_t>(std::strtol(p + 6, nullptr, 10));
}

uint64_t dev_of(const struct stat &st)
{
  return static_cast<uint64_t>(st.st_dev);
}

uint64_t ino_of(const struct stat &st)
{
  return static_cast<uint64_t>(st.st_ino);
}

std::string inode_key(uint64_t dev, uint64_t ino)
{
  return std::to_string(dev) + ":" + std::to_string(ino);
}

} // namespace

FanotifyGuard::FanotifyGuard(Decider decide, UniqueFd fan, UniqueFd stop, bool report_tid)
    : decide_(std::move(decide)), fan_(std::move(fan)), stop_(std::move(stop)),
      report_tid_(report_tid), self_(::getpid()), snap_(std::make_shared<const Snapshot>())
{
}

size_t raise_fd_limit()
{
  struct rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return 1024;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &rl);
    (void)::getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur == RLIM_INFINITY ? SIZE_MAX : static_cast<size_t>(rl.rlim_cur);
}

Result<std::unique_ptr<FanotifyGuard>> FanotifyGuard::start(Decider decide)
{
  // FAN_UNLIMITED_QUEUE: with a bounded queue an overflowing permission event is let through.
  const unsigned base = FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK | FAN_UNLIMITED_QUEUE;
  const unsigned event_flags = O_RDONLY | O_LARGEFILE | O_CLOEXEC;
  bool report_tid = true;
  int fd = ::fanotify_init(base | FAN_REPORT_TID, event_flags);
  if (fd < 0 && errno == EINVAL) { // FAN_REPORT_TID is 4.20+
    report_tid = false;
    fd = ::fanotify_init(base, event_flags);
  }
  if (fd < 0)
    return fail_errno(errno, "fanotify_init(FAN_CLASS_CONTENT)");
  UniqueFd fan(fd);
  UniqueFd stop(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop)
    return fail_errno(errno, "eventfd");
  std::unique_ptr<FanotifyGuard> g(
      new FanotifyGuard(std::move(decide), std::move(fan), std::move(stop), report_tid));
  try {
    FanotifyGuard *self = g.get();
    g->thread_ = std::thread([self]() noexcept { self->run(); });
  } catch (const std::system_error &e) {
    return fail_errno(e.code().value(), "start the fanotify thread");
  }
  return g;
}

FanotifyGuard::~FanotifyGuard()
{
  if (thread_.joinable()) {
    // Adding 1 to a fresh eventfd cannot fail (only a counter at UINT64_MAX - 1 would).
    uint64_t one = 1;
    (void)!::write(stop_.get(), &one, sizeof(one));
    thread_.join();
  }
  // Flush first so no new event queues; closing the group then answers anything still pending
  // with FAN_ALLOW (fanotify_release()).
  ::fanotify_mark(fan_.get(), FAN_MARK_FLUSH, 0, AT_FDCWD, nullptr);
}

Stats FanotifyGuard::stats() const
{
  Stats s;
  s.events = events_.load(std::memory_order_relaxed);
  s.allowed = allowed_.load(std::memory_order_relaxed);
  s.denied = denied_.load(std::memory_order_relaxed);
  s.errors = errors_.load(std::memory_order_relaxed);
  s.skipped = skipped_.load(std::memory_order_relaxed);
  s.handle_ns = handle_ns_.load(std::memory_order_relaxed);
  s.cached = cached_.load(std::memory_order_relaxed);
  s.cache_full = cache_full_.load(std::memory_order_relaxed);
  s.mounts = mounts_.load(std::memory_order_relaxed);
  s.observed = observed_.load(std::memory_order_relaxed);
  return s;
}

Result<> FanotifyGuard::mark(int opath_fd, uint64_t mask, const std::string &path)
{
  // fanotify_mark() with a NULL path takes the fd through fdget(), which refuses O_PATH files;
  // the /proc/self/fd magic link resolves to exactly the file the fd holds instead.
  const std::string link = proc_fd_path(opath_fd);
  if (exec_perm_) {
    if (::fanotify_mark(fan_.get(), FAN_MARK_ADD, mask, AT_FDCWD, link.c_str()) == 0)
      return {};
    if (errno != EINVAL)
      return fail_errno(errno, "fanotify_mark " + path);
    exec_perm_ = false; // before 5.0
  }
  if (::fanotify_mark(fan_.get(), FAN_MARK_ADD, mask & ~uint64_t{FAN_OPEN_EXEC_PERM}, AT_FDCWD,
                      link.c_str()) != 0)
    return fail_errno(errno, "fanotify_mark " + path);
  return {};
}

Result<> FanotifyGuard::guard(const ProtectedSet &set,
                             std::vector<std::pair<uint64_t, uint64_t>> *unlinked)
{
  std::lock_guard<std::mutex> lock(mark_mutex_);
  constexpr uint64_t kFileMask = FAN_OPEN_PERM | FAN_OPEN_EXEC_PERM | FAN_ONDIR;
  constexpr uint64_t kDirMask = FAN_OPEN_PERM | FAN_OPEN_EXEC_PERM | FAN_EVENT_ON_CHILD;

  // 1. Pin every object with an O_PATH fd (opening O_PATH raises no fanotify event) and record
  //    the inode actually held.
  auto snap = std::make_shared<Snapshot>();
  snap->globs = set.globs();
  snap->basenames = set.basenames();
  for (const ProtectedFile &t : set.trees())
    snap->trees[t.dev][t.ino] = t.pattern;
  std::vector<Marked> next;
  auto pin = [&](const std::string &path, bool dir) -> Marked * {
    int flags = O_PATH | O_CLOEXEC | (dir ? O_DIRECTORY : 0);
    UniqueFd fd(::open(path.c_str(), flags));
    struct stat st{};
    if (!fd || ::fstat(fd.get(), &st) != 0)
      return nullptr; // vanished since resolve(): the next refresh() sees it
    next.push_back(Marked{dev_of(st), ino_of(st), path, dir, std::move(fd)});
    return &next.back();
  };
  // An object whose pin fails for lack of descriptors (EMFILE, ENFILE) keeps its old mark, if it
  // had one: a failed refresh must not unguard what was guarded.
  std::unordered_set<std::string> unpinned;
  size_t pin_failures = 0;
  int pin_errno = 0;
  auto pin_failed = [&](const std::string &path) {
    pin_errno = errno;
    ++pin_failures;
    errors_.fetch_add(1, std::memory_order_relaxed);
    struct stat st{};
    if (::stat(path.c_str(), &st) == 0)
      unpinned.insert(inode_key(dev_of(st), ino_of(st)));
  };
  // Directories first: they guard every name in them, so they are the last to go short.
  next.reserve(set.files().size() + set.dirs().size());
  for (const GuardedDir &d : set.dirs())
    if (!pin(d.path, true) && errno != ENOENT && errno != ENOTDIR)
      pin_failed(d.path);
  // A file guarded before keeps its pin (moved over, not duplicated: the descriptors a set needs
  // stay one per file): its name may have moved (a glob's file that was linked or renamed
  // elsewhere), its inode has not.
  std::unordered_map<std::string, Marked *> held;
  for (Marked &old : marked_)
    if (!old.dir && old.opath)
      held.emplace(inode_key(old.dev, old.ino), &old);
  auto pin_file = [&](const ProtectedFile &f) -> Marked * {
    if (auto it = held.find(inode_key(f.dev, f.ino)); it != held.end() && it->second->opath) {
      struct stat st{};
      if (::fstat(it->second->opath.get(), &st) == 0 && st.st_nlink == 0) {
        if (unlinked)
          unlinked->emplace_back(f.dev, f.ino);
        errno = ENOENT; // no name left: unmarked below, with the old entries; not a failure
        return nullptr;
      }
      next.push_back(Marked{f.dev, f.ino, f.path, false, std::move(it->second->opath)});
      return &next.back();
    }
    Marked *m = pin(f.path, false);
    if (!m && errno != ENOENT && errno != ENOTDIR)
      pin_failed(f.path);
    return m;
  };
  for (const ProtectedFile &f : set.files()) {
    if (Marked *m = pin_file(f)) {
      snap->inodes[m->dev][m->ino] = InodeEntry{f.path, f.pattern};
      snap->files.push_back(ProtectedFile{m->dev, m->ino, f.path, f.pattern});
    }
  }

  // 2. Publish the set before the marks exist: an event from a new mark always finds its inode.
  //    Where inodes are cached as allowed, a set that protects other names or trees than before
  //    drops the whole cache (and with it every inode mark, re-added below): what was allowed
  //    under the old patterns is decided again. Meanwhile the agent's opens still arrive through
  //    its mount marks, and the published snapshot knows every protected inode.
  bool flushed = false;
  {
    std::lock_guard<std::mutex> snap_lock(snap_mutex_);
    flushed = agent_mounts_.load() &&
              (snap_->basenames != snap->basenames || snap_->trees != snap->trees);
    snap_ = std::move(snap);
  }
  if (flushed && ::fanotify_mark(fan_.get(), FAN_MARK_FLUSH, 0, AT_FDCWD, nullptr) == 0)
    cached_.store(0);

  // 3. Mark. A file allowed (cached) while it was unprotected loses its ignore mask first: it is
  //    decided again from now on (renamed into a protected tree, matched by a new pattern).
  Result<> result;
  size_t failed = 0;
  for (Marked &m : next) {
    if (!m.dir && agent_mounts_.load(std::memory_order_relaxed))
      ::fanotify_mark(fan_.get(), FAN_MARK_REMOVE | FAN_MARK_IGNORED_MASK,
                      kPermEvents | FAN_ONDIR, AT_FDCWD, proc_fd_path(m.opath.get()).c_str());
    auto r = mark(m.opath.get(), m.dir ? kDirMask : kFileMask, m.path);
    if (!r && failed++ == 0)
      result = r;
  }

  // 4. Unmark what is no longer guarded. Files are unmarked through the fd kept from their
  //    guard() call, which works after an unlink or rename (a marked inode is pinned until its
  //    mark goes); directories through their path if it still names the same inode.
  std::unordered_set<std::string> keep = std::move(unpinned);
  for (const Marked &m : next)
    keep.insert(inode_key(m.dev, m.ino));
  for (Marked &old : marked_) {
    if (keep.contains(inode_key(old.dev, old.ino)))
      continue;
    std::string target = old.dir ? old.path : proc_fd_path(old.opath.get());
    if (old.dir) {
      struct stat st{};
      if (::stat(old.path.c_str(), &st) != 0 || dev_of(st) != old.dev ||
          ino_of(st) != old.ino)
        continue;
    }
    ::fanotify_mark(fan_.get(), FAN_MARK_REMOVE, kFileMask | kDirMask, AT_FDCWD, target.c_str());
  }

  // 5. Keep the fds of marked files; directories can be many, their fds are not kept.
  for (Marked &m : next)
    if (m.dir)
      m.opath.reset();
  marked_ = std::move(next);
  if (result && pin_failures > 0)
    return fail_errno(pin_errno, std::to_string(pin_failures) +
                                     " guarded object(s) could not be pinned (their old marks, "
                                     "if any, stay)");
  if (!result)
    return fail(result.error().message() + (failed > 1 ? " (and " + std::to_string(failed - 1) +
                                                             " more)"
                                                       : std::string()));
  return {};
}

Result<> FanotifyGuard::unguard_all()
{
  std::lock_guard<std::mutex> lock(mark_mutex_);
  if (::fanotify_mark(fan_.get(), FAN_MARK_FLUSH, 0, AT_FDCWD, nullptr) != 0)
    return fail_errno(errno, "fanotify_mark(FAN_MARK_FLUSH)");
  marked_.clear();
  std::lock_guard<std::mutex> snap_lock(snap_mutex_);
  snap_ = std::make_shared<const Snapshot>();
  return {};
}

Result<size_t> FanotifyGuard::mark_mounts(pid_t pid, std::vector<std::string> *refused)
{
  std::lock_guard<std::mutex> lock(mark_mutex_);
  const std::string proc = "/proc/" + std::to_string(pid);
  std::ifstream in(proc + "/mountinfo");
  if (!in)
    return fail_errno(ESRCH, "read " + proc + "/mountinfo");
  std::unordered_set<uint64_t> &seen = mount_ids_[pid];
  const uint64_t mask = FAN_OPEN_PERM | (exec_perm_ ? FAN_OPEN_EXEC_PERM : 0);
  // The cache and the wider decision go live before the first mark raises an event.
  agent_mounts_.store(true);
  size_t added = 0;
  bool any = false;
  for (std::string line; std::getline(in, line);) {
    any = true;
    // id parent major:minor root mount-point options ... - fstype source superoptions
    std::istringstream fields(line);
    uint64_t id = 0;
    std::string parent, devno, root, point;
    if (!(fields >> id >> parent >> devno >> root >> point) || seen.contains(id))
      continue;
    const std::string target = proc + "/root" + unescape_mountinfo(point);
    if (::fanotify_mark(fan_.get(), FAN_MARK_ADD | FAN_MARK_MOUNT, mask, AT_FDCWD,
                        target.c_str()) != 0) {
      // EINVAL: procfs and other file systems that take no permission events. ENOENT/EACCES:
      // a mount point hidden under another mount (reached through it, the upper mount is
      // marked).
      if (refused)
        refused->push_back(unescape_mountinfo(point) + ": " + std::strerror(errno));
      continue;
    }
    seen.insert(id);
    ++added;
  }
  if (!any)
    return fail_errno(ESRCH, "read " + proc + "/mountinfo");
  mounts_.fetch_add(added, std::memory_order_relaxed);
  return added;
}

void FanotifyGuard::forget_mounts(pid_t pid)
{
  std::lock_guard<std::mutex> lock(mark_mutex_);
  mount_ids_.erase(pid);
}

std::optional<std::string> FanotifyGuard::agent_match(const Snapshot &snap, pid_t pid,
                                                      const std::string &path) const
{
  std::string_view name(path);
  constexpr std::string_view kDeleted = " (deleted)";
  if (name.ends_with(kDeleted))
    name.remove_suffix(kDeleted.size());
  const size_t slash = name.rfind('/');
  const std::string_view base = slash == std::string_view::npos ? name : name.substr(slash + 1);
  for (const std::string &b : snap.basenames)
    if (policy::glob_match(b, base))
      return b;
  if (snap.trees.empty() || slash == std::string_view::npos)
    return std::nullopt;
  // The file's current ancestors, by identity, as the opener's mount namespace resolves them: a
  // protected tree renamed anywhere (or a renamed parent of it) is still the tree.
  const std::string root = "/proc/" + std::to_string(pid) + "/root";
  std::string dir(name.substr(0, slash));
  while (!dir.empty()) {
    struct stat st{};
    if (::lstat((root + dir).c_str(), &st) == 0) {
      auto by_dev = snap.trees.find(dev_of(st));
      if (by_dev != snap.trees.end())
        if (auto it = by_dev->second.find(ino_of(st)); it != by_dev->second.end())
          return it->second;
    }
    dir.resize(dir.rfind('/'));
  }
  return std::nullopt;
}

void FanotifyGuard::set_fifo_stand_in(uint64_t dev, uint64_t ino)
{
  std::lock_guard<std::mutex> lock(snap_mutex_);
  stand_in_ = {dev, ino};
}

void FanotifyGuard::set_observer(Observer observe, KeepSeeing keep_seeing)
{
  std::lock_guard<std::mutex> lock(snap_mutex_);
  observe_ = std::move(observe);
  keep_seeing_ = std::move(keep_seeing);
}

// Allowed in the kernel from now on, for every opener, until a guard() marks the inode as
// protected: an ignore mark that survives modification (KERNEL-FACTS: one event per inode).
void FanotifyGuard::cache_allow(int event_fd)
{
  if (cached_.load(std::memory_order_relaxed) >= kMaxCached) {
    cache_full_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  constexpr unsigned kIgnore = FAN_MARK_ADD | FAN_MARK_IGNORED_MASK | FAN_MARK_IGNORED_SURV_MODIFY;
  int r = ::fanotify_mark(fan_.get(), kIgnore, FAN_OPEN_PERM | FAN_OPEN_EXEC_PERM, event_fd,
                          nullptr);
  if (r != 0 && errno == EINVAL) // before 5.0: no FAN_OPEN_EXEC_PERM
    r = ::fanotify_mark(fan_.get(), kIgnore, FAN_OPEN_PERM, event_fd, nullptr);
  if (r == 0)
    cached_.fetch_add(1, std::memory_order_relaxed);
  else
    cache_full_.fetch_add(1, std::memory_order_relaxed); // ENOSPC: fs.fanotify.max_user_marks
}

void FanotifyGuard::run() noexcept
{
  struct pollfd fds[2] = {{fan_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
  alignas(struct fanotify_event_metadata) char buf[16 * 1024];
  for (;;) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno != EINTR) {
        errors_.fetch_add(1, std::memory_order_relaxed);
        ::usleep(1000); // ENOMEM: back off instead of spinning; queued openers keep waiting
      }
      continue;
    }
    if (fds[1].revents)
      return; // events read so far are all answered; the rest are answered by close
    ssize_t n = ::read(fan_.get(), buf, sizeof(buf));
    if (n < 0) {
      // EMFILE/ENFILE: the kernel answered that event FAN_DENY itself (fanotify_read()).
      if (errno != EAGAIN && errno != EINTR)
        errors_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    for (ssize_t off = 0; off + static_cast<ssize_t>(sizeof(fanotify_event_metadata)) <= n;) {
      struct fanotify_event_metadata m;
      std::memcpy(&m, buf + off, sizeof(m));
      if (m.event_len < sizeof(m) || m.vers != FANOTIFY_METADATA_VERSION) {
        // A layout this build does not know: nothing after it can be parsed. Cannot happen with
        // the uapi we build against (version 3 since 2.6.37).
        errors_.fetch_add(1, std::memory_order_relaxed);
        break;
      }
      off += m.event_len;
      if (m.mask & FAN_Q_OVERFLOW)
        errors_.fetch_add(1, std::memory_order_relaxed);
      if (m.fd < 0)
        continue;
      if (m.mask & kPermEvents)
        handle(m.fd, m.mask, m.pid);
      ::close(m.fd);
    }
  }
}

void FanotifyGuard::handle(int event_fd, uint64_t mask, pid_t pid) noexcept
{
  const auto t0 = std::chrono::steady_clock::now();
  bool deny = false;
  try {
    deny = decide(event_fd, mask, pid);
  } catch (...) {
    // Fail open: an exception (bad_alloc, or thrown by the Decider) must not leave the opener
    // blocked. Counted, and the event is allowed.
    errors_.fetch_add(1, std::memory_order_relaxed);
    deny = false;
  }
  struct fanotify_response resp{};
  resp.fd = event_fd;
  resp.response = deny ? FAN_DENY : FAN_ALLOW;
  if (::write(fan_.get(), &resp, sizeof(resp)) != static_cast<ssize_t>(sizeof(resp)))
    errors_.fetch_add(1, std::memory_order_relaxed); // ENOENT: the opener was killed meanwhile
  events_.fetch_add(1, std::memory_order_relaxed);
  (deny ? denied_ : allowed_).fetch_add(1, std::memory_order_relaxed);
  const auto dt = std::chrono::steady_clock::now() - t0;
  handle_ns_.fetch_add(
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(dt).count()),
      std::memory_order_relaxed);
}

bool FanotifyGuard::is_own_thread(pid_t pid) const
{
  if (!report_tid_)
    return pid == self_;
  // A tid of another process has no entry under our /proc/self/task.
  struct stat st{};
  return ::stat(("/proc/self/task/" + std::to_string(pid)).c_str(), &st) == 0;
}

// True to deny. Anything that goes wrong allows, counted in errors_.
bool FanotifyGuard::decide(int event_fd, uint64_t mask, pid_t pid)
{
  // Our own opens first, before anything that could block: a thread of this process waiting on
  // its own answer would otherwise wait for the Decider it may be part of.
  if (is_own_thread(pid)) {
    skipped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  struct stat st{};
  if (::fstat(event_fd, &st) != 0) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  Request req;
  req.dev = dev_of(st);
  req.ino = ino_of(st);
  req.exec = (mask & FAN_OPEN_EXEC_PERM) != 0;
  req.path = fd_path(event_fd);
  std::shared_ptr<const Snapshot> snap;
  bool stand_in = false;
  Observer observe;
  KeepSeeing keep_seeing;
  {
    std::lock_guard<std::mutex> lock(snap_mutex_);
    snap = snap_;
    stand_in = stand_in_.second != 0 && stand_in_ == std::make_pair(req.dev, req.ino);
    observe = observe_;
    keep_seeing = keep_seeing_;
  }
  auto by_dev = snap->inodes.find(req.dev);
  const InodeEntry *entry = nullptr;
  if (by_dev != snap->inodes.end()) {
    auto it = by_dev->second.find(req.ino);
    if (it != by_dev->second.end())
      entry = &it->second;
  }
  const bool agent_mounts = agent_mounts_.load(std::memory_order_relaxed);
  if (entry) {
    req.pattern = entry->pattern;
  } else if (stand_in) {
    req.fifo = true; // a FIFO that existed before the agent: birth_ns 0
  } else {
    // Through a directory mark, an agent's mount, or a stale mark on a replaced inode: the
    // path the file was opened by and, on an agent mount, its basename and ancestors decide.
    if (req.path.empty()) {
      errors_.fetch_add(1, std::memory_order_relaxed); // readlink failed: fail open
      return false;
    }
    auto pattern = match_protected(snap->files, snap->globs, req.path);
    if (!pattern && agent_mounts)
      pattern = agent_match(*snap, pid, req.path);
    if (pattern) {
      req.pattern = std::move(*pattern);
      req.via_dir_mark = true;
    } else if (agent_mounts && S_ISFIFO(st.st_mode)) {
      req.fifo = true;
      struct statx sx{};
      if (::statx(event_fd, "", AT_EMPTY_PATH, STATX_BTIME | STATX_CTIME, &sx) == 0) {
        const struct statx_timestamp &t = (sx.stx_mask & STATX_BTIME) ? sx.stx_btime
                                                                         : sx.stx_ctime;
        req.birth_ns = t.tv_sec * 1000000000LL + t.tv_nsec;
      }
    } else {
      skipped_.fetch_add(1, std::memory_order_relaxed);
      if (!agent_mounts)
        return false;
      if (observe) {
        req.tid_or_pid = pid;
        req.pid = pid;
        if (report_tid_) {
          pid_t tgid = tgid_of(pid);
          req.pid = tgid > 0 ? tgid : pid;
        }
        observe(req);
        observed_.fetch_add(1, std::memory_order_relaxed);
      }
      if (!keep_seeing || !keep_seeing(req))
        cache_allow(event_fd);
      return false;
    }
  }
  req.tid_or_pid = pid;
  req.pid = pid;
  if (report_tid_) {
    pid_t tgid = tgid_of(pid);
    req.pid = tgid > 0 ? tgid : pid;
  }
  return decide_(req).deny;
}

} // namespace vigil::enforce
