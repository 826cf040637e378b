// SPDX-License-Identifier: Apache-2.0
// The engine's side of the response actions (daemon/response.*): which agent cgroup an alert
// belongs to, the kernel switch for `isolate`, and the records of what was done; and the kill of
// a second party the kernel could not reach.

#include <signal.h>

#include <algorithm>

#include <spdlog/spdlog.h>

#include "cgroup/sockets.h"
#include "common/kernel_ids.h"
#include "daemon/engine.h"
#include "vigil/abi.h"

namespace vigil::daemon {

void Engine::start_responder()
{
  ResponderHooks hooks;
  hooks.isolate = [this](uint64_t cgroup_id, bool on) -> Result<> {
    if (net_tier_ == loader::Tier::monitor)
      return tl::unexpected(Error{std::make_error_code(std::errc::not_supported),
                                  "no network enforcement hooks are loaded (monitor tier)"});
    return loader_->set_agent_flags(cgroup_id, on ? VG_AGENT_ISOLATED : 0,
                                    on ? 0 : VG_AGENT_ISOLATED);
  };
  hooks.cut_connections = [](const std::string &dir) -> Result<size_t> {
    auto cut = cgroup::destroy_sockets(dir);
    if (!cut)
      return tl::unexpected(cut.error());
    return cut->destroyed;
  };
  hooks.report_later = [this](detect::Alert a) {
    std::lock_guard lock(state_mu_);
    write_alert(a);
  };
  hooks.count = [this](std::string_view action, std::string_view result,
                       const std::string &profile) {
    metrics_->response_action(action, result, profile);
  };
  responder_ = std::make_unique<Responder>(std::move(hooks));
}

void Engine::respond(const detect::Alert &alert, const policy::Profile &profile)
{
  if (!responder_ || alert.cgroup.empty())
    return;
  auto agent = agent_cgroup_of(confined_, cgroup_mount_, alert.cgroup);
  if (!agent)
    return;
  for (const auto &rec : responder_->on_alert(alert, profile, *agent)) {
    spdlog::warn("response: {}", rec.output);
    write_alert(rec);
  }
}

Result<bool> Engine::lift_isolation(const std::string &dir)
{
  std::lock_guard lock(state_mu_);
  auto it = std::find_if(confined_.begin(), confined_.end(),
                         [&](const auto &c) { return c.first == dir; });
  if (it == confined_.end() || !responder_)
    return tl::unexpected(
        Error{std::make_error_code(std::errc::no_such_file_or_directory), dir + " is not confined"});
  responder_->restored(it->second);
  // The kernel's flag decides, not the responder's memory: it is what denies the agent.
  auto flags = loader_->agent_flags(it->second);
  if (!flags)
    return tl::unexpected(flags.error());
  if (!(*flags & VG_AGENT_ISOLATED))
    return false;
  if (auto r = loader_->set_agent_flags(it->second, 0, VG_AGENT_ISOLATED); !r)
    return tl::unexpected(r.error());
  const std::string rel = dir.substr(std::min(cgroup_mount_.size(), dir.size()));
  std::string profile;
  if (auto p = agent_paths_.find(rel); p != agent_paths_.end())
    if (const policy::Profile *pp = detector_->profile(p->second))
      profile = pp->name;
  metrics_->response_action("restore", "done", profile);
  detect::Alert a;
  a.profile = profile;
  a.response = {"restore", "done", dir};
  a.time_ns = detect::Enricher::boot_to_realtime(boottime_ns());
  a.hostname = detect::local_hostname();
  a.rule = "response-restore";
  a.rule_description = "vigil's response action on an agent's alert";
  a.tags = {"vigil", "response"};
  a.severity = policy::Severity::notice;
  a.cgroup_id = it->second;
  a.cgroup = rel;
  a.output = "egress of agent cgroup " + dir + " follows its allowlist again (isolation lifted by "
             "the operator)";
  spdlog::warn("response: {}", a.output);
  write_alert(a);
  return true;
}

void Engine::publish_contained()
{
  size_t frozen = 0, isolated = 0;
  for (const auto &[dir, id] : confined_) {
    if (auto f = cgroup::freeze_requested(dir); f && *f)
      ++frozen;
    if (auto f = loader_->agent_flags(id); f && (*f & VG_AGENT_ISOLATED))
      ++isolated;
  }
  metrics_->contained_agents(frozen, isolated);
}

void Engine::write_alert(const detect::Alert &alert)
{
  metrics_->alert(alert.rule, policy::to_string(alert.severity), alert.profile);
  alerts_.fetch_add(1);
  for (auto &sink : sinks_)
    sink->write(alert);
  if (recorder_)
    recorder_->alert(alert);
}

// The kernel kills the agent task that acted (bpf_send_signal reaches only the current task); a
// second party it could not reach (the task an agent moved out of its cgroup, the child it
// cloned into another cgroup) is killed here, as soon as the event arrives.
void Engine::finish_kill(const pipeline::Event &ev)
{
  const auto *t = std::get_if<pipeline::TamperBody>(&ev.body);
  if (!t || ev.hdr.verdict != pipeline::Verdict::kill || !t->target_tgid ||
      t->target_tgid == ev.hdr.tgid)
    return;
  if (t->kind != pipeline::TamperKind::cgroup_escape &&
      t->kind != pipeline::TamperKind::clone_into_cgroup)
    return;
  if (::kill(static_cast<pid_t>(t->target_tgid), SIGKILL) == 0)
    spdlog::warn("killed pid {}: {} by agent pid {}", t->target_tgid, pipeline::to_string(t->kind),
                 ev.hdr.tgid);
}

} // namespace vigil::daemon
