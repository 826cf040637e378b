// SPDX-License-Identifier: Apache-2.0
// Git discovery, persistence targets and the read-only binds of the persistence guard.
#include "enforce/persistence.h"

#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <set>
#include <string_view>

#include "enforce/launch.h"

namespace vigil::enforce {

namespace {

bool is_dir(const std::string &p, bool follow = true)
{
  struct stat st{};
  return (follow ? ::stat(p.c_str(), &st) : ::lstat(p.c_str(), &st)) == 0 && S_ISDIR(st.st_mode);
}

bool exists(const std::string &p)
{
  struct stat st{};
  return ::lstat(p.c_str(), &st) == 0;
}

std::string parent_of(const std::string &p)
{
  const size_t slash = p.rfind('/');
  return slash == 0 || slash == std::string::npos ? std::string("/") : p.substr(0, slash);
}

std::string first_line(const std::string &path)
{
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
    line.pop_back();
  return line;
}

// A git directory has HEAD and either objects/ or a commondir file (a worktree's own directory).
bool looks_like_git_dir(const std::string &d)
{
  return exists(d + "/HEAD") && (is_dir(d + "/objects") || exists(d + "/commondir"));
}

class Walker {
public:
  Walker(GitLayout &out, const GitWalkLimits &limits) : out_(out), limits_(limits) {}

  // A .git entry at dir/.git (a directory, or a file naming the git directory).
  void add_dot_git(const std::string &dir)
  {
    const std::string dot = dir + "/.git";
    std::string git_dir;
    if (is_dir(dot, false)) {
      git_dir = dot;
    } else if (exists(dot)) {
      const std::string line = first_line(dot);
      if (!line.starts_with("gitdir:"))
        return;
      std::string target = line.substr(7);
      target.erase(0, target.find_first_not_of(' '));
      if (target.empty())
        return;
      git_dir = policy::normalize_path(target, dir);
    } else {
      return;
    }
    add_work_tree(dir);
    add_git_dir(git_dir);
  }

  void add_work_tree(const std::string &dir)
  {
    if (tree_seen_.insert(dir).second)
      out_.work_trees.push_back(dir);
  }

  void add_git_dir(const std::string &raw)
  {
    const std::string d = policy::normalize_path(raw);
    if (!is_dir(d) || !git_seen_.insert(d).second)
      return;
    out_.git_dirs.push_back(d);
    // A linked worktree's own directory names the repository's common directory (hooks and
    // config live there; config.worktree here).
    if (exists(d + "/commondir")) {
      const std::string common = first_line(d + "/commondir");
      if (!common.empty())
        add_git_dir(policy::normalize_path(common, d));
    }
    // The other worktrees' directories, and submodules' git directories (nested at any depth:
    // a submodule of a submodule lives in modules/a/modules/b).
    add_git_dirs_below(d + "/worktrees", 1);
    add_git_dirs_below(d + "/modules", 0);
  }

  void walk(const std::string &dir, int depth)
  {
    if (depth > limits_.max_depth) {
      out_.truncated = true;
      return;
    }
    DIR *dp = ::opendir(dir.c_str());
    if (!dp)
      return;
    struct stat dir_st{};
    ::fstat(::dirfd(dp), &dir_st);
    std::vector<std::string> subdirs;
    while (dirent *e = ::readdir(dp)) {
      const std::string_view name = e->d_name;
      if (name == "." || name == "..")
        continue;
      if (++seen_ > limits_.max_entries) {
        out_.truncated = true;
        break;
      }
      const std::string path = dir + "/" + std::string(name);
      if (name == ".git") {
        add_dot_git(dir);
        continue;
      }
      out_.entries.push_back(path);
      struct stat st{};
      if (::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && st.st_dev == dir_st.st_dev)
        subdirs.push_back(path);
    }
    ::closedir(dp);
    for (const auto &s : subdirs)
      walk(s, depth + 1);
  }

private:
  void add_git_dirs_below(const std::string &dir, int max_depth)
  {
    DIR *dp = ::opendir(dir.c_str());
    if (!dp)
      return;
    std::vector<std::string> subdirs;
    while (dirent *e = ::readdir(dp)) {
      const std::string_view name = e->d_name;
      if (name != "." && name != ".." && ++seen_ <= limits_.max_entries)
        subdirs.push_back(dir + "/" + std::string(name));
    }
    ::closedir(dp);
    for (const auto &s : subdirs) {
      if (!is_dir(s, false))
        continue;
      if (looks_like_git_dir(s))
        add_git_dir(s);
      else if (max_depth == 0) // a submodule named a/b: modules/a/b
        add_git_dirs_below(s, 0);
    }
  }

  GitLayout &out_;
  const GitWalkLimits &limits_;
  size_t seen_ = 0;
  std::set<std::string> git_seen_, tree_seen_;
};

bool has_wildcard(std::string_view s)
{
  return s.find_first_of("*?[") != std::string_view::npos;
}

// A resolved pattern (absolute, maybe with wildcards) -> the existing paths it names.
void expand(const std::string &pattern, std::vector<std::string> &out)
{
  std::string p = pattern;
  // "dir/**" and "dir/*" protect the directory itself: a name created in it later matches too.
  for (std::string_view tail : {"/**", "/*"})
    if (p.size() > tail.size() && p.ends_with(tail) &&
        !has_wildcard(std::string_view(p).substr(0, p.size() - tail.size()))) {
      p.resize(p.size() - tail.size());
      if (is_dir(p))
        out.push_back(p);
      return;
    }
  if (!has_wildcard(p)) {
    if (exists(p))
      out.push_back(p);
    return;
  }
  glob_t g{};
  if (::glob(p.c_str(), GLOB_NOSORT, nullptr, &g) == 0)
    for (size_t i = 0; i < g.gl_pathc; ++i)
      out.emplace_back(g.gl_pathv[i]);
  ::globfree(&g);
}

bool is_under(const std::string &path, const std::string &dir)
{
  return path == dir || (path.starts_with(dir) && (dir == "/" || path[dir.size()] == '/'));
}

size_t depth_of(const std::string &p)
{
  return static_cast<size_t>(std::count(p.begin(), p.end(), '/'));
}

} // namespace

GitLayout discover_git(const std::string &project, const GitWalkLimits &limits)
{
  GitLayout out;
  Walker w(out, limits);
  const std::string top = policy::normalize_path(project);
  // The repository the project sits in, as git finds it from a subdirectory (the project's own
  // .git is seen by the walk below).
  for (std::string d = parent_of(top); ; d = parent_of(d)) {
    if (exists(d + "/.git")) {
      w.add_dot_git(d);
      break;
    }
    if (d == "/")
      break;
  }
  if (exists(top + "/.git"))
    w.add_dot_git(top);
  w.walk(top, 0);
  return out;
}

std::vector<std::string> project_anchors(const std::string &project, const GitLayout &layout)
{
  std::vector<std::string> anchors{policy::normalize_path(project)};
  for (const auto &t : layout.work_trees)
    if (std::find(anchors.begin(), anchors.end(), t) == anchors.end())
      anchors.push_back(t);
  return anchors;
}

std::vector<std::string> anchored_patterns(const std::string &pattern, const std::string &home,
                                           const std::vector<std::string> &anchors,
                                           const GitLayout &layout)
{
  std::vector<std::string> out;
  switch (policy::persistence_scope(pattern)) {
  case policy::PersistenceScope::absolute:
    out.push_back(pattern);
    break;
  case policy::PersistenceScope::home:
    if (!home.empty())
      out.push_back(policy::normalize_path(home + pattern.substr(1)));
    break;
  case policy::PersistenceScope::git_dir:
    for (const auto &g : layout.git_dirs)
      out.push_back(g + pattern.substr(4));
    break;
  case policy::PersistenceScope::project:
    for (const auto &a : anchors)
      out.push_back(a + "/" + pattern);
    break;
  case policy::PersistenceScope::basename:
    break;
  }
  return out;
}

std::vector<GuardTarget> resolve_guard_targets(const policy::Profile &profile,
                                               const std::string &home, const std::string &project,
                                               const GitLayout &layout)
{
  std::vector<GuardTarget> out;
  std::set<std::string> seen;
  const std::vector<std::string> anchors = project_anchors(project, layout);
  for (const policy::PersistencePath &entry : profile.persistence_paths) {
    const std::string &pat = entry.pattern;
    std::vector<std::string> paths;
    if (policy::persistence_scope(pat) == policy::PersistenceScope::basename) {
      for (const auto &e : layout.entries) {
        const std::string_view name = std::string_view(e).substr(e.rfind('/') + 1);
        if (policy::glob_match(pat, name))
          paths.push_back(e);
      }
    }
    for (const auto &a : anchored_patterns(pat, home, anchors, layout))
      expand(a, paths);
    for (auto &p : paths)
      if (seen.insert(p).second)
        out.push_back(GuardTarget{p, pat, profile.persistence_mode_of(entry)});
  }
  std::sort(out.begin(), out.end(),
            [](const GuardTarget &a, const GuardTarget &b) { return a.path < b.path; });
  return out;
}

std::vector<GuardTarget> resolve_absent_targets(const policy::Profile &profile,
                                                const std::string &home,
                                                const std::string &project,
                                                const GitLayout &layout)
{
  std::vector<GuardTarget> out;
  std::set<std::string> seen;
  const std::vector<std::string> anchors = project_anchors(project, layout);
  // "dir/**" and "dir/*" name dir; a pattern with another wildcard names nothing literal.
  auto literal = [](std::string p) -> std::string {
    for (std::string_view tail : {"/**", "/*"})
      if (p.size() > tail.size() && p.ends_with(tail)) {
        p.resize(p.size() - tail.size());
        break;
      }
    return has_wildcard(p) ? std::string() : p;
  };
  for (const policy::PersistencePath &entry : profile.persistence_paths) {
    const std::string &pat = entry.pattern;
    std::vector<std::string> paths = anchored_patterns(pat, home, anchors, layout);
    // A basename pattern's absent names: at the top of the project and of each work tree.
    if (policy::persistence_scope(pat) == policy::PersistenceScope::basename)
      for (const auto &a : anchors)
        paths.push_back(a + "/" + pat);
    for (auto &p : paths) {
      p = literal(p);
      if (!p.empty() && !exists(p) && seen.insert(p).second)
        out.push_back(GuardTarget{p, pat, profile.persistence_mode_of(entry)});
    }
  }
  std::sort(out.begin(), out.end(),
            [](const GuardTarget &a, const GuardTarget &b) { return a.path < b.path; });
  return out;
}

std::vector<std::string> create_missing_hook_dirs(const GitLayout &layout)
{
  std::vector<std::string> made;
  for (const auto &g : layout.git_dirs) {
    // A linked worktree's own directory has no hooks; they live in the common directory.
    if (exists(g + "/commondir") || exists(g + "/hooks"))
      continue;
    struct stat st{};
    if (::stat(g.c_str(), &st) != 0)
      continue;
    const std::string hooks = g + "/hooks";
    if (::mkdir(hooks.c_str(), 0755) != 0)
      continue;
    (void)!::chown(hooks.c_str(), st.st_uid, st.st_gid);
    made.push_back(hooks);
  }
  return made;
}

GuardMounts guard_mounts(const std::vector<GuardTarget> &targets)
{
  std::set<std::string> ro, pins;
  for (const auto &t : targets) {
    if (t.mode != policy::Mode::enforce)
      continue;
    ro.insert(t.path);
    for (std::string d = parent_of(t.path); d != "/"; d = parent_of(d))
      pins.insert(d);
  }
  GuardMounts m;
  // A target inside a read-only directory is read-only already; an ancestor that is itself a
  // target is bound read-only, not pinned.
  for (const auto &p : ro) {
    const bool covered = std::any_of(ro.begin(), ro.end(), [&](const std::string &o) {
      return o != p && is_under(p, o);
    });
    if (!covered)
      m.read_only.push_back(p);
  }
  for (const auto &p : pins) {
    const bool covered = std::any_of(m.read_only.begin(), m.read_only.end(),
                                     [&](const std::string &o) { return is_under(p, o); });
    if (!covered)
      m.pinned.push_back(p);
  }
  auto parents_first = [](const std::string &a, const std::string &b) {
    return depth_of(a) != depth_of(b) ? depth_of(a) < depth_of(b) : a < b;
  };
  std::sort(m.pinned.begin(), m.pinned.end(), parents_first);
  std::sort(m.read_only.begin(), m.read_only.end(), parents_first);
  return m;
}

int guard_persistence(const char *const *pinned, const char *const *read_only, const char *cwd,
                      const char **step)
{
  for (; pinned && *pinned; ++pinned) {
    *step = *pinned;
    if (::mount(*pinned, *pinned, nullptr, MS_BIND | MS_REC, nullptr) != 0 && errno != ENOENT)
      return -errno;
  }
  for (; read_only && *read_only; ++read_only) {
    *step = *read_only;
    if (int err = bind_read_only(*read_only); err != 0 && err != -ENOENT)
      return err;
  }
  *step = "chdir";
  if (cwd && *cwd && ::chdir(cwd) != 0)
    return -errno;
  *step = "";
  return 0;
}

} // namespace vigil::enforce
