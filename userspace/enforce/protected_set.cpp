// SPDX-License-Identifier: Apache-2.0
// Pattern classification, resolution to inodes and directories, and the inotify watches that
// tell the caller when a resolution went stale.

#include "enforce/protected_set.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <set>
#include <utility>

#include "policy/profile.h"

namespace vigil::enforce {

namespace {

constexpr uint32_t kWatchMask =
    IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB | IN_ONLYDIR;

bool has_glob_meta(std::string_view s)
{
  return s.find_first_of("*?[") != std::string_view::npos;
}

// Components of an absolute path, without empty ones.
std::vector<std::string> split_components(std::string_view path)
{
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < path.size()) {
    size_t end = path.find('/', pos);
    if (end == std::string_view::npos)
      end = path.size();
    if (end > pos)
      out.emplace_back(path.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

std::string join_components(const std::vector<std::string> &comps, size_t from, size_t to)
{
  std::string out;
  for (size_t i = from; i < to; ++i)
    out.append("/").append(comps[i]);
  return out.empty() ? "/" : out;
}

// realpath(3), or the errno why not.
Result<std::string> real_path(const std::string &path)
{
  char *p = ::realpath(path.c_str(), nullptr);
  if (!p)
    return fail_errno(errno, "realpath " + path);
  std::string out(p);
  std::free(p);
  return out;
}

// "verb path: strerror(err)", for notes_. Takes no allocating argument, so errno passed to it is
// read before anything can change it.
std::string errno_note(int err, const char *verb, const std::string &path)
{
  return Error{std::error_code(err, std::system_category()), verb + path}.message();
}

bool is_missing(const Error &e)
{
  return e.code.value() == ENOENT || e.code.value() == ENOTDIR;
}

std::string parent_of(const std::string &path)
{
  size_t slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

std::string basename_of(const std::string &path)
{
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool is_directory_entry(const std::string &dir, const struct dirent *de)
{
  if (de->d_type == DT_DIR)
    return true;
  if (de->d_type != DT_UNKNOWN)
    return false;
  struct stat st{};
  return ::lstat((dir + "/" + de->d_name).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

} // namespace

Result<ProtectedSet> ProtectedSet::create(std::vector<std::string> patterns, std::string home,
                                          size_t max_dirs, size_t max_files,
                                          const ProtectedSet *keep)
{
  ProtectedSet set;
  set.patterns_ = std::move(patterns);
  set.max_dirs_ = max_dirs;
  set.max_files_ = max_files;
  set.home_ = home.empty() ? std::string() : policy::normalize_path(home);
  if (set.home_ == "/")
    set.home_.clear();
  set.inotify_ = UniqueFd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!set.inotify_)
    return fail_errno(errno, "inotify_init1");
  if (keep)
    set.keep_keyed(*keep);
  if (auto r = set.refresh(); !r)
    return tl::unexpected(r.error());
  return set;
}

void ProtectedSet::keep_keyed(const ProtectedSet &old)
{
  for (const auto &[id, f] : old.sticky_)
    if (std::find(patterns_.begin(), patterns_.end(), f.pattern) != patterns_.end() &&
        sticky_.size() < max_files_)
      sticky_.emplace(id, f);
  for (const auto &[id, t] : old.sticky_trees_)
    if (std::find(patterns_.begin(), patterns_.end(), t.pattern) != patterns_.end())
      sticky_trees_.emplace(id, t);
}

Result<> ProtectedSet::refresh()
{
  files_.clear();
  trees_.clear();
  basenames_.clear();
  globs_.clear();
  dirs_.clear();
  unguarded_.clear();
  missing_.clear();
  truncated_.clear();
  notes_.clear();
  dir_index_.clear();
  wanted_.clear();

  size_t dir_budget = max_dirs_;
  for (const std::string &pattern : patterns_) {
    std::string expanded = pattern;
    if (pattern.starts_with("~/")) {
      if (home_.empty()) {
        unguarded_.push_back(pattern);
        continue;
      }
      expanded = home_ + pattern.substr(1);
    }
    // Bare basenames match in every directory: only a mount or filesystem mark could see them,
    // and that would route every open on the machine through this process.
    if (expanded.empty() || expanded.front() != '/') {
      unguarded_.push_back(pattern);
      if (!expanded.empty() && expanded.find('/') == std::string::npos)
        basenames_.push_back(pattern);
      continue;
    }
    expanded = policy::normalize_path(expanded);
    if (has_glob_meta(expanded))
      resolve_glob(expanded, pattern, &dir_budget);
    else
      resolve_literal(expanded, pattern);
  }
  // Every inode a glob ever matched, under the name it had then (a literal file's own entry,
  // resolved above, wins for the same inode).
  std::set<std::pair<uint64_t, uint64_t>> literal;
  for (const ProtectedFile &f : files_)
    literal.emplace(f.dev, f.ino);
  for (const auto &[id, f] : sticky_)
    if (!literal.contains(id))
      files_.push_back(f);
  for (const auto &[id, t] : sticky_trees_)
    trees_.push_back(t);
  sync_watches();
  return {};
}

void ProtectedSet::resolve_literal(const std::string &expanded, const std::string &pattern)
{
  watch_for(expanded);
  auto canonical = real_path(expanded);
  if (!canonical) {
    if (is_missing(canonical.error()))
      missing_.push_back(pattern);
    else
      notes_.push_back(canonical.error().message());
    return;
  }
  struct stat st{};
  if (::stat(canonical->c_str(), &st) != 0) {
    if (errno == ENOENT)
      missing_.push_back(pattern);
    else
      notes_.push_back(errno_note(errno, "stat ", *canonical));
    return;
  }
  // A symlinked path can be redirected by replacing the symlink or the target: watch both.
  if (*canonical != expanded)
    watch_for(*canonical);
  files_.push_back(ProtectedFile{static_cast<uint64_t>(st.st_dev),
                                 static_cast<uint64_t>(st.st_ino), *canonical, pattern});
  // Keyed for the set's life like a glob's files: `mv ~/.aws ~/x` leaves the literal path
  // missing, and the credential must stay guarded under its new name.
  key_file(*canonical, pattern);
}

// The directories to mark for a glob: below the pattern's literal prefix, every directory whose
// children can match. Depth m (0 = the prefix) is compared with rest[m - 1]; with no "**" only
// the directories at the pattern's last level are marked, with a "**" every directory from its
// level down is (over-approximation is safe: the verdict checks the child's full path).
void ProtectedSet::resolve_glob(const std::string &expanded, const std::string &pattern,
                                size_t *dir_budget)
{
  const std::vector<std::string> comps = split_components(expanded);
  size_t first_meta = 0;
  while (first_meta < comps.size() && !has_glob_meta(comps[first_meta]))
    ++first_meta;
  if (first_meta == 0) {
    unguarded_.push_back(pattern); // "/*.pem", "/**/id_rsa": the whole file system
    return;
  }
  const std::string prefix = join_components(comps, 0, first_meta);
  const std::vector<std::string> rest(comps.begin() + static_cast<std::ptrdiff_t>(first_meta),
                                      comps.end());
  const size_t n = rest.size();
  const size_t star = static_cast<size_t>(std::find(rest.begin(), rest.end(), "**") - rest.begin());

  watch_for(prefix);
  auto real_prefix = real_path(prefix);
  if (!real_prefix) {
    if (!is_missing(real_prefix.error()))
      notes_.push_back(real_prefix.error().message());
    globs_.push_back(GlobRule{expanded, pattern});
    return;
  }
  std::string canonical = *real_prefix == "/" ? std::string() : *real_prefix;
  for (const std::string &c : rest)
    canonical.append("/").append(c);
  const GlobRule rule{canonical, pattern};
  globs_.push_back(rule);
  if (rest.size() == 1 && rest[0] == "**") {
    struct stat st{};
    if (::stat(real_prefix->c_str(), &st) == 0 && S_ISDIR(st.st_mode) &&
        sticky_trees_.size() < max_dirs_)
    {
      const auto id = std::make_pair(static_cast<uint64_t>(st.st_dev),
                                     static_cast<uint64_t>(st.st_ino));
      sticky_trees_.try_emplace(id, ProtectedFile{id.first, id.second, *real_prefix, pattern});
    }
  }

  std::deque<std::pair<std::string, size_t>> queue{{*real_prefix, 0}};
  while (!queue.empty()) {
    auto [dir, depth] = std::move(queue.front());
    queue.pop_front();
    if (*dir_budget == 0) {
      truncated_.push_back(pattern);
      return;
    }
    --*dir_budget;
    const bool markable = depth >= star || depth + 1 == n;
    const bool descend = depth >= star || depth + 1 < n;
    if (markable) {
      auto [it, inserted] = dir_index_.try_emplace(dir, dirs_.size());
      if (inserted)
        dirs_.push_back(GuardedDir{dir, {rule}});
      else
        dirs_[it->second].rules.push_back(rule);
    }
    add_watch(dir, std::string(), descend, markable);
    DIR *d = ::opendir(dir.c_str());
    if (!d) {
      notes_.push_back(errno_note(errno, "opendir ", dir));
      continue;
    }
    const std::string base = dir == "/" ? std::string() : dir;
    while (const struct dirent *de = ::readdir(d)) {
      std::string_view name(de->d_name);
      if (name == "." || name == "..")
        continue;
      const std::string child = base + "/" + std::string(name);
      // Symlinked subdirectories are not followed: opens through them report the target's
      // path, which the rule would not match anyway unless the target is itself inside.
      if (!is_directory_entry(dir, de)) {
        if (markable && policy::glob_match(canonical, child))
          key_file(child, pattern);
        continue;
      }
      if (!descend)
        continue;
      if (depth < star && !policy::glob_match(rest[depth], name))
        continue;
      queue.emplace_back(child, depth + 1);
    }
    ::closedir(d);
  }
}

// A regular file a glob matches is guarded by its inode too: a hard link or a move of it out of
// the guarded directory then still opens as the credential it is. Once keyed, an inode stays
// guarded for the life of the set (sticky_), wherever it moves.
void ProtectedSet::key_file(const std::string &path, const std::string &pattern)
{
  struct stat st{};
  // stat, not lstat: a credential that is a symlink (dotfile managers) is its target, which the
  // guard marks (it pins the path, following the link)
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    return;
  const auto id = std::make_pair(static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino));
  if (!sticky_.contains(id)) {
    if (sticky_.size() >= max_files_) {
      if (std::find(truncated_.begin(), truncated_.end(), pattern) == truncated_.end())
        truncated_.push_back(pattern);
      return;
    }
    sticky_.emplace(id, ProtectedFile{id.first, id.second, path, pattern});
  }
}

// Watches the directory that holds lexical_path (or, when that is missing too, the nearest
// existing ancestor, for the next component on the way down).
void ProtectedSet::watch_for(const std::string &lexical_path)
{
  std::string path = lexical_path;
  while (path != "/") {
    std::string parent = parent_of(path);
    struct stat st{};
    if (::stat(parent.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      add_watch(parent, basename_of(path), false);
      return;
    }
    path = parent;
  }
}

void ProtectedSet::add_watch(const std::string &dir, const std::string &name, bool subdirs,
                             bool files)
{
  Watch &w = wanted_[dir];
  w.path = dir;
  if (!name.empty() && std::find(w.names.begin(), w.names.end(), name) == w.names.end())
    w.names.push_back(name);
  w.subdirs = w.subdirs || subdirs;
  w.files = w.files || files;
}

void ProtectedSet::sync_watches()
{
  std::unordered_map<int, Watch> next;
  for (auto &[dir, want] : wanted_) {
    int wd = ::inotify_add_watch(inotify_.get(), dir.c_str(), kWatchMask);
    if (wd < 0) {
      if (errno != ENOENT && errno != ENOTDIR)
        notes_.push_back(errno_note(errno, "inotify_add_watch ", dir));
      continue;
    }
    // Two wanted paths can be one directory (a symlink and its target): merge the interests.
    auto [it, inserted] = next.try_emplace(wd, want);
    if (!inserted) {
      for (const std::string &name : want.names)
        if (std::find(it->second.names.begin(), it->second.names.end(), name) ==
            it->second.names.end())
          it->second.names.push_back(name);
      it->second.subdirs = it->second.subdirs || want.subdirs;
      it->second.files = it->second.files || want.files;
    }
  }
  for (const auto &[wd, old] : watches_)
    if (!next.contains(wd))
      ::inotify_rm_watch(inotify_.get(), wd); // its IN_IGNORED finds no entry and is dropped
  watches_ = std::move(next);
}

void ProtectedSet::forget(const std::vector<std::pair<uint64_t, uint64_t>> &gone)
{
  if (gone.empty())
    return;
  const std::set<std::pair<uint64_t, uint64_t>> drop(gone.begin(), gone.end());
  for (const auto &id : drop)
    sticky_.erase(id);
  std::erase_if(files_, [&](const ProtectedFile &f) { return drop.contains({f.dev, f.ino}); });
}

std::optional<std::string> ProtectedSet::lookup(uint64_t dev, uint64_t ino) const
{
  for (const ProtectedFile &f : files_)
    if (f.dev == dev && f.ino == ino)
      return f.path;
  return std::nullopt;
}

std::optional<std::string> match_protected(const std::vector<ProtectedFile> &files,
                                           const std::vector<GlobRule> &globs,
                                           std::string_view abs_path)
{
  for (const ProtectedFile &f : files)
    if (f.path == abs_path)
      return f.pattern;
  for (const GlobRule &g : globs)
    if (policy::glob_match(g.canonical, abs_path))
      return g.pattern;
  return std::nullopt;
}

Result<bool> ProtectedSet::handle_watch()
{
  alignas(struct inotify_event) char buf[4096];
  bool relevant = false;
  for (;;) {
    ssize_t n = ::read(inotify_.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN)
        return relevant;
      return fail_errno(errno, "read inotify");
    }
    for (ssize_t off = 0; off < n;) {
      struct inotify_event ev{};
      std::memcpy(&ev, buf + off, sizeof(ev));
      std::string_view name;
      if (ev.len > 0)
        name = std::string_view(buf + off + sizeof(ev)); // NUL-padded
      off += static_cast<ssize_t>(sizeof(ev) + ev.len);
      if (ev.mask & IN_Q_OVERFLOW) {
        relevant = true;
        continue;
      }
      auto it = watches_.find(ev.wd);
      if (it == watches_.end())
        continue;
      const Watch &w = it->second;
      if (ev.mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED))
        relevant = true;
      else if ((ev.mask & IN_ISDIR) && (ev.mask & (IN_CREATE | IN_MOVED_TO)) && w.subdirs)
        relevant = true;
      else if (!(ev.mask & IN_ISDIR) && (ev.mask & (IN_CREATE | IN_MOVED_TO)) && w.files)
        relevant = true; // a file a glob may match: key its inode
      else if (!name.empty() && std::find(w.names.begin(), w.names.end(), name) != w.names.end())
        relevant = true;
    }
  }
}

} // namespace vigil::enforce
