// SPDX-License-Identifier: Apache-2.0
// The persistence guard's userspace side: where the repository control files of a project are
// (found as git finds them), which existing files and directories a profile's persistence
// patterns name for one agent, and, for `vigil run`, the read-only binds that protect them in
// the agent's mount namespace where no BPF LSM decides.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "policy/profile.h"

namespace vigil::enforce {

// Repositories git would use for a project directory, found at start.
struct GitLayout {
  // Git directories: the project's enclosing repository (as git walks up from a subdirectory),
  // every nested repository inside the project (a .git directory, or a .git file's gitdir:
  // target), the common directory of each worktree (commondir), and submodules' git
  // directories (.git/modules/**). Absolute, normalised, each once.
  std::vector<std::string> git_dirs;
  // Work trees: the directories holding a .git entry (the project's repository's top included).
  std::vector<std::string> work_trees;
  // Every directory entry the walk saw whose name matched none of the above, for basename
  // patterns: absolute paths.
  std::vector<std::string> entries;
  bool truncated = false; // the walk stopped at its bound (depth or entries)
};

struct GitWalkLimits {
  int max_depth = 8;           // directories below the project
  size_t max_entries = 50000;  // directory entries looked at in all
};

// Finds the repositories of project (an absolute directory). Symlinks are not followed and other
// file systems are not entered; neither is any .git directory (its layout is read directly).
GitLayout discover_git(const std::string &project, const GitWalkLimits &limits = {});

// The project and the work trees of layout (each once, the project first): where project
// patterns are anchored and basename patterns count.
std::vector<std::string> project_anchors(const std::string &project, const GitLayout &layout);
// A persistence pattern made absolute for one agent: "~/" at home, ".git/" in each git directory
// of layout, project patterns at each anchor, absolute ones as they are. Empty for a basename
// pattern (and for "~/" without a home).
std::vector<std::string> anchored_patterns(const std::string &pattern, const std::string &home,
                                           const std::vector<std::string> &anchors,
                                           const GitLayout &layout);

// One existing path to protect, from one profile entry.
struct GuardTarget {
  std::string path;    // absolute, existing (a file or a directory: everything below it)
  std::string pattern; // the profile pattern, as written
  policy::Mode mode = policy::Mode::enforce;
};

// The profile's persistence patterns resolved for one agent: home for ~/, the layout for .git/,
// project and basename patterns. Patterns ending in "/**" or "/*" name their directory; other
// wildcards are expanded over what exists now. Each path once (the first entry wins), sorted.
std::vector<GuardTarget> resolve_guard_targets(const policy::Profile &profile,
                                               const std::string &home, const std::string &project,
                                               const GitLayout &layout);

// The profile's persistence paths for one agent that do not exist yet, as literal paths: a
// pattern without wildcards, or "dir/**" and "dir/*" for their directory (the same anchors as
// resolve_guard_targets; a basename pattern at the project's top and its work trees). Tier 1
// protects these names by (existing ancestor, next component), so they cannot be made. Each
// path once, sorted.
std::vector<GuardTarget> resolve_absent_targets(const policy::Profile &profile,
                                                const std::string &home,
                                                const std::string &project,
                                                const GitLayout &layout);

// Git directories whose hooks directory is missing get an empty one (git init makes it too), so
// that a hook planted later lands in a protected directory. Returns the directories created.
std::vector<std::string> create_missing_hook_dirs(const GitLayout &layout);

// What a launch binds for the guard: read_only (each enforce-mode target) and pinned (every
// ancestor directory of a target except "/", bound onto itself read-write so that renaming it
// away fails with EBUSY). Both sorted parents first.
struct GuardMounts {
  std::vector<std::string> pinned;
  std::vector<std::string> read_only;
};
GuardMounts guard_mounts(const std::vector<GuardTarget> &targets);

// In the child between fork and exec, after isolate_mounts(): binds each pinned directory onto
// itself, then each read_only path onto itself read-only (recursively, with mount_setattr), then
// changes directory to cwd again, so that the agent's relative paths cross the new mounts (its
// old working directory lies on the mount below them). Both lists null-terminated; a path that no
// longer exists is skipped. Async-signal-safe. Returns 0 or -errno, with *step naming the path.
int guard_persistence(const char *const *pinned, const char *const *read_only, const char *cwd,
                      const char **step);

} // namespace vigil::enforce
