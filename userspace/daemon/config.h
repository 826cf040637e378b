// SPDX-License-Identifier: Apache-2.0
// The daemon's configuration file: which profiles exist, which cgroups they confine, where
// alerts and metrics go.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace vigil::daemon {

struct CgroupSelector {
  std::string glob;    // relative to the cgroup2 mount, e.g. "/agents/*"
  std::string profile; // profile name
};

// A network alert output (webhook or Alertmanager).
struct HttpOutput {
  std::string url;
  std::string format = "json"; // webhook body: json (vigil's shape) | falco
  int queue = 1024;            // alerts held while the endpoint is unreachable
  int hold_s = 3600;           // alertmanager: an alert stays active this long after its time
};

// The outputs: section. Several at once; stderr lines are on unless switched off.
struct Outputs {
  bool stderr_lines = true;
  std::optional<std::string> json;  // vigil's JSON lines: a file, or "-" for stdout
  std::optional<std::string> falco; // Falco-shaped JSON lines: a file, or "-"
  std::optional<HttpOutput> webhook;
  std::optional<HttpOutput> alertmanager;
};

// The kubernetes: section. Empty strings take their in-cluster defaults at start: api_server
// from KUBERNETES_SERVICE_HOST/PORT, node from NODE_NAME.
struct KubernetesConfig {
  bool enabled = true;
  std::string api_server;
  std::string token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
  std::string node;
  std::string label = "vigil.dev/profile"; // the pod label whose value names the profile
  std::string cgroup_root = "/";           // the kubelet's cgroup root, relative to the mount
};

// The socket a daemon listens on unless its config says otherwise (control_socket:).
inline constexpr const char *kDefaultControlSocket = "/run/vigil/control.sock";

struct Config {
  std::string source;
  std::vector<std::string> profile_files; // absolute (relative ones resolved against the file)
  std::vector<CgroupSelector> cgroups;
  std::optional<KubernetesConfig> kubernetes; // present and enabled: pods pick profiles by label
  // Detection rule files and directories; absent: the shipped packs. Reloaded with the profiles
  // on SIGHUP and when a file changes.
  std::vector<std::string> rule_paths;
  std::string state_dir = "/var/lib/vigil"; // learned egress baselines; "" : memory only
  std::optional<std::string> alerts_json; // the older spelling of outputs.json
  Outputs outputs;
  std::optional<std::string> metrics_address;
  std::optional<std::string> log_dir;
  // log_retention: {segment_bytes: 64MiB, segment_age: 1h, max_bytes: 1GiB}
  uint64_t log_segment_bytes = 64ull << 20;
  uint64_t log_segment_age_ns = 3600ull * 1'000'000'000ull;
  uint64_t log_max_bytes = 1ull << 30;
  int rescan_ms = 1000;
  std::string max_tier = "lsm"; // cap on enforcement: lsm (no cap) | fallback | monitor
  std::string pin_dir = "/sys/fs/bpf/vigil"; // "" : nothing outlives the daemon
  // Where `vigil resume` reaches the running daemon (daemon/control.h); "" : no control socket.
  std::string control_socket = kDefaultControlSocket;
  // Observe agents' opens and connects through syscall tracepoints too (see
  // loader::Options::syscall_tracepoints: every process on the node pays for them).
  bool syscall_tracepoints = false;
  // ring_buffer: the kernel-to-vigil event ring's size (a power of two, 256KiB..256MiB); absent:
  // loader::kRingDefault.
  std::optional<uint32_t> ring_buffer_bytes;
};

// Errors name the file, line, column and field, as profile errors do.
Result<Config> load_config(const std::string &path);

// An event ring size as written ("4MiB", "262144"): a power of two between 256KiB and 256MiB.
// The error says so, quoting text.
Result<uint32_t> parse_ring_size(const std::string &text);

} // namespace vigil::daemon
