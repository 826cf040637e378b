// SPDX-License-Identifier: Apache-2.0
// Egress host names: resolution (through /etc/hosts here: no DNS is needed) and expansion into
// per-address allow entries that keep the ports and the line.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>

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

// Lookups run on their own threads and hand over each answer as it comes; a name asked twice
// while in flight is looked up once; stop() ends every wait.
TEST(HostLookups, answers_arrive_as_each_lookup_finishes)
{
  HostLookups lookups;
  EXPECT_TRUE(lookups.ask("localhost", {}));
  EXPECT_FALSE(lookups.ask("localhost", {})) << "already in flight";
  std::vector<std::pair<std::string, Resolution>> got;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (got.empty() && std::chrono::steady_clock::now() < deadline)
    got = lookups.wait(std::chrono::milliseconds(100));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].first, "localhost");
  EXPECT_FALSE(got[0].second.addrs.empty());
  EXPECT_EQ(lookups.in_flight(), 0u);
  EXPECT_TRUE(lookups.ask("localhost", {})) << "asked again once answered";
  lookups.stop();
  const auto before = std::chrono::steady_clock::now();
  (void)lookups.wait(std::chrono::seconds(30));
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(5))
      << "a stopped wait returns at once";
  EXPECT_FALSE(lookups.ask("example.invalid", {})) << "nothing starts after stop()";
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

TEST(Resolver, resolv_conf_nameservers_in_order_without_repeats)
{
  auto ns = parse_resolv_conf("# generated\nsearch example\nnameserver 127.0.0.53\n"
                              "nameserver\t10.0.0.2 # office\nnameserver fe80::1%eth0\n"
                              "nameserver 127.0.0.53\nnameservers 1.2.3.4\nnameserver bogus\n"
                              "options edns0\n");
  ASSERT_EQ(ns.size(), 3u);
  EXPECT_EQ(ns[0], *policy::parse_ip("127.0.0.53"));
  EXPECT_EQ(ns[1], *policy::parse_ip("10.0.0.2"));
  EXPECT_EQ(ns[2], *policy::parse_ip("fe80::1"));
  EXPECT_TRUE(parse_resolv_conf("").empty());
}

TEST(Resolver, dns_allows_port_53_to_the_resolvers_only)
{
  const std::string conf =
      ::testing::TempDir() + "/vg-resolv-" + std::to_string(::getpid()) + ".conf";
  {
    std::ofstream(conf) << "nameserver 127.0.0.53\n";
  }
  auto p = policy::parse_profile("profile: p\negress:\n  dns: system\n  allow: []\n", "t.yaml");
  ASSERT_TRUE(p) << p.error().message();
  policy::Profile e = expand_hosts(*p, {}, conf);
  EXPECT_TRUE(policy::egress_allowed(e, *policy::parse_ip("127.0.0.53"), 53));
  EXPECT_FALSE(policy::egress_allowed(e, *policy::parse_ip("127.0.0.53"), 80));
  EXPECT_FALSE(policy::egress_allowed(e, *policy::parse_ip("8.8.8.8"), 53));
  EXPECT_FALSE(e.dns_system) << "installed as the addresses it resolved to";
  ASSERT_EQ(e.dns.size(), 1u);

  auto q = policy::parse_profile("profile: q\negress:\n  dns: [192.0.2.53, \"2001:db8::53\"]\n"
                                 "  allow: []\n",
                                 "t.yaml");
  ASSERT_TRUE(q) << q.error().message();
  policy::Profile f = expand_hosts(*q, {}, conf);
  EXPECT_TRUE(policy::egress_allowed(f, *policy::parse_ip("192.0.2.53"), 53));
  EXPECT_TRUE(policy::egress_allowed(f, *policy::parse_ip("2001:db8::53"), 53));
  EXPECT_FALSE(policy::egress_allowed(f, *policy::parse_ip("127.0.0.53"), 53))
      << "a list replaces the system resolvers";
  std::remove(conf.c_str());
}

TEST(Resolver, a_bad_dns_value_names_the_field)
{
  auto p = policy::parse_profile("profile: p\negress:\n  dns: anywhere\n  allow: []\n", "t.yaml");
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message().find("t.yaml:3"), std::string::npos) << p.error().message();
  EXPECT_NE(p.error().message().find("egress.dns"), std::string::npos) << p.error().message();
  auto q = policy::parse_profile("profile: p\negress:\n  dns: [not-an-ip]\n  allow: []\n", "t.yaml");
  ASSERT_FALSE(q);
  EXPECT_NE(q.error().message().find("egress.dns[0]"), std::string::npos) << q.error().message();
}

} // namespace
} // namespace vigil::daemon
