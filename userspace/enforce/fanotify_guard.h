// SPDX-License-Identifier: Apache-2.0
// FanotifyGuard: file tier 2. Blocks opens of protected files with fanotify permission events
// and asks a Decider, on the guard's own thread, whether to allow each one. For kernels without
// BPF LSM; needs CAP_SYS_ADMIN. No BPF here.
//
// Fail-open points (each is documented where it happens; all are also the kernel's choices):
//  - internal error while handling an event (fstat, readlink, an exception from the Decider):
//    the event is answered FAN_ALLOW and Stats::errors counts it;
//  - the listener dies or closes the group: the kernel answers every pending event FAN_ALLOW.
//    fanotify_release() (fs/notify/fanotify/fanotify_user.c, checked against 6.18) runs when the
//    last reference to the group file goes (close, exit, crash, SIGKILL): it calls
//    fsnotify_group_stop_queueing(), then finish_permission_event(group, event, FAN_ALLOW, NULL)
//    for every event on fanotify_data.access_list (read but unanswered) and for every permission
//    event still in the notification queue (not yet read), wakes the blocked openers
//    (access_waitq), and only then fsnotify_destroy_group() drops the marks. An open that raises
//    an event after queueing stopped is not queued (fsnotify_insert_event() returns 2, "group is
//    shutting down") and fanotify_handle_event() lets it pass. So a killed guard never wedges
//    the machine, and protection ends with it: nothing is denied after the fd is gone.
//  - a listener that is alive but stuck (SIGSTOP, deadlock) is NOT answered by the kernel: the
//    openers sleep killably (TASK_KILLABLE in fanotify_get_response()) until it answers or dies;
//    the fs.fanotify.watchdog_timeout sysctl (6.x) only logs "failed to respond". The group fd is
//    close-on-exec but survives fork(): a forked child keeps the group (and its pending events)
//    alive after the parent dies. vigil run's watchdog (watchdog.h) does so on purpose, to fail
//    closed until it has killed the agent.
// Fail-closed points: if the kernel cannot create the event's fd during read() (EMFILE, ENFILE)
// it answers the event FAN_DENY itself (fanotify_read()). A queue overflow would let permission
// events pass silently (fanotify_handle_event() treats "not queued" as allowed), so the group is
// created with FAN_UNLIMITED_QUEUE.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "enforce/protected_set.h"

namespace vigil::enforce {

struct Request {
  pid_t pid = 0;        // the opening process (thread group id)
  pid_t tid_or_pid = 0; // the opening thread if the kernel reports tids (FAN_REPORT_TID), else pid
  uint64_t dev = 0;     // st_dev of the opened file
  uint64_t ino = 0;     // st_ino of the opened file
  std::string path;     // readlink of the event fd: the name it was opened by, in the guard's mount
                        // namespace (" (deleted)" appended by the kernel once it is unlinked)
  std::string pattern;  // the profile pattern that protects it (as written)
  bool via_dir_mark = false; // matched by path under a guarded directory, not by a marked inode
  bool exec = false;         // FAN_OPEN_EXEC_PERM: opened for execve/uselib
  // A named FIFO (pattern empty), seen through an agent mount: the Decider asks whether the
  // agent made it (birth_ns, CLOCK_REALTIME: statx btime, else ctime) or someone outside did.
  bool fifo = false;
  int64_t birth_ns = 0;
};

struct Decision {
  bool deny = false; // the open fails with EPERM
};

// Called on the guard's thread for each event on a protected object, while the opener is blocked.
// Must be fast, must not throw (an exception is an internal error: the event is allowed and
// counted), and must never open a guarded file itself: the guard thread would wait for its own
// answer. Opens by any other thread of this process are allowed before the Decider is asked.
using Decider = std::function<Decision(const Request &)>;

// Called on the guard's thread for an open through an agent mount that nothing protects (it is
// allowed): how vigil run observes the agent's opens without syscall tracepoints. Must be fast
// and must not throw or block (queue the report and return).
using Observer = std::function<void(const Request &)>;
// Whether opens of a file nothing protects must still reach the guard every time rather than be
// allowed in the kernel from the first one on (detection rules name it, by this name or as
// another name of the same inode: a credential path the profile does not deny, so that each
// process reading it is seen). Same constraints.
using KeepSeeing = std::function<bool(const Request &req)>;

struct Stats {
  uint64_t events = 0;    // permission events answered
  uint64_t allowed = 0;   // answered FAN_ALLOW (including the two below and errors)
  uint64_t denied = 0;    // answered FAN_DENY
  uint64_t errors = 0;    // internal errors (each such event was allowed), failed reads/writes
  uint64_t skipped = 0;   // allowed without the Decider: own process, or an unprotected child
  uint64_t handle_ns = 0; // total time from reading an event to writing its answer
  uint64_t cached = 0;    // inodes allowed in the kernel from now on (ignore marks)
  uint64_t cache_full = 0; // allowed but not cached: kMaxCached reached, or the kernel's limit
  uint64_t mounts = 0;    // agent mounts marked
  uint64_t observed = 0;  // allowed opens through agent mounts handed to the Observer
};

// Raises the soft RLIMIT_NOFILE to the hard limit (a guard holds a descriptor per guarded file)
// and returns the soft limit in force.
size_t raise_fd_limit();

class FanotifyGuard {
public:
  // Creates the fanotify group (FAN_CLASS_CONTENT, unlimited queue; FAN_REPORT_TID when the
  // kernel accepts it, 4.20+) and starts the event thread. Errors: EPERM without
  // CAP_SYS_ADMIN, ENOSYS/EINVAL on kernels without fanotify permission events.
  static Result<std::unique_ptr<FanotifyGuard>> start(Decider decide);
  ~FanotifyGuard();
  FanotifyGuard(const FanotifyGuard &) = delete;
  FanotifyGuard &operator=(const FanotifyGuard &) = delete;

  // Makes set the guarded set: marks its files' inodes (FAN_OPEN_PERM | FAN_OPEN_EXEC_PERM,
  // plus FAN_ONDIR so a literal directory pattern guards opening the directory) and its
  // directories (FAN_OPEN_PERM | FAN_OPEN_EXEC_PERM | FAN_EVENT_ON_CHILD), then removes the marks
  // of objects guarded before and no longer in the set. Each object is opened O_PATH and marked
  // through that fd, so the inode marked is the inode recorded, even if the path is replaced
  // meanwhile. The new set is recognised by the event thread before its marks exist, so no event
  // from a new mark is misjudged. Objects that vanished since the set was resolved are skipped.
  // Error when a mark fails (ENOSPC: fs.fanotify.max_user_marks); the other objects stay marked.
  // Files of the set marked before whose inode has no name left (deleted, or replaced by a
  // rename over it) are unmarked and listed in *unlinked, for ProtectedSet::forget().
  Result<> guard(const ProtectedSet &set,
                 std::vector<std::pair<uint64_t, uint64_t>> *unlinked = nullptr);
  // Removes every inode mark of the group (FAN_MARK_FLUSH) and forgets the set.
  Result<> unguard_all();

  // Sees every open the agent whose process pid lives in its own mount namespace makes, and no
  // other process's: a mount mark (FAN_OPEN_PERM | FAN_OPEN_EXEC_PERM) on each mount of that
  // namespace, reached through /proc/PID/root (KERNEL-FACTS: the mark lands on the namespace's
  // copy of the mount). Call it before the agent runs; call it again when the namespace's
  // mountinfo changes: mounts marked before are skipped. Then basename patterns and the
  // directories of "dir/**" rules (by inode, whatever they are renamed to) decide too, FIFOs go
  // to the Decider, and every file found unprotected is allowed in the kernel from then on (an
  // inode ignore mark, which survives writes: one event per distinct inode, not per open).
  // Returns the number of mounts newly marked; mounts the kernel refuses a permission mark on
  // (procfs refuses them) are listed in *refused.
  Result<size_t> mark_mounts(pid_t pid, std::vector<std::string> *refused = nullptr);
  // Forgets which mounts of pid's namespace were marked (the namespace is gone; its marks went
  // with its mounts).
  void forget_mounts(pid_t pid);
  // At most this many inodes are cached as allowed; past it, opens of further unprotected inodes
  // still reach the guard each time (counted in Stats::cache_full).
  static constexpr uint64_t kMaxCached = 100000;
  // The regular file bound over FIFOs made outside the agent (enforce::cover_fifos): an open of
  // this inode goes to the Decider as a FIFO (Request::fifo, birth 0), by the FIFO's path.
  void set_fifo_stand_in(uint64_t dev, uint64_t ino);
  // Observation of what agent mounts allow (see Observer, KeepSeeing). Set before mark_mounts().
  void set_observer(Observer observe, KeepSeeing keep_seeing);

  Stats stats() const;
  bool reports_tid() const { return report_tid_; }
  // The group's descriptor, for a process that must keep the group alive (unanswered, so guarded
  // opens wait instead of passing) should this one die: vigil run's watchdog. Owned here.
  int group_fd() const { return fan_.get(); }

private:
  struct Marked {
    uint64_t dev = 0;
    uint64_t ino = 0;
    std::string path;
    bool dir = false;
    UniqueFd opath; // files only: keeps a way to unmark an inode that was unlinked or renamed
  };
  struct InodeEntry {
    std::string path;
    std::string pattern;
  };
  struct Snapshot {
    std::unordered_map<uint64_t, std::unordered_map<uint64_t, InodeEntry>> inodes; // dev, ino
    std::vector<ProtectedFile> files;
    std::vector<GlobRule> globs;
    std::vector<std::string> basenames;
    std::unordered_map<uint64_t, std::unordered_map<uint64_t, std::string>> trees; // -> pattern
  };
  // Which pattern protects a file opened through an agent mount (not found by inode or path):
  // a basename pattern, or a protected tree among the ancestors of its current name.
  std::optional<std::string> agent_match(const Snapshot &snap, pid_t pid,
                                         const std::string &path) const;
  void cache_allow(int event_fd);

  FanotifyGuard(Decider decide, UniqueFd fan, UniqueFd stop, bool report_tid);
  void run() noexcept;
  void handle(int event_fd, uint64_t mask, pid_t pid) noexcept;
  bool decide(int event_fd, uint64_t mask, pid_t pid);
  bool is_own_thread(pid_t pid) const;
  Result<> mark(int opath_fd, uint64_t mask, const std::string &path);

  Decider decide_;
  UniqueFd fan_;
  UniqueFd stop_;
  const bool report_tid_;
  const pid_t self_ = 0;
  bool exec_perm_ = true; // FAN_OPEN_EXEC_PERM is 5.0+: dropped after the first EINVAL
  std::atomic<bool> agent_mounts_{false}; // mark_mounts() marked something: cache and decide all
  std::unordered_map<pid_t, std::unordered_set<uint64_t>> mount_ids_; // per pid: marked ids

  std::mutex mark_mutex_; // serialises guard()/unguard_all()
  std::vector<Marked> marked_;

  mutable std::mutex snap_mutex_; // guards snap_, read by the event thread per event
  std::shared_ptr<const Snapshot> snap_;
  std::pair<uint64_t, uint64_t> stand_in_{0, 0}; // guarded by snap_mutex_
  Observer observe_;        // guarded by snap_mutex_
  KeepSeeing keep_seeing_;  // guarded by snap_mutex_

  std::atomic<uint64_t> events_{0}, allowed_{0}, denied_{0}, errors_{0}, skipped_{0},
      handle_ns_{0}, cached_{0}, cache_full_{0}, mounts_{0}, observed_{0};
  std::thread thread_;
};

} // namespace vigil::enforce
