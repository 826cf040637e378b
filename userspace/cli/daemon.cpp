// SPDX-License-Identifier: Apache-2.0
// `vigil daemon --config FILE`: node mode. Confines every cgroup that matches the configured
// globs, and on Kubernetes every pod whose label names a profile; picks up new ones while
// running and releases the ones that disappear or lose their profile.
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include <map>
#include <set>

#include <spdlog/spdlog.h>

#include "cgroup/cgroup.h"
#include "cli/commands.h"
#include "common/text.h"
#include "common/unique_fd.h"
#include "daemon/config.h"
#include "daemon/control.h"
#include "daemon/engine.h"
#include "daemon/kubernetes.h"
#include "policy/profile.h"
#include "policy/rules.h"

namespace vigil::cli {

namespace {

// Everything a daemon enforces and detects, loaded and checked as a whole.
struct Policy {
  std::map<std::string, uint32_t> ids; // profile name -> id (stable across reloads)
  std::vector<std::pair<uint32_t, policy::Profile>> profiles;
  policy::RuleSet rules;
};

// Loads every profile and rule file. Names keep the ids they had in `previous`.
Result<Policy> load_policy(const daemon::Config &config, const std::vector<std::string> &rule_paths,
                           const std::map<std::string, uint32_t> &previous)
{
  Policy next;
  next.ids = previous;
  uint32_t next_id = 1;
  for (const auto &[name, id] : previous)
    next_id = std::max(next_id, id + 1);
  std::vector<std::string> errors;
  std::set<std::string> seen;
  for (const auto &file : config.profile_files) {
    auto p = policy::load_profile(file);
    if (!p) {
      errors.push_back(p.error().message());
      continue;
    }
    if (!seen.insert(p->name).second) {
      errors.push_back(file + ": profile '" + p->name + "' is defined twice");
      continue;
    }
    auto [it, fresh] = next.ids.emplace(p->name, next_id);
    if (fresh)
      ++next_id;
    next.profiles.emplace_back(it->second, std::move(*p));
  }
  for (const auto &sel : config.cgroups)
    if (!seen.count(sel.profile))
      errors.push_back(config.source + ": cgroups entry '" + sel.glob + "' names profile '" +
                       sel.profile + "', which no profile file defines");
  next.rules = policy::load_rules(rule_paths, errors);
  if (!errors.empty()) {
    std::string all;
    for (const auto &e : errors)
      all += (all.empty() ? "" : "\n") + e;
    return fail(all);
  }
  return next;
}

// What the policy files look like on disk: a change of any (or a file added to a rule
// directory) means a reload. Follows symlinks, so a Kubernetes ConfigMap swap counts.
std::string fingerprint(const daemon::Config &config, const std::vector<std::string> &rule_paths,
                        const Policy &current)
{
  std::vector<std::string> files = config.profile_files;
  for (const auto &[id, p] : current.profiles)
    files.insert(files.end(), p.included.begin(), p.included.end());
  for (auto &f : policy::rule_files(rule_paths))
    files.push_back(std::move(f));
  std::sort(files.begin(), files.end());
  std::string fp;
  for (const auto &f : files) {
    struct stat st{};
    if (::stat(f.c_str(), &st) != 0) {
      fp += f + ":missing;";
      continue;
    }
    fp += f + ":" + std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) +
          ":" + std::to_string(st.st_size) + ":" + std::to_string(st.st_ino) + ";";
  }
  return fp;
}

// Puts a loaded policy in force: every profile is checked against the kernel first, so a
// profile this kernel cannot serve leaves the old policy whole.
Result<> apply_policy(daemon::Engine &engine, Policy &next)
{
  for (const auto &[id, p] : next.profiles)
    if (auto r = engine.check_profile(p); !r)
      return r;
  if (auto r = engine.set_rules(next.rules); !r)
    return r;
  for (const auto &[id, p] : next.profiles)
    if (auto r = engine.set_profile(id, p); !r)
      return r;
  return {};
}

// One control request (daemon/control.h): "resume DIR" lifts the isolation of a confined cgroup
// (absolute path). The answer's first word says what happened: restored, not-isolated, error.
std::string control(daemon::Engine &engine, std::string_view request)
{
  constexpr std::string_view kResume = "resume ";
  if (!request.starts_with(kResume))
    return "error: unknown request (this daemon knows: resume CGROUP)\n";
  const std::string dir(request.substr(kResume.size()));
  auto r = engine.lift_isolation(dir);
  if (!r)
    return "error: " + r.error().message() + "\n";
  spdlog::info("control: resume {}: {}", escape_text(dir), *r ? "isolation lifted" : "not isolated");
  return (*r ? "restored " : "not-isolated ") + dir + "\n";
}

} // namespace

int daemon_command(const DaemonArgs &args)
{
  // A root agent without CAP_SYS_PTRACE cannot read the daemon's memory or environment, or
  // ptrace it, once it is not dumpable.
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  auto config = daemon::load_config(args.config);
  if (!config) {
    spdlog::error("{}", config.error().message());
    return 2;
  }
  // Resolved once: the daemon looks at these files every rescan.
  const std::vector<std::string> rule_paths =
      config->rule_paths.empty() ? std::vector<std::string>{default_rules_dir()}
                                 : config->rule_paths;
  auto loaded = load_policy(*config, rule_paths, {});
  if (!loaded) {
    spdlog::error("{}", loaded.error().message());
    return 2;
  }
  Policy current = std::move(*loaded);

  sigset_t handled;
  sigemptyset(&handled);
  for (int s : {SIGINT, SIGTERM, SIGHUP})
    sigaddset(&handled, s);
  ::sigprocmask(SIG_BLOCK, &handled, nullptr);

  // The pod watch starts after the engine (whose start checks privileges first); the engine's
  // worker asks it for the pod behind a cgroup once it is there.
  std::unique_ptr<daemon::Kubernetes> kube;
  std::atomic<daemon::Kubernetes *> kube_ready{nullptr};
  daemon::EngineOptions eo;
  eo.verbose_start = args.verbose;
  if (config->kubernetes)
    eo.workloads = [&kube_ready](const std::string &cg) -> std::optional<detect::Workload> {
      const daemon::Kubernetes *k = kube_ready.load();
      return k ? k->workload(cg) : std::nullopt;
    };
  daemon::apply_outputs(config->outputs, eo);
  eo.metrics_address = config->metrics_address ? config->metrics_address
                                               : std::optional<std::string>("127.0.0.1:9476");
  eo.syscall_tracepoints = config->syscall_tracepoints;
  if (config->ring_buffer_bytes)
    eo.ring_bytes = *config->ring_buffer_bytes;
  eo.max_tier = config->max_tier == "monitor"    ? loader::Tier::monitor
                : config->max_tier == "fallback" ? loader::Tier::fallback
                                                 : loader::Tier::lsm;
  eo.pin_dir = config->pin_dir;
  eo.state_dir = config->state_dir;
  eo.log_dir = config->log_dir;
  eo.log_segment_bytes = config->log_segment_bytes;
  eo.log_segment_age = std::chrono::milliseconds(config->log_segment_age_ns / 1'000'000ull);
  eo.log_max_bytes = config->log_max_bytes;
  auto engine = daemon::Engine::start(eo);
  if (!engine) {
    spdlog::error("{}", engine.error().message());
    return 1;
  }
  if (auto r = apply_policy(**engine, current); !r) {
    spdlog::error("{}", r.error().message());
    return r.error().code == std::errc::not_supported ? kExitTierUnavailable : 2;
  }
  (*engine)->policy_ready();
  if (config->kubernetes) {
    auto k = daemon::Kubernetes::start(*config->kubernetes, (*engine)->cgroup_mount());
    if (!k) {
      spdlog::error("{}", k.error().message());
      return 2;
    }
    kube = std::move(*k);
    kube_ready.store(kube.get());
  }
  // `vigil resume` reaches this daemon here. Without it the daemon still runs (and enforces);
  // an isolation then waits for a daemon that listens.
  std::optional<daemon::ControlSocket> ctl;
  if (!config->control_socket.empty()) {
    if (auto c = daemon::ControlSocket::listen(config->control_socket); c)
      ctl.emplace(std::move(*c));
    else
      spdlog::error("no control socket ({}): `vigil resume` cannot lift an isolation through "
                    "this daemon",
                    c.error().message());
  }
  (*engine)->control_socket(ctl.has_value());
  spdlog::info("daemon running: {} profile(s), {} rule(s), {} cgroup selector(s){}",
               current.profiles.size(), current.rules.rules.size(), config->cgroups.size(),
               kube ? ", pods by label " + kube->config().label : std::string());
  std::string on_disk = fingerprint(*config, rule_paths, current);
  // A reload that fails keeps the policy in force and says so: in the log, as an alert, and in
  // the reload metrics. The same broken files are not retried until they change again.
  auto reload = [&](const char *why) {
    on_disk = fingerprint(*config, rule_paths, current);
    auto next = load_policy(*config, rule_paths, current.ids);
    Result<> applied = next ? apply_policy(**engine, *next) : tl::unexpected(next.error());
    if (!applied) {
      spdlog::error("policy reload ({}) failed; the previous policy stays in force:\n{}", why,
                    applied.error().message());
      (*engine)->policy_reloaded(false);
      (*engine)->raise_internal("vigil-policy-reload-failed", policy::Severity::error,
                                "policy reload (" + std::string(why) +
                                    ") failed; the previous policy stays in force: " +
                                    applied.error().message());
      return;
    }
    current = std::move(*next);
    on_disk = fingerprint(*config, rule_paths, current);
    (*engine)->policy_reloaded(true);
    spdlog::info("policy reloaded ({}): {} profile(s), {} rule(s)", why, current.profiles.size(),
                 current.rules.rules.size());
  };
  const auto& ids = current.ids;

  // Signals arrive on a descriptor so that one poll() waits for them, the pod watch and new
  // cgroup directories at once.
  UniqueFd sigfd(::signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sigfd) {
    spdlog::error("signalfd: {}", std::strerror(errno));
    return 1;
  }
  std::map<std::string, uint32_t> confined; // cgroup directory -> profile id
  std::set<std::string> refused;             // selected, but confine() failed (said once)
  while (true) {
    std::map<std::string, uint32_t> wanted;
    for (const auto &sel : config->cgroups)
      for (const auto &dir : cgroup::glob_dirs((*engine)->cgroup_mount(), sel.glob))
        wanted.emplace(dir, ids.at(sel.profile)); // the first selector that matches wins
    if (kube) {
      std::set<std::string> names;
      for (const auto &[id, p] : current.profiles)
        names.insert(p.name);
      for (const auto &[dir, profile] : kube->wanted(names))
        wanted.emplace(dir, ids.at(profile));
    }
    for (const auto &[dir, profile] : wanted) {
      auto have = confined.find(dir);
      if (have != confined.end() && have->second == profile)
        continue;
      if (have != confined.end()) { // the pod's label now names another profile
        (void)(*engine)->release(dir);
        confined.erase(have);
      }
      if (auto r = (*engine)->confine(dir, profile); r) {
        confined.emplace(dir, profile);
        refused.erase(dir);
        spdlog::info("confining {} (cgroup id {})", escape_text(dir), *r);
      } else if (refused.insert(dir).second) { // once per cgroup, not on every rescan
        spdlog::error("not confining {}: {}", escape_text(dir), escape_text(r.error().message()));
      }
    }
    for (auto it = confined.begin(); it != confined.end();) {
      if (wanted.count(it->first)) {
        ++it;
        continue;
      }
      (void)(*engine)->release(it->first);
      spdlog::info("released {} ({})", escape_text(it->first),
                   ::access(it->first.c_str(), F_OK) == 0 ? "no longer selected" : "gone");
      it = confined.erase(it);
    }
    if (kube)
      (*engine)->kubernetes_stats(kube->synced(), kube->pods(), kube->stats().expired.load(),
                                  kube->stats().errors.load());
    pollfd fds[4] = {
        {sigfd.get(), POLLIN, 0}, {-1, POLLIN, 0}, {-1, POLLIN, 0}, {-1, POLLIN, 0}};
    if (kube) {
      fds[1].fd = kube->api_fd();
      fds[2].fd = kube->cgroup_fd();
    }
    if (ctl)
      fds[3].fd = ctl->fd();
    (void)::poll(fds, 4, config->rescan_ms);
    if (ctl && (fds[3].revents & POLLIN))
      ctl->serve([&](std::string_view req) { return control(**engine, req); });
    if (kube)
      kube->drain();
    signalfd_siginfo si{};
    int sig = ::read(sigfd.get(), &si, sizeof(si)) == sizeof(si) ? static_cast<int>(si.ssi_signo) : 0;
    if (sig == SIGINT || sig == SIGTERM) {
      spdlog::info("signal {}: stopping", sig);
      break;
    }
    if (sig == SIGHUP)
      reload("SIGHUP");
    else if (fingerprint(*config, rule_paths, current) != on_disk)
      reload("files changed");
  }
  if (config->pin_dir.empty()) {
    for (const auto &[dir, profile] : confined)
      (void)(*engine)->release(dir);
  } else {
    // Pinned: confinement outlives this process; the next daemon adopts it.
    spdlog::info("enforcement stays in force (pinned under {}); `vigil unload` removes it",
                 config->pin_dir);
  }
  (*engine)->stop();
  return 0;
}

} // namespace vigil::cli
