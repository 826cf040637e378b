// SPDX-License-Identifier: Apache-2.0
// Recorder: the engine's side of the event log. Turns what the engine knows (the processes that
// predate the log, the policy in force, confined cgroups, every event, every alert) into event-log
// records, and a failing log into one alert per failure episode. Every call only queues: the
// pipeline never waits for the disk.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/result.h"
#include "detect/alert.h"
#include "policy/rules.h"
#include "eventlog/writer.h"
#include "pipeline/event.h"
#include "pipeline/process_table.h"
#include "policy/profile.h"
#include "policy/rules.h"

namespace vigil::daemon {

class Recorder {
public:
  // Opens (creates) the log directory; fails when it cannot be created or another recorder
  // holds it.
  static Result<std::unique_ptr<Recorder>> open(eventlog::WriterOptions opts);
  // Closes the writer first: its thread calls back into this object on a write failure.
  ~Recorder();

  // PROCESS records for every process in the table (those that predate the log).
  void processes(const pipeline::ProcessTable &table);
  // A POLICY record: the profile's file as it is now, its SHA-256, and the hash of the whole
  // policy in force after this change (which later segment headers carry).
  void policy(uint32_t id, const policy::Profile &p);
  // The one home of every agent ("~/" in profiles and rules), when there is one (vigil run).
  void set_home(std::string home) { home_ = std::move(home); }
  // A POLICY record with the text of every rule file in force (a reload writes a new one).
  void rules(const policy::RuleSet &set);
  void cgroup(uint64_t id, const std::string &path, uint32_t profile_id,
              const std::string &profile_name);
  void event(const pipeline::Event &ev) { writer_->append_event(ev); }
  void alert(const detect::Alert &a);
  // The alert for a log that started failing since the last call, if any (raised by the engine
  // on its worker thread, where the sinks live).
  std::optional<detect::Alert> take_alert();

  const eventlog::WriterStats &stats() const { return writer_->stats(); }
  void close() { writer_->close(); }

private:
  Recorder() = default;

  std::unique_ptr<eventlog::Writer> writer_;
  std::atomic<bool> failed_{false};       // failure_ is set: spares the worker a lock per event
  std::mutex mu_;                         // guards the members below
  std::map<uint32_t, std::string> files_; // profile id -> "name sha256" of its file
  std::optional<detect::Alert> failure_;
  std::string home_;
};

} // namespace vigil::daemon
