// SPDX-License-Identifier: Apache-2.0
// Loader: owns the BPF skeleton, its links and the ring buffer. The only code that calls
// libbpf; libbpf's conventions (-errno, NULL + errno) end here and become Result.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/kernel_stats.h"
#include "common/result.h"
#include "common/unique_fd.h"

struct vigil_bpf;
struct ring_buffer;
struct bpf_link;
struct bpf_program;
struct vg_egress_key;
struct vg_egress_val;
struct vg_file_key;
struct vg_file_rule;
struct vg_name_pat;
struct vg_open_seen_key;
struct vg_open_seen_val;
struct vg_persist_rule;
struct vg_persist_name_key;

namespace vigil::loader {

// 4 MiB: observations may fill three quarters (3 MiB, vg_ring_reserved), about 15,000 records
// of an open's typical 200 bytes: 150 ms of the reader's absence at 100,000 events per second.
// docs/BENCHMARKS.md ("The event ring's size") has the measurements behind it.
inline constexpr uint32_t kRingDefault = 4u << 20;
inline constexpr uint32_t kRingMin = 256u << 10;
inline constexpr uint32_t kRingMax = 256u << 20;

struct Options {
  // The event ring's size: a power of two, a multiple of the page size (kRingMin..kRingMax).
  // Its data pages are mapped twice into vigil (the kernel maps the ring once more after itself
  // so that a record that wraps reads in one piece), and both mappings count in vigil's RSS once
  // read. A ring pinned by an earlier instance keeps its size: the adopted programs write to it.
  uint32_t ringbuf_bytes = kRingDefault;
  // Network enforcement through cgroup sock_addr programs attached to every agent cgroup (the
  // fallback where BPF LSM is unavailable). Off: those programs are not even loaded.
  bool cgroup_net = false;
  // With cgroup_net: also the cgroup unix socket programs (connect_unix, sendmsg_unix) where the
  // kernel has the hooks (6.7+). Cleared by start() itself when they fail to load.
  bool cgroup_unix = true;
  // BPF LSM enforcement (file_open, socket_connect/sendmsg, ptrace_access_check), attached
  // globally and filtered by the agent map. Off: not loaded (kernels that refuse them).
  bool lsm = false;
  // With lsm: attach the enforcing LSM programs to each agent cgroup (lsm_cgroup, 6.0+) instead
  // of globally, so tasks outside agents never run them. Falls back to global attachment when
  // the kernel refuses to load them.
  bool lsm_cgroup = false;
  // Observation through syscall tracepoints (open*, connect, bind, and bpf() for
  // self-protection in tier 2). Off by default: enabling any syscall tracepoint puts every task
  // of the machine on the kernel's slow syscall path (SYSCALL_WORK_SYSCALL_TRACEPOINT is set on
  // all of them), so processes outside agents pay too. Without them, agents are observed by the
  // hooks that decide: the LSM file_open, socket_connect and unix hooks (tier 1), the fanotify
  // permission events of their mounts and the cgroup socket programs (tier 2).
  bool syscall_tracepoints = false;
  // bpffs directory where maps and links are pinned so enforcement outlives this process
  // (daemon mode). A later start adopts what it finds there instead of attaching again.
  // Empty: nothing is pinned, everything detaches on exit (vigil run).
  std::string pin_dir;
};

// The kernel's numbers for the cgroup unix socket hooks (BPF_CGROUP_UNIX_CONNECT/SENDMSG,
// 6.7+), from its BTF; nullopt where it has none.
struct UnixAttachTypes {
  int connect;
  int sendmsg;
};
std::optional<UnixAttachTypes> kernel_cgroup_unix_hooks();

// Removes everything pinned under pin_dir: links detach (once no process holds them), maps go.
// Returns how many pins were removed.
Result<size_t> unload_pinned(const std::string &pin_dir);

// Per-profile kernel switches (see struct vg_profile_cfg).
struct ProfileSwitches {
  uint8_t net_mode = 0;  // enum vg_mode
  uint8_t file_mode = 0; // enum vg_mode
  bool raw_ok = false;   // raw and packet sockets allowed
  uint8_t tamper_mode = 0; // enum vg_mode: self-protection
  uint32_t rate = 0;       // observation events per second per agent cgroup; 0: unlimited
  uint8_t ingress_mode = 0; // enum vg_mode: connections into the agent from outside it
};

// Bytes an agent cgroup sent to one destination since the flow was first seen (map
// vg_egress_bytes, written by the cgroup_skb/egress program).
struct Flow {
  uint64_t cgroup_id = 0;
  std::array<uint8_t, 16> addr{}; // IPv4 as IPv4-mapped IPv6
  uint16_t port = 0;
  uint8_t proto = 0;
  uint64_t bytes = 0;
  uint64_t packets = 0;
};

class Loader {
public:
  // Called for each ring record, on the thread that calls poll(). Must not throw.
  using SampleFn = std::function<void(std::span<const std::byte>)>;

  // open -> size the ring -> load (verifier) -> attach every program -> ring reader.
  static Result<std::unique_ptr<Loader>> start(const Options &opts, SampleFn on_sample);
  ~Loader();
  Loader(const Loader &) = delete;
  Loader &operator=(const Loader &) = delete;

  // Confine (or release) a cgroup: tasks in it and below it report events under profile_id,
  // and, with cgroup_net, the network hooks are attached to it. Returns the VG_AGENT_* flags in
  // force: an entry an earlier instance left in the pinned map keeps its flags (an isolation
  // outlives a daemon restart), a new entry has none.
  Result<uint32_t> add_agent_cgroup(const std::string &dir, uint64_t cgroup_id,
                                    uint32_t profile_id);
  // Records the processes already in dir's subtree as agent tasks of cgroup_id.
  void track_tasks(const std::string &dir, uint64_t cgroup_id);
  Result<> remove_agent_cgroup(uint64_t cgroup_id);
  // Sets or clears VG_AGENT_* bits of a confined cgroup's entry, in one map update (the hooks see
  // the old value or the new one). ENOENT when cgroup_id is not confined.
  Result<> set_agent_flags(uint64_t cgroup_id, uint32_t set, uint32_t clear);
  // The VG_AGENT_* bits of a confined cgroup's entry; ENOENT when it is not confined.
  Result<uint32_t> agent_flags(uint64_t cgroup_id) const;

  // Forgets agent cgroups an earlier instance confined that no longer exist (their map entries
  // and pinned per-cgroup links). Returns how many were pruned.
  size_t prune_agents(const std::vector<uint64_t> &live_cgroup_ids);

  // Tier 2 unix sockets: records the names that sockets of agent cgroups hold now (the unix
  // socket iterator), so that servers in an agent stay reachable from it. Call it when a name
  // may have appeared: before an agent's listen(2) goes on, after a unix name was refused.
  // Returns false where there is nothing to run (no cgroup unix hooks).
  Result<bool> rescan_unix_bound();
  // Tier 1's counts of repeated opens (vg_open_seen, see vigil/abi.h): takes every entry
  // (lookup-and-delete, so an open the kernel counts meanwhile starts a new entry and is
  // reported as a first open) and hands fn those that counted repeats. Returns how many.
  bool counts_opens() const { return opts_.lsm; }
  using OpenCountFn = std::function<void(const vg_open_seen_key &, const vg_open_seen_val &)>;
  size_t drain_open_counts(const OpenCountFn &fn);
  // Tier 2 unix allowlist of a profile: socket names its agents may reach although an outside
  // process serves them (replaces the profile's earlier list). Names longer than sun_path are
  // skipped.
  Result<> set_unix_allow(uint32_t profile_id, const std::vector<std::string> &paths);
  // Replaces a profile's kernel policy: its switches and its egress allowlist entries.
  Result<> set_profile(uint32_t profile_id, const ProfileSwitches &sw,
                       const std::vector<std::pair<vg_egress_key, vg_egress_val>> &egress);
  // Replaces every protected-file entry and name pattern (all profiles at once: the name
  // pattern table is shared). Entries first, stale ones removed after.
  Result<> set_file_rules(const std::vector<std::pair<vg_file_key, vg_file_rule>> &inodes,
                          const std::vector<vg_name_pat> &names,
                          const std::vector<vg_file_key> &ipc_allow);
  // Replaces a profile's persistence guard entries (tier 1): protected objects by identity and
  // protected names by (directory, name). Entries first, the profile's stale ones removed after.
  Result<> set_persist_rules(
      uint32_t profile_id, const std::vector<std::pair<vg_file_key, vg_persist_rule>> &inodes,
      const std::vector<std::pair<vg_persist_name_key, vg_persist_rule>> &names);
  // True when the persistence guard's LSM hooks are loaded (BPF LSM with the path hooks).
  bool persist_hooks() const { return persist_hooks_; }

  // The environment variables exec events report: exact names, and name prefixes (written
  // without their '*'). Empty lists switch the scan off. Names must be shorter than 28 bytes.
  Result<> set_env_watch(const std::vector<std::string> &names,
                         const std::vector<std::string> &prefixes);
  // Every flow in vg_egress_bytes.
  std::vector<Flow> egress_flows() const;

  // Delivers ready ring records to the callback; waits up to timeout_ms for the first.
  // Returns the number of records consumed.
  Result<int> poll(int timeout_ms);
  // Ends a poll() that waits, now and from then on (its callers are stopping): thread-safe.
  void wake_poll();
  KernelStats stats() const;
  // True when every record the kernel had reserved when this was called has been handed to the
  // sample callback, which has returned: the ring holds nothing older than the call. False when
  // it holds more, or when the ring's positions could not be mapped (nothing can be said).
  bool ring_read_up_to_now() const;
  // True when start() found pinned links of an earlier instance and adopted them.
  bool adopted() const { return adopted_; }
  // What start() found wrong in the pin directory and undid (an untrusted directory, a pin set
  // whose programs reported elsewhere), one line each: the daemon alerts them.
  const std::vector<std::string> &pin_notes() const { return pin_notes_; }
  // How the LSM programs are attached: "cgroup", "global", or "" (not loaded).
  const char *lsm_attach() const { return !opts_.lsm ? "" : opts_.lsm_cgroup ? "cgroup" : "global"; }

  // For an exit that must not wait for the kernel to detach the programs: forks a process that
  // keeps only the links' descriptors (every other descriptor is closed in it at once: no
  // fanotify group, socket or map outlives the caller through it), closes them, and exits. The
  // caller's own closes are then not the last references and return at once. Detaching a
  // tracepoint waits for RCU grace periods, one tracepoint after another (0.15-0.6 s for
  // vigil's on this host, depending on its load). Returns the process's pid, or -1 (nothing
  // changes: the caller detaches as before).
  pid_t detach_in_background() const;

private:
  Loader() = default;
  static int on_sample(void *ctx, void *data, size_t size) noexcept;
  void map_ring_positions();

  vigil_bpf *skel_ = nullptr;
  ring_buffer *ring_ = nullptr;
  // The unix socket iterator's link (attached here, or found pinned by an adopting start); -1
  // where it is not loaded.
  int iter_unix_fd_ = -1;
  UniqueFd wake_; // eventfd that wake_poll() makes readable
  std::vector<std::string> pin_notes_;
  // A start with fewer programs after this one's load failed: what this one noted is kept.
  Result<std::unique_ptr<Loader>> start_again(const Options &opts);
  std::vector<vg_open_seen_key> seen_keys_; // drain_open_counts()'s scratch
  std::vector<vg_open_seen_val> seen_vals_;
  std::mutex iter_mu_;
  // The ring's consumer and producer position pages, mapped read-only for the fill gauge
  // (libbpf 1.1 has no ring__avail_data_size). Null when the mapping failed.
  void *ring_cons_ = nullptr;
  void *ring_prod_ = nullptr;
  size_t ring_page_ = 0;
  uint64_t ring_size_ = 0;
  SampleFn sample_;
  Options opts_;
  bool adopted_ = false;
  std::map<uint64_t, std::vector<bpf_link *>> cgroup_links_;
  std::vector<bpf_program *> per_cgroup_; // attached to every agent cgroup
  std::map<uint32_t, std::vector<std::vector<uint8_t>>> egress_keys_; // per profile, for removal
  std::map<uint32_t, std::vector<std::vector<uint8_t>>> unix_keys_; // vg_unix_allow, per profile
  std::vector<std::vector<uint8_t>> file_keys_;
  std::vector<std::vector<uint8_t>> ipc_keys_;
  size_t name_slots_ = 0;
  std::vector<std::vector<uint8_t>> env_keys_;
  std::map<uint32_t, std::vector<std::vector<uint8_t>>> persist_keys_; // per profile
  std::map<uint32_t, std::vector<std::vector<uint8_t>>> persist_name_keys_;
  std::vector<uint32_t> persist_profiles_; // vg_persist_profiles, in slot order
  bool persist_hooks_ = false;
};

// Routes libbpf's own messages to spdlog (warnings at warn, the verifier log at debug).
void route_libbpf_logs();

} // namespace vigil::loader
