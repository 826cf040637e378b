// SPDX-License-Identifier: Apache-2.0
// Egress allowlist compilation into LPM-trie entries.
#include "policy/compile.h"

#include <arpa/inet.h>

#include <algorithm>
#include <map>

namespace vigil::policy {

namespace {

// Merges ranges; an empty list means "any port" and absorbs everything.
struct PortSet {
  bool any = false;
  std::vector<PortRange> ranges;

  void add(const std::vector<PortRange> &r)
  {
    if (any)
      return;
    if (r.empty()) {
      any = true;
      ranges.clear();
      return;
    }
    ranges.insert(ranges.end(), r.begin(), r.end());
    std::sort(ranges.begin(), ranges.end(),
              [](const PortRange &a, const PortRange &b) { return a.lo < b.lo; });
    std::vector<PortRange> merged;
    for (const auto &x : ranges) {
      if (!merged.empty() && x.lo <= static_cast<uint32_t>(merged.back().hi) + 1)
        merged.back().hi = std::max(merged.back().hi, x.hi);
      else
        merged.push_back(x);
    }
    ranges = std::move(merged);
  }
};

bool contains(const Cidr &outer, const Cidr &inner)
{
  return outer.prefix_len <= inner.prefix_len && outer.contains(inner.addr);
}

} // namespace

Result<std::vector<EgressEntry>> compile_egress(const Profile &p, uint32_t profile_id)
{
  // One entry per distinct prefix, ports of identical prefixes merged.
  std::map<std::pair<std::array<uint8_t, 16>, uint8_t>, const Cidr *> prefixes;
  for (const auto &a : p.egress_allow)
    if (a.host.empty()) // unresolved host names allow nothing
      prefixes.emplace(std::make_pair(a.cidr.addr, a.cidr.prefix_len), &a.cidr);

  std::vector<EgressEntry> out;
  for (const auto &[k, cidr] : prefixes) {
    PortSet ports;
    int line = 0;
    for (const auto &a : p.egress_allow) {
      if (a.host.empty() && contains(a.cidr, *cidr)) {
        ports.add(a.ports);
        if (a.cidr.prefix_len == cidr->prefix_len)
          line = a.line;
      }
    }
    if (ports.ranges.size() > VG_PORT_RANGES)
      return fail(p.source + ":" + std::to_string(line) + ": egress.allow: " + cidr->to_string() +
                  " needs " + std::to_string(ports.ranges.size()) +
                  " port ranges once the ports of the wider prefixes that contain it are added; "
                  "the kernel map holds " +
                  std::to_string(VG_PORT_RANGES));
    EgressEntry e;
    e.key.prefixlen = 32u + cidr->prefix_len;
    e.key.profile_id = htonl(profile_id);
    std::copy(cidr->addr.begin(), cidr->addr.end(), e.key.addr);
    e.val.nranges = ports.any ? 0 : static_cast<uint16_t>(ports.ranges.size());
    for (size_t i = 0; !ports.any && i < ports.ranges.size(); ++i)
      e.val.ranges[i] = vg_port_range{ports.ranges[i].lo, ports.ranges[i].hi};
    out.push_back(e);
  }
  return out;
}

} // namespace vigil::policy
