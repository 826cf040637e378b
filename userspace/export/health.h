// SPDX-License-Identifier: Apache-2.0
// Liveness and readiness of the agent, for Kubernetes probes: /healthz and /readyz on the
// metrics address. Threads register and beat; the owner marks what readiness needs.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

namespace vigil::exporter {

class Health {
public:
  // A thread that has not beaten for this long makes the agent unhealthy.
  static constexpr std::chrono::seconds kStall{10};

  struct Report {
    bool ok = false;
    std::string text; // one line per check, "ok name" or "FAIL name: why"
  };

  // Registers a thread; it must call beat(id) at least every kStall from now on.
  size_t add_thread(const std::string &name);
  void beat(size_t id);
  // The thread stopped on purpose (shutdown): no longer checked.
  void retire(size_t id);
  // Readiness conditions: BPF programs attached; at least one profile installed.
  void set_attached(bool v) { attached_.store(v); }
  void set_profiles(size_t n) { profiles_.store(n); }
  // Kubernetes mode: readiness also waits for the first list of the node's pods (until then no
  // labelled pod can be confined). Not called outside Kubernetes.
  void set_pods_listed(bool v) { pods_.store(v ? kListed : kExpected); }

  // /healthz: every registered thread beat within kStall.
  Report live() const;
  // /readyz: live, programs attached and profiles loaded (and, on Kubernetes, pods listed).
  Report ready() const;

private:
  struct Beat {
    std::string name;
    int64_t last_ns = 0; // steady clock
    bool retired = false;
  };
  mutable std::mutex mu_; // guards beats_
  std::deque<Beat> beats_;
  std::atomic<bool> attached_{false};
  std::atomic<size_t> profiles_{0};
  static constexpr int kNotExpected = 0, kExpected = 1, kListed = 2;
  std::atomic<int> pods_{kNotExpected};
};

} // namespace vigil::exporter
