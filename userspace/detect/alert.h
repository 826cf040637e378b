// SPDX-License-Identifier: Apache-2.0
// detect::Alert: what a SOC sees. Built from one event plus the process table, and
// self-contained: an alert names the process, its ancestry and the object, never just ids.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/event.h"
#include "policy/profile.h"

namespace vigil::detect {

struct ProcessRef {
  uint32_t pid = 0;
  std::string exe;
  std::vector<std::string> argv;
};

// The Kubernetes workload of the alert's cgroup; all empty outside Kubernetes.
struct Workload {
  std::string ns;
  std::string pod;
  std::string pod_uid;
  std::string container;    // name in the pod spec; empty until the API reports the container id
  std::string container_id; // the runtime's full id, from the cgroup name
  std::string image;        // as the pod spec names it ("registry/repo:tag")
};

struct Alert {
  uint64_t time_ns = 0; // CLOCK_REALTIME nanoseconds of the kernel event
  std::string hostname;
  std::string profile;
  std::string rule;
  std::string rule_description;  // what the rule detects, one sentence; may be empty
  std::vector<std::string> tags; // the rule's tags (e.g. "credentials", "mitre_exfiltration")
  policy::Severity severity = policy::Severity::warning;
  std::string output; // one readable sentence
  pipeline::EventType event_type{};
  pipeline::Verdict verdict = pipeline::Verdict::none;
  pipeline::Tier tier = pipeline::Tier::none;
  uint32_t pid = 0;
  uint32_t ppid = 0;
  uint32_t uid = 0;
  std::string comm;
  std::string exe;
  std::vector<std::string> argv;
  std::vector<ProcessRef> ancestry; // parent first
  uint64_t cgroup_id = 0;
  std::string cgroup; // path relative to the cgroup2 mount, "/..." ; empty when unknown
  Workload workload;
  // Object of the operation: a file path, or a destination.
  std::string path;
  std::string dest_ip;
  uint16_t dest_port = 0;
  std::string dest_family; // "ipv4" | "ipv6" | "unix"
  // inbound-not-allowed: where the connection came from (dest_port is the agent's port,
  // dest_ip empty) and "tcp" or "udp".
  std::string source_ip;
  uint16_t source_port = 0;
  std::string protocol;
  int64_t result = 0;      // syscall result: fd/0 or -errno
  uint32_t target_pid = 0; // foreign-process-access: the process reached for
  std::vector<std::string> env; // exec_context: the NAME=VALUE variables that fired
  std::string detail;           // why the rule fired beyond the event (sequence, volume, ...)
  uint64_t bytes = 0;           // egress volume
  // Set on vigil's own records of a response action (rules response-*): what was done, whether
  // it was, and to which agent cgroup. Empty action: the alert is not such a record.
  struct Response {
    std::string action; // freeze | kill | isolate | run | thaw | restore
    std::string result; // done | failed
    std::string target; // the agent cgroup, absolute path
  } response;
};

// RFC 3339 UTC with nanoseconds: 2026-11-23T02:15:04.123456789Z
std::string format_time(uint64_t realtime_ns);
std::string describe_errno(int64_t ret);

} // namespace vigil::detect
