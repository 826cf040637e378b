// SPDX-License-Identifier: Apache-2.0
// DNS resolution with TTLs for egress host entries.
#include "daemon/resolver.h"

#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <condition_variable>
#include <fstream>
#include <sstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

namespace vigil::daemon {

namespace {

// Adds the type-qtype answers of a DNS query to out; returns the smallest TTL seen (0: none).
uint32_t query(const std::string &host, int qtype, std::vector<std::array<uint8_t, 16>> &out,
               QueryPatience patience)
{
  struct __res_state st{};
  if (res_ninit(&st) != 0)
    return 0;
  // A resolver that does not answer must not hold a caller that waits for the glibc default of
  // 5 s x 2 tries per query; the caller says how patient it can be.
  st.retrans = patience.wait_s;
  st.retry = patience.attempts;
  unsigned char answer[4096];
  const int len = res_nquery(&st, host.c_str(), ns_c_in, qtype, answer, sizeof(answer));
  uint32_t ttl = 0;
  ns_msg msg;
  if (len > 0 && ns_initparse(answer, len, &msg) == 0) {
    for (int i = 0; i < ns_msg_count(msg, ns_s_an); ++i) {
      ns_rr rr;
      if (ns_parserr(&msg, ns_s_an, i, &rr) != 0 || ns_rr_type(rr) != qtype)
        continue;
      std::array<uint8_t, 16> a{};
      if (qtype == ns_t_a && ns_rr_rdlen(rr) == 4) {
        a[10] = a[11] = 0xff;
        std::memcpy(&a[12], ns_rr_rdata(rr), 4);
      } else if (qtype == ns_t_aaaa && ns_rr_rdlen(rr) == 16) {
        std::memcpy(a.data(), ns_rr_rdata(rr), 16);
      } else {
        continue;
      }
      out.push_back(a);
      ttl = ttl == 0 ? ns_rr_ttl(rr) : std::min<uint32_t>(ttl, ns_rr_ttl(rr));
    }
  }
  res_nclose(&st);
  return ttl;
}

} // namespace

Resolution resolve_host(const std::string &host, QueryPatience patience)
{
  Resolution r;
  uint32_t ttl = 0;
  for (int qtype : {ns_t_a, ns_t_aaaa}) {
    const uint32_t t = query(host, qtype, r.addrs, patience);
    if (t)
      ttl = ttl == 0 ? t : std::min(ttl, t);
  }
  if (r.addrs.empty()) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo *res = nullptr;
    if (::getaddrinfo(host.c_str(), nullptr, &hints, &res) == 0) {
      for (addrinfo *ai = res; ai; ai = ai->ai_next) {
        std::array<uint8_t, 16> a{};
        if (ai->ai_family == AF_INET) {
          a[10] = a[11] = 0xff;
          std::memcpy(&a[12], &reinterpret_cast<sockaddr_in *>(ai->ai_addr)->sin_addr, 4);
        } else if (ai->ai_family == AF_INET6) {
          std::memcpy(a.data(), &reinterpret_cast<sockaddr_in6 *>(ai->ai_addr)->sin6_addr, 16);
        } else {
          continue;
        }
        r.addrs.push_back(a);
      }
      ::freeaddrinfo(res);
    }
    ttl = kDefaultTtl;
  }
  std::sort(r.addrs.begin(), r.addrs.end());
  r.addrs.erase(std::unique(r.addrs.begin(), r.addrs.end()), r.addrs.end());
  r.ttl_s = std::clamp(ttl ? ttl : kDefaultTtl, kMinTtl, kMaxTtl);
  return r;
}

struct HostLookups::State {
  mutable std::mutex mu;
  std::condition_variable cv;
  std::set<std::string> asking;
  std::vector<std::pair<std::string, Resolution>> ready;
  bool stopped = false;
};

HostLookups::HostLookups() : state_(std::make_shared<State>()) {}

bool HostLookups::ask(const std::string &host, QueryPatience patience)
{
  {
    std::lock_guard lock(state_->mu);
    if (state_->stopped || !state_->asking.insert(host).second)
      return false;
  }
  std::thread([state = state_, host, patience] {
    Resolution r = resolve_host(host, patience);
    std::lock_guard lock(state->mu);
    // Still "asking" until wait() hands the answer over: a second ask meanwhile would only
    // repeat the lookup whose answer is on its way.
    state->ready.emplace_back(host, std::move(r));
    state->cv.notify_all();
  }).detach();
  return true;
}

std::vector<std::pair<std::string, Resolution>> HostLookups::wait(std::chrono::milliseconds timeout)
{
  std::unique_lock lock(state_->mu);
  state_->cv.wait_for(lock, timeout, [&] { return state_->stopped || !state_->ready.empty(); });
  std::vector<std::pair<std::string, Resolution>> out;
  out.swap(state_->ready);
  for (const auto &answer : out)
    state_->asking.erase(answer.first);
  return out;
}

void HostLookups::stop()
{
  std::lock_guard lock(state_->mu);
  state_->stopped = true;
  state_->cv.notify_all();
}

size_t HostLookups::in_flight() const
{
  std::lock_guard lock(state_->mu);
  return state_->asking.size();
}

std::vector<std::array<uint8_t, 16>> parse_resolv_conf(std::string_view text)
{
  std::vector<std::array<uint8_t, 16>> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos)
      end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    constexpr std::string_view kKey = "nameserver";
    if (!line.starts_with(kKey) || line.size() == kKey.size() ||
        (line[kKey.size()] != ' ' && line[kKey.size()] != '\t'))
      continue;
    line.remove_prefix(kKey.size());
    const size_t from = line.find_first_not_of(" \t");
    if (from == std::string_view::npos)
      continue;
    line.remove_prefix(from);
    line = line.substr(0, line.find_first_of(" \t\r#;"));
    // "fe80::1%eth0": the zone does not change the address the kernel sees.
    line = line.substr(0, line.find('%'));
    if (auto ip = policy::parse_ip(line);
        ip && std::find(out.begin(), out.end(), *ip) == out.end())
      out.push_back(*ip);
  }
  return out;
}

std::vector<std::array<uint8_t, 16>> system_resolvers(const std::string &resolv_conf)
{
  std::ifstream in(resolv_conf);
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_resolv_conf(ss.str());
}

policy::Profile expand_hosts(const policy::Profile &p,
                             const std::map<std::string, Resolution> &resolved,
                             const std::string &resolv_conf)
{
  policy::Profile out = p;
  out.egress_allow.clear();
  // DNS first: port 53 to the profile's resolvers, and to the host's own with "system".
  std::vector<policy::Cidr> dns = p.dns;
  if (p.dns_system)
    for (const auto &addr : system_resolvers(resolv_conf)) {
      policy::Cidr c;
      c.addr = addr;
      c.is_v4 = policy::is_v4_mapped(addr);
      c.prefix_len = 128; // one address, in the IPv6 space
      dns.push_back(c);
    }
  for (const auto &c : dns) {
    policy::EgressAllow e;
    e.cidr = c;
    e.ports.push_back(policy::PortRange{53, 53});
    out.egress_allow.push_back(e);
  }
  out.dns = std::move(dns);
  out.dns_system = false; // expanded: what was installed is what the profile records
  for (const auto &a : p.egress_allow) {
    if (a.host.empty()) {
      out.egress_allow.push_back(a);
      continue;
    }
    auto it = resolved.find(a.host);
    if (it == resolved.end())
      continue;
    for (const auto &addr : it->second.addrs) {
      policy::EgressAllow e = a;
      e.host.clear();
      e.cidr.addr = addr;
      e.cidr.prefix_len = 128;
      e.cidr.is_v4 = policy::is_v4_mapped(addr);
      out.egress_allow.push_back(e);
    }
  }
  return out;
}

} // namespace vigil::daemon
