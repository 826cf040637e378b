// SPDX-License-Identifier: Apache-2.0
// The persistence gate: resolving an agent's path as the kernel would, and matching it.
#include "enforce/persistence_gate.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>

#include "common/unique_fd.h"

namespace vigil::enforce {

namespace {

using Kind = PersistenceGate::Entry::Kind;

bool has_wildcard(std::string_view s)
{
  return s.find_first_of("*?[") != std::string_view::npos;
}

bool is_under(std::string_view path, std::string_view dir)
{
  return path == dir ||
         (path.size() > dir.size() && path.starts_with(dir) && (dir == "/" || path[dir.size()] == '/'));
}

std::string_view basename_of(std::string_view p)
{
  const size_t slash = p.rfind('/');
  return slash == std::string_view::npos ? p : p.substr(slash + 1);
}

// The directory part of p before its first component with a wildcard ("/a/b/*.json" -> "/a/b").
std::string literal_prefix(const std::string &p)
{
  size_t end = p.size();
  if (const size_t w = p.find_first_of("*?["); w != std::string::npos)
    end = p.rfind('/', w);
  std::string out = p.substr(0, end);
  return out.empty() ? std::string("/") : out;
}

// The text of a symbolic link (an O_PATH descriptor of it, or dirfd + name).
std::string read_link(int dirfd, const char *name)
{
  char buf[PATH_MAX];
  const ssize_t n = ::readlinkat(dirfd, name, buf, sizeof(buf));
  return n > 0 && static_cast<size_t>(n) < sizeof(buf) ? std::string(buf, static_cast<size_t>(n))
                                                      : std::string();
}

std::string proc_link(pid_t pid, std::string_view what)
{
  const std::string p = "/proc/" + std::to_string(pid) + "/" + std::string(what);
  return read_link(AT_FDCWD, p.c_str());
}

// The last number of "NSpid:" in /proc/<pid>/status: the pid as the process's own /proc names it.
pid_t own_ns_pid(pid_t pid)
{
  std::FILE *f = std::fopen(("/proc/" + std::to_string(pid) + "/status").c_str(), "r");
  if (!f)
    return 0;
  char line[256];
  pid_t out = 0;
  while (std::fgets(line, sizeof(line), f)) {
    if (std::strncmp(line, "NSpid:", 6) != 0)
      continue;
    char *save = nullptr;
    for (char *tok = ::strtok_r(line + 6, " \t\n", &save); tok;
         tok = ::strtok_r(nullptr, " \t\n", &save))
      out = static_cast<pid_t>(std::atoi(tok));
    break;
  }
  std::fclose(f);
  return out;
}

std::vector<std::string> split(std::string_view p)
{
  std::vector<std::string> out;
  size_t i = 0;
  while (i < p.size()) {
    const size_t j = p.find('/', i);
    const std::string_view c = p.substr(i, j == std::string_view::npos ? p.npos : j - i);
    if (!c.empty() && c != ".")
      out.emplace_back(c);
    if (j == std::string_view::npos)
      break;
    i = j + 1;
  }
  return out;
}

// A NUL-terminated string of the agent's, page by page (a string may end just before an
// unmapped page). nullopt: unreadable, or longer than PATH_MAX (the kernel refuses it too).
std::optional<std::string> read_string(pid_t pid, uint64_t addr)
{
  std::string out;
  char buf[4096];
  while (out.size() < PATH_MAX) {
    const size_t chunk = sizeof(buf) - (addr % sizeof(buf));
    iovec local{buf, chunk};
    iovec remote{reinterpret_cast<void *>(addr), chunk};
    const ssize_t n = ::process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (n <= 0)
      return std::nullopt;
    if (const void *nul = std::memchr(buf, 0, static_cast<size_t>(n))) {
      out.append(buf, static_cast<size_t>(static_cast<const char *>(nul) - buf));
      return out;
    }
    out.append(buf, static_cast<size_t>(n));
    addr += static_cast<uint64_t>(n);
  }
  return std::nullopt;
}

bool read_bytes(pid_t pid, uint64_t addr, void *out, size_t len)
{
  iovec local{out, len};
  iovec remote{reinterpret_cast<void *>(addr), len};
  return ::process_vm_readv(pid, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(len);
}

} // namespace

PersistenceGate::PersistenceGate(const policy::Profile &profile, const std::string &home,
                                 const std::string &project, const GitLayout &layout)
{
  anchors_ = project_anchors(project, layout);
  auto add = [&](std::string p, const policy::PersistencePath &e) {
    Entry out;
    out.pattern = e.pattern;
    out.mode = profile.persistence_mode_of(e);
    out.kind = Kind::exact;
    for (std::string_view tail : {"/**", "/*"})
      if (p.size() > tail.size() && p.ends_with(tail) &&
          !has_wildcard(std::string_view(p).substr(0, p.size() - tail.size()))) {
        p.resize(p.size() - tail.size());
        out.kind = Kind::tree;
        break;
      }
    if (out.kind == Kind::exact && has_wildcard(p))
      out.kind = Kind::glob;
    out.path = policy::normalize_path(p);
    if (out.kind == Kind::glob)
      out.path = p; // normalize_path would not touch wildcards, but keep the pattern verbatim
    // What a rename must not move: a tree's directory, a glob's literal directories, an exact
    // path's own directory ("~/.bashrc" pins "~").
    if (out.kind == Kind::tree)
      prefixes_.push_back(out.path);
    else if (out.kind == Kind::glob)
      prefixes_.push_back(literal_prefix(out.path));
    else
      prefixes_.push_back(out.path.rfind('/') == 0 ? std::string("/")
                                                   : out.path.substr(0, out.path.rfind('/')));
    entries_.push_back(std::move(out));
  };
  for (const policy::PersistencePath &e : profile.persistence_paths) {
    const std::string &pat = e.pattern;
    const size_t before = entries_.size();
    if (policy::persistence_scope(pat) == policy::PersistenceScope::basename) {
      Entry out;
      out.kind = Kind::basename;
      out.path = pat;
      out.pattern = pat;
      out.mode = profile.persistence_mode_of(e);
      entries_.push_back(std::move(out));
    }
    for (const auto &a : anchored_patterns(pat, home, anchors_, layout))
      add(a, e);
    // A protected name that is a symbolic link (~/.bashrc -> dotfiles/bashrc): the file it
    // names now is what the developer's shell reads, so it is protected too, under the same
    // pattern.
    const size_t added = entries_.size();
    for (size_t i = before; i < added; ++i) {
      if (entries_[i].kind != Kind::exact)
        continue;
      struct stat st{};
      char real[PATH_MAX];
      if (::lstat(entries_[i].path.c_str(), &st) == 0 && S_ISLNK(st.st_mode) &&
          ::realpath(entries_[i].path.c_str(), real) && entries_[i].path != real)
        add(real, e);
    }
  }
}

std::optional<PersistenceGate::Match> PersistenceGate::protects(std::string_view path,
                                                                bool above) const
{
  // The first entry in profile order wins (its mode and pattern are reported).
  for (const Entry &e : entries_) {
    bool hit = false;
    switch (e.kind) {
    case Kind::exact:
      hit = path == e.path;
      break;
    case Kind::tree:
      hit = is_under(path, e.path);
      break;
    case Kind::glob:
      hit = policy::glob_match(e.path, path);
      break;
    case Kind::basename: // in the project's trees: a package or a clone elsewhere is the agent's
      hit = policy::glob_match(e.path, basename_of(path)) &&
            std::any_of(anchors_.begin(), anchors_.end(),
                        [&](const std::string &a) { return is_under(path, a); });
      break;
    }
    if (hit)
      return Match{&e, false};
  }
  if (!above || path == "/")
    return std::nullopt;
  size_t i = 0;
  for (const Entry &e : entries_) {
    if (e.kind == Kind::basename)
      continue;
    const std::string &prefix = prefixes_[i++];
    if (is_under(prefix, path))
      return Match{&e, true};
  }
  return std::nullopt;
}

namespace {

UniqueFd open_proc(pid_t pid, const std::string &what)
{
  // O_PATH of a magic link (/proc/PID/cwd, root, fd/N) lands on the object itself: the
  // directory the agent is in, even deleted or beyond PATH_MAX, on the agent's own mount.
  const std::string p = "/proc/" + std::to_string(pid) + "/" + what;
  return UniqueFd(::open(p.c_str(), O_PATH | O_CLOEXEC));
}

bool same_inode(int a, int b)
{
  struct stat sa{}, sb{};
  return ::fstat(a, &sa) == 0 && ::fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

bool on_procfs(int fd)
{
  struct statfs sf{};
  return ::fstatfs(fd, &sf) == 0 && sf.f_type == PROC_SUPER_MAGIC;
}

// The name of directory dir as the kernel gives it (the agent's mount namespace is a copy of
// vigil's, so its paths read the same), with last appended. nullopt with *gone: the directory
// was deleted (nothing can be made in it); nullopt alone: no name to be had (beyond PATH_MAX).
std::optional<std::string> name_in(int dir, const std::string &last, bool *gone)
{
  struct stat st{};
  if (::fstat(dir, &st) != 0 || st.st_nlink == 0) {
    *gone = true;
    return std::nullopt;
  }
  const std::string self = "/proc/self/fd/" + std::to_string(dir);
  const std::string d = read_link(AT_FDCWD, self.c_str());
  if (d.empty() || d.front() != '/')
    return std::nullopt;
  if (last.empty())
    return d;
  return (d == "/" ? std::string() : d) + "/" + last;
}

} // namespace

// A FIFO's identity and birth, from dirfd + name (statx flags), into r.
static void fifo_of(int dirfd, const char *name, int flags, ResolvedName &r)
{
  struct statx sx{};
  if (::statx(dirfd, name, flags | AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_INO | STATX_BTIME |
                                                          STATX_CTIME, &sx) != 0 ||
      !S_ISFIFO(sx.stx_mode))
    return;
  r.fifo = true;
  r.dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
  r.ino = sx.stx_ino;
  const struct statx_timestamp &t = (sx.stx_mask & STATX_BTIME) ? sx.stx_btime : sx.stx_ctime;
  r.birth_ns = t.tv_sec * 1000000000LL + t.tv_nsec;
}

std::optional<ResolvedName> resolve_agent_path(const AgentView &view, int dirfd,
                                               std::string_view path, bool follow,
                                               bool dirfd_is_root)
{
  if (path.empty() || path.size() >= PATH_MAX)
    return std::nullopt;
  const std::string fd_name = "fd/" + std::to_string(dirfd);
  // The agent's root (/proc/PID/root: its chroot, if it made one), or openat2's RESOLVE_IN_ROOT
  // directory, which absolute paths and links then start from.
  const UniqueFd root = dirfd_is_root ? open_proc(view.pid, fd_name) : open_proc(view.pid, "root");
  if (!root)
    return std::nullopt;
  UniqueFd cur(path.front() == '/' || dirfd_is_root
                   ? ::fcntl(root.get(), F_DUPFD_CLOEXEC, 0)
                   : (dirfd == AT_FDCWD ? open_proc(view.pid, "cwd") : open_proc(view.pid, fd_name))
                         .release());
  if (!cur)
    return std::nullopt;
  std::vector<std::string> todo = split(path);
  const bool trailing_dir = path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..") ||
                            path == "." || path == "..";
  // The common case in one step: no "..", the kernel resolves the directory part, and refuses
  // any link on the way (then the walk below follows them one by one).
  if (!todo.empty() && !trailing_dir &&
      std::find(todo.begin(), todo.end(), "..") == todo.end()) {
    std::string dir;
    for (size_t i = 0; i + 1 < todo.size(); ++i)
      dir += (i ? "/" : "") + todo[i];
    struct {
      uint64_t flags, mode, resolve;
    } how{O_PATH | O_DIRECTORY | O_CLOEXEC, 0, 0x04 /* NO_SYMLINKS */};
    UniqueFd d(dir.empty() ? ::fcntl(cur.get(), F_DUPFD_CLOEXEC, 0)
                           : static_cast<int>(::syscall(SYS_openat2, cur.get(), dir.c_str(), &how,
                                                        sizeof(how))));
    struct stat st{};
    const bool usable = d && !on_procfs(d.get());
    const int rc = usable ? ::fstatat(d.get(), todo.back().c_str(), &st, AT_SYMLINK_NOFOLLOW) : -1;
    const bool found = rc == 0;
    if (usable && (found || errno == ENOENT)) {
      if (!(found && S_ISLNK(st.st_mode) && follow)) {
        bool gone = false;
        const auto name = name_in(d.get(), todo.back(), &gone);
        if (gone)
          return std::nullopt;
        ResolvedName r = name ? ResolvedName{*name, found, found && S_ISDIR(st.st_mode)}
                              : ResolvedName{"", found, found && S_ISDIR(st.st_mode), true};
        if (found && S_ISFIFO(st.st_mode))
          fifo_of(d.get(), todo.back().c_str(), 0, r);
        return r;
      }
    }
  }
  std::reverse(todo.begin(), todo.end()); // a stack: the next component last
  int links = 0;
  pid_t ns_pid = view.ns_pid;
  auto push_text = [&todo](const std::string &text) {
    std::vector<std::string> parts = split(text);
    for (auto it = parts.rbegin(); it != parts.rend(); ++it)
      todo.push_back(*it);
  };
  auto whole = [&](int fd, bool exists, bool is_dir) -> std::optional<ResolvedName> {
    bool gone = false;
    const auto name = name_in(fd, "", &gone);
    if (gone)
      return std::nullopt;
    if (!name)
      return ResolvedName{"", exists, is_dir, true};
    return ResolvedName{*name, exists, is_dir};
  };
  while (!todo.empty()) {
    std::string c = std::move(todo.back());
    todo.pop_back();
    const bool last = todo.empty();
    if (c == "..") {
      // At the agent's root ".." stays there, as the kernel keeps it for the agent.
      if (!same_inode(cur.get(), root.get())) {
        UniqueFd up(::openat(cur.get(), "..", O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!up)
          return std::nullopt;
        cur = std::move(up);
      }
      if (last)
        return whole(cur.get(), true, true);
      continue;
    }
    const bool proc = on_procfs(cur.get());
    // /proc/self and /proc/thread-self name the reader: here that is vigil, not the agent.
    if (proc && (c == "self" || c == "thread-self")) {
      if (ns_pid == 0)
        ns_pid = own_ns_pid(view.pid);
      if (ns_pid <= 0)
        return std::nullopt;
      c = std::to_string(ns_pid);
    }
    UniqueFd next(::openat(cur.get(), c.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!next) {
      if (errno == ENOENT && last) {
        bool gone = false;
        const auto name = name_in(cur.get(), c, &gone);
        if (gone)
          return std::nullopt;
        if (!name)
          return ResolvedName{"", false, false, true};
        return ResolvedName{*name, false, false};
      }
      return std::nullopt;
    }
    struct stat st{};
    if (::fstat(next.get(), &st) != 0)
      return std::nullopt;
    if (S_ISLNK(st.st_mode) && (!last || follow)) {
      if (++links > 40)
        return std::nullopt;
      if (proc) {
        // A magic link (/proc/PID/cwd, fd/N, root): the kernel jumps to its object, which has a
        // name only when it is a file or a directory.
        UniqueFd jumped(::openat(cur.get(), c.c_str(), O_PATH | O_CLOEXEC));
        struct stat js{};
        if (!jumped || ::fstat(jumped.get(), &js) != 0)
          return std::nullopt;
        if (!S_ISDIR(js.st_mode)) {
          if (!last)
            return std::nullopt;
          if (!S_ISREG(js.st_mode)) { // a pipe, socket, FIFO, ...: no name
            ResolvedName r{"/proc/" + c, true, false};
            if (S_ISFIFO(js.st_mode))
              fifo_of(jumped.get(), "", AT_EMPTY_PATH, r);
            return r;
          }
          return whole(jumped.get(), true, false);
        }
        cur = std::move(jumped);
        if (last)
          return whole(cur.get(), true, true);
        continue;
      }
      const std::string text = read_link(next.get(), "");
      if (text.empty())
        return std::nullopt;
      if (text.front() == '/') {
        UniqueFd r(::fcntl(root.get(), F_DUPFD_CLOEXEC, 0));
        cur = std::move(r);
      }
      push_text(text);
      continue;
    }
    if (last) {
      if (S_ISDIR(st.st_mode))
        return whole(next.get(), true, true);
      bool gone = false;
      const auto name = name_in(cur.get(), c, &gone);
      if (gone)
        return std::nullopt;
      if (!name)
        return ResolvedName{"", true, false, true};
      return ResolvedName{*name, true, false};
    }
    if (!S_ISDIR(st.st_mode))
      return std::nullopt;
    cur = std::move(next);
  }
  return whole(cur.get(), true, true);
}

bool is_name_call(int nr)
{
  switch (nr) {
  case SYS_open:
  case SYS_openat:
  case SYS_openat2:
  case SYS_creat:
  case SYS_mkdir:
  case SYS_mkdirat:
  case SYS_mknod:
  case SYS_mknodat:
  case SYS_symlink:
  case SYS_symlinkat:
  case SYS_link:
  case SYS_linkat:
  case SYS_rename:
  case SYS_renameat:
  case SYS_renameat2:
  case SYS_unlink:
  case SYS_unlinkat:
  case SYS_rmdir:
  case SYS_chmod:
  case SYS_fchmod:
  case SYS_fchmodat:
  case SYS_fchmodat2:
  case SYS_chown:
  case SYS_fchown:
  case SYS_lchown:
  case SYS_fchownat:
  case SYS_truncate:
    return true;
  default:
    return false;
  }
}

namespace {

constexpr uint32_t kOpenWrites = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC;

struct Gate {
  const AgentView &view;
  const PersistenceGate &gate;
  NameVerdict out;

  std::optional<std::string> str(uint64_t addr) { return read_string(view.pid, addr); }

  // A descriptor's own name (fchmod, AT_EMPTY_PATH): what it was opened as, in the agent's view.
  std::optional<ResolvedName> fd_name(int fd)
  {
    const std::string p = proc_link(view.pid, "fd/" + std::to_string(fd));
    if (p.empty() || p.front() != '/' || p.ends_with(" (deleted)"))
      return std::nullopt;
    return ResolvedName{policy::normalize_path(p), true, false};
  }

  std::optional<ResolvedName> name(int dirfd, uint64_t addr, bool follow, bool empty_path)
  {
    const auto s = str(addr);
    if (!s)
      return std::nullopt;
    if (s->empty())
      return empty_path ? fd_name(dirfd) : std::nullopt;
    return resolve_agent_path(view, dirfd, *s, follow);
  }

  // Records the first protected side; returns true when it matched.
  bool check(pipeline::OpenCall call, uint32_t flags, const std::optional<ResolvedName> &n,
             bool above)
  {
    if (!n || out.elsewhere)
      return false;
    if (!gate.decides()) {
      // BPF LSM decides the profile's paths and reports each attempt: nothing to add there.
      if (!n->unjudgeable && gate.protects(n->path, above)) {
        out.elsewhere = true;
        out.observed = false;
        return true;
      }
    } else if (n->unjudgeable) {
      // Resolved, but the kernel gives it no name vigil can match (deeper than PATH_MAX from
      // the root): refused, as a path too long to judge.
      out.protected_path = true;
      out.entry = nullptr;
      out.change = NameChange{call, flags, "", n->exists};
      out.run = false;
      out.error = EPERM;
      return true;
    }
    const auto m = gate.protects(n->path, above);
    if (!m) {
      const std::string *pattern = nullptr;
      if (!out.protected_path && !out.observed && (pattern = gate.watched(n->path)) &&
          (flags != 0 || !agents_own(n->path, *pattern))) {
        out.observed = true;
        out.change = NameChange{call, flags, n->path, n->exists};
      }
      return false;
    }
    out.protected_path = true;
    out.entry = m->entry;
    out.above = m->above;
    out.change = NameChange{call, flags, n->path, n->exists};
    if (m->entry->mode == policy::Mode::enforce) {
      out.run = false;
      out.error = EPERM;
    }
    return true;
  }

  // Whether path, which pattern watches, lies in a repository or directory the agent made: the
  // directory holding the pattern's first name below "/**/" (the repository's top for
  // "/**/.git/hooks/*"), or the path's own directory for a basename pattern, was born after
  // the agent started (statx btime through the agent's root; a file system without birth
  // times says no). Patterns anchored elsewhere ("~/.bashrc", "/etc/cron.d/*") never are.
  bool agents_own(const std::string &path, const std::string &pattern) const
  {
    if (gate.watched_since() == 0)
      return false;
    std::string dir;
    if (pattern.starts_with("/**/")) {
      const std::string_view rest = std::string_view(pattern).substr(4);
      const std::string first(rest.substr(0, rest.find('/')));
      if (first.find_first_of("*?[") != std::string::npos)
        return false;
      const size_t at = path.rfind("/" + first + "/");
      const size_t end = path.size() >= first.size() + 1 &&
                                 path.compare(path.size() - first.size() - 1, std::string::npos,
                                              "/" + first) == 0
                             ? path.size() - first.size() - 1
                             : std::string::npos;
      const size_t top = at != std::string::npos ? at : end;
      if (top == std::string::npos)
        return false;
      dir = top == 0 ? "/" : path.substr(0, top);
    } else if (pattern.find('/') == std::string::npos) {
      const size_t slash = path.rfind('/');
      if (slash == std::string::npos)
        return false;
      dir = slash == 0 ? "/" : path.substr(0, slash);
    } else {
      return false;
    }
    const std::string abs = "/proc/" + std::to_string(view.pid) + "/root" + dir;
    struct statx sx{};
    if (::statx(AT_FDCWD, abs.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BTIME, &sx) != 0 ||
        !(sx.stx_mask & STATX_BTIME))
      return false;
    const int64_t born = sx.stx_btime.tv_sec * 1000000000LL + sx.stx_btime.tv_nsec;
    return born >= gate.watched_since();
  }

  // Reports (observed) the first path below `to` the rules watch that the tree at `from` (in
  // the agent's view) plants there when it is moved, linked or exchanged into place: a name a
  // rule's exception spares does not hide one it does not (hooks/x.sample -> hooks/pre-commit),
  // nor does a directory of hooks moved into place (mv h2 .git/hooks, or a whole new .git). At
  // most kMaxEntries entries are looked at, breadth first; past that, too_many_entries.
  void planted(const std::optional<ResolvedName> &from, const std::optional<ResolvedName> &to)
  {
    if (out.protected_path || out.observed || out.elsewhere || !to || to->unjudgeable || !from ||
        !from->exists)
      return;
    if (!gate.decides() && (gate.protects(to->path, true) || gate.protects(from->path, true)))
      return; // decided elsewhere (tier 1: refused there, and reported)
    if (const std::string *p = gate.watched(to->path); p && !agents_own(to->path, *p)) {
      out.observed = true;
      out.change = NameChange{pipeline::OpenCall::rename, 0, to->path, to->exists};
      return;
    }
    if (!from->is_dir || from->unjudgeable)
      return;
    constexpr size_t kMaxEntries = 4096;
    const std::string root = "/proc/" + std::to_string(view.pid) + "/root";
    std::vector<std::pair<std::string, std::string>> todo = {{from->path, to->path}};
    size_t seen = 0;
    for (size_t i = 0; i < todo.size(); ++i) {
      UniqueFd fd(::open((root + todo[i].first).c_str(),
                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      DIR *d = fd ? ::fdopendir(fd.get()) : nullptr;
      if (!d)
        continue;
      (void)fd.release(); // closedir closes it
      for (const dirent *e; (e = ::readdir(d)) != nullptr;) {
        const std::string_view name(e->d_name);
        if (name == "." || name == "..")
          continue;
        if (++seen > kMaxEntries) {
          out.too_many_entries = true;
          out.change = NameChange{pipeline::OpenCall::rename, 0, to->path, to->exists};
          ::closedir(d);
          return;
        }
        std::string dst = todo[i].second + "/" + std::string(name);
        if (const std::string *p = gate.watched(dst); p && !agents_own(dst, *p)) {
          out.observed = true;
          out.change = NameChange{pipeline::OpenCall::rename, 0, std::move(dst), false};
          ::closedir(d);
          return;
        }
        if (e->d_type == DT_DIR)
          todo.emplace_back(todo[i].first + "/" + std::string(name), std::move(dst));
      }
      ::closedir(d);
    }
  }

  // A credential's old name in a rename or link: the new name may be one no pattern matches.
  void credential_moved(pipeline::OpenCall call, const std::optional<ResolvedName> &from)
  {
    if (out.protected_path || !from || !from->exists || from->unjudgeable)
      return;
    const std::string *pattern = gate.credential(from->path);
    if (!pattern)
      return;
    if (!gate.decides()) { // BPF LSM refuses moving a credential away, and reports it
      out.elsewhere = true;
      out.observed = false;
      return;
    }
    out.protected_path = true;
    out.credential = pattern;
    out.change = NameChange{call, 0, from->path, true};
    if (gate.credential_mode() == policy::Mode::enforce) {
      out.run = false;
      out.error = EPERM;
    }
  }

  // A file the credential rules name, about to get another name (NameVerdict::rule_files).
  void rule_file_moved(const std::optional<ResolvedName> &n)
  {
    if (n && n->exists && !n->unjudgeable && gate.rule_credential(n->path))
      out.rule_files.push_back(n->path);
  }

  // A call that makes a name: only a name that does not exist yet (an existing one fails EEXIST).
  void create(pipeline::OpenCall call, const std::optional<ResolvedName> &n)
  {
    if (n && (n->unjudgeable || !n->exists))
      check(call, 0, n, false);
  }

  // A call that changes an existing name or its file.
  void change(pipeline::OpenCall call, const std::optional<ResolvedName> &n)
  {
    if (n && (n->unjudgeable || n->exists))
      check(call, 0, n, false);
  }

  void open(pipeline::OpenCall call, int dirfd, uint64_t addr, uint64_t flags, bool in_root)
  {
    const uint32_t f = static_cast<uint32_t>(flags);
    if (!(f & kOpenWrites) || (f & __O_TMPFILE) == __O_TMPFILE)
      return; // a read, or an unnamed file (linkat gives it a name, and is judged then)
    const bool excl_create = (f & O_CREAT) && (f & O_EXCL);
    const auto s = str(addr);
    if (!s || s->empty())
      return;
    // openat2's RESOLVE_IN_ROOT: "/" and absolute links are dirfd.
    const std::string_view q = *s;
    const bool follow = !(f & O_NOFOLLOW) && !excl_create;
    const auto n = resolve_agent_path(view, dirfd, q, follow, in_root);
    if (!n || (!n->unjudgeable && ((!n->exists && !(f & O_CREAT)) || (n->exists && excl_create))))
      return; // ENOENT or EEXIST: nothing is written
    if (n->exists)
      note_fifo(*n, call, f);
    // The name as written, when it is a protected symbolic link, and the file it leads to.
    if (follow && check(call, f, resolve_agent_path(view, dirfd, q, false, in_root), false))
      return;
    check(call, f, n, false);
  }

  // An existing FIFO opened for writing: what the caller needs to tell the agent's own (the
  // resolution read it from a descriptor of the object).
  void note_fifo(const ResolvedName &n, pipeline::OpenCall call, uint32_t flags)
  {
    if (!n.fifo)
      return;
    out.fifo.opened = true;
    out.fifo.path = n.path;
    out.fifo.call = call;
    out.fifo.flags = flags;
    out.fifo.dev = n.dev;
    out.fifo.ino = n.ino;
    out.fifo.birth_ns = n.birth_ns;
  }

  // mknod/mkfifo: a FIFO the agent makes is its own.
  void made(const std::optional<ResolvedName> &n, uint64_t mode)
  {
    if (n && !n->exists && !n->unjudgeable && S_ISFIFO(static_cast<mode_t>(mode))) {
      out.fifo.made = true;
      out.fifo.path = n->path;
    }
  }

  // chmod, chown, truncate by name: the name itself (a protected symbolic link), then what it
  // leads to when the call follows it.
  void change_named(pipeline::OpenCall call, int dirfd, uint64_t addr, bool follow,
                    bool empty_path)
  {
    if (follow) {
      const auto link = name(dirfd, addr, false, empty_path);
      if (link && link->exists && check(call, 0, link, false))
        return;
    }
    change(call, name(dirfd, addr, follow, empty_path));
  }
};

} // namespace

NameVerdict judge_name_call(const TamperAttempt &a, const AgentView &view,
                            const PersistenceGate &gate)
{
  using C = pipeline::OpenCall;
  Gate g{view, gate, {}};
  const auto fd = [&a](int i) { return static_cast<int>(static_cast<int32_t>(a.args[i])); };
  const auto arg32 = [&a](int i) { return static_cast<uint32_t>(a.args[i]); };
  if (gate.empty() || a.arch != 0xc000003eu /* AUDIT_ARCH_X86_64 */)
    return g.out;
  switch (a.nr) {
  case SYS_open:
    g.open(C::open, AT_FDCWD, a.args[0], a.args[1], false);
    break;
  case SYS_creat:
    g.open(C::open, AT_FDCWD, a.args[0], O_CREAT | O_WRONLY | O_TRUNC, false);
    break;
  case SYS_openat:
    g.open(C::openat, fd(0), a.args[1], a.args[2], false);
    break;
  case SYS_openat2: {
    struct {
      uint64_t flags, mode, resolve;
    } how{};
    if (a.args[3] < sizeof(how) || !read_bytes(view.pid, a.args[2], &how, sizeof(how)))
      break;
    g.open(C::openat2, fd(0), a.args[1], how.flags, how.resolve & 0x10 /* RESOLVE_IN_ROOT */);
    break;
  }
  case SYS_mkdir:
  case SYS_mknod: {
    const auto n = g.name(AT_FDCWD, a.args[0], false, false);
    g.create(C::mknod, n);
    if (a.nr == SYS_mknod)
      g.made(n, a.args[1]);
    break;
  }
  case SYS_mkdirat:
  case SYS_mknodat: {
    const auto n = g.name(fd(0), a.args[1], false, false);
    g.create(C::mknod, n);
    if (a.nr == SYS_mknodat)
      g.made(n, a.args[2]);
    break;
  }
  case SYS_symlink:
  case SYS_symlinkat: {
    const bool at = a.nr == SYS_symlinkat;
    const auto n = at ? g.name(fd(1), a.args[2], false, false)
                      : g.name(AT_FDCWD, a.args[1], false, false);
    g.create(C::symlink, n);
    // A link to a directory puts its entries at the link's name (ln -s ../h .git/hooks).
    if (n && !n->exists && !n->unjudgeable && !g.out.protected_path)
      if (const auto target = g.str(a.args[0]); target && !target->empty()) {
        const size_t slash = n->path.rfind('/');
        const std::string abs = target->front() == '/' ? *target
                                                       : n->path.substr(0, slash + 1) + *target;
        g.planted(resolve_agent_path(view, AT_FDCWD, abs, true), n);
      }
    break;
  }
  case SYS_link:
  case SYS_linkat: {
    const bool at = a.nr == SYS_linkat;
    const uint32_t flags = at ? arg32(4) : 0;
    const auto to = at ? g.name(fd(2), a.args[3], false, false)
                       : g.name(AT_FDCWD, a.args[1], false, false);
    g.create(C::link, to);
    const auto from = at ? g.name(fd(0), a.args[1], flags & AT_SYMLINK_FOLLOW, flags & AT_EMPTY_PATH)
                         : g.name(AT_FDCWD, a.args[0], false, false);
    if (!g.out.protected_path) // a second name for a protected file writes it past its guard
      g.change(C::link, from);
    g.credential_moved(C::link, from);
    g.rule_file_moved(from);
    break;
  }
  case SYS_rename:
  case SYS_renameat:
  case SYS_renameat2: {
    const bool at = a.nr != SYS_rename;
    const auto from = at ? g.name(fd(0), a.args[1], false, false)
                         : g.name(AT_FDCWD, a.args[0], false, false);
    const auto to = at ? g.name(fd(2), a.args[3], false, false)
                       : g.name(AT_FDCWD, a.args[1], false, false);
    // Either side, and the directories above a protected path on either side; the new name
    // whatever became of the old one (an old name vigil could not resolve still moves something).
    if (!(from && from->exists && g.check(C::rename, 0, from, true)))
      g.check(C::rename, 0, to, true);
    g.credential_moved(C::rename, from);
    g.rule_file_moved(from);
    g.planted(from, to);
    if (a.nr == SYS_renameat2 && (arg32(4) & RENAME_EXCHANGE)) { // the old name gets the new's
      g.credential_moved(C::rename, to);
      g.rule_file_moved(to);
      g.planted(to, from);
    }
    break;
  }
  case SYS_unlink:
  case SYS_rmdir:
    g.change(C::unlink, g.name(AT_FDCWD, a.args[0], false, false));
    break;
  case SYS_unlinkat:
    g.change(C::unlink, g.name(fd(0), a.args[1], false, false));
    break;
  case SYS_chmod:
    g.change_named(C::chmod, AT_FDCWD, a.args[0], true, false);
    break;
  case SYS_fchmodat:
    g.change_named(C::chmod, fd(0), a.args[1], true, false);
    break;
  case SYS_fchmodat2: {
    const uint32_t flags = arg32(3);
    g.change_named(C::chmod, fd(0), a.args[1], !(flags & AT_SYMLINK_NOFOLLOW),
                   flags & AT_EMPTY_PATH);
    break;
  }
  case SYS_fchmod:
    g.change(C::chmod, g.fd_name(fd(0)));
    break;
  case SYS_chown:
  case SYS_lchown:
    g.change_named(C::chown, AT_FDCWD, a.args[0], a.nr == SYS_chown, false);
    break;
  case SYS_fchownat: {
    const uint32_t flags = arg32(4);
    g.change_named(C::chown, fd(0), a.args[1], !(flags & AT_SYMLINK_NOFOLLOW),
                   flags & AT_EMPTY_PATH);
    break;
  }
  case SYS_fchown:
    g.change(C::chown, g.fd_name(fd(0)));
    break;
  case SYS_truncate:
    g.change_named(C::truncate, AT_FDCWD, a.args[0], true, false);
    break;
  default:
    break;
  }
  return g.out;
}

} // namespace vigil::enforce
