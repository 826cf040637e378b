// SPDX-License-Identifier: Apache-2.0
// The persistence guard's decisions where no BPF LSM decides (tier 2, vigil run): the launch
// filter suspends the agent's calls that make, change or remove a name (an open for writing,
// creat, mkdir, mknod, symlink, link, rename, unlink, rmdir, chmod, chown, truncate), and the
// supervisor asks the gate whether the name the call would change is one the profile protects.
// The gate resolves the call's path as the kernel would for the agent (its root, its working
// directory or directory descriptor, every symbolic link on the way, /proc/self as the agent's)
// and matches the result against the profile's persistence patterns: existing paths, names that
// do not exist yet (~/.bashrc absent, .git/hooks/pre-commit), and the directories above them
// (renaming ~/.config or .git away, or a new one into place).
//
// The path is read from the agent's memory while the call waits; a second thread of the agent
// can change it after the gate read it and before the kernel does. For a protected name that
// exists the read-only bind of the same guard still refuses (enforce mode); for one that does
// not, such a race is the limit of this tier (docs/SECURITY.md, "Persistence").
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "enforce/launch.h"
#include "enforce/persistence.h"
#include "pipeline/event.h"
#include "policy/profile.h"

namespace vigil::enforce {

// The profile's persistence patterns anchored for one agent (home, project, git directories).
class PersistenceGate {
public:
  struct Entry {
    enum class Kind : uint8_t { exact, tree, glob, basename };
    Kind kind = Kind::exact;
    std::string path;    // exact: the path; tree: the directory; glob: the absolute pattern;
                         // basename: the name pattern
    std::string pattern; // the profile's pattern, as written
    policy::Mode mode = policy::Mode::enforce;
  };
  struct Match {
    const Entry *entry = nullptr;
    bool above = false; // the path is a directory above a protected path, not the path itself
  };

  PersistenceGate() = default;
  // Anchors each pattern: "~/" at home, ".git/" in each git directory of layout, project
  // patterns at the project and each work tree, absolute patterns as they are, basename
  // patterns anywhere below the project and its work trees.
  // "dir/**" and "dir/*" protect dir and everything below it.
  PersistenceGate(const policy::Profile &profile, const std::string &home,
                  const std::string &project, const GitLayout &layout);

  // Credentials too (tier 2): a rename or hard link whose old name is a credential the profile
  // protects by name (".env", "*.pem") would give the file a name the file guard does not know.
  void set_credentials(const policy::Profile &profile, const std::string &home)
  {
    credentials_ = policy::PathMatcher(profile.credential_paths, home);
    credential_patterns_ = profile.credential_paths;
    credential_mode_ = profile.file_mode();
  }
  // The credential pattern naming path, or nullptr.
  const std::string *credential(std::string_view path) const
  {
    const auto i = credentials_.match(path);
    return i && *i < credential_patterns_.size() ? &credential_patterns_[*i] : nullptr;
  }
  policy::Mode credential_mode() const { return credential_mode_; }

  // The paths the detection rules name as persistence (rules of kind persistence_write) where
  // the profile protects nothing: a change of one is let through and reported as observed, so
  // the rules see it where no syscall tracepoint does. Each rule's paths come with the path
  // globs of its exceptions that name nothing else (`*.sample`): a path they spare is not
  // watched (so that a directory of spared names does not hide the one that is not).
  // since_ns (CLOCK_REALTIME): when the agent started. A rename, link, chmod or removal in a
  // repository or directory the agent made itself (the directory the pattern's first name lies
  // in was born after the start: its own clone, where git renames config.lock onto
  // .git/config) is not reported; an open for writing is, wherever it is (as BPF LSM's
  // file_open reports it).
  struct WatchedRule {
    std::vector<std::string> paths;
    std::vector<std::string> except;
  };
  void set_watched(const std::vector<WatchedRule> &rules, const std::string &home,
                   int64_t since_ns)
  {
    watched_.clear();
    for (const auto &r : rules)
      watched_.push_back({policy::PathMatcher(r.paths, home), policy::PathMatcher(r.except, home),
                          !r.except.empty()});
    watched_since_ = since_ns;
  }
  // The expanded pattern of the first rule watching path (nullptr: none).
  const std::string *watched(std::string_view path) const
  {
    for (const auto &w : watched_)
      if (auto i = w.paths.match(path); i && !(w.has_except && w.except.match(path)))
        return &w.paths.pattern(*i);
    return nullptr;
  }
  int64_t watched_since() const { return watched_since_; }
  // false: the profile's entries are decided (and reported) elsewhere (BPF LSM, tier 1); the
  // gate only keeps its watched reports off the paths they protect, and lets every call run.
  void set_decides(bool decides) { decides_ = decides; }
  bool decides() const { return decides_; }
  // The paths the credential rules name (tier 2 vigil run): a file named by one that a link or
  // rename is about to give another name is reported to the caller (NameVerdict::rule_files),
  // which keeps seeing that inode by its rule name.
  void set_rule_credentials(const std::vector<std::string> &patterns, const std::string &home)
  {
    rule_credentials_ = policy::PathMatcher(patterns, home);
    rule_credential_count_ = patterns.size();
  }
  bool rule_credential(std::string_view path) const
  {
    return rule_credential_count_ != 0 && rule_credentials_.match(path).has_value();
  }
  bool empty() const
  {
    return entries_.empty() && credential_patterns_.empty() && watched_.empty() &&
           rule_credential_count_ == 0;
  }
  const std::vector<Entry> &entries() const { return entries_; }

  // The entry protecting path (absolute, normalised): the path itself or, with above, a
  // directory on the way to a protected path (its rename would move the protected path away).
  std::optional<Match> protects(std::string_view path, bool above = false) const;

private:
  std::vector<Entry> entries_;
  std::vector<std::string> prefixes_; // the literal directory part of each non-basename entry
  std::vector<std::string> anchors_;  // the project and its work trees: where basenames count
  policy::PathMatcher credentials_;
  std::vector<std::string> credential_patterns_;
  policy::Mode credential_mode_ = policy::Mode::enforce;
  struct Watched {
    policy::PathMatcher paths, except;
    bool has_except = false;
  };
  std::vector<Watched> watched_;
  int64_t watched_since_ = 0;
  bool decides_ = true;
  policy::PathMatcher rule_credentials_;
  size_t rule_credential_count_ = 0;
};

// How the gate sees one process of the agent (the calls' context). The production view reads
// /proc/<pid> (root, cwd, fd) and the process's memory; tests use the same view on themselves.
struct AgentView {
  pid_t pid = 0;    // in vigil's pid namespace
  pid_t ns_pid = 0; // the same process as its own /proc names it (/proc/self)
};

// What a suspended call would change.
struct NameChange {
  pipeline::OpenCall call = pipeline::OpenCall::openat;
  uint32_t flags = 0;  // open flags for the opens; 0 otherwise
  std::string path;    // the name the call would change, resolved in the agent's view
  bool exists = false; // the name exists now
};

// The calls that go through the gate (x86-64 numbers), for the launch filter: opens only when
// their flags write (see launch_filter), the rest always.
bool is_name_call(int nr);

struct NameVerdict {
  bool protected_path = false; // an entry matched: report it
  bool observed = false;       // no entry matched, but a rule's persistence path did: report
                               // the change as observed (change says which)
  bool elsewhere = false;      // an entry matched where the gate does not decide (tier 1)
  bool run = true;             // let the call run (no entry, an audit entry, or unresolvable)
  int error = 0;               // with !run
  NameChange change;
  const PersistenceGate::Entry *entry = nullptr;
  bool above = false;
  // A credential renamed or linked (set_credentials): change.path is its old name, and this the
  // credential pattern naming it (entry is null).
  const std::string *credential = nullptr;
  // A directory moved (or linked) into place with more entries than the gate looks at: what
  // it plants was not all judged (the caller raises an alert of its own).
  bool too_many_entries = false;
  // Files the credential rules name (set_rule_credentials), about to get another name by a
  // link or rename: their paths before the call (both names of a RENAME_EXCHANGE).
  std::vector<std::string> rule_files;
  // FIFOs, for the caller's ledger of the agent's own (the gate keeps no state): one the call
  // makes (mknod/mkfifo), or an existing one it opens for writing, whose reader may be a
  // process outside the agent (a side channel out, as a unix socket served from outside).
  struct Fifo {
    bool made = false;
    bool opened = false;
    std::string path;      // in the agent's view
    uint64_t dev = 0;      // opened: st_dev, st_ino, birth (CLOCK_REALTIME ns; 0: unknown)
    uint64_t ino = 0;
    int64_t birth_ns = 0;
    pipeline::OpenCall call = pipeline::OpenCall::openat; // opened: the call and its flags
    uint32_t flags = 0;
  } fifo;
};

// Decides one suspended call of a name_call number: reads its paths from the agent's memory,
// resolves them (an unreadable or unresolvable path lets the call run: the kernel fails it the
// same way, or it names something that already exists, which the read-only binds guard), and
// matches them. A create of a name that exists is left to fail with EEXIST.
NameVerdict judge_name_call(const TamperAttempt &a, const AgentView &view,
                            const PersistenceGate &gate);

// Resolution as the agent would see it, exposed for tests: path (relative to dirfd, or
// AT_FDCWD) in view's process, the last component followed when follow; with dirfd_is_root
// (openat2's RESOLVE_IN_ROOT) absolute paths and links start at dirfd. The walk starts from the
// agent's own directory objects (/proc/PID/cwd, fd/N, root: deleted, beyond PATH_MAX or in a
// chroot alike), follows links one by one (an absolute one from the agent's root, a /proc magic
// link to its object, /proc/self as the agent), and the kernel names the directory it ends in.
// nullopt: the call fails in the kernel too (a component missing, a loop, a deleted directory).
struct ResolvedName {
  std::string path;
  bool exists = false;
  bool is_dir = false;
  bool unjudgeable = false; // resolved, but without a name to match (deeper than PATH_MAX)
  // The object a name that exists resolves to is a FIFO (read from a descriptor of it, so a
  // /proc magic link or a chroot names it too): its identity and birth (statx btime, else
  // ctime; CLOCK_REALTIME ns).
  bool fifo = false;
  uint64_t dev = 0, ino = 0;
  int64_t birth_ns = 0;
};
std::optional<ResolvedName> resolve_agent_path(const AgentView &view, int dirfd,
                                               std::string_view path, bool follow,
                                               bool dirfd_is_root = false);

} // namespace vigil::enforce
