// SPDX-License-Identifier: Apache-2.0
// PlantWatch: the persistence gate's second line for names that do not exist yet. The gate reads
// a call's path from the agent's memory while the call waits; a second thread can rewrite it
// before the kernel reads it again, and a protected name that did not exist (~/.zshrc, .mcp.json)
// then gets created, with no read-only bind to stop it. The watch puts a fanotify notification
// mark on the directory of each such name and reports every name created or moved into it that
// the gate protects, with the creating process, so that a plant that won the race is alerted
// and moved aside before the developer runs it.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "enforce/persistence_gate.h"

namespace vigil::enforce {

class PlantWatch {
public:
  // A protected name appeared: its path, the process that made it (0: not known), and whether it
  // was moved in (rename) rather than created.
  using OnPlant = std::function<void(const std::string &path, pid_t pid, bool moved)>;

  // The existing directories that hold a protected name absent now (the gate's exact entries and
  // tree roots whose parent exists), and the work trees for basename entries.
  static std::vector<std::string> watched_dirs(const PersistenceGate &gate,
                                               const std::vector<std::string> &work_trees);

  // Marks dirs and starts the reader thread. An error when fanotify cannot report names here.
  static Result<std::unique_ptr<PlantWatch>> start(const PersistenceGate &gate,
                                                   const std::vector<std::string> &dirs,
                                                   OnPlant on_plant);
  ~PlantWatch();
  PlantWatch(const PlantWatch &) = delete;
  PlantWatch &operator=(const PlantWatch &) = delete;
  size_t watched() const { return dirs_.size(); }

private:
  PlantWatch() = default;
  void loop() noexcept;
  // Watches dir (a directory above a protected name that appeared), reports the protected names
  // it already holds, and adopts the directories above protected names inside it.
  void adopt(const std::string &dir, pid_t pid, int depth);
  static constexpr size_t kMaxDirs = 4096; // marks: a bound whatever the agent makes

  const PersistenceGate *gate_ = nullptr;
  OnPlant on_plant_;
  UniqueFd group_;
  std::map<std::string, std::string> dirs_; // file handle bytes -> directory path
  std::atomic<bool> stop_{false};
  UniqueFd wake_; // eventfd: the destructor's write ends the reader's poll at once
  std::thread thread_;
};

} // namespace vigil::enforce
