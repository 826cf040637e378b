// SPDX-License-Identifier: Apache-2.0
// Prometheus metrics of the agent, on prometheus-cpp, and the HTTP endpoints that serve them
// (/metrics, /healthz, /readyz). Labels are bounded sets (event type, profile name, rule id,
// severity, kind, tier, verdict, sink): never a pid or a path. Every family is exposed from
// start, so dashboards and alerting rules never meet a missing metric.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "common/kernel_stats.h"
#include "common/result.h"
#include "export/health.h"

namespace vigil::exporter {

class Exposition; // the registry plus HELP/TYPE of families still without series

// Counters one alert sink keeps (see vigil_alert_sink_*). Owned by Metrics; valid for its life.
struct SinkCounters {
  prometheus::Counter *delivered = nullptr; // alerts accepted by the destination
  prometheus::Counter *failed = nullptr;    // attempts that failed (each retry counts)
  prometheus::Counter *dropped = nullptr;   // alerts given up: queue full or retries exhausted
  prometheus::Gauge *queue = nullptr;       // alerts waiting in the sink's queue
};

class Metrics {
public:
  // Distinct process names (comm) kept as label values of vigil_process_alerts_total; later
  // names are counted under "other", so an agent that renames itself cannot grow the series.
  static constexpr size_t kMaxProcessLabels = 64;
  // Likewise for namespaces in vigil_namespace_alerts_total.
  static constexpr size_t kMaxNamespaceLabels = 64;
  // Longest label value taken from agent-controlled text (escaped, see common/text.h).
  static constexpr size_t kMaxLabelBytes = 64;

  Metrics();
  ~Metrics();
  // Serves /metrics, /healthz and /readyz on host:port ("127.0.0.1:9476"; IPv6 hosts in
  // brackets, "[::1]:9476"; port 0 picks a free one, see port()). Error when the address is bad
  // or taken.
  Result<> serve(const std::string &address);
  // The port actually listened on, 0 before serve().
  int port() const;

  Health &health() { return health_; }

  // Pre-creates the per-profile series (events by type, egress bytes) at zero.
  void profile_loaded(const std::string &profile);
  void profiles_loaded(size_t n);
  void event(std::string_view type, const std::string &profile);
  void alert(const std::string &rule, std::string_view severity, const std::string &profile);
  // Alerts of pods by namespace (at most kMaxNamespaceLabels, then "other"), profile and rule.
  void namespace_alert(const std::string &ns, const std::string &profile, const std::string &rule);
  // An event from an agent cgroup that no known pod and container holds (Kubernetes mode).
  void unmapped_event();
  // The pod watch: pods known on the node, and the watcher's cumulative counters.
  void kubernetes(size_t pods, uint64_t relists_total, uint64_t errors_total);
  // Alerts by process name, with the label set capped at kMaxProcessLabels.
  void process_alert(const std::string &profile, const std::string &comm);
  // An enforcement decision: kind file|network|ipc|process, tier lsm|cgroup|fanotify,
  // verdict allowed|denied|would-deny.
  void decision(std::string_view kind, std::string_view tier, std::string_view verdict);
  // Pre-creates the decision series of a kind at zero for the tier in force.
  void decisions_possible(std::string_view kind, std::string_view tier);
  // A connect or send to a destination outside the agent: scope is a bounded class of the
  // address (see scope_of()), verdict as in decision().
  void egress_connection(const std::string &profile, std::string_view scope,
                         std::string_view verdict);
  void egress_bytes(const std::string &profile, uint64_t bytes);
  // Seconds from the kernel's timestamp of the event to the alert handed to the sinks.
  void alert_latency(double seconds);
  void decode_error();
  void queue_drop();
  void queue_depth(size_t n, size_t capacity);
  // Kernel counters are cumulative sums over CPUs; the exported counters follow them.
  void kernel_stats(const KernelStats &s);
  void agent_cgroups(size_t n);
  // vigil_enforcement_tier{kind, tier} = 1 for the tier in force.
  void enforcement_tier(const std::string &kind, std::string_view tier);
  // vigil_self_protection{attempt, by} = 1: how the kernel stops each kind of attempt on vigil
  // ("refused", "killed", "rate-limited", or "none").
  void self_protection(std::string_view attempt, std::string_view by);

  // Tables the agent can grow (kTables): entries now
  // (vigil_table_entries{table}) and entries pushed out by their bound since the start
  // (vigil_table_evictions_total{table}; evictions_total is cumulative, the counter follows it).
  static constexpr std::string_view kTables[] = {"process", "sequence", "volume", "baseline",
                                                 "dedup", "cgroup_names"};
  void table(std::string_view name, size_t entries, uint64_t evictions_total);
  // Processes found gone from /proc whose exit event never arrived (cumulative).
  void exits_missed(uint64_t total);
  // Failed writes of learned egress baselines (cumulative).
  void baseline_save_errors(uint64_t total);
  // The fanotify file guard's running totals (tier 2): permission events answered, internal
  // errors (each allowed), inodes cached as allowed in the kernel, allowed opens that could not
  // be cached, agent mounts marked.
  struct FileGuard {
    uint64_t events = 0, denied = 0, errors = 0, cached = 0, uncached = 0, mounts = 0;
  };
  void file_guard(const FileGuard &g);

  // Response actions: one carried out (done), asked for but already in force (suppressed) or
  // failed; action freeze | kill | isolate | run | thaw | restore. The profile's series of the
  // four actions exist from profile_loaded() at zero.
  void response_action(std::string_view action, std::string_view result,
                       const std::string &profile);
  // Confined agent cgroups frozen and isolated now.
  void contained_agents(size_t frozen, size_t isolated);
  // The daemon listens on its control socket (`vigil resume` can lift an isolation); 0 in vigil
  // run, which takes SIGUSR1 instead, and in a daemon that could not take its socket.
  void control_socket(bool listening);

  // Fed by the detection layer: rules in force, and failed reloads of rule files.
  void rules_loaded(size_t n);
  void reload_failure();
  // Fed by the event log.
  void eventlog_written(uint64_t bytes);
  void eventlog_dropped(uint64_t records = 1);
  void eventlog_segment_deleted();
  void eventlog_write_error();

  // The counters of one alert sink, created at zero; name is the sink kind (stderr, json,
  // falco, webhook, alertmanager).
  SinkCounters sink(const std::string &name);

  prometheus::Registry &registry() { return *registry_; }

private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<Exposition> exposition_;
  Health health_; // before exposer_: the server's threads read it until the server is gone
  std::unique_ptr<prometheus::Exposer> exposer_;
  prometheus::Family<prometheus::Counter> &events_;
  prometheus::Family<prometheus::Counter> &alerts_;
  prometheus::Family<prometheus::Counter> &process_alerts_;
  prometheus::Family<prometheus::Counter> &namespace_alerts_;
  prometheus::Family<prometheus::Counter> &decisions_;
  prometheus::Family<prometheus::Counter> &egress_connections_;
  prometheus::Family<prometheus::Counter> &egress_bytes_;
  prometheus::Family<prometheus::Gauge> &tiers_;
  prometheus::Family<prometheus::Counter> &sink_delivered_;
  prometheus::Family<prometheus::Counter> &sink_failed_;
  prometheus::Family<prometheus::Counter> &sink_dropped_;
  prometheus::Family<prometheus::Gauge> &sink_queue_;
  prometheus::Histogram &latency_;
  prometheus::Counter &decode_errors_;
  prometheus::Counter &queue_drops_;
  prometheus::Gauge &queue_depth_;
  prometheus::Gauge &queue_capacity_;
  prometheus::Counter &ringbuf_drops_;
  prometheus::Gauge &ringbuf_used_;
  prometheus::Gauge &ringbuf_size_;
  prometheus::Counter &stash_drops_;
  prometheus::Counter &path_truncated_;
  prometheus::Counter &kernel_events_;
  prometheus::Family<prometheus::Gauge> &protection_;
  prometheus::Counter &throttled_;
  prometheus::Counter &reserved_;
  prometheus::Counter &inbound_;
  prometheus::Counter &tamper_;
  prometheus::Gauge &agent_cgroups_;
  prometheus::Gauge &profiles_;
  prometheus::Gauge &rules_;
  prometheus::Counter &reload_failures_;
  prometheus::Counter &log_bytes_;
  prometheus::Counter &log_dropped_;
  prometheus::Counter &log_segments_deleted_;
  prometheus::Counter &log_write_errors_;
  prometheus::Counter &k8s_unmapped_;
  prometheus::Gauge &k8s_pods_;
  prometheus::Counter &k8s_relists_;
  prometheus::Counter &k8s_errors_;
  prometheus::Family<prometheus::Gauge> &table_entries_;
  prometheus::Family<prometheus::Counter> &table_evictions_;
  prometheus::Counter &exits_missed_;
  prometheus::Counter &baseline_save_errors_;
  prometheus::Counter &guard_events_;
  prometheus::Counter &guard_denied_;
  prometheus::Counter &guard_errors_;
  prometheus::Counter &guard_uncached_;
  prometheus::Gauge &guard_cached_;
  prometheus::Gauge &guard_mounts_;
  prometheus::Family<prometheus::Counter> &responses_;
  prometheus::Family<prometheus::Gauge> &contained_;
  prometheus::Gauge &control_socket_;
  FileGuard guard_seen_{}; // guarded by mu_
  uint64_t k8s_relists_seen_ = 0, k8s_errors_seen_ = 0; // guarded by mu_
  std::map<std::string, uint64_t, std::less<>> table_evictions_seen_; // guarded by mu_
  uint64_t exits_missed_seen_ = 0;                                    // guarded by mu_
  uint64_t baseline_save_errors_seen_ = 0;                            // guarded by mu_
  KernelStats last_{};
  std::set<std::string> process_labels_; // guarded by mu_
  std::set<std::string> namespace_labels_; // guarded by mu_
  // vigil_events_total's series by profile, then type, so that the per-event update finds its
  // counter without building a label set (Family::Add makes a std::map per call: 6 allocations).
  // The family never removes a series, so the pointers stay valid. Guarded by mu_.
  std::map<std::string, std::map<std::string, prometheus::Counter *, std::less<>>, std::less<>>
      event_series_;
  std::mutex mu_;
};

// The address class used as the scope label of egress metrics: loopback, private (RFC 1918,
// ULA), link-local (cloud metadata lives here), multicast, public, or unix.
std::string_view scope_of(std::string_view family, const std::string &ip);

} // namespace vigil::exporter
