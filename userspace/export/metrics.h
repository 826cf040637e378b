// SPDX-License-Identifier: Apache-2.0
// Prometheus metrics of the agent, on prometheus-cpp. Labels are bounded sets (event type,
// profile name, rule id, severity): never a pid or a path.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "common/kernel_stats.h"
#include "common/result.h"

namespace vigil::exporter {

class Metrics {
public:
  Metrics();
  // Serves /metrics on host:port ("127.0.0.1:9476"). Error when the address is bad or taken.
  Result<> serve(const std::string &address);

  void event(std::string_view type, const std::string &profile);
  void alert(const std::string &rule, std::string_view severity, const std::string &profile);
  void decode_error();
  void queue_drop();
  // Kernel counters are cumulative sums over CPUs; the exported counters follow them.
  void kernel_stats(const KernelStats &s);
  void agent_cgroups(size_t n);
  // vigil_enforcement_tier{kind, tier} = 1 for the tier in force.
  void enforcement_tier(const std::string &kind, std::string_view tier);

  // Policy (rules and profiles) reloads by outcome, and the rules in force.
  void policy_reload(bool ok);
  void rules_loaded(size_t n);

  prometheus::Registry &registry() { return *registry_; }

private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  prometheus::Family<prometheus::Counter> &events_;
  prometheus::Family<prometheus::Counter> &alerts_;
  prometheus::Counter &decode_errors_;
  prometheus::Counter &queue_drops_;
  prometheus::Counter &ringbuf_drops_;
  prometheus::Counter &stash_drops_;
  prometheus::Counter &path_truncated_;
  prometheus::Counter &kernel_events_;
  prometheus::Gauge &agent_cgroups_;
  prometheus::Counter *reloads_ok_ = nullptr;
  prometheus::Counter *reloads_failed_ = nullptr;
  prometheus::Gauge *rules_loaded_ = nullptr;
  KernelStats last_{};
  std::mutex mu_;
};

} // namespace vigil::exporter
