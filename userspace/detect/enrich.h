// SPDX-License-Identifier: Apache-2.0
// Enricher: Finding + Event + process table -> Alert with the process, its ancestry, the cgroup
// and the object of the operation.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "detect/alert.h"
#include "detect/detector.h"
#include "pipeline/process_table.h"

namespace vigil::detect {

class Enricher {
public:
  using CgroupNamer = std::function<std::string(uint64_t cgroup_id)>;
  // The Kubernetes workload of a cgroup path (relative to the cgroup2 mount), when known.
  using WorkloadOf = std::function<std::optional<Workload>(const std::string &cgroup)>;

  Enricher(pipeline::ProcessTable &procs, std::string hostname, CgroupNamer cgroups);

  Alert build(const pipeline::Event &ev, const Finding &f, const policy::Profile &profile);
  // CLOCK_BOOTTIME ns (kernel timestamps) -> CLOCK_REALTIME ns. Re-reads the offset each call so
  // a clock step (NTP) shows up in the next alert.
  static uint64_t boot_to_realtime(uint64_t boot_ns);
  // Replay: kernel times are turned into wall time with the clock pair a log segment recorded,
  // not with this machine's clocks.
  void set_hostname(std::string h) { hostname_ = std::move(h); }
  void set_workloads(WorkloadOf w) { workloads_ = std::move(w); }
  void set_clock_offset(int64_t realtime_minus_boottime_ns) { offset_ = realtime_minus_boottime_ns; }
  // A kernel time as wall time: with the offset given (replay), else with this machine's clocks.
  uint64_t realtime_of(uint64_t boot_ns) const
  {
    return offset_ ? static_cast<uint64_t>(static_cast<int64_t>(boot_ns) + *offset_)
                   : boot_to_realtime(boot_ns);
  }

private:
  pipeline::ProcessTable &procs_;
  std::string hostname_;
  CgroupNamer cgroups_;
  WorkloadOf workloads_;
  std::optional<int64_t> offset_;
};

std::string local_hostname();

} // namespace vigil::detect
