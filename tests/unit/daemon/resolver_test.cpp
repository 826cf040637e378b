// SPDX-License-Identifier: Apache-2.0
// Egress host names: resolution (through /etc/hosts here: no DNS is needed) and expansion into
// per-address allow entries that keep the ports and the line.
#include <gtest/gtest.h>

#include "daemon/resolver.h"

namespace vigil::daemon {
namespace {

TEST(Resolver, resolves_localhost_with_a_clamped_ttl)
{
  Resolution r = resolve_host("localhost");
  ASSERT_FALSE(r.addrs.empty());
  EXPECT_NE(std::find(r.addrs.begin(), r.addrs.end(), *policy::parse_ip("127.0.0.1")),
            r.addrs.end());
  EXPECT_GE(r.ttl_s, kMinTtl);
  EXPECT_LE(r.ttl_s, kMaxTtl);
}

TEST(Resolver, unknown_names_resolve_to_nothing)
{
  EXPECT_TRUE(resolve_host("no-such-host.invalid").addrs.empty());
}

TEST(Resolver, expansion_keeps_ports_and_drops_unresolved_hosts)
{
  auto p = policy::parse_profile("profile: p\negress:\n  allow:\n    - 10.0.0.0/8\n"
                                 "    - {host: api.example, ports: [443]}\n"
                                 "    - {host: gone.example}\n",
                                 "t.yaml");
  ASSERT_TRUE(p) << p.error().message();
  std::map<std::string, Resolution> resolved;
  resolved["api.example"].addrs = {*policy::parse_ip("192.0.2.7"), *policy::parse_ip("2001:db8::7")};
  policy::Profile e = expand_hosts(*p, resolved);
  ASSERT_EQ(e.egress_allow.size(), 3u);
  EXPECT_TRUE(policy::egress_allowed(e, *policy::parse_ip("192.0.2.7"), 443));
  EXPECT_FALSE(policy::egress_allowed(e, *policy::parse_ip("192.0.2.7"), 80));
  EXPECT_TRUE(policy::egress_allowed(e, *policy::parse_ip("2001:db8::7"), 443));
  EXPECT_FALSE(policy::egress_allowed(e, *policy::parse_ip("192.0.2.8"), 443));
  EXPECT_EQ(e.egress_allow[1].line, 5);
  EXPECT_FALSE(policy::egress_allowed(*p, *policy::parse_ip("192.0.2.7"), 443))
      << "an unexpanded host entry allows nothing";
}

} // namespace
} // namespace vigil::daemon
