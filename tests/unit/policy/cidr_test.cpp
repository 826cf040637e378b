// SPDX-License-Identifier: Apache-2.0
// CIDR parsing and matching, including the IPv4-mapped IPv6 equivalence the egress allowlist
// relies on.

#include <arpa/inet.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/profile.h"

namespace vigil::policy {
namespace {

using ::testing::HasSubstr;

std::array<uint8_t, 16> ip(std::string_view text)
{
  auto parsed = parse_ip(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.value_or(std::array<uint8_t, 16>{});
}

Cidr cidr(std::string_view text)
{
  auto parsed = parse_cidr(text);
  EXPECT_TRUE(parsed.has_value()) << text << ": " << (parsed ? "" : parsed.error().message());
  return parsed.value_or(Cidr{});
}

TEST(Cidr, stores_ipv4_as_mapped_with_shifted_prefix)
{
  Cidr c = cidr("10.0.0.0/8");
  EXPECT_TRUE(c.is_v4);
  EXPECT_EQ(c.prefix_len, 104);
  std::array<uint8_t, 16> want{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 0};
  EXPECT_EQ(c.addr, want);
  EXPECT_EQ(c.to_string(), "10.0.0.0/8");
}

TEST(Cidr, bare_address_is_a_host_route)
{
  EXPECT_EQ(cidr("127.0.0.1").prefix_len, 128);
  EXPECT_EQ(cidr("127.0.0.1").to_string(), "127.0.0.1/32");
  EXPECT_EQ(cidr("::1").prefix_len, 128);
  EXPECT_EQ(cidr("::1").to_string(), "::1/128");
}

TEST(Cidr, masks_host_bits_instead_of_rejecting)
{
  EXPECT_EQ(cidr("10.1.2.3/8").to_string(), "10.0.0.0/8");
  EXPECT_EQ(cidr("192.168.1.255/23").to_string(), "192.168.0.0/23");
  EXPECT_EQ(cidr("2001:db8::1/32").to_string(), "2001:db8::/32");
  EXPECT_EQ(cidr("fe80::1234/10").to_string(), "fe80::/10");
}

TEST(Cidr, contains_respects_partial_byte_prefixes)
{
  Cidr c = cidr("192.168.0.0/23");
  EXPECT_TRUE(c.contains(ip("192.168.0.1")));
  EXPECT_TRUE(c.contains(ip("192.168.1.254")));
  EXPECT_FALSE(c.contains(ip("192.168.2.1")));
  EXPECT_FALSE(c.contains(ip("10.0.0.1")));
  Cidr v6 = cidr("2001:db8:8000::/33");
  EXPECT_TRUE(v6.contains(ip("2001:db8:ffff::1")));
  EXPECT_FALSE(v6.contains(ip("2001:db8:7fff::1")));
}

TEST(Cidr, zero_prefix_matches_everything_in_its_space)
{
  EXPECT_TRUE(cidr("::/0").contains(ip("2001:db8::1")));
  EXPECT_TRUE(cidr("::/0").contains(ip("1.2.3.4")));
  Cidr any_v4 = cidr("0.0.0.0/0");
  EXPECT_EQ(any_v4.prefix_len, 96);
  EXPECT_TRUE(any_v4.contains(ip("8.8.8.8")));
  EXPECT_FALSE(any_v4.contains(ip("2001:db8::1")));
}

TEST(Cidr, ipv4_mapped_ipv6_address_matches_ipv4_rule)
{
  Cidr c = cidr("10.0.0.0/8");
  EXPECT_TRUE(c.contains(ip("::ffff:10.1.2.3")));
  EXPECT_FALSE(c.contains(ip("::ffff:11.1.2.3")));
  // Also the other direction: a rule written in the mapped IPv6 spelling covers IPv4.
  Cidr mapped = cidr("::ffff:10.0.0.0/104");
  EXPECT_FALSE(mapped.is_v4);
  EXPECT_TRUE(mapped.contains(ip("10.200.0.1")));
  EXPECT_EQ(mapped.to_string(), "::ffff:10.0.0.0/104");
}

TEST(Cidr, ipv4_mapped_takes_network_byte_order)
{
  in_addr a{};
  ASSERT_EQ(inet_pton(AF_INET, "192.0.2.7", &a), 1);
  EXPECT_EQ(ipv4_mapped(a.s_addr), ip("192.0.2.7"));
  EXPECT_EQ(ip_to_string(ipv4_mapped(a.s_addr)), "192.0.2.7");
}

TEST(Cidr, ip_to_string_prints_both_families)
{
  EXPECT_EQ(ip_to_string(ip("::ffff:1.2.3.4")), "1.2.3.4");
  EXPECT_EQ(ip_to_string(ip("2001:db8::5")), "2001:db8::5");
  EXPECT_EQ(ip_to_string(ip("::")), "::");
}

TEST(Cidr, parse_ip_rejects_bad_strings)
{
  for (const char *bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4/8", " 1.2.3.4", "::g",
                          "fe80::1%eth0", "localhost"})
    EXPECT_FALSE(parse_ip(bad).has_value()) << bad;
}

TEST(Cidr, rejects_prefix_out_of_range_with_the_family_range)
{
  auto v4 = parse_cidr("10.0.0.0/33");
  ASSERT_FALSE(v4);
  EXPECT_EQ(v4.error().message(), "'10.0.0.0/33' prefix length 33 is out of range 0..32");
  auto v6 = parse_cidr("::/129");
  ASSERT_FALSE(v6);
  EXPECT_EQ(v6.error().message(), "'::/129' prefix length 129 is out of range 0..128");
  auto huge = parse_cidr("::/99999999999999999999");
  ASSERT_FALSE(huge);
  EXPECT_THAT(huge.error().message(), HasSubstr("out of range 0..128"));
}

TEST(Cidr, rejects_malformed_text)
{
  for (const char *bad :
       {"10.0.0.0/", "10.0.0.0/x", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/8/8", "10.0.0.0/ 8"}) {
    auto r = parse_cidr(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_THAT(r.error().message(), HasSubstr("is not a number")) << bad;
  }
  auto addr = parse_cidr("10.0.0.300/8");
  ASSERT_FALSE(addr);
  EXPECT_EQ(addr.error().message(), "'10.0.0.300/8': '10.0.0.300' is not an IPv4 or IPv6 address");
  EXPECT_FALSE(parse_cidr(""));
  EXPECT_FALSE(parse_cidr("/8"));
}

} // namespace
} // namespace vigil::policy
