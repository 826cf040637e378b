// SPDX-License-Identifier: Apache-2.0
// Egress allowlist -> LPM-trie entries: one entry per prefix, wider prefixes' ports merged into
// narrower ones, host entries left out until resolved, the port-range limit reported.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "policy/compile.h"

namespace vigil::policy {
namespace {

Profile parse(const std::string &yaml)
{
  auto p = parse_profile(yaml, "t.yaml");
  EXPECT_TRUE(p) << (p ? "" : p.error().message());
  return p ? *p : Profile{};
}

const EgressEntry *find_prefix(const std::vector<EgressEntry> &es, uint32_t prefixlen)
{
  for (const auto &e : es)
    if (e.key.prefixlen == prefixlen)
      return &e;
  return nullptr;
}

TEST(CompileEgress, narrower_prefixes_inherit_the_ports_of_wider_ones)
{
  Profile p = parse("profile: p\negress:\n  allow:\n    - {cidr: 10.0.0.0/8, ports: [443]}\n"
                    "    - {cidr: 10.1.0.0/16, ports: [80]}\n");
  auto es = compile_egress(p, 7);
  ASSERT_TRUE(es);
  ASSERT_EQ(es->size(), 2u);
  const EgressEntry *wide = find_prefix(*es, 32 + 96 + 8);
  const EgressEntry *narrow = find_prefix(*es, 32 + 96 + 16);
  ASSERT_TRUE(wide && narrow);
  EXPECT_EQ(ntohl(narrow->key.profile_id), 7u);
  ASSERT_EQ(wide->val.nranges, 1);
  EXPECT_EQ(wide->val.ranges[0].lo, 443);
  ASSERT_EQ(narrow->val.nranges, 2) << "10.1.2.3:443 must stay allowed by the /8";
  EXPECT_EQ(narrow->val.ranges[0].lo, 80);
  EXPECT_EQ(narrow->val.ranges[1].lo, 443);
}

TEST(CompileEgress, any_port_absorbs_ranges_and_adjacent_ranges_merge)
{
  Profile p = parse("profile: p\negress:\n  allow:\n    - 127.0.0.1\n"
                    "    - {cidr: 127.0.0.1/32, ports: [22]}\n"
                    "    - {cidr: 192.0.2.0/24, ports: [\"1000-1999\", \"2000-2100\"]}\n");
  auto es = compile_egress(p, 1);
  ASSERT_TRUE(es);
  const EgressEntry *host = find_prefix(*es, 32 + 128);
  ASSERT_TRUE(host);
  EXPECT_EQ(host->val.nranges, 0) << "any port";
  const EgressEntry *net = find_prefix(*es, 32 + 96 + 24);
  ASSERT_TRUE(net);
  ASSERT_EQ(net->val.nranges, 1);
  EXPECT_EQ(net->val.ranges[0].lo, 1000);
  EXPECT_EQ(net->val.ranges[0].hi, 2100);
}

TEST(CompileEgress, unresolved_hosts_compile_to_nothing)
{
  Profile p = parse("profile: p\negress:\n  allow:\n    - {host: api.example, ports: [443]}\n");
  auto es = compile_egress(p, 1);
  ASSERT_TRUE(es);
  EXPECT_TRUE(es->empty());
}

TEST(CompileEgress, too_many_port_ranges_is_an_error_naming_the_line)
{
  std::string yaml = "profile: p\negress:\n  allow:\n    - {cidr: 10.0.0.0/8, ports: [";
  for (int i = 0; i < VG_PORT_RANGES + 1; ++i)
    yaml += (i ? ", " : "") + std::to_string(1000 + 2 * i);
  yaml += "]}\n";
  auto es = compile_egress(parse(yaml), 1);
  ASSERT_FALSE(es);
  EXPECT_NE(es.error().message().find("t.yaml:4: egress.allow: 10.0.0.0/8 needs 17 port ranges"),
            std::string::npos)
      << es.error().message();
}

} // namespace
} // namespace vigil::policy
