// SPDX-License-Identifier: Apache-2.0
// Metric families and the /metrics endpoint.
#include "export/metrics.h"

#include "vigil/abi.h"

namespace vigil::exporter {

namespace {

prometheus::Counter &counter(prometheus::Registry &r, const std::string &name,
                             const std::string &help)
{
  return prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
}

} // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      events_(prometheus::BuildCounter()
                  .Name("vigil_events_total")
                  .Help("Kernel events received from agent cgroups, by type and profile")
                  .Register(*registry_)),
      alerts_(prometheus::BuildCounter()
                  .Name("vigil_alerts_total")
                  .Help("Alerts raised, by rule, severity and profile")
                  .Register(*registry_)),
      decode_errors_(counter(*registry_, "vigil_decode_errors_total",
                             "Ring-buffer records that could not be decoded")),
      queue_drops_(counter(*registry_, "vigil_queue_drops_total",
                           "Events dropped because the userspace queue was full")),
      ringbuf_drops_(counter(*registry_, "vigil_ringbuf_drops_total",
                             "Events lost in the kernel because the ring buffer was full")),
      stash_drops_(counter(*registry_, "vigil_kernel_stash_drops_total",
                           "Syscall events lost because the enter/exit stash was full")),
      path_truncated_(counter(*registry_, "vigil_kernel_path_truncated_total",
                              "Paths cut short by the kernel-side path walk")),
      kernel_events_(counter(*registry_, "vigil_kernel_events_total",
                             "Events the kernel programs submitted to the ring buffer")),
      agent_cgroups_(prometheus::BuildGauge()
                         .Name("vigil_agent_cgroups")
                         .Help("Agent cgroups currently confined")
                         .Register(*registry_)
                         .Add({}))
{
  prometheus::BuildGauge()
      .Name("vigil_build_info")
      .Help("Build information; the value is always 1")
      .Register(*registry_)
      .Add({{"version", VIGIL_VERSION},
            {"abi", std::to_string(VG_ABI_MAJOR) + "." + std::to_string(VG_ABI_MINOR)}})
      .Set(1);
  auto &reloads = prometheus::BuildCounter()
                      .Name("vigil_policy_reloads_total")
                      .Help("Policy reloads (rules and profiles), by result: ok, failed (the "
                            "previous policy stayed in force)")
                      .Register(*registry_);
  reloads_ok_ = &reloads.Add({{"result", "ok"}});
  reloads_failed_ = &reloads.Add({{"result", "failed"}});
  rules_loaded_ = &prometheus::BuildGauge()
                       .Name("vigil_rules_loaded")
                       .Help("Detection rules in force (enabled ones)")
                       .Register(*registry_)
                       .Add({});
}

void Metrics::policy_reload(bool ok)
{
  (ok ? reloads_ok_ : reloads_failed_)->Increment();
}

void Metrics::rules_loaded(size_t n)
{
  rules_loaded_->Set(static_cast<double>(n));
}

Result<> Metrics::serve(const std::string &address)
{
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size())
    return fail("metrics address '" + address + "' is not HOST:PORT");
  try {
    // civetweb wants "host:port"; IPv6 hosts must be bracketed by the caller ("[::1]:9476").
    exposer_ = std::make_unique<prometheus::Exposer>(address);
  } catch (const std::exception &e) {
    return fail("cannot serve metrics on " + address + ": " + e.what());
  }
  exposer_->RegisterCollectable(registry_);
  return {};
}

void Metrics::event(std::string_view type, const std::string &profile)
{
  events_.Add({{"type", std::string(type)}, {"profile", profile}}).Increment();
}

void Metrics::alert(const std::string &rule, std::string_view severity, const std::string &profile)
{
  alerts_.Add({{"rule", rule}, {"severity", std::string(severity)}, {"profile", profile}})
      .Increment();
}

void Metrics::decode_error()
{
  decode_errors_.Increment();
}

void Metrics::queue_drop()
{
  queue_drops_.Increment();
}

void Metrics::kernel_stats(const KernelStats &s)
{
  std::lock_guard lock(mu_);
  auto follow = [](prometheus::Counter &c, uint64_t now, uint64_t &last) {
    if (now > last)
      c.Increment(static_cast<double>(now - last));
    last = now;
  };
  follow(ringbuf_drops_, s.ringbuf_full, last_.ringbuf_full);
  follow(stash_drops_, s.stash_full, last_.stash_full);
  follow(path_truncated_, s.path_truncated, last_.path_truncated);
  follow(kernel_events_, s.events, last_.events);
}

void Metrics::enforcement_tier(const std::string &kind, std::string_view tier)
{
  prometheus::BuildGauge()
      .Name("vigil_enforcement_tier")
      .Help("Enforcement tier in force per kind of object (file, network); the value is 1")
      .Register(*registry_)
      .Add({{"kind", kind}, {"tier", std::string(tier)}})
      .Set(1);
}

void Metrics::agent_cgroups(size_t n)
{
  agent_cgroups_.Set(static_cast<double>(n));
}

} // namespace vigil::exporter
