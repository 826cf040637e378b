// SPDX-License-Identifier: Apache-2.0
// The engine's side of the response actions (daemon/response.*): which agent cgroup an alert
// belongs to, the kernel switch for `isolate`, and the records of what was done; and the kill of
// a second party the kernel could not reach.

#include <signal.h>

#include <spdlog/spdlog.h>

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
  hooks.report_later = [this](detect::Alert a) {
    std::lock_guard lock(state_mu_);
    write_alert(a);
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
