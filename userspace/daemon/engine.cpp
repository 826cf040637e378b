// SPDX-License-Identifier: Apache-2.0
// Engine wiring and agent cgroups; the threads are in engine_loops.cpp, the policy side
// (profiles, rules, egress host names) in engine_policy.cpp.
#include "daemon/engine.h"

#include <signal.h>
#include <unistd.h>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "loader/preflight.h"
#include <filesystem>
#include <set>

#include "common/kernel_ids.h"
#include "daemon/lsm_files.h"
#include "daemon/startup_log.h"
#include "policy/compile.h"
#include "vigil/abi.h"

namespace vigil::daemon {

void setup_logging(const std::string &level)
{
  auto logger = spdlog::stderr_color_mt("vigil");
  logger->set_pattern("%^vigil %l%$: %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
}

void apply_outputs(const Outputs &o, EngineOptions &eo)
{
  eo.alerts_to_stderr = o.stderr_lines;
  eo.alerts_json = o.json;
  eo.alerts_falco = o.falco;
  auto http = [](const HttpOutput &h, exporter::HttpSinkOptions::Kind kind) {
    exporter::HttpSinkOptions so;
    so.kind = kind;
    so.url = h.url;
    so.shape = h.format == "falco" ? exporter::JsonLinesSink::Shape::falco
                                   : exporter::JsonLinesSink::Shape::vigil;
    so.queue_capacity = static_cast<size_t>(h.queue);
    so.alertmanager_hold = std::chrono::seconds(h.hold_s);
    return so;
  };
  eo.webhook.reset();
  eo.alertmanager.reset();
  if (o.webhook)
    eo.webhook = http(*o.webhook, exporter::HttpSinkOptions::Kind::webhook);
  if (o.alertmanager)
    eo.alertmanager = http(*o.alertmanager, exporter::HttpSinkOptions::Kind::alertmanager);
}

Result<std::unique_ptr<Engine>> Engine::start(const EngineOptions &opts)
{
  if (auto r = loader::check_privileges(); !r)
    return tl::unexpected(r.error());
  if (auto r = loader::check_btf(); !r)
    return tl::unexpected(r.error());
  auto mount = cgroup::find_cgroup2_mount();
  if (!mount)
    return tl::unexpected(mount.error());
  auto mounted = loader::ensure_mounts();
  if (!mounted)
    return tl::unexpected(mounted.error());
  if (!mounted->empty())
    spdlog::info("mounted {}(missing, needed for tracepoints and pinning)", *mounted);
  loader::raise_memlock();
  loader::route_libbpf_logs();

  std::unique_ptr<Engine> e(new Engine());
  e->opts_ = opts;
  e->cgroup_mount_ = *mount;
  e->features_ = opts.features ? *opts.features : loader::probe_features();
  startup_step("kernel features probed");
  e->file_tier_ = e->features_.file_tier;
  e->net_tier_ = e->features_.net_tier;
  // Tier order is best first, so a cap is a maximum of the enum values.
  if (e->file_tier_ < opts.max_tier || e->net_tier_ < opts.max_tier) {
    const std::string why = "capped by the operator at " +
                            std::string(loader::tier_name(opts.max_tier, true)) + "/" +
                            std::string(loader::tier_name(opts.max_tier, false));
    if (e->file_tier_ < opts.max_tier) {
      e->file_tier_ = opts.max_tier;
      e->features_.file_reason = why;
    }
    if (e->net_tier_ < opts.max_tier) {
      e->net_tier_ = opts.max_tier;
      e->features_.net_reason = why;
    }
  }
  e->metrics_ = std::make_unique<exporter::Metrics>();
  e->metrics_->enforcement_tier("file", loader::tier_name(e->file_tier_, true));
  e->metrics_->enforcement_tier("network", loader::tier_name(e->net_tier_, false));
  if (e->file_tier_ != loader::Tier::monitor)
    e->metrics_->decisions_possible("file", loader::tier_name(e->file_tier_, true));
  if (e->net_tier_ != loader::Tier::monitor)
    e->metrics_->decisions_possible("network", loader::tier_name(e->net_tier_, false));
  for (const auto &p : loader::self_protection(e->uses_lsm()))
    e->metrics_->self_protection(p.attempt, p.by);
  e->log_tiers();
  if (opts.metrics_address) {
    if (auto r = e->metrics_->serve(*opts.metrics_address); !r)
      return tl::unexpected(r.error());
    spdlog::info("metrics on http://{}/metrics", *opts.metrics_address);
  }
  if (auto r = e->open_sinks(); !r)
    return tl::unexpected(r.error());
  e->procs_.set_fork_refreshes_parent(!opts.agent_mounts);
  e->procs_.seed();
  if (opts.log_dir) {
    eventlog::WriterOptions wo;
    wo.dir = *opts.log_dir;
    wo.segment_max_bytes = opts.log_segment_bytes;
    wo.segment_max_age = opts.log_segment_age;
    wo.total_max_bytes = opts.log_max_bytes;
    auto rec = Recorder::open(wo);
    if (!rec)
      return tl::unexpected(rec.error());
    e->recorder_ = std::move(*rec);
    if (opts.home)
      e->recorder_->set_home(*opts.home);
    e->recorder_->processes(e->procs_);
    spdlog::info("recording every event to {}", *opts.log_dir);
  }
  e->namer_ = std::make_unique<cgroup::Namer>(*mount);
  detect::Matcher::HomeResolver homes = detect::passwd_home;
  if (opts.home)
    homes = [home = *opts.home](uint32_t) { return home; };
  e->detector_ = std::make_unique<detect::Detector>(
      detect::Detector::Options{detect::proc_dir_of, std::move(homes), opts.state_dir, 65536});
  Engine *self = e.get();
  e->enricher_ = std::make_unique<detect::Enricher>(
      e->procs_, detect::local_hostname(), [self](uint64_t id) { return self->namer_->name(id); });
  if (opts.workloads)
    e->enricher_->set_workloads(opts.workloads);
  e->queue_ = std::make_unique<BoundedQueue<pipeline::Event>>(
      opts.queue_capacity, opts.queue_max_bytes, &pipeline::footprint);

  loader::Options lo;
  lo.cgroup_net = e->net_tier_ == loader::Tier::fallback;
  lo.lsm = e->uses_lsm();
  lo.pin_dir = opts.pin_dir;
  lo.ringbuf_bytes = opts.ring_bytes;
  // Where no deciding hook sees the agent's opens or connects (the monitor tier), only the
  // syscall tracepoints can: every process pays for them then (log_tiers() says so).
  lo.syscall_tracepoints = opts.syscall_tracepoints || e->file_tier_ == loader::Tier::monitor ||
                           e->net_tier_ == loader::Tier::monitor;
  lo.lsm_cgroup = opts.lsm_attach == "cgroup" ||
                  (opts.lsm_attach == "auto" && e->features_.lsm_cgroup.ok);
  e->homes_ = opts.home ? std::vector<std::string>{*opts.home} : login_homes();
  if (e->file_tier_ == loader::Tier::fallback) {
    auto fe = FileEnforcer::start(
        *mount,
        [self](pipeline::Event &&ev) {
          if (!self->queue_->try_push(std::move(ev))) // leaves ev alone when it refuses it
            self->count_drop(ev);
        },
        opts.agent_mounts);
    if (!fe)
      return tl::unexpected(with_context(fe.error(), "start the fanotify file guard"));
    e->files_ = std::move(*fe);
    startup_step("fanotify file guard started");
  }
  auto l = loader::Loader::start(lo,
                                 [self](std::span<const std::byte> d) { self->on_sample(d); });
  if (!l)
    return tl::unexpected(l.error());
  e->loader_ = std::move(*l);
  startup_step("BPF programs loaded and attached");
  for (const auto &note : e->loader_->pin_notes())
    e->raise_internal("vigil-pins-untrusted", policy::Severity::critical, note);
  if (lo.syscall_tracepoints)
    spdlog::warn("syscall tracepoints attached ({}): every process on this machine takes the "
                 "slow syscall path while vigil runs",
                 opts.syscall_tracepoints ? "asked for" : "the monitor tier has no other way to "
                                                          "see the agent's opens and connects");
  if (e->loader_->adopted()) {
    // What the kernel wrote while no daemon ran waits in the pinned ring until the policy is in
    // place (policy_ready()): read now, it would meet no profile and raise nothing.
    e->hold_ring_.store(true);
    // Cgroups confined by an earlier daemon that vanished while none ran: forget them.
    std::vector<uint64_t> live;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(*mount, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
      if (it->is_directory(ec))
        if (auto id = cgroup::cgroup_id(it->path().string()))
          live.push_back(*id);
    if (size_t n = e->loader_->prune_agents(live))
      spdlog::info("pruned {} agent cgroup(s) that vanished while no daemon ran", n);
  }
  if (*e->loader_->lsm_attach())
    spdlog::info("BPF LSM programs attached {}", e->loader_->lsm_attach() == std::string("cgroup")
                                                     ? "per agent cgroup (lsm_cgroup)"
                                                     : "globally, filtered by the agent map");
  e->metrics_->health().set_attached(true);
  e->start_responder(); // before the worker: it reads responder_ unlocked
  e->reader_beat_ = e->metrics_->health().add_thread("ring reader");
  e->worker_beat_ = e->metrics_->health().add_thread("pipeline worker");
  e->reader_ = std::thread([self] { self->reader_loop(); });
  e->scanner_ = std::thread([self] { self->scan_loop(); });
  e->hosts_ = std::thread([self] { self->hosts_loop(); });
  e->worker_ = std::thread([self] { self->worker_loop(); });
  return e;
}

Result<> Engine::open_sinks()
{
  if (opts_.alerts_to_stderr)
    sinks_.push_back(std::make_unique<exporter::StderrSink>());
  for (const auto &[path, shape] :
       {std::pair{opts_.alerts_json, exporter::JsonLinesSink::Shape::vigil},
        std::pair{opts_.alerts_falco, exporter::JsonLinesSink::Shape::falco}}) {
    if (!path)
      continue;
    auto sink = exporter::JsonLinesSink::open(*path, shape);
    if (!sink)
      return tl::unexpected(sink.error());
    sinks_.push_back(std::move(*sink));
  }
  for (const auto &[o, name] : {std::pair{opts_.webhook, "webhook"},
                                std::pair{opts_.alertmanager, "alertmanager"}}) {
    if (!o)
      continue;
    auto sink = exporter::HttpSink::start(*o, metrics_->sink(name));
    if (!sink)
      return tl::unexpected(sink.error());
    spdlog::info("alerts to {} at {}", name, o->url);
    sinks_.push_back(std::move(*sink));
  }
  return {};
}

Engine::~Engine()
{
  stop();
}

void Engine::log_tiers() const
{
  const auto &f = features_;
  spdlog::info("file enforcement: {} ({})", loader::tier_name(file_tier_, true), f.file_reason);
  spdlog::info("network enforcement: {} ({})", loader::tier_name(net_tier_, false), f.net_reason);
  if (file_tier_ == loader::Tier::monitor)
    spdlog::warn("NOTHING IS ENFORCED FOR FILES on this kernel: credential reads are only "
                 "observed and alerted ({})",
                 f.file_reason);
  if (net_tier_ == loader::Tier::monitor)
    spdlog::warn("NOTHING IS ENFORCED FOR THE NETWORK on this kernel: connects are only observed "
                 "and alerted ({})",
                 f.net_reason);
  if (!opts_.verbose_start) {
    if (const std::string gaps = kernel_gaps_line(uses_lsm()); !gaps.empty())
      spdlog::warn("self-protection: {}", gaps);
    return;
  }
  for (const auto &p : loader::self_protection(uses_lsm())) {
    if (std::string_view(p.by) == "none")
      spdlog::warn("self-protection: {} is NOT stopped by the kernel here (no BPF LSM): {}",
                   p.attempt, p.detail);
    else if (std::string_view(p.by) == "killed")
      spdlog::warn("self-protection: {} cannot be refused here (no BPF LSM); {}", p.attempt,
                   p.detail);
  }
}


void Engine::raise_internal(const std::string &rule, policy::Severity severity,
                            const std::string &output)
{
  detect::Alert a;
  a.time_ns = detect::Enricher::boot_to_realtime(boottime_ns());
  a.hostname = detect::local_hostname();
  a.rule = rule;
  a.severity = severity;
  a.output = output;
  a.tags = {"vigil"};
  std::lock_guard lock(state_mu_);
  metrics_->alert(a.rule, policy::to_string(a.severity), a.profile);
  alerts_.fetch_add(1);
  for (auto &sink : sinks_)
    sink->write(a);
}

bool Engine::report(pipeline::Event &&ev, int wait_ms)
{
  for (int waited = 0;; waited += 5) {
    // try_push leaves ev alone when it refuses it.
    if (queue_->try_push(std::move(ev)))
      return true;
    if (waited >= wait_ms) {
      count_drop(ev);
      return false;
    }
    ::usleep(5000); // backpressure: the queue's consumer runs meanwhile
  }
}

Result<size_t> Engine::guard_agent_mounts(pid_t pid)
{
  if (!files_)
    return size_t{0};
  return files_->watch_agent_mounts(pid);
}

Result<std::string> Engine::fifo_stand_in()
{
  if (!files_)
    return std::string();
  return files_->fifo_stand_in();
}

Result<uint64_t> Engine::confine(const std::string &dir, uint32_t profile_id)
{
  // The kernel finds an agent among a task's cgroup ancestors down to level VG_CGROUP_DEPTH;
  // an agent cgroup deeper than that would lose its confinement in its own sub-cgroups.
  const size_t level = cgroup::level_below(cgroup_mount_, dir);
  if (level >= VG_CGROUP_DEPTH)
    return tl::unexpected(
        Error{std::make_error_code(std::errc::invalid_argument),
              "cgroup " + dir + " is " + std::to_string(level) +
                  " levels deep: vigil confines cgroups above level " +
                  std::to_string(VG_CGROUP_DEPTH) +
                  " (deeper, an agent could leave its profile by moving into a sub-cgroup)"});
  auto id = cgroup::cgroup_id(dir);
  if (!id)
    return tl::unexpected(id.error());
  auto flags = loader_->add_agent_cgroup(dir, *id, profile_id);
  if (!flags)
    return tl::unexpected(flags.error());
  if ((*flags & VG_AGENT_ISOLATED) && responder_) {
    // Left by an earlier daemon (the pinned map keeps it): still isolated until `vigil resume`.
    responder_->adopt_isolated(*id);
    spdlog::warn("agent cgroup {} stays isolated (an isolate response before this daemon "
                 "started); `vigil resume {}` lifts it",
                 dir, dir);
  }
  // A cgroup found frozen (a freeze response before this daemon, or an operator's): it stays
  // so; a freeze_timeout the earlier daemon was counting does not carry over.
  if (auto frozen = cgroup::freeze_requested(dir); adopted() && frozen && *frozen)
    spdlog::warn("agent cgroup {} is frozen (before this daemon started); `vigil resume {}` "
                 "thaws it (a freeze_timeout set before does not carry over)",
                 dir, dir);
  std::lock_guard lock(state_mu_);
  namer_->add_root(dir);
  confined_.emplace_back(dir, *id);
  metrics_->agent_cgroups(confined_.size());
  agent_paths_[dir.substr(std::min(cgroup_mount_.size(), dir.size()))] = profile_id;
  if (files_)
    files_->set_agents(agent_paths_);
  if (recorder_) {
    const policy::Profile *p = detector_->profile(profile_id);
    recorder_->cgroup(*id, dir, profile_id, p ? p->name : "");
  }
  return *id;
}

Result<> Engine::release(const std::string &dir)
{
  uint64_t id = 0;
  {
    std::lock_guard lock(state_mu_);
    auto it = std::find_if(confined_.begin(), confined_.end(),
                           [&](const auto &c) { return c.first == dir; });
    if (it == confined_.end())
      return {};
    sample_volume(); // what the cgroup sent since the last read is still its agent's
    id = it->second;
    confined_.erase(it);
    metrics_->agent_cgroups(confined_.size());
    agent_paths_.erase(dir.substr(std::min(cgroup_mount_.size(), dir.size())));
    if (files_)
      files_->set_agents(agent_paths_);
  }
  if (responder_)
    responder_->forget(id);
  return loader_->remove_agent_cgroup(id);
}

size_t Engine::confined() const
{
  std::lock_guard lock(state_mu_);
  return confined_.size();
}

void Engine::process(pipeline::Event &ev)
{
  if (ev.hdr.tier == pipeline::Tier::fanotify || (ev.hdr.flags & VG_F_GUARD)) {
    if (const pipeline::ProcessInfo *p = procs_.find(ev.hdr.tgid)) {
      ev.hdr.uid = p->uid;
      ev.hdr.comm = p->comm;
    }
  }
  name_rule_file(ev);
  detector_->normalize(ev); // before the log: replay has no /proc to resolve relative paths
  if (recorder_) {
    recorder_->event(ev); // as processed, duplicates included: replay runs the same steps
    if (auto a = recorder_->take_alert()) { // the log started failing: an alert and a metric
      metrics_->alert(a->rule, policy::to_string(a->severity), a->profile);
      for (auto &sink : sinks_)
        sink->write(*a);
    }
  }
  if (dedup_.duplicate(ev))
    return;
  remember_open_path(ev);
  finish_kill(ev);
  procs_.apply(ev);
  if (opts_.workloads && ev.hdr.cgroup_id) {
    const std::string cg = namer_->name(ev.hdr.cgroup_id);
    auto w = cg.empty() ? std::nullopt : opts_.workloads(cg);
    if (!w || w->container.empty())
      metrics_->unmapped_event();
  }
  const policy::Profile *profile = detector_->profile(ev.hdr.profile_id);
  const std::string profile_name = profile ? profile->name : "unknown";
  metrics_->event(pipeline::to_string(ev.hdr.type), profile_name);
  count_decision(ev, profile_name);
  findings_.clear();
  detector_->evaluate(ev, procs_, findings_);
  for (const auto &f : findings_)
    emit(ev, f, profile);
}

bool Engine::learn_rule_file(uint64_t dev, uint64_t ino, const std::string &path)
{
  const bool guarded = !files_ || files_->learn_rule_file(dev, ino);
  std::lock_guard lock(state_mu_);
  return add_rule_name(kernel_dev(static_cast<dev_t>(dev)), ino, path) && guarded;
}

bool Engine::add_rule_name(uint32_t dev, uint64_t ino, const std::string &path)
{
  if (auto by_dev = rule_inodes_.find(dev);
      by_dev != rule_inodes_.end() && by_dev->second.count(ino))
    return true;
  if (rule_inode_count_ >= kMaxOpenPaths || rule_name_bytes_ + path.size() > kMaxRuleNameBytes)
    return false;
  rule_inodes_[dev].emplace(ino, path);
  ++rule_inode_count_;
  rule_name_bytes_ += path.size();
  return true;
}

void Engine::name_rule_file(pipeline::Event &ev) const
{
  auto *o = std::get_if<pipeline::OpenBody>(&ev.body);
  if (!o || rule_inodes_.empty() || ev.hdr.verdict != pipeline::Verdict::none || !o->resolved ||
      o->ino == 0)
    return;
  auto by_dev = rule_inodes_.find(o->dev);
  if (by_dev == rule_inodes_.end())
    return;
  auto it = by_dev->second.find(o->ino);
  if (it != by_dev->second.end() && it->second != o->path)
    o->path = it->second;
}

// The path of an inode tier 1 reported as opened: its count of repeats, taken from the kernel
// later, carries only the identity.
void Engine::remember_open_path(const pipeline::Event &ev)
{
  const auto *o = std::get_if<pipeline::OpenBody>(&ev.body);
  if (!o || ev.hdr.verdict != pipeline::Verdict::none || o->repeats || !o->resolved ||
      o->ino == 0 || !loader_ || !loader_->counts_opens())
    return;
  if (open_paths_size_ >= kMaxOpenPaths) {
    open_paths_.clear();
    open_paths_size_ = 0;
  }
  auto [it, fresh] = open_paths_[o->dev].try_emplace(o->ino, o->path);
  if (fresh)
    ++open_paths_size_;
  else if (it->second != o->path)
    it->second = o->path;
}

// With state_mu_ held: tier 1's counts of repeated opens become events (the log, the timeline
// and the metrics carry them; the rules saw the first open).
void Engine::report_open_counts()
{
  if (!loader_)
    return;
  loader_->drain_open_counts([this](const vg_open_seen_key &k, const vg_open_seen_val &v) {
    pipeline::Event ev;
    ev.hdr.type = pipeline::EventType::open;
    ev.hdr.ts_ns = v.last_ns;
    ev.hdr.cgroup_id = v.cgroup_id;
    ev.hdr.tgid = k.tgid;
    ev.hdr.tid = k.tgid;
    ev.hdr.uid = v.uid;
    ev.hdr.profile_id = v.profile_id; // tier none: observed, like the open it follows
    if (const pipeline::ProcessInfo *p = procs_.find(k.tgid))
      ev.hdr.comm = p->comm;
    pipeline::OpenBody o;
    o.call = pipeline::OpenCall::hook;
    o.dev = k.dev;
    o.ino = k.ino;
    o.flags = k.access & 3;
    if (auto d = open_paths_.find(k.dev); d != open_paths_.end())
      if (auto i = d->second.find(k.ino); i != d->second.end()) {
        o.path = i->second;
        o.resolved = true;
      }
    o.repeats = v.count;
    o.repeat_first_ns = v.first_ns;
    o.repeat_last_ns = v.last_ns;
    ev.body = std::move(o);
    process(ev);
  });
}

void Engine::emit(const pipeline::Event &ev, const detect::Finding &f,
                  const policy::Profile *profile)
{
  if (!profile)
    return;
  detect::Alert alert = enricher_->build(ev, f, *profile);
  metrics_->alert(alert.rule, policy::to_string(alert.severity), alert.profile);
  metrics_->process_alert(alert.profile, alert.comm);
  if (!alert.workload.ns.empty())
    metrics_->namespace_alert(alert.workload.ns, alert.profile, alert.rule);
  alerts_.fetch_add(1);
  for (auto &sink : sinks_)
    sink->write(alert);
  metrics_->alert_latency(static_cast<double>(boottime_ns() - ev.hdr.ts_ns) / 1e9);
  if (recorder_)
    recorder_->alert(alert);
  respond(alert, *profile);
}

// Decisions by kind, tier and verdict, and every agent connect by destination scope.
void Engine::count_decision(const pipeline::Event &ev, const std::string &profile)
{
  std::string_view kind;
  if (const auto *o = std::get_if<pipeline::OpenBody>(&ev.body)) {
    kind = o->ipc ? "ipc" : "file";
  } else if (const auto *c = std::get_if<pipeline::ConnectBody>(&ev.body)) {
    kind = c->ipc ? "ipc" : c->inbound ? "inbound" : "network";
    if (!c->ipc && !c->inbound) {
      const std::string_view family = c->family == 2 ? "ipv4" : c->family == 10 ? "ipv6" : "unix";
      metrics_->egress_connection(profile,
                                  exporter::scope_of(family, policy::ip_to_string(c->addr)),
                                  pipeline::to_string(ev.hdr.verdict));
    }
  } else if (std::holds_alternative<pipeline::SocketBody>(ev.body)) {
    kind = "network";
  } else if (std::holds_alternative<pipeline::PtraceBody>(ev.body)) {
    kind = "process";
  } else if (std::holds_alternative<pipeline::TamperBody>(ev.body)) {
    kind = "tamper";
  }
  if (kind.empty() || ev.hdr.verdict == pipeline::Verdict::none)
    return;
  metrics_->decision(kind, pipeline::to_string(ev.hdr.tier), pipeline::to_string(ev.hdr.verdict));
}

// The tables an agent can grow, for /metrics; every kSweepInterval the process table drops the
// processes whose exit event was lost. Under state_mu_.
void Engine::publish_tables()
{
  constexpr auto kSweepInterval = std::chrono::seconds(30);
  const auto now = std::chrono::steady_clock::now();
  if (now >= next_sweep_) {
    next_sweep_ = now + kSweepInterval;
    if (const size_t n = procs_.sweep())
      spdlog::debug("process table: {} process(es) gone without an exit event", n);
    metrics_->exits_missed(procs_.swept());
  }
  const detect::Detector::Stats d = detector_->stats();
  metrics_->table("process", procs_.size(), procs_.evictions());
  metrics_->table("sequence", d.sequence.size, d.sequence.evictions);
  metrics_->table("volume", d.volume.size, d.volume.evictions);
  metrics_->table("baseline", d.baseline.size, d.baseline.evictions);
  metrics_->table("dedup", dedup_.size(), dedup_.evictions());
  metrics_->table("cgroup_names", namer_->size(), namer_->evictions());
  metrics_->baseline_save_errors(d.baseline_save_errors);
  const uint64_t evicted = procs_.evictions() + d.sequence.evictions + d.volume.evictions +
                           d.baseline.evictions + dedup_.evictions() + namer_->evictions();
  if (evicted > tables_evicted_logged_ && now - tables_logged_at_ > std::chrono::seconds(60)) {
    spdlog::warn("bounded tables pushed out {} entries so far (process {}, sequence {}, volume {}, "
                 "baseline {}, dedup {}, cgroup names {}): an agent may be flooding them",
                 evicted, procs_.evictions(), d.sequence.evictions, d.volume.evictions,
                 d.baseline.evictions, dedup_.evictions(), namer_->evictions());
    tables_evicted_logged_ = evicted;
    tables_logged_at_ = now;
  }
}

// Egress byte counters -> egress_volume events: one per flow that sent bytes since the last
// read, attributed to the agent whose cgroup holds the sending socket.
void Engine::sample_volume()
{
  const auto flows = loader_->egress_flows();
  const uint64_t now = boottime_ns();
  for (const auto &fl : flows) {
    auto key = std::make_tuple(fl.cgroup_id, fl.addr, fl.port, fl.proto);
    uint64_t &prev = flows_[key];
    // An LRU eviction restarts a flow's counter from zero.
    const uint64_t delta = fl.bytes >= prev ? fl.bytes - prev : fl.bytes;
    prev = fl.bytes;
    if (delta == 0)
      continue;
    const uint32_t profile_id = cgroup::nearest_agent(agent_paths_, namer_->name(fl.cgroup_id));
    if (!profile_id)
      continue;
    pipeline::Event ev;
    ev.hdr.type = pipeline::EventType::egress_volume;
    ev.hdr.ts_ns = now;
    ev.hdr.cgroup_id = fl.cgroup_id;
    ev.hdr.profile_id = profile_id;
    if (const policy::Profile *p = detector_->profile(profile_id))
      metrics_->egress_bytes(p->name, delta);
    pipeline::VolumeBody v;
    v.addr = fl.addr;
    v.port = fl.port;
    v.proto = fl.proto;
    v.bytes = delta;
    ev.body = v;
    process(ev);
  }
  if (flows_.size() > 2 * flows.size() + 1024) { // flows the kernel evicted
    std::set<std::tuple<uint64_t, std::array<uint8_t, 16>, uint16_t, uint8_t>> live;
    for (const auto &fl : flows)
      live.emplace(fl.cgroup_id, fl.addr, fl.port, fl.proto);
    std::erase_if(flows_, [&](const auto &kv) { return !live.count(kv.first); });
  }
  detector_->flush();
}

void Engine::detach_in_background()
{
  const pid_t pid = loader_->detach_in_background();
  if (pid < 0)
    return;
  spdlog::debug("programs detached by pid {}", pid);
}

void Engine::stop()
{
  if (stopping_.exchange(true))
    return;
  lookups_.stop(); // the hosts thread waits on it
  if (loader_)
    loader_->wake_poll();
  if (reader_.joinable())
    reader_.join();
  {
    std::lock_guard lock(scan_mu_); // a scanner between its check and its wait sees the stop
    scan_cv_.notify_all();
  }
  if (scanner_.joinable())
    scanner_.join();
  if (hosts_.joinable())
    hosts_.join();
  if (worker_.joinable())
    worker_.join();
  if (responder_)
    responder_->stop(); // its last reports still reach the sinks
  // The fanotify guard decides until it is closed, and what it decides after the worker's end
  // finds the queue closed: it goes now, and the reports it could not hand over are alerted as
  // a count before the sinks drain (tier 2's file enforcement ends with the engine either way).
  files_.reset();
  alert_unreported();
  for (auto &sink : sinks_)
    sink->drain(opts_.drain_budget);
  if (recorder_)
    recorder_->close(); // after the worker: every event it processed is in the log
}

} // namespace vigil::daemon
