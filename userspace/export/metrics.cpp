// SPDX-License-Identifier: Apache-2.0
// Metric families, the /metrics endpoint, and /healthz and /readyz on the same listener.
#include "export/metrics.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include <CivetServer.h>
#include <civetweb.h>

#include "common/text.h"
#include "vigil/abi.h"

namespace vigil::exporter {

// prometheus-cpp leaves a family without children out of the exposition entirely. A labelled
// family that has seen no value yet (no alert raised) is still part of what vigil exposes, so
// this collectable adds its HELP and TYPE lines: a scrape then names every family from start.
class Exposition : public prometheus::Collectable {
public:
  explicit Exposition(std::shared_ptr<prometheus::Registry> r) : registry_(std::move(r)) {}
  std::vector<prometheus::MetricFamily> Collect() const override
  {
    auto families = registry_->Collect();
    std::set<std::string> present;
    for (const auto &f : families)
      present.insert(f.name);
    for (const auto &d : declared_)
      if (!present.count(d.name))
        families.push_back(d);
    return families;
  }
  void declare(const std::string &name, const std::string &help, prometheus::MetricType type)
  {
    declared_.push_back(prometheus::MetricFamily{name, help, type, {}});
  }

private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::vector<prometheus::MetricFamily> declared_;
};

namespace {

// A counter that follows a running total kept elsewhere: adds what the total grew by since the
// last call (seen), and remembers it. A total that went down (its source restarted) adds nothing.
void follow(prometheus::Counter &c, uint64_t now, uint64_t &seen)
{
  if (now > seen)
    c.Increment(static_cast<double>(now - seen));
  seen = now;
}

prometheus::Counter &counter(prometheus::Registry &r, const std::string &name,
                             const std::string &help)
{
  return prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
}

prometheus::Gauge &gauge(prometheus::Registry &r, const std::string &name, const std::string &help)
{
  return prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
}

template <typename Builder>
auto &family(prometheus::Registry &r, Exposition &e, Builder b, const std::string &name,
             const std::string &help, prometheus::MetricType type)
{
  e.declare(name, help, type);
  return b.Name(name).Help(help).Register(r);
}

// civetweb calls begin_request for every request before its own handlers (prometheus-cpp's
// /metrics among them). Exposer hides its CivetServer, so each server's context is mapped to
// the Health it serves when civetweb announces the context (init_context runs inside the
// Exposer constructor, on the constructing thread).
std::mutex g_health_mu;
std::map<const mg_context *, const Health *> g_health; // guarded by g_health_mu
thread_local const Health *t_constructing = nullptr;

void on_init_context(const mg_context *ctx)
{
  std::lock_guard lock(g_health_mu);
  g_health[ctx] = t_constructing;
}

void on_exit_context(const mg_context *ctx)
{
  std::lock_guard lock(g_health_mu);
  g_health.erase(ctx);
}

int on_begin_request(mg_connection *conn)
{
  const mg_request_info *info = mg_get_request_info(conn);
  const char *uri = info && info->local_uri ? info->local_uri : "";
  const bool healthz = std::strcmp(uri, "/healthz") == 0;
  if (!healthz && std::strcmp(uri, "/readyz") != 0)
    return 0; // civetweb serves it (/metrics) or answers 404
  Health::Report r{false, "FAIL no health state\n"};
  {
    std::lock_guard lock(g_health_mu);
    auto it = g_health.find(mg_get_context(conn));
    if (it != g_health.end() && it->second)
      r = healthz ? it->second->live() : it->second->ready();
  }
  const int status = r.ok ? 200 : 503;
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Cache-Control: no-store\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
            status, r.ok ? "OK" : "Service Unavailable", r.text.size());
  mg_write(conn, r.text.data(), r.text.size());
  return status;
}

} // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      exposition_(std::make_shared<Exposition>(registry_)),
      events_(family(*registry_, *exposition_, prometheus::BuildCounter(), "vigil_events_total",
                     "Kernel events received from agent cgroups, by type and profile",
                     prometheus::MetricType::Counter)),
      alerts_(family(*registry_, *exposition_, prometheus::BuildCounter(), "vigil_alerts_total",
                     "Alerts raised, by rule, severity and profile",
                     prometheus::MetricType::Counter)),
      process_alerts_(family(*registry_, *exposition_, prometheus::BuildCounter(),
                             "vigil_process_alerts_total",
                             "Alerts raised, by profile and process name (at most 64 names; "
                             "later ones count as \"other\")",
                             prometheus::MetricType::Counter)),
      namespace_alerts_(family(*registry_, *exposition_, prometheus::BuildCounter(),
                               "vigil_namespace_alerts_total",
                               "Alerts raised in Kubernetes pods, by namespace (at most 64; "
                               "later ones count as \"other\"), profile and rule",
                               prometheus::MetricType::Counter)),
      decisions_(family(*registry_, *exposition_, prometheus::BuildCounter(),
                        "vigil_enforcement_decisions_total",
                        "Enforcement decisions on agent operations, by kind of object, tier "
                        "and verdict (allowed, denied, would-deny)",
                        prometheus::MetricType::Counter)),
      egress_connections_(family(*registry_, *exposition_, prometheus::BuildCounter(),
                                 "vigil_egress_connections_total",
                                 "Connects and sends of agents, by profile, destination scope "
                                 "and verdict",
                                 prometheus::MetricType::Counter)),
      egress_bytes_(family(*registry_, *exposition_, prometheus::BuildCounter(),
                           "vigil_egress_bytes_total", "Bytes agents sent out, by profile",
                           prometheus::MetricType::Counter)),
      tiers_(family(*registry_, *exposition_, prometheus::BuildGauge(), "vigil_enforcement_tier",
                    "Enforcement tier in force per kind of object (file, network); the value "
                    "is 1",
                    prometheus::MetricType::Gauge)),
      sink_delivered_(family(*registry_, *exposition_, prometheus::BuildCounter(),
                             "vigil_alert_sink_delivered_total",
                             "Alerts an output delivered, by sink",
                             prometheus::MetricType::Counter)),
      sink_failed_(family(*registry_, *exposition_, prometheus::BuildCounter(),
                          "vigil_alert_sink_failed_total",
                          "Delivery attempts that failed (each retry counts), by sink",
                          prometheus::MetricType::Counter)),
      sink_dropped_(family(*registry_, *exposition_, prometheus::BuildCounter(),
                           "vigil_alert_sink_dropped_total",
                           "Alerts an output gave up (queue full or retries exhausted), by sink",
                           prometheus::MetricType::Counter)),
      sink_queue_(family(*registry_, *exposition_, prometheus::BuildGauge(),
                         "vigil_alert_sink_queue_depth", "Alerts waiting in an output's queue",
                         prometheus::MetricType::Gauge)),
      latency_(prometheus::BuildHistogram()
                   .Name("vigil_alert_latency_seconds")
                   .Help("Time from the kernel event to its alert handed to the outputs")
                   .Register(*registry_)
                   .Add({}, prometheus::Histogram::BucketBoundaries{
                                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10})),
      decode_errors_(counter(*registry_, "vigil_decode_errors_total",
                             "Ring-buffer records that could not be decoded")),
      queue_drops_(counter(*registry_, "vigil_queue_drops_total",
                           "Events dropped because the userspace queue was full")),
      queue_depth_(gauge(*registry_, "vigil_queue_depth",
                         "Events waiting in the userspace queue between ring reader and worker")),
      queue_capacity_(
          gauge(*registry_, "vigil_queue_capacity", "Capacity of the userspace event queue")),
      ringbuf_drops_(counter(*registry_, "vigil_ringbuf_drops_total",
                             "Events lost in the kernel because the ring buffer was full")),
      ringbuf_used_(gauge(*registry_, "vigil_ringbuf_used_bytes",
                          "Bytes written to the kernel ring buffer and not yet consumed")),
      ringbuf_size_(gauge(*registry_, "vigil_ringbuf_size_bytes",
                          "Size of the kernel ring buffer")),
      stash_drops_(counter(*registry_, "vigil_kernel_stash_drops_total",
                           "Syscall events lost because the enter/exit stash was full")),
      path_truncated_(counter(*registry_, "vigil_kernel_path_truncated_total",
                              "Paths cut short by the kernel-side path walk")),
      kernel_events_(counter(*registry_, "vigil_kernel_events_total",
                             "Events the kernel programs submitted to the ring buffer")),
      protection_(family(*registry_, *exposition_, prometheus::BuildGauge(),
                         "vigil_self_protection",
                         "1 per kind of attempt on vigil (attempt) with how this kernel stops it "
                         "(by: refused, killed, rate-limited, none)",
                         prometheus::MetricType::Gauge)),
      throttled_(counter(*registry_, "vigil_kernel_throttled_events_total",
                         "Observation events dropped in the kernel by agent cgroups' rate "
                         "limits (limits.events_per_second); decisions are never dropped")),
      reserved_(counter(*registry_, "vigil_kernel_reserved_drops_total",
                        "Observation events dropped in the kernel because the ring was three "
                        "quarters full: its last quarter is kept for decisions (denials, "
                        "audits, kills, tamper reports)")),
      inbound_(counter(*registry_, "vigil_kernel_inbound_packets_total",
                       "Packets from outside an agent that opened (or tried to open) a connection "
                       "to one of its sockets, dropped or audited by the ingress packet program; "
                       "each flow is alerted once")),
      tamper_(counter(*registry_, "vigil_kernel_tamper_attempts_total",
                      "Attempts by agents to switch vigil off or leave their cgroup, as the "
                      "kernel counted them (denied, audited or killed)")),
      agent_cgroups_(
          gauge(*registry_, "vigil_agent_cgroups", "Agent cgroups currently confined")),
      profiles_(gauge(*registry_, "vigil_profiles_loaded", "Profiles installed")),
      rules_(gauge(*registry_, "vigil_rules_loaded", "Detection rules in force")),
      reload_failures_(counter(*registry_, "vigil_rule_reload_failures_total",
                               "Rule or profile reloads that failed (the old rules stay)")),
      log_bytes_(counter(*registry_, "vigil_eventlog_written_bytes_total",
                         "Bytes written to the event log")),
      log_dropped_(counter(*registry_, "vigil_eventlog_dropped_records_total",
                           "Records the event log could not keep")),
      log_segments_deleted_(counter(*registry_, "vigil_eventlog_segments_deleted_total",
                                    "Event log segments deleted by retention")),
      log_write_errors_(counter(*registry_, "vigil_eventlog_write_errors_total",
                                "Failed writes to the event log")),
      k8s_unmapped_(counter(*registry_, "vigil_k8s_unmapped_events_total",
                            "Events from agent cgroups that no known pod and container holds")),
      k8s_pods_(gauge(*registry_, "vigil_k8s_pods", "Pods on this node known from the API")),
      k8s_relists_(counter(*registry_, "vigil_k8s_api_relists_total",
                           "Pod lists repeated because the watch's resourceVersion expired")),
      k8s_errors_(counter(*registry_, "vigil_k8s_api_errors_total",
                          "Failed Kubernetes API requests and undecodable answers")),
      table_entries_(family(*registry_, *exposition_, prometheus::BuildGauge(),
                            "vigil_table_entries",
                            "Entries in a table agents can grow (process, sequence, volume, "
                            "baseline, dedup, cgroup_names), each bounded",
                            prometheus::MetricType::Gauge)),
      table_evictions_(family(*registry_, *exposition_, prometheus::BuildCounter(),
                              "vigil_table_evictions_total",
                              "Entries a table's bound pushed out (the oldest or least recently "
                              "seen first), by table",
                              prometheus::MetricType::Counter)),
      exits_missed_(counter(*registry_, "vigil_process_exits_missed_total",
                            "Processes found gone from /proc whose exit event never arrived")),
      baseline_save_errors_(counter(*registry_, "vigil_baseline_save_errors_total",
                                    "Failed writes of learned egress baselines (state_dir)")),
      guard_events_(counter(*registry_, "vigil_fanotify_events_total",
                            "Permission events the fanotify file guard answered (tier 2)")),
      guard_denied_(counter(*registry_, "vigil_fanotify_denied_total",
                            "Permission events the fanotify file guard answered with a denial")),
      guard_errors_(counter(*registry_, "vigil_fanotify_errors_total",
                            "Internal errors of the fanotify file guard (each such open was "
                            "allowed)")),
      guard_uncached_(counter(*registry_, "vigil_fanotify_uncached_total",
                              "Allowed opens of an agent that could not be cached in the kernel "
                              "(the cache's bound or fs.fanotify.max_user_marks)")),
      guard_cached_(gauge(*registry_, "vigil_fanotify_cached_inodes",
                          "Inodes the kernel allows without asking vigil (ignore marks)")),
      guard_mounts_(gauge(*registry_, "vigil_fanotify_agent_mounts",
                          "Mounts of agents' own mount namespaces whose every open vigil "
                          "decides")),
      responses_(family(*registry_, *exposition_, prometheus::BuildCounter(),
                        "vigil_response_actions_total",
                        "Response actions on agent cgroups (action: freeze, kill, isolate, run, "
                        "thaw, restore) by result (done, suppressed: already in force or in its "
                        "cooldown, failed) and the profile of the alert that asked",
                        prometheus::MetricType::Counter)),
      contained_(family(*registry_, *exposition_, prometheus::BuildGauge(),
                        "vigil_contained_agents",
                        "Confined agent cgroups held by a response now (state: frozen, isolated)",
                        prometheus::MetricType::Gauge)),
      control_socket_(gauge(*registry_, "vigil_control_socket_listening",
                            "1 when the daemon listens on its control socket (vigil resume "
                            "reaches it); 0 in vigil run and in a daemon without one"))
{
  for (const char *state : {"frozen", "isolated"})
    contained_.Add({{"state", state}});
  for (std::string_view t : kTables) {
    table_entries_.Add({{"table", std::string(t)}});
    table_evictions_.Add({{"table", std::string(t)}});
  }
  prometheus::BuildGauge()
      .Name("vigil_build_info")
      .Help("Build information; the value is always 1")
      .Register(*registry_)
      .Add({{"version", VIGIL_VERSION},
            {"abi", std::to_string(VG_ABI_MAJOR) + "." + std::to_string(VG_ABI_MINOR)}})
      .Set(1);
}

Metrics::~Metrics() = default;

Result<> Metrics::serve(const std::string &address)
{
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size())
    return fail("metrics address '" + address + "' is not HOST:PORT");
  CivetCallbacks callbacks;
  callbacks.begin_request = on_begin_request;
  callbacks.init_context = on_init_context;
  callbacks.exit_context = on_exit_context;
  t_constructing = &health_;
  try {
    // civetweb wants "host:port"; IPv6 hosts must be bracketed by the caller ("[::1]:9476").
    exposer_ = std::make_unique<prometheus::Exposer>(address, 2, &callbacks);
  } catch (const std::exception &e) {
    t_constructing = nullptr;
    return fail("cannot serve metrics on " + address + ": " + e.what());
  }
  t_constructing = nullptr;
  exposer_->RegisterCollectable(exposition_);
  return {};
}

int Metrics::port() const
{
  if (!exposer_)
    return 0;
  auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

void Metrics::profile_loaded(const std::string &profile)
{
  for (const char *type : {"exec", "fork", "exit", "open", "connect", "ptrace", "socket"})
    events_.Add({{"type", type}, {"profile", profile}});
  egress_bytes_.Add({{"profile", profile}});
  for (const char *action : {"freeze", "kill", "isolate", "run"})
    for (const char *result : {"done", "suppressed", "failed"})
      responses_.Add({{"action", action}, {"result", result}, {"profile", profile}});
}

void Metrics::response_action(std::string_view action, std::string_view result,
                              const std::string &profile)
{
  responses_
      .Add({{"action", std::string(action)},
            {"result", std::string(result)},
            {"profile", profile}})
      .Increment();
}

void Metrics::control_socket(bool listening)
{
  control_socket_.Set(listening ? 1 : 0);
}

void Metrics::contained_agents(size_t frozen, size_t isolated)
{
  contained_.Add({{"state", "frozen"}}).Set(static_cast<double>(frozen));
  contained_.Add({{"state", "isolated"}}).Set(static_cast<double>(isolated));
}

void Metrics::profiles_loaded(size_t n)
{
  profiles_.Set(static_cast<double>(n));
  health_.set_profiles(n);
}

void Metrics::event(std::string_view type, const std::string &profile)
{
  std::lock_guard lock(mu_);
  auto &by_type = event_series_[profile];
  auto it = by_type.find(type);
  if (it == by_type.end())
    it = by_type
             .emplace(std::string(type),
                      &events_.Add({{"type", std::string(type)}, {"profile", profile}}))
             .first;
  it->second->Increment();
}

void Metrics::alert(const std::string &rule, std::string_view severity, const std::string &profile)
{
  alerts_.Add({{"rule", rule}, {"severity", std::string(severity)}, {"profile", profile}})
      .Increment();
}

void Metrics::namespace_alert(const std::string &ns, const std::string &profile,
                              const std::string &rule)
{
  std::string name = escape_bounded(ns, kMaxLabelBytes);
  {
    std::lock_guard lock(mu_);
    if (!namespace_labels_.count(name)) {
      if (namespace_labels_.size() >= kMaxNamespaceLabels)
        name = "other";
      else
        namespace_labels_.insert(name);
    }
  }
  namespace_alerts_.Add({{"namespace", name}, {"profile", profile}, {"rule", rule}}).Increment();
}

void Metrics::unmapped_event()
{
  k8s_unmapped_.Increment();
}

void Metrics::kubernetes(size_t pods, uint64_t relists_total, uint64_t errors_total)
{
  std::lock_guard lock(mu_);
  k8s_pods_.Set(static_cast<double>(pods));
  follow(k8s_relists_, relists_total, k8s_relists_seen_);
  follow(k8s_errors_, errors_total, k8s_errors_seen_);
}

void Metrics::table(std::string_view name, size_t entries, uint64_t evictions_total)
{
  const std::string t(name);
  table_entries_.Add({{"table", t}}).Set(static_cast<double>(entries));
  std::lock_guard lock(mu_);
  auto it = table_evictions_seen_.find(name);
  if (it == table_evictions_seen_.end())
    it = table_evictions_seen_.emplace(t, 0).first;
  if (evictions_total > it->second)
    table_evictions_.Add({{"table", t}})
        .Increment(static_cast<double>(evictions_total - it->second));
  it->second = evictions_total;
}

void Metrics::exits_missed(uint64_t total)
{
  std::lock_guard lock(mu_);
  follow(exits_missed_, total, exits_missed_seen_);
}

void Metrics::file_guard(const FileGuard &g)
{
  std::lock_guard lock(mu_);
  follow(guard_events_, g.events, guard_seen_.events);
  follow(guard_denied_, g.denied, guard_seen_.denied);
  follow(guard_errors_, g.errors, guard_seen_.errors);
  follow(guard_uncached_, g.uncached, guard_seen_.uncached);
  guard_cached_.Set(static_cast<double>(g.cached));
  guard_mounts_.Set(static_cast<double>(g.mounts));
}

void Metrics::baseline_save_errors(uint64_t total)
{
  std::lock_guard lock(mu_);
  follow(baseline_save_errors_, total, baseline_save_errors_seen_);
}

void Metrics::process_alert(const std::string &profile, const std::string &comm)
{
  // A label value must be UTF-8 and should be short: the kernel's comm is 15 bytes of whatever
  // the agent chose.
  std::string name = comm.empty() ? "unknown" : escape_bounded(comm, kMaxLabelBytes);
  {
    std::lock_guard lock(mu_);
    if (!process_labels_.count(name)) {
      if (process_labels_.size() >= kMaxProcessLabels)
        name = "other";
      else
        process_labels_.insert(name);
    }
  }
  process_alerts_.Add({{"profile", profile}, {"process", name}}).Increment();
}

void Metrics::decision(std::string_view kind, std::string_view tier, std::string_view verdict)
{
  decisions_
      .Add({{"kind", std::string(kind)},
            {"tier", std::string(tier)},
            {"verdict", std::string(verdict)}})
      .Increment();
}

void Metrics::decisions_possible(std::string_view kind, std::string_view tier)
{
  for (const char *verdict : {"allowed", "denied", "would-deny"})
    decisions_.Add(
        {{"kind", std::string(kind)}, {"tier", std::string(tier)}, {"verdict", verdict}});
}

void Metrics::egress_connection(const std::string &profile, std::string_view scope,
                                std::string_view verdict)
{
  egress_connections_
      .Add({{"profile", profile}, {"scope", std::string(scope)}, {"verdict", std::string(verdict)}})
      .Increment();
}

void Metrics::egress_bytes(const std::string &profile, uint64_t bytes)
{
  egress_bytes_.Add({{"profile", profile}}).Increment(static_cast<double>(bytes));
}

void Metrics::alert_latency(double seconds)
{
  latency_.Observe(seconds < 0 ? 0 : seconds);
}

void Metrics::decode_error()
{
  decode_errors_.Increment();
}

void Metrics::queue_drop()
{
  queue_drops_.Increment();
}

void Metrics::queue_depth(size_t n, size_t capacity)
{
  queue_depth_.Set(static_cast<double>(n));
  queue_capacity_.Set(static_cast<double>(capacity));
}

void Metrics::kernel_stats(const KernelStats &s)
{
  std::lock_guard lock(mu_);
  follow(ringbuf_drops_, s.ringbuf_full, last_.ringbuf_full);
  follow(stash_drops_, s.stash_full, last_.stash_full);
  follow(path_truncated_, s.path_truncated, last_.path_truncated);
  follow(kernel_events_, s.events, last_.events);
  follow(throttled_, s.throttled, last_.throttled);
  follow(reserved_, s.reserved, last_.reserved);
  follow(inbound_, s.inbound, last_.inbound);
  follow(tamper_, s.tamper, last_.tamper);
  ringbuf_used_.Set(static_cast<double>(s.ring_used_bytes));
  ringbuf_size_.Set(static_cast<double>(s.ring_size_bytes));
}

void Metrics::self_protection(std::string_view attempt, std::string_view by)
{
  protection_.Add({{"attempt", std::string(attempt)}, {"by", std::string(by)}}).Set(1);
}

void Metrics::enforcement_tier(const std::string &kind, std::string_view tier)
{
  tiers_.Add({{"kind", kind}, {"tier", std::string(tier)}}).Set(1);
}

void Metrics::agent_cgroups(size_t n)
{
  agent_cgroups_.Set(static_cast<double>(n));
}

void Metrics::rules_loaded(size_t n)
{
  rules_.Set(static_cast<double>(n));
}

void Metrics::reload_failure()
{
  reload_failures_.Increment();
}

void Metrics::eventlog_written(uint64_t bytes)
{
  log_bytes_.Increment(static_cast<double>(bytes));
}

void Metrics::eventlog_dropped(uint64_t records)
{
  log_dropped_.Increment(static_cast<double>(records));
}

void Metrics::eventlog_segment_deleted()
{
  log_segments_deleted_.Increment();
}

void Metrics::eventlog_write_error()
{
  log_write_errors_.Increment();
}

SinkCounters Metrics::sink(const std::string &name)
{
  const prometheus::Labels l{{"sink", name}};
  return SinkCounters{&sink_delivered_.Add(l), &sink_failed_.Add(l), &sink_dropped_.Add(l),
                      &sink_queue_.Add(l)};
}

std::string_view scope_of(std::string_view family, const std::string &ip)
{
  if (family == "unix")
    return "unix";
  std::array<uint8_t, 16> a{};
  if (family == "ipv4" || ip.find(':') == std::string::npos) {
    std::array<uint8_t, 4> v4{};
    if (::inet_pton(AF_INET, ip.c_str(), v4.data()) != 1)
      return "unknown";
    a = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, v4[0], v4[1], v4[2], v4[3]};
  } else if (::inet_pton(AF_INET6, ip.c_str(), a.data()) != 1) {
    return "unknown";
  }
  static constexpr std::array<uint8_t, 12> kMapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(kMapped.begin(), kMapped.end(), a.begin())) {
    const uint8_t b0 = a[12], b1 = a[13];
    if (b0 == 127)
      return "loopback";
    if (b0 == 10 || (b0 == 172 && (b1 & 0xf0) == 16) || (b0 == 192 && b1 == 168) ||
        (b0 == 100 && (b1 & 0xc0) == 64)) // RFC 1918 and carrier-grade NAT
      return "private";
    if (b0 == 169 && b1 == 254)
      return "link-local";
    if (b0 >= 224 && b0 < 240)
      return "multicast";
    if (b0 == 0)
      return "unspecified";
    return "public";
  }
  static constexpr std::array<uint8_t, 16> kLoop{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  if (a == kLoop)
    return "loopback";
  if (std::all_of(a.begin(), a.end(), [](uint8_t b) { return b == 0; }))
    return "unspecified";
  if ((a[0] & 0xfe) == 0xfc)
    return "private"; // unique local fc00::/7
  if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
    return "link-local";
  if (a[0] == 0xff)
    return "multicast";
  return "public";
}

} // namespace vigil::exporter
