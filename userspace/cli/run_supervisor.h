// SPDX-License-Identifier: Apache-2.0
// vigil run's answers to its launch filter: every call the filter suspends (attempts on vigil,
// on processes outside the agent, mounts and namespaces, raw sockets, 32-bit entry points,
// io_uring, and the persistence gate's name calls) is decided here, and each one that is not
// simply let through raises exactly one alert.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "daemon/engine.h"
#include "enforce/launch.h"
#include "enforce/persistence_gate.h"

namespace vigil::cli {

struct RunSupervisorOptions {
  std::string cgroup_dir;    // the agent cgroup (absolute)
  uint64_t cgroup_id = 0;    // its id, as events carry it
  uint32_t profile_id = 0;   // the profile the engine confines it under
  bool pid_namespace = false; // the agent has a PID namespace of its own
  std::vector<pid_t> vigil_ids; // pids the launch filter names as vigil's
  // The persistence gate, where the launch filter hands it the name calls; null: none.
  std::shared_ptr<const enforce::PersistenceGate> gate;
  // A FIFO the agent did not make, opened for writing (the gate sees it): refused, or (false:
  // the profile's file mode is audit) allowed; alerted either way.
  bool fifo_enforce = true;
};

class RunSupervisor {
public:
  // Starts the supervisor thread, which receives the listener over sock (see
  // enforce::SeccompSupervisor).
  RunSupervisor(int sock, daemon::Engine &engine, RunSupervisorOptions opts);
  ~RunSupervisor();
  RunSupervisor(const RunSupervisor &) = delete;
  RunSupervisor &operator=(const RunSupervisor &) = delete;
  // The host pid of the agent's init (its PID namespace's pid 1, which is vigil's), once forked.
  void set_init(pid_t pid) { init_pid_.store(pid); }
  void stop();
  // Name calls that matched a persistence entry (denied or, in audit mode, allowed).
  uint64_t name_decisions() const { return name_decisions_.load(); }

private:
  int on_attempt(const enforce::TamperAttempt &a);
  int on_name_call(const enforce::TamperAttempt &a);
  int on_bind(const enforce::TamperAttempt &a);
  void bind_loop() noexcept;

  daemon::Engine &engine_;
  RunSupervisorOptions opts_;
  enforce::AttemptContext actx_;
  std::atomic<pid_t> init_pid_{0};
  std::set<pid_t> once_reported_; // 32-bit entries and io_uring: one alert per process
  std::atomic<uint64_t> name_decisions_{0};
  // The agent's own FIFOs (supervisor thread only): names it made with mknod/mkfifo (and when),
  // and the inodes found there since. At most kMaxFifos of each; past that the oldest names go.
  static constexpr size_t kMaxFifos = 4096;
  std::map<std::string, int64_t> fifo_names_;
  std::set<std::pair<uint64_t, uint64_t>> fifo_inodes_;
  // Whether the agent may write to this FIFO; records it as the agent's when it is.
  bool own_fifo(const enforce::NameVerdict::Fifo &f);
  int on_foreign_fifo(const enforce::TamperAttempt &a, const enforce::NameVerdict &v);
  pipeline::Event open_event(const enforce::TamperAttempt &a) const;
  // Unix path binds of the agent in progress: their sockets (duplicated), watched by bind_loop
  // until named (then recorded) or given up.
  std::mutex binds_mu_;
  std::condition_variable binds_cv_;
  std::vector<UniqueFd> pending_binds_;
  static UniqueFd agent_socket(const enforce::TamperAttempt &a, int fd);
  static constexpr size_t kMaxWatchedBinds = 256;
  std::atomic<size_t> binds_watched_{0};
  bool binds_stop_ = false;
  std::thread binds_;
  std::unique_ptr<enforce::SeccompSupervisor> supervisor_; // last: its thread uses the above
};

} // namespace vigil::cli
