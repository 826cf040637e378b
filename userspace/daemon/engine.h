// SPDX-License-Identifier: Apache-2.0
// Engine: the pipeline shared by `vigil run` and `vigil daemon`. Kernel ring -> reader thread
// (decode) -> bounded queue -> worker thread (process table, matcher, enrich) -> sinks/metrics.
// The owner confines cgroups and assigns profiles; the engine does the rest.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <deque>
#include <map>
#include <mutex>
#include <unordered_map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cgroup/cgroup.h"
#include "common/bounded_queue.h"
#include "common/result.h"
#include "detect/enrich.h"
#include "detect/detector.h"
#include "export/metrics.h"
#include "export/sinks.h"
#include "loader/loader.h"
#include "daemon/config.h"
#include "daemon/dedup.h"
#include "daemon/file_enforcer.h"
#include "enforce/persistence.h"
#include "daemon/recorder.h"
#include "daemon/resolver.h"
#include "daemon/response.h"
#include "loader/probe.h"
#include "pipeline/event.h"
#include "pipeline/process_table.h"
#include "policy/profile.h"

namespace vigil::daemon {

struct EngineOptions {
  std::optional<std::string> alerts_json;     // JSON lines file, "-" for stdout
  std::optional<std::string> alerts_falco;    // Falco-shaped JSON lines file, "-" for stdout
  std::optional<exporter::HttpSinkOptions> webhook;
  std::optional<exporter::HttpSinkOptions> alertmanager;
  // How long stop() waits for the network outputs to deliver what they still hold.
  std::chrono::milliseconds drain_budget{3000};
  std::optional<std::string> metrics_address; // HOST:PORT for /metrics
  std::optional<std::string> home;            // "~/" of every agent (vigil run); else passwd
  // The agents run in mount namespaces of their own (vigil run): the fanotify tier marks their
  // mounts (guard_agent_mounts) and decides every open they make, basename patterns included.
  bool agent_mounts = false;
  bool alerts_to_stderr = true;
  // Start-up notes one per item (each self-protection gap, each egress host being resolved), as
  // `-v` asks; otherwise one line per fact: every gap in one line, a profile's hosts in one.
  bool verbose_start = false;
  // What the kernel offers; probed at start when not given (tests force a tier this way).
  std::optional<loader::Features> features;
  // The operator's cap on enforcement (--max-tier): lsm (no cap), fallback, monitor.
  loader::Tier max_tier = loader::Tier::lsm;
  std::string pin_dir; // see loader::Options::pin_dir; empty for vigil run
  // LSM attachment: "cgroup" (lsm_cgroup per agent cgroup), "global", or "auto" (cgroup where
  // the kernel attaches lsm_cgroup programs).
  std::string lsm_attach = "auto";
  // See loader::Options::syscall_tracepoints (off: agents are observed where they are decided).
  bool syscall_tracepoints = false;
  uint32_t ring_bytes = loader::kRingDefault; // see loader::Options::ringbuf_bytes
  size_t queue_capacity = 65536;
  size_t queue_max_bytes = 64u << 20; // the queued events' bytes (an exec carries up to ~11 KiB)
  // Where learned state (egress baselines) is kept across restarts; empty: memory only.
  std::string state_dir;
  // How often the egress byte counters are read into egress_volume events.
  std::chrono::milliseconds volume_interval{1000};
  std::optional<std::string> log_dir; // event log (eventlog/): every event, policy and alert
  // Event log retention: rotate a segment at this size or age; delete the oldest beyond the cap.
  uint64_t log_segment_bytes = 64ull << 20;
  std::chrono::milliseconds log_segment_age = std::chrono::hours(1);
  uint64_t log_max_bytes = 1ull << 30;
  // Kubernetes: the pod and container of a cgroup, for alerts and the unmapped-event counter.
  // Called on the worker thread; must be thread-safe. Empty outside Kubernetes.
  detect::Enricher::WorkloadOf workloads;
};

class Engine {
public:
  // Preflight (privileges, BTF, cgroup2, tracefs), load and attach, start the threads.
  static Result<std::unique_ptr<Engine>> start(const EngineOptions &opts);
  ~Engine();

  const std::string &cgroup_mount() const { return cgroup_mount_; }
  // Installs a profile: in the matcher, and its compiled policy in the kernel maps. Fails with
  // Error::code == ENOTSUP when the profile requires a tier this kernel cannot give.
  Result<> set_profile(uint32_t id, policy::Profile p);
  // Swaps the detection rules (and what the kernel reads of the environment at exec). The set
  // must be valid (policy::load_rules). On failure the old rules stay in force.
  // Rules and profiles are installed: the reader may take the events an adopted ring holds.
  void policy_ready() { hold_ring_.store(false); }
  Result<> set_rules(policy::RuleSet rules);
  // Whether a profile can be put in force here (required tier, compilable policy), without
  // installing it.
  Result<> check_profile(const policy::Profile &p) const;
  // The pod watch's state for /metrics (see exporter::Metrics::kubernetes).
  void kubernetes_stats(bool listed, size_t pods, uint64_t relists_total, uint64_t errors_total)
  {
    metrics_->health().set_pods_listed(listed);
    metrics_->kubernetes(pods, relists_total, errors_total);
  }
  // Whether the daemon listens on its control socket, for /metrics.
  void control_socket(bool listening) { metrics_->control_socket(listening); }
  // Counts a policy reload in the metrics.
  void policy_reloaded(bool ok)
  {
    if (!ok)
      metrics_->reload_failure();
  }
  // An alert about vigil itself (a policy reload that failed, ...), through every sink.
  void raise_internal(const std::string &rule, policy::Severity severity,
                      const std::string &output);
  // A decision made in userspace outside the engine (vigil run's launch filter supervisor): it
  // goes through the pipeline as the kernel's events do (event log, detection, alerts). A full
  // queue is waited for, up to wait_ms: the caller holds the agent's call meanwhile, so an agent
  // that floods the queue slows itself, and a denial is not dropped while a reader drains.
  // Returns false when it was dropped even so (counted as a queue drop).
  bool report(pipeline::Event &&ev, int wait_ms = 2000);
  loader::Tier file_tier() const { return file_tier_; }
  // The fanotify group of the file tier, or -1 where the file tier is not fanotify. Owned here;
  // vigil run's watchdog holds a duplicate so that vigil's death does not open guarded files.
  int file_group_fd() const { return files_ ? files_->group_fd() : -1; }
  // With agent_mounts and the fanotify file tier: marks the mounts of pid's mount namespace (the
  // agent's first process, before it runs), see FileEnforcer::watch_agent_mounts. Nothing to do
  // (0) in other tiers.
  Result<size_t> guard_agent_mounts(pid_t pid);
  // Tier 2 unix sockets: records the names agent sockets hold now (loader::rescan_unix_bound).
  // vigil run calls it before an agent's listen(2) goes on; the engine itself after a unix name
  // was refused (a datagram server has no listen).
  void rescan_unix_bound() noexcept;
  // vigil run's gate: a file the credential rules name (st_dev, ino) is about to get another
  // name; it stays seen by its rule name (FileEnforcer::learn_rule_file, and the engine's own
  // inode names for every tier). False when it cannot be followed (both keep at most 65,536
  // such files): the caller refuses the call.
  bool learn_rule_file(uint64_t dev, uint64_t ino, const std::string &path);
  // With the fanotify file tier: the file to bind over FIFOs made outside an agent (see
  // FileEnforcer::fifo_stand_in); "" in other tiers (BPF LSM decides FIFOs itself).
  Result<std::string> fifo_stand_in();
  loader::Tier net_tier() const { return net_tier_; }
  // Tier 1 of the persistence guard: BPF LSM decides files here and its persistence hooks are
  // loaded, so set_persistence() puts the guard in the kernel.
  bool persistence_in_kernel() const;
  // Installs the persistence guard of profile id's agent (vigil run): its existing and its
  // not yet existing targets (see compile_lsm_persistence), replacing the profile's earlier
  // ones. Fails where !persistence_in_kernel().
  Result<> set_persistence(uint32_t id, const policy::Profile &p,
                           const std::vector<enforce::GuardTarget> &present,
                           const std::vector<enforce::GuardTarget> &absent);
  // Confine a cgroup directory (absolute path) under profile id; release undoes it.
  Result<uint64_t> confine(const std::string &dir, uint32_t profile_id);
  Result<> release(const std::string &dir);
  // Lifts the `isolate` response on a confined cgroup (absolute dir): its egress follows its
  // allowlist again, which stayed in the kernel meanwhile. Reported (response-restore) and true
  // when it was isolated; false when there was nothing to lift; ENOENT when dir is not confined.
  // A pending timed thaw of the cgroup is dropped too (the operator resumed it).
  Result<bool> lift_isolation(const std::string &dir);
  size_t confined() const;

  // Delivers every event already in the ring, waits for the worker to finish them, then stops.
  void stop();
  // After stop(), before the engine is destroyed: the programs are detached by a process of
  // their own (Loader::detach_in_background), so that the destruction does not wait for it.
  void detach_in_background();

  uint64_t alerts_raised() const { return alerts_.load(); }
  bool adopted() const { return loader_->adopted(); }
  // The event log's counters for /metrics; nullptr without a log_dir.
  const eventlog::WriterStats *eventlog_stats() const
  {
    return recorder_ ? &recorder_->stats() : nullptr;
  }

private:
  Engine() = default;
  void reader_loop() noexcept;
  void worker_loop() noexcept;
  void handle(pipeline::Event &ev);
  void on_sample(std::span<const std::byte> data) noexcept;
  void process(pipeline::Event &ev);
  void release_held(uint64_t cutoff_ns);
  void log_tiers() const;
  Result<> open_sinks();
  void count_decision(const pipeline::Event &ev, const std::string &profile);
  // all: every map, the file guard and the detector; egress: a host name's addresses changed
  // (the egress allowlist, the recorded policy and the detector's copy only).
  enum class Install { all, egress };
  Result<> install_profile(uint32_t id, policy::Profile p, Install what = Install::all);
  void finish_kill(const pipeline::Event &ev);
  // BPF LSM programs are loaded (for files, the network, and self-protection).
  bool uses_lsm() const
  {
    return file_tier_ == loader::Tier::lsm || net_tier_ == loader::Tier::lsm;
  }
  void hosts_loop() noexcept;
  void sample_volume();
  void publish_tables();
  // vigil_contained_agents: the confined cgroups frozen (cgroup.freeze) and isolated (the
  // kernel flag) now. With state_mu_ held.
  void publish_contained();
  void publish_log_stats();
  void alert_unreported(); // without state_mu_ (raise_internal takes it)
  // An event the full (or closed) queue refused: counted, and as a lost decision when it is one.
  void count_drop(const pipeline::Event &ev);
  // The kernel's counters to the metrics, and the ring-full count to alert_unreported().
  void publish_kernel_stats();
  void publish_guard_stats();
  void emit(const pipeline::Event &ev, const detect::Finding &f, const policy::Profile *profile);
  // Response actions (engine_response.cpp): the responder and its kernel switch, the actions an
  // alert asks for (under state_mu_), and an alert of vigil's own through every output (under
  // state_mu_).
  void start_responder();
  void respond(const detect::Alert &alert, const policy::Profile &profile);
  void write_alert(const detect::Alert &alert);
  Result<> check_requirement(const policy::Profile &p) const;

  EngineOptions opts_;
  std::string cgroup_mount_;
  loader::Features features_;
  loader::Tier file_tier_ = loader::Tier::monitor;
  loader::Tier net_tier_ = loader::Tier::monitor;
  std::unique_ptr<exporter::Metrics> metrics_;
  std::vector<std::unique_ptr<exporter::AlertSink>> sinks_;
  std::unique_ptr<loader::Loader> loader_;
  std::unique_ptr<BoundedQueue<pipeline::Event>> queue_;

  mutable std::mutex state_mu_; // guards everything below until the atomics
  pipeline::ProcessTable procs_;
  std::unique_ptr<cgroup::Namer> namer_;
  std::unique_ptr<detect::Detector> detector_;
  std::vector<detect::Finding> findings_; // reused per event
  // Egress byte counters as last read, per (cgroup, destination, port, protocol).
  std::map<std::tuple<uint64_t, std::array<uint8_t, 16>, uint16_t, uint8_t>, uint64_t> flows_;
  std::chrono::steady_clock::time_point next_volume_{};
  std::chrono::steady_clock::time_point next_sweep_{};
  std::chrono::steady_clock::time_point tables_logged_at_{};
  uint64_t tables_evicted_logged_ = 0;
  struct {
    uint64_t bytes = 0, dropped = 0, deleted = 0, errors = 0;
  } log_seen_; // event log counters already published (reader thread only)
  std::unique_ptr<detect::Enricher> enricher_;
  std::vector<std::pair<std::string, uint64_t>> confined_;
  std::map<std::string, uint32_t> agent_paths_; // cgroup path (relative to the mount) -> profile
  std::chrono::steady_clock::time_point last_unix_scan_{}; // ring reader thread only
  // Unix socket scans asked for by the reader (a refused name), run on their own thread.
  std::mutex scan_mu_;
  std::condition_variable scan_cv_;
  bool scan_wanted_ = false;
  std::thread scanner_;
  void scan_loop() noexcept;
  // Paths of inodes tier 1 reported opened (dev -> ino -> path), for the counts of repeats.
  // Guarded by state_mu_; forgotten all at once past kMaxOpenPaths.
  static constexpr size_t kMaxOpenPaths = 65536;
  std::unordered_map<uint32_t, std::unordered_map<uint64_t, std::string>> open_paths_;
  size_t open_paths_size_ = 0;
  void remember_open_path(const pipeline::Event &ev);
  // The files the credential rules name, by identity (kernel dev -> ino -> the rules' name for
  // it), resolved when the rules are set: an observed open of one by another name (a hard link,
  // the file or its directory renamed) is reported, and matched, by that name. Guarded by
  // state_mu_.
  // The name a file was first known by (at the start, or when the agent first linked or
  // renamed it) is kept, so a detour through a name a rule's exception spares changes nothing.
  // At most kMaxOpenPaths files and kMaxRuleNameBytes of names.
  std::unordered_map<uint32_t, std::unordered_map<uint64_t, std::string>> rule_inodes_;
  size_t rule_inode_count_ = 0, rule_name_bytes_ = 0;
  static constexpr size_t kMaxRuleNameBytes = 8u << 20;
  // With state_mu_ held: remembers one (kernel dev) file's rule name, within the bounds.
  // False when the file is not known and there is no room left for it.
  bool add_rule_name(uint32_t dev, uint64_t ino, const std::string &path);
  void name_rule_file(pipeline::Event &ev) const;
  void report_open_counts();
  OpenDedup dedup_; // tracepoint opens a fanotify decision already reported
  std::unique_ptr<FileEnforcer> files_;
  std::unique_ptr<Recorder> recorder_; // set at start, then only used (thread-safe queueing)
  // fanotify decisions reach the queue ahead of the ring records the reader has not drained yet
  // (the process's exec, its earlier opens). They wait here until the ring has caught up to
  // their time, so the process table knows the process and earlier opens are not taken for it.
  std::deque<pipeline::Event> held_;
  // With state_mu_ held: releases the held decisions when the ring and the queue have nothing
  // older than now (Loader::ring_read_up_to_now).
  void release_if_caught_up();

  // Egress host names: the profiles as written, and each host's last resolution and when it
  // expires. Lookups run concurrently and nobody waits for them: a name allows nothing until its
  // answer comes, and the hosts thread installs each answer as it arrives, then re-resolves on
  // the TTL and reinstalls the profiles that use it.
  std::mutex hosts_mu_; // guards the three below; taken before state_mu_, never inside it
  std::map<uint32_t, policy::Profile> written_;
  std::map<std::string, Resolution> resolved_;
  std::map<std::string, std::chrono::steady_clock::time_point> expires_;
  HostLookups lookups_;
  std::thread hosts_;
  // Installs the answers that came (hosts_mu_ held): the profiles using a host whose addresses
  // changed are reinstalled.
  void take_answers(std::vector<std::pair<std::string, Resolution>> answers);
  std::map<uint32_t, policy::Profile> profiles_; // for the LSM file maps (shared name table)
  std::vector<std::string> homes_;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> hold_ring_{false}; // an adopted ring waits for policy_ready()
  std::atomic<uint64_t> alerts_{0};
  // Reports lost after the decision was made: records the kernel could not write because the
  // ring was full (its counter, as the reader last read it) and decision events a full queue
  // refused. alert_unreported() (worker thread, once a second and at the end) alerts the growth.
  std::atomic<uint64_t> ring_full_{0};
  std::atomic<uint64_t> queue_lost_decisions_{0};
  uint64_t ring_full_alerted_ = 0, queue_lost_alerted_ = 0;
  size_t reader_beat_ = 0; // Health thread ids
  size_t worker_beat_ = 0;
  std::thread reader_;
  std::thread worker_;
  // Last: destroyed first, while the sinks its running commands report to still exist.
  std::unique_ptr<Responder> responder_;
};

// The alert outputs of a config file (or of vigil run's flags) as engine options.
void apply_outputs(const Outputs &o, EngineOptions &eo);

// Logging setup shared by all subcommands: "vigil <level>: message" on stderr.
void setup_logging(const std::string &level);

} // namespace vigil::daemon
