// SPDX-License-Identifier: Apache-2.0
// Feature probes: what this kernel can really load and attach, found by loading tiny programs,
// and the enforcement tier each kind of object (files, network) gets as a result.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>
#include <string_view>

struct btf;

namespace vigil::loader {

// The running kernel's BTF (/sys/kernel/btf/vmlinux, about 5 MiB parsed), parsed once for the
// probes and the loader's own questions of it; null where the kernel has none. Kept until
// drop_kernel_btf() (Loader::start calls it when it is done: the daemon does not keep it).
std::shared_ptr<const btf> kernel_btf();
void drop_kernel_btf();

// Enforcement tier of one kind of object, best first. fallback is fanotify permission events
// for files and cgroup sock_addr programs for the network; monitor enforces nothing.
enum class Tier : uint8_t { lsm, fallback, monitor };

// One probe's answer. detail says what was found when ok, and why not (errno name, what it
// means, what to do) when not.
struct Probe {
  bool ok = false;
  std::string detail;
};

struct Features {
  std::string kernel_release;
  Probe btf;            // /sys/kernel/btf/vmlinux loads
  Probe cgroup2;        // detail: the cgroup2 mount point
  Probe bpffs;          // mounted on /sys/fs/bpf
  Probe securityfs_lsm; // detail: the active LSM list from /sys/kernel/security/lsm
  Probe bpf_lsm_listed; // "bpf" is in that list, so BPF LSM hooks actually run
  Probe lsm_prog;       // a trivial lsm/file_open program loads and attaches
  Probe lsm_cgroup;     // a trivial lsm_cgroup/file_open program attaches to a cgroup
  Probe cgroup_sock_addr; // cgroup/connect4 loads and attaches to a cgroup
  Probe cgroup_skb;       // cgroup_skb/egress loads and attaches to a cgroup
  Probe ringbuf;          // BPF_MAP_TYPE_RINGBUF can be created
  Probe bpf_loop;         // the bpf_loop helper is available to tracepoint programs
  Probe fanotify_perm;    // FAN_CLASS_CONTENT group with a FAN_OPEN_PERM mark on a file

  Tier file_tier = Tier::monitor;
  std::string file_reason; // why this tier: what makes the better ones unavailable
  Tier net_tier = Tier::monitor;
  std::string net_reason;
};

// How one kind of attempt on vigil (or on the agent's boundary) is stopped on this kernel.
struct Protection {
  const char *attempt; // "cgroup_escape", "bpf", ... (the tamper actions of docs/RULES.md)
  const char *by;      // "refused" (BPF LSM), "killed" (a tracepoint kills the agent before its
                       // syscall returns), "rate-limited", or "none" (only the launcher's
                       // hardening: capabilities, seccomp, read-only mounts)
  const char *detail;
};
// Self-protection with BPF LSM in use (lsm) or not: what `vigil doctor`, the start-up log and
// the vigil_self_protection metric report.
std::vector<Protection> self_protection(bool lsm);

// Probes the running kernel with real bpf(2), fanotify and cgroup calls. Never fails as a whole:
// each probe records its own failure. Needs root (check_privileges() first; unprivileged, the
// BPF probes report EPERM). Takes well under a second and leaves nothing behind: every program,
// link and map is closed (so detached) and the temporary cgroup (<cgroup2>/vigil/probe-<pid>)
// and file are removed before it returns. When securityfs is not mounted it is mounted just to
// read the LSM list and unmounted again.
Features probe_features();

// Fills the tier and reason fields from the probe results (probe_features() calls it; exposed
// for tests). lsm needs bpf in the LSM list and an lsm/ program that loads and attaches, for
// both kinds; otherwise files fall back to fanotify_perm and the network to cgroup_sock_addr;
// otherwise monitor. Each reason names what rules out the better tiers.
void choose_tiers(Features &f);

// The tier as users see it: "lsm", "fanotify" (file) or "cgroup" (network), "monitor".
std::string_view tier_name(Tier t, bool file);

} // namespace vigil::loader
