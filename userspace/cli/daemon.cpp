// SPDX-License-Identifier: Apache-2.0
// `vigil daemon --config FILE`: node mode. Confines every cgroup that matches the configured
// globs, picks up new ones while running and releases the ones that disappear.
#include <signal.h>

#include <map>
#include <set>

#include <spdlog/spdlog.h>

#include "cgroup/cgroup.h"
#include "cli/commands.h"
#include "daemon/config.h"
#include "daemon/engine.h"
#include "policy/profile.h"

namespace vigil::cli {

int daemon_command(const DaemonArgs &args)
{
  auto config = daemon::load_config(args.config);
  if (!config) {
    spdlog::error("{}", config.error().message());
    return 2;
  }
  std::map<std::string, uint32_t> ids; // profile name -> id
  std::vector<policy::Profile> profiles;
  for (const auto &file : config->profile_files) {
    auto p = policy::load_profile(file);
    if (!p) {
      spdlog::error("{}", p.error().message());
      return 2;
    }
    if (ids.count(p->name)) {
      spdlog::error("{}: profile '{}' is defined twice", file, p->name);
      return 2;
    }
    ids[p->name] = static_cast<uint32_t>(profiles.size() + 1);
    profiles.push_back(std::move(*p));
  }
  for (const auto &sel : config->cgroups) {
    if (!ids.count(sel.profile)) {
      spdlog::error("{}: cgroups entry '{}' names profile '{}', which no profile file defines",
                    config->source, sel.glob, sel.profile);
      return 2;
    }
  }

  sigset_t handled;
  sigemptyset(&handled);
  for (int s : {SIGINT, SIGTERM, SIGHUP})
    sigaddset(&handled, s);
  ::sigprocmask(SIG_BLOCK, &handled, nullptr);

  daemon::EngineOptions eo;
  eo.alerts_json = config->alerts_json;
  eo.metrics_address = config->metrics_address ? config->metrics_address
                                               : std::optional<std::string>("127.0.0.1:9476");
  eo.max_tier = config->max_tier == "monitor"    ? loader::Tier::monitor
                : config->max_tier == "fallback" ? loader::Tier::fallback
                                                 : loader::Tier::lsm;
  eo.pin_dir = config->pin_dir;
  eo.log_dir = config->log_dir;
  auto engine = daemon::Engine::start(eo);
  if (!engine) {
    spdlog::error("{}", engine.error().message());
    return 1;
  }
  for (size_t i = 0; i < profiles.size(); ++i) {
    if (auto r = (*engine)->set_profile(static_cast<uint32_t>(i + 1), profiles[i]); !r) {
      spdlog::error("{}", r.error().message());
      return r.error().code == std::errc::not_supported ? kExitTierUnavailable : 2;
    }
  }
  spdlog::info("daemon running: {} profile(s), {} cgroup selector(s)", profiles.size(),
               config->cgroups.size());

  std::set<std::string> confined;
  while (true) {
    std::set<std::string> wanted;
    std::map<std::string, uint32_t> wanted_profile;
    for (const auto &sel : config->cgroups) {
      for (const auto &dir : cgroup::glob_dirs((*engine)->cgroup_mount(), sel.glob)) {
        if (wanted.insert(dir).second) // the first selector that matches wins
          wanted_profile[dir] = ids[sel.profile];
      }
    }
    for (const auto &dir : wanted) {
      if (confined.count(dir))
        continue;
      if (auto r = (*engine)->confine(dir, wanted_profile[dir]); r) {
        confined.insert(dir);
        spdlog::info("confining {} (cgroup id {})", dir, *r);
      } else {
        spdlog::warn("{}", r.error().message());
      }
    }
    for (auto it = confined.begin(); it != confined.end();) {
      if (wanted.count(*it)) {
        ++it;
        continue;
      }
      (void)(*engine)->release(*it);
      spdlog::info("released {} (gone)", *it);
      it = confined.erase(it);
    }
    timespec wait{config->rescan_ms / 1000, (config->rescan_ms % 1000) * 1000000L};
    int sig = ::sigtimedwait(&handled, nullptr, &wait);
    if (sig == SIGINT || sig == SIGTERM) {
      spdlog::info("signal {}: stopping", sig);
      break;
    }
  }
  if (config->pin_dir.empty()) {
    for (const auto &dir : confined)
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
