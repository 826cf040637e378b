// SPDX-License-Identifier: Apache-2.0
// Host names in egress allowlists: resolved by the daemon (never by the kernel), with the TTL
// the DNS answer carries, so an allowlist follows a service whose addresses move.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "policy/profile.h"

namespace vigil::daemon {

struct Resolution {
  std::vector<std::array<uint8_t, 16>> addrs; // IPv6 space, IPv4 mapped; sorted, unique
  uint32_t ttl_s = 0;                         // seconds until it must be asked again
};

// A and AAAA answers from the resolver (res_query) with the smallest TTL among them; names the
// resolver cannot answer (no DNS, /etc/hosts entries) fall back to getaddrinfo with
// kDefaultTtl. TTLs are clamped to [kMinTtl, kMaxTtl].
inline constexpr uint32_t kMinTtl = 5, kMaxTtl = 3600, kDefaultTtl = 60;
// How long each DNS query waits for its answer (seconds) and how many times it is sent.
struct QueryPatience {
  int wait_s = 1;
  int attempts = 1;
};
Resolution resolve_host(const std::string &host, QueryPatience patience = {});

// Host lookups that run concurrently (a thread each) and hand their answers over as each one
// finishes, so that nobody waits for the slowest name. The lookup threads share the state with
// this handle: it may be destroyed while lookups are in flight (their answers are dropped).
class HostLookups {
public:
  HostLookups();
  // Starts a lookup of host, unless one is in flight already (started and its answer not yet
  // handed over by wait()). Returns whether one was started.
  bool ask(const std::string &host, QueryPatience patience);
  // Waits until at least one answer is ready, stop() was called or timeout passed; returns the
  // answers ready (host, resolution), in the order they came.
  std::vector<std::pair<std::string, Resolution>> wait(std::chrono::milliseconds timeout);
  // Ends every wait() now and later.
  void stop();
  size_t in_flight() const; // lookups whose answers wait() has not handed over yet

private:
  struct State;
  std::shared_ptr<State> state_;
};

// The profile with each host entry replaced by one /32 or /128 entry per resolved address
// (same ports, same line). Hosts missing from `resolved` are left out: they allow nothing;
// and with the DNS resolvers of egress.dns (dns_system: those of resolv_conf) as port-53
// entries at the front. The result has dns_system cleared and dns listing what was added.
policy::Profile expand_hosts(const policy::Profile &p,
                             const std::map<std::string, Resolution> &resolved,
                             const std::string &resolv_conf = "/etc/resolv.conf");

// The nameserver addresses of a resolv.conf (IPv6 space, IPv4 mapped; in order, unique).
// Lines other than "nameserver ADDR" and addresses that do not parse are skipped.
std::vector<std::array<uint8_t, 16>> parse_resolv_conf(std::string_view text);
std::vector<std::array<uint8_t, 16>> system_resolvers(const std::string &resolv_conf);

} // namespace vigil::daemon
