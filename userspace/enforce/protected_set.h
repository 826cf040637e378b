// SPDX-License-Identifier: Apache-2.0
// ProtectedSet: turns a profile's credential patterns into the file-system objects that file
// tier 2 (fanotify permission events) guards: inodes of literal files, and directories whose
// children are checked by path. Also watches (inotify) for replacements that make a guard stale.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace vigil::enforce {

// An existing file named by a literal pattern, or matched by a glob. The inode is what gets
// marked, so every name of it (hard links, symlinks to it, bind mounts, a moved file) is
// covered. Files stay in the set under the name they had when matched, wherever they (or their
// directories) move later.
struct ProtectedFile {
  uint64_t dev = 0;    // st_dev
  uint64_t ino = 0;    // st_ino
  std::string path;    // canonical (realpath) path
  std::string pattern; // the pattern as written in the profile
};

// A glob pattern made concrete: `canonical` is the pattern with its literal leading directories
// replaced by their realpath, which is the form event paths (readlink of the event fd) take.
struct GlobRule {
  std::string canonical; // e.g. "/home/u/.ssh/id_*" with /home/u/.ssh resolved
  std::string pattern;   // as written, e.g. "~/.ssh/id_*"
};

// A directory guarded with FAN_EVENT_ON_CHILD: opening any child raises an event, and the child's
// path decides whether it is protected (matched against the rules).
struct GuardedDir {
  std::string path;            // canonical
  std::vector<GlobRule> rules; // the patterns a child's path is checked against
};

// The pattern (as written) that an absolute, canonical path matches: a file's path exactly, or
// a glob rule. Shared by ProtectedSet::matches() and the guard's own snapshot of a set.
std::optional<std::string> match_protected(const std::vector<ProtectedFile> &files,
                                           const std::vector<GlobRule> &globs,
                                           std::string_view abs_path);

class ProtectedSet {
public:
  // By default at most this many directories are visited for all glob patterns together (a `**`
  // over a large tree must not mark the world); patterns cut short are listed in truncated().
  static constexpr size_t kMaxDirs = 1000;
  // At most this many files matched by globs are guarded by their inode as well.
  static constexpr size_t kMaxFiles = 10000;

  // Classifies patterns (profile syntax: absolute, "~/..." expanded against home, or a bare
  // basename pattern without '/') and resolves them against the file system (refresh()).
  // Fails only when inotify cannot be set up; problems with single paths are notes().
  // keep: a set this one replaces; the inodes it keyed for patterns this set still has stay
  // keyed (a file a glob matched stays guarded wherever it has moved since).
  static Result<ProtectedSet> create(std::vector<std::string> patterns, std::string home,
                                     size_t max_dirs = kMaxDirs, size_t max_files = kMaxFiles,
                                     const ProtectedSet *keep = nullptr);

  ProtectedSet(ProtectedSet &&) noexcept = default;
  ProtectedSet &operator=(ProtectedSet &&) noexcept = default;

  // Re-resolves every pattern: new inodes after a file was replaced (rename over it), files and
  // directories that appeared or went away. Re-syncs the inotify watches. Missing files are
  // skipped, not errors. After refresh() the caller must pass the set to FanotifyGuard::guard()
  // again: marks are on inodes, and the new inodes are unmarked until then.
  Result<> refresh();

  const std::vector<ProtectedFile> &files() const { return files_; }
  const std::vector<GuardedDir> &dirs() const { return dirs_; }
  const std::vector<GlobRule> &globs() const { return globs_; }
  // Patterns this tier cannot guard with inode or directory marks: basename patterns (".env",
  // "*.pem": any directory of the file system), relative patterns, "~/" patterns without a home,
  // and globs whose literal prefix is "/". The caller logs them as observed, not enforced, unless
  // the guard sees every open of the agent (mount marks), which decides basename patterns too.
  const std::vector<std::string> &unguarded() const { return unguarded_; }
  // The basename patterns among them (no '/'): matched against the last component of the name a
  // file was opened by, where the guard sees every open (FanotifyGuard::mark_mounts).
  const std::vector<std::string> &basenames() const { return basenames_; }
  // Directories whose whole subtree a pattern protects ("~/.azure/**"), by inode: where the
  // guard sees every open, a file below one of them is protected wherever the directory (or one
  // of its parents) has been renamed to.
  const std::vector<ProtectedFile> &trees() const { return trees_; }
  // Literal patterns whose file does not exist (yet); the parent directory is watched.
  const std::vector<std::string> &missing() const { return missing_; }
  // Glob patterns whose directory walk hit kMaxDirs (guarded only in the directories found
  // first), or whose files went past kMaxFiles (the rest guarded by directory marks only).
  const std::vector<std::string> &truncated() const { return truncated_; }
  // One line per path that could not be resolved or watched (EACCES, ELOOP, inotify limits).
  const std::vector<std::string> &notes() const { return notes_; }

  // Drops files keyed by inode that no longer exist under any name (the guard, which holds each
  // marked inode, sees its link count reach zero): a credential replaced by an editor's rename
  // or deleted is not kept forever. A file that was only moved is not passed here: it stays.
  void forget(const std::vector<std::pair<uint64_t, uint64_t>> &gone);

  // The canonical path of a protected file with this inode, or nullopt.
  std::optional<std::string> lookup(uint64_t dev, uint64_t ino) const;
  // The pattern (as written) that an absolute, canonical path matches: a literal file's path or a
  // glob rule. This is the check for events that arrive through a directory mark.
  std::optional<std::string> matches(std::string_view abs_path) const
  {
    return match_protected(files_, globs_, abs_path);
  }

  // inotify fd (non-blocking) to poll for POLLIN.
  int watch_fd() const { return inotify_.get(); }
  // Drains the inotify fd. True when something happened that calls for refresh() + guard(): a
  // protected name was created, renamed onto or had its attributes changed, a subdirectory
  // appeared under a multi-level glob, a watched directory was deleted or moved, or the inotify
  // queue overflowed. Error only when reading the inotify fd fails.
  //
  // The window: between a rename() over a protected file and the caller's refresh() + guard(),
  // the new inode carries no mark and opens of it are not intercepted (tier 0 still observes
  // them). Its length is the inotify delivery plus the caller's loop latency (milliseconds).
  // Files under a guarded directory have no such window: directory marks cover new children.
  Result<bool> handle_watch();

private:
  ProtectedSet() = default;

  struct Watch {
    std::string path;
    std::vector<std::string> names; // child names whose change calls for a refresh
    bool subdirs = false;           // a new subdirectory calls for a refresh
    bool files = false;             // a new file calls for a refresh (a glob may match it)
  };

  void resolve_literal(const std::string &expanded, const std::string &pattern);
  void resolve_glob(const std::string &expanded, const std::string &pattern, size_t *dir_budget);
  void watch_for(const std::string &lexical_path);
  void add_watch(const std::string &dir, const std::string &name, bool subdirs,
                 bool files = false);
  void key_file(const std::string &path, const std::string &pattern);
  void keep_keyed(const ProtectedSet &old);
  void sync_watches();

  std::vector<std::string> patterns_;
  std::string home_;
  size_t max_dirs_ = kMaxDirs;
  size_t max_files_ = kMaxFiles;
  // Files a glob matched, by (st_dev, st_ino): guarded by inode for the set's life.
  std::map<std::pair<uint64_t, uint64_t>, ProtectedFile> sticky_;
  // Directories a "dir/**" pattern named, by inode, kept the same way (a renamed tree).
  std::map<std::pair<uint64_t, uint64_t>, ProtectedFile> sticky_trees_;
  std::vector<ProtectedFile> files_;
  std::vector<ProtectedFile> trees_;
  std::vector<std::string> basenames_;
  std::vector<GlobRule> globs_;
  std::vector<GuardedDir> dirs_;
  std::vector<std::string> unguarded_, missing_, truncated_, notes_;
  std::unordered_map<std::string, size_t> dir_index_; // path -> index in dirs_
  std::unordered_map<std::string, Watch> wanted_; // directory -> interest, rebuilt by refresh()
  std::unordered_map<int, Watch> watches_;        // wd -> interest
  UniqueFd inotify_;
};

} // namespace vigil::enforce
