// SPDX-License-Identifier: Apache-2.0
// Engine, policy side: profiles and rules in, compiled to the kernel's maps (egress allowlist,
// file rules for the LSM tier, the fanotify guard's set), and the egress host names they name,
// resolved and refreshed on their TTL by the hosts thread.
#include "daemon/engine.h"

#include <spdlog/spdlog.h>

#include "common/kernel_ids.h"
#include "daemon/lsm_files.h"
#include "daemon/lsm_persist.h"
#include "policy/compile.h"
#include "vigil/abi.h"

namespace vigil::daemon {

Result<> Engine::check_requirement(const policy::Profile &p) const
{
  auto short_of = [&](loader::Tier t) {
    return p.require == policy::Requirement::lsm ? t != loader::Tier::lsm
                                                 : t == loader::Tier::monitor;
  };
  if (p.require == policy::Requirement::none ||
      (!short_of(file_tier_) && !short_of(net_tier_)))
    return {};
  std::string why;
  if (short_of(file_tier_))
    why += "files get tier " + std::string(loader::tier_name(file_tier_, true)) + " (" +
           features_.file_reason + ")";
  if (short_of(net_tier_))
    why += std::string(why.empty() ? "" : "; ") + "the network gets tier " +
           std::string(loader::tier_name(net_tier_, false)) + " (" + features_.net_reason + ")";
  return tl::unexpected(Error{std::make_error_code(std::errc::not_supported),
                              p.source + ": profile '" + p.name + "' requires '" +
                                  std::string(policy::to_string(p.require)) +
                                  "' enforcement, which this kernel cannot give: " + why});
}

// Nothing waits for a lookup now, so a query is sent a second time (the same query, so a late
// answer to the first still counts) before the name is given up until the next try; no more
// than that: a name of /etc/hosts is only looked up there after DNS gave up on it.
constexpr QueryPatience kLookupPatience{1, 2};

Result<> Engine::set_profile(uint32_t id, policy::Profile p)
{
  if (auto r = check_requirement(p); !r)
    return r;
  std::lock_guard lock(hosts_mu_);
  const auto now = std::chrono::steady_clock::now();
  std::string asked;
  size_t n_asked = 0;
  for (const auto &a : p.egress_allow) {
    if (a.host.empty() || resolved_.count(a.host))
      continue;
    // Allows nothing until its answer comes; the answer, not a timer, ends the wait.
    resolved_[a.host] = Resolution{};
    expires_[a.host] = now + std::chrono::seconds(kMaxTtl);
    lookups_.ask(a.host, kLookupPatience);
    if (opts_.verbose_start)
      spdlog::warn("egress host {}: resolving; it allows nothing until its answer comes", a.host);
    asked += (asked.empty() ? "" : " ") + a.host;
    ++n_asked;
  }
  if (!opts_.verbose_start && n_asked > 0)
    spdlog::warn("profile '{}': {} egress host(s) resolving, each allowing nothing until its "
                 "answer comes: {}",
                 p.name, n_asked, asked);
  written_[id] = p;
  auto installed = install_profile(id, expand_hosts(p, resolved_));
  if (!installed)
    return installed;
  metrics_->profile_loaded(p.name);
  metrics_->profiles_loaded(written_.size());
  return {};
}

void Engine::take_answers(std::vector<std::pair<std::string, Resolution>> answers)
{
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::string> changed;
  for (auto &[host, r] : answers) {
    expires_[host] = now + std::chrono::seconds(r.ttl_s);
    Resolution &had = resolved_[host];
    const bool first = had.ttl_s == 0; // answers carry at least kMinTtl
    // The first answer arrives after vigil run's start-up notes (which said the name was being
    // resolved): at debug level, so that -q stays quiet; a change later is news.
    if (first || r.addrs != had.addrs)
      spdlog::log(first ? spdlog::level::debug : spdlog::level::info,
                  "egress host {}: {} address(es), refreshed every {} s", host, r.addrs.size(),
                  r.ttl_s);
    if (r.addrs != had.addrs)
      changed.push_back(host);
    had = std::move(r);
  }
  if (changed.empty())
    return;
  for (const auto &[id, p] : written_) {
    const bool uses = std::any_of(p.egress_allow.begin(), p.egress_allow.end(), [&](auto &a) {
      return std::find(changed.begin(), changed.end(), a.host) != changed.end();
    });
    if (uses)
      if (auto r = install_profile(id, expand_hosts(p, resolved_), Install::egress); !r)
        spdlog::warn("reinstall profile {}: {}", p.name, r.error().message());
  }
}

void Engine::hosts_loop() noexcept
{
  while (!stopping_.load()) {
    auto answers = lookups_.wait(std::chrono::milliseconds(200));
    if (stopping_.load())
      break;
    std::lock_guard lock(hosts_mu_);
    if (!answers.empty())
      take_answers(std::move(answers));
    // Names due again are asked in the background too; until the answer comes the old addresses
    // stay (a lookup that never finishes is asked again after kMinTtl).
    const auto now = std::chrono::steady_clock::now();
    for (auto &[host, when] : expires_)
      if (when <= now) {
        lookups_.ask(host, kLookupPatience);
        when = now + std::chrono::seconds(kMinTtl);
      }
  }
}

Result<> Engine::install_profile(uint32_t id, policy::Profile p, Install what)
{
  auto egress = policy::compile_egress(p, id);
  if (!egress)
    return tl::unexpected(egress.error());
  std::vector<std::pair<vg_egress_key, vg_egress_val>> entries;
  for (const auto &e : *egress)
    entries.emplace_back(e.key, e.val);
  auto kernel_mode = [](policy::Mode m) -> uint8_t {
    return m == policy::Mode::enforce ? VG_MODE_ENFORCE : VG_MODE_AUDIT;
  };
  loader::ProfileSwitches sw;
  sw.net_mode = net_tier_ != loader::Tier::monitor ? kernel_mode(p.net_mode())
                                                   : static_cast<uint8_t>(VG_MODE_OFF);
  sw.file_mode = file_tier_ == loader::Tier::lsm ? kernel_mode(p.file_mode())
                                                 : static_cast<uint8_t>(VG_MODE_OFF);
  sw.raw_ok = p.raw_sockets;
  // Self-protection needs no tier: LSM programs refuse, tracepoints kill.
  sw.tamper_mode = p.self_protection ? kernel_mode(*p.self_protection)
                                     : static_cast<uint8_t>(VG_MODE_OFF);
  sw.rate = p.events_per_second;
  // Inbound needs no tier either: the packet program runs on every agent cgroup.
  sw.ingress_mode = p.inbound_mode() ? kernel_mode(*p.inbound_mode())
                                     : static_cast<uint8_t>(VG_MODE_OFF);
  // A host name's new addresses change the egress allowlist only: the file rules and the file
  // guard's set stay as they are (rebuilding them while an agent runs gains nothing and opens a
  // window in which the guard's set is being replaced).
  if (file_tier_ == loader::Tier::lsm && what == Install::all) {
    // The name table is shared by every profile: recompile all of them together.
    auto all = profiles_;
    all[id] = p;
    LsmFileRules rules = compile_lsm_files(all, homes_);
    if (auto r = loader_->set_file_rules(rules.inodes, rules.names, rules.ipc_allow); !r)
      return tl::unexpected(with_context(r.error(), "profile " + p.name));
    if (rules.expanded_full)
      spdlog::warn("profile '{}': glob and subtree patterns match more files than the kernel "
                   "keys by identity; the rest are protected by name and directory only",
                   p.name);
    for (const auto &u : rules.unsupported)
      spdlog::info("profile '{}': pattern {} is observed and alerted, not enforced, in the lsm "
                   "tier (only prefix*suffix names and a wildcard in the last component)",
                   p.name, u);
    profiles_ = std::move(all);
  }
  if (net_tier_ == loader::Tier::fallback)
    if (auto r = loader_->set_unix_allow(id, policy::unix_allow_paths(p, homes_)); !r)
      return tl::unexpected(with_context(r.error(), "profile " + p.name));
  if (auto r = loader_->set_profile(id, sw, entries); !r)
    return tl::unexpected(with_context(r.error(), "profile " + p.name));
  if (files_ && what == Install::all) {
    auto unguarded = files_->set_profile(id, p, homes_);
    if (!unguarded)
      return tl::unexpected(with_context(unguarded.error(), "guard the files of " + p.name));
    if (!unguarded->empty()) {
      std::string list;
      for (const auto &u : *unguarded)
        list += (list.empty() ? "" : ", ") + u;
      spdlog::info("profile '{}': basename patterns are observed and alerted, not enforced, in "
                   "the fanotify tier: {}",
                   p.name, list);
    }
  }
  if (recorder_)
    recorder_->policy(id, p); // as installed: hosts resolved (a refresh records again)
  std::lock_guard lock(state_mu_);
  detector_->set_profile(id, std::move(p));
  return {};
}

bool Engine::persistence_in_kernel() const
{
  return file_tier_ == loader::Tier::lsm && loader_->persist_hooks();
}

Result<> Engine::set_persistence(uint32_t id, const policy::Profile &p,
                                 const std::vector<enforce::GuardTarget> &present,
                                 const std::vector<enforce::GuardTarget> &absent)
{
  if (!persistence_in_kernel())
    return tl::unexpected(Error{std::make_error_code(std::errc::not_supported),
                                "the persistence guard's BPF LSM hooks are not loaded"});
  LsmPersistRules rules = compile_lsm_persistence(id, p, present, absent);
  if (auto r = loader_->set_persist_rules(id, rules.inodes, rules.names); !r)
    return tl::unexpected(with_context(r.error(), "persistence guard of " + p.name));
  for (const auto &u : rules.unreachable)
    spdlog::warn("persistence: {} is not protected: a directory on its way that does not exist "
                 "has a name too long for the kernel's name table",
                 u);
  for (const auto &u : rules.unkeyed)
    spdlog::warn("persistence: the name of {} is too long for the kernel's name table; only an "
                 "existing file there is protected",
                 u);
  spdlog::info("persistence: BPF LSM guards {} objects and {} names ({} paths present, {} not "
               "yet made)",
               rules.inodes.size(), rules.names.size(), present.size(), absent.size());
  return {};
}

Result<> Engine::check_profile(const policy::Profile &p) const
{
  if (auto r = check_requirement(p); !r)
    return r;
  if (auto e = policy::compile_egress(p, 1); !e)
    return tl::unexpected(e.error());
  return {};
}

Result<> Engine::set_rules(policy::RuleSet rules)
{
  if (auto r = loader_->set_env_watch(rules.env_names(), rules.env_prefixes()); !r)
    return tl::unexpected(with_context(r.error(), "rules"));
  size_t enabled = 0;
  for (const auto &r : rules.rules)
    enabled += r.enabled ? 1 : 0;
  spdlog::info("{} rule(s) loaded ({} enabled) from {} file(s)", rules.rules.size(), enabled,
               rules.files.size());
  metrics_->rules_loaded(enabled);
  std::vector<std::string> paths;
  for (const auto &r : rules.rules)
    if (r.enabled && r.kind == policy::RuleKind::credential_read)
      paths.insert(paths.end(), r.paths.begin(), r.paths.end());
  // The files the credential rules name now, by identity: the engine names them by the rules'
  // name whatever name opens them (every tier), the fanotify tier keeps seeing them.
  const std::vector<enforce::ProtectedFile> named =
      FileEnforcer::files_named(paths, homes_, kMaxOpenPaths);
  if (files_) {
    // What the credential rules name stays visible open by open in the fanotify tier.
    if (auto r = files_->set_rule_paths(paths, homes_, named); !r)
      spdlog::warn("file guard: the rules' credential paths are not all watched: {}",
                   r.error().message());
  }
  std::lock_guard lock(state_mu_);
  rule_inodes_.clear();
  rule_inode_count_ = rule_name_bytes_ = 0;
  for (const auto &f : named)
    add_rule_name(kernel_dev(static_cast<dev_t>(f.dev)), f.ino, f.path);
  if (recorder_)
    recorder_->rules(rules);
  if (responder_)
    responder_->set_rules(rules);
  detector_->set_rules(std::move(rules));
  return {};
}

} // namespace vigil::daemon
