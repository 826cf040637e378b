// SPDX-License-Identifier: Apache-2.0
// pipeline::parse_dns_response on well-formed answers (compression, CNAME chains, AAAA, TCP) and
// on hostile ones: compression loops, pointers forward, truncated records, bogus counts, names a
// host cannot have, and addresses that do not answer the question. Plus the VG_EV_DNS record.
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pipeline/dns.h"
#include "pipeline/event.h"
#include "policy/profile.h"
#include "vigil/abi.h"

namespace vigil::pipeline {
namespace {

using Bytes = std::vector<uint8_t>;

void u16(Bytes &b, uint16_t v)
{
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}

void name(Bytes &b, const std::string &dotted)
{
  size_t at = 0;
  while (at < dotted.size()) {
    size_t dot = dotted.find('.', at);
    if (dot == std::string::npos)
      dot = dotted.size();
    b.push_back(static_cast<uint8_t>(dot - at));
    b.insert(b.end(), dotted.begin() + static_cast<ptrdiff_t>(at),
             dotted.begin() + static_cast<ptrdiff_t>(dot));
    at = dot + 1;
  }
  b.push_back(0);
}

// A response header and one question (qname at offset 12).
Bytes response(const std::string &qname, uint16_t ancount, uint16_t qtype = 1,
               uint16_t flags = 0x8180)
{
  Bytes b;
  u16(b, 0x1234);
  u16(b, flags);
  u16(b, 1);
  u16(b, ancount);
  u16(b, 0);
  u16(b, 0);
  name(b, qname);
  u16(b, qtype);
  u16(b, 1);
  return b;
}

// A resource record whose owner is the name at offset `ptr` (a compression pointer).
void rr(Bytes &b, uint16_t ptr, uint16_t type, const Bytes &rdata, uint32_t ttl = 300)
{
  u16(b, static_cast<uint16_t>(0xc000 | ptr));
  u16(b, type);
  u16(b, 1);
  u16(b, static_cast<uint16_t>(ttl >> 16));
  u16(b, static_cast<uint16_t>(ttl));
  u16(b, static_cast<uint16_t>(rdata.size()));
  b.insert(b.end(), rdata.begin(), rdata.end());
}

std::string text(const std::array<uint8_t, 16> &a)
{
  return policy::ip_to_string(a);
}

struct Parsed {
  bool ok;
  DnsMessage m;
  std::string error;
};

Parsed parse(const Bytes &b, bool tcp = false)
{
  Parsed p;
  p.ok = parse_dns_response(b, tcp, p.m, p.error);
  return p;
}

TEST(DnsParse, an_answer_with_a_compressed_owner)
{
  Bytes b = response("Pypi.Vigil.TEST", 2);
  rr(b, 12, 1, {127, 0, 0, 9}, 60);
  rr(b, 12, 1, {127, 0, 0, 10}, 30);
  const Parsed p = parse(b);
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.m.qname, "pypi.vigil.test") << "lower case";
  EXPECT_EQ(p.m.qtype, 1);
  EXPECT_EQ(p.m.id, 0x1234);
  ASSERT_EQ(p.m.addrs.size(), 2u);
  EXPECT_EQ(text(p.m.addrs[0]), "127.0.0.9");
  EXPECT_EQ(text(p.m.addrs[1]), "127.0.0.10");
  EXPECT_EQ(p.m.ttl, 30u);
  EXPECT_FALSE(p.m.cut);
}

TEST(DnsParse, a_cname_chain_and_aaaa_and_nothing_off_the_chain)
{
  Bytes b = response("pypi.org", 4, 28);
  // CNAME pypi.org -> cdn.example.net (written out), AAAA for the target (compressed to it),
  // an A for an unrelated name the server slipped in, and an A for the question itself.
  Bytes target;
  name(target, "cdn.example.net");
  const size_t cname_rdata = b.size() + 12;
  rr(b, 12, 5, target);
  Bytes v6(16, 0);
  v6[0] = 0x20;
  v6[1] = 0x01;
  v6[2] = 0x0d;
  v6[3] = 0xb8;
  v6[15] = 1;
  rr(b, static_cast<uint16_t>(cname_rdata), 28, v6);
  const size_t other_at = b.size();
  Bytes other;
  name(other, "evil.example");
  b.insert(b.end(), other.begin(), other.end());
  u16(b, 1);
  u16(b, 1);
  u16(b, 0);
  u16(b, 60);
  u16(b, 4);
  b.insert(b.end(), {6, 6, 6, 6});
  (void)other_at;
  rr(b, 12, 1, {10, 0, 0, 1});
  const Parsed p = parse(b);
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.m.cnames, std::vector<std::string>{"cdn.example.net"});
  ASSERT_EQ(p.m.addrs.size(), 2u);
  EXPECT_EQ(text(p.m.addrs[0]), "2001:db8::1");
  EXPECT_EQ(text(p.m.addrs[1]), "10.0.0.1");
}

TEST(DnsParse, tcp_messages_start_with_their_length)
{
  Bytes m = response("git.vigil.test", 1);
  rr(m, 12, 1, {127, 0, 0, 5});
  Bytes b;
  u16(b, static_cast<uint16_t>(m.size()));
  b.insert(b.end(), m.begin(), m.end());
  const Parsed p = parse(b, true);
  ASSERT_TRUE(p.ok) << p.error;
  ASSERT_EQ(p.m.addrs.size(), 1u);
  EXPECT_FALSE(p.m.cut);
  // A length longer than the segment: what is there is read, and the cut is said.
  b[0] = 0x7f;
  const Parsed q = parse(b, true);
  ASSERT_TRUE(q.ok) << q.error;
  EXPECT_TRUE(q.m.cut);
  EXPECT_FALSE(parse({0x00}, true).ok);
}

TEST(DnsParse, compression_loops_and_forward_pointers_are_refused)
{
  // The question's name is a pointer to itself.
  Bytes self = response("a.b", 0);
  self.resize(12);
  u16(self, 0xc00c);
  u16(self, 1);
  u16(self, 1);
  EXPECT_FALSE(parse(self).ok);
  // An answer owner that points forward, to itself, and two pointers pointing at each other.
  for (int variant = 0; variant < 3; ++variant) {
    Bytes b = response("x.y", 1);
    const auto at = static_cast<uint16_t>(b.size());
    if (variant == 0) {
      u16(b, static_cast<uint16_t>(0xc000 | (at + 2)));
      u16(b, 0xc00c);
    } else if (variant == 1) {
      u16(b, static_cast<uint16_t>(0xc000 | at));
    } else {
      // a label then a pointer back to the label: "x.x.x..." forever without the rule
      b.insert(b.end(), {1, 'x'});
      u16(b, static_cast<uint16_t>(0xc000 | at));
    }
    u16(b, 1);
    u16(b, 1);
    u16(b, 0);
    u16(b, 60);
    u16(b, 4);
    b.insert(b.end(), {1, 2, 3, 4});
    const Parsed p = parse(b);
    EXPECT_FALSE(p.ok) << variant;
    EXPECT_NE(p.error.find("compression pointer"), std::string::npos) << p.error;
  }
}

TEST(DnsParse, truncated_records_keep_what_came_before_them)
{
  Bytes full = response("pypi.vigil.test", 3);
  rr(full, 12, 1, {127, 0, 0, 9});
  rr(full, 12, 1, {127, 0, 0, 10});
  rr(full, 12, 1, {127, 0, 0, 11});
  const size_t header_and_question = 12 + 17 + 4;
  for (size_t n = 0; n < full.size(); ++n) {
    const Bytes cut(full.begin(), full.begin() + static_cast<ptrdiff_t>(n));
    const Parsed p = parse(cut);
    if (n < header_and_question) {
      EXPECT_FALSE(p.ok) << n;
      continue;
    }
    ASSERT_TRUE(p.ok) << n << ": " << p.error;
    EXPECT_EQ(p.m.addrs.size(), (n - header_and_question) / 16) << n;
    EXPECT_TRUE(p.m.cut) << n;
  }
  const Parsed whole = parse(full);
  ASSERT_TRUE(whole.ok) << whole.error;
  EXPECT_EQ(whole.m.addrs.size(), 3u);
  EXPECT_FALSE(whole.m.cut);
}

TEST(DnsParse, bogus_counts_cost_nothing_and_refuse_what_is_not_one_question)
{
  Bytes b = response("a.example", 0xffff);
  rr(b, 12, 1, {1, 2, 3, 4});
  const Parsed p = parse(b);
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.m.addrs.size(), 1u);
  EXPECT_TRUE(p.m.cut);
  Bytes two = response("a.example", 0);
  two[5] = 2;
  EXPECT_FALSE(parse(two).ok);
  Bytes none = response("a.example", 0);
  none[5] = 0;
  EXPECT_FALSE(parse(none).ok);
  EXPECT_FALSE(parse(response("a.example", 0, 1, 0x0100)).ok) << "a query";
  EXPECT_FALSE(parse(response("a.example", 0, 1, 0xa980)).ok) << "opcode 5 (update)";
  EXPECT_FALSE(parse(Bytes(11, 0x80)).ok);
  EXPECT_FALSE(parse({}).ok);
  // More records than the parser reads: bounded, and at most kDnsMaxAddrs addresses kept.
  Bytes many = response("many.example", 200);
  for (int i = 0; i < 200; ++i)
    rr(many, 12, 1, {10, 0, static_cast<uint8_t>(i / 256), static_cast<uint8_t>(i)});
  const Parsed q = parse(many);
  ASSERT_TRUE(q.ok) << q.error;
  EXPECT_EQ(q.m.addrs.size(), kDnsMaxAddrs);
}

TEST(DnsParse, names_are_host_names_and_bounded)
{
  Bytes b = response("a.example", 0);
  b[13] = ' ';
  EXPECT_FALSE(parse(b).ok);
  b[13] = '.';
  EXPECT_FALSE(parse(b).ok) << "a dot inside a label";
  b[13] = 0;
  EXPECT_FALSE(parse(b).ok) << "a NUL inside a label";
  Bytes label_type = response("a.example", 0);
  label_type[12] = 0x41; // 01xxxxxx: the extended label type
  EXPECT_FALSE(parse(label_type).ok);
  std::string longest;
  for (int i = 0; i < 5; ++i)
    longest += std::string(i ? "." : "") + std::string(50, 'a');
  const Parsed p = parse(response(longest, 0));
  EXPECT_FALSE(p.ok);
  EXPECT_NE(p.error.find("253"), std::string::npos) << p.error;
  EXPECT_TRUE(parse(response(longest.substr(0, 253), 0)).ok);
  // An A record of the wrong size and a CNAME that is not a name are not addresses.
  Bytes odd = response("a.example", 2);
  rr(odd, 12, 1, {1, 2, 3});
  rr(odd, 12, 28, {1, 2, 3, 4});
  const Parsed q = parse(odd);
  ASSERT_TRUE(q.ok) << q.error;
  EXPECT_TRUE(q.m.addrs.empty());
  Bytes bad_cname = response("a.example", 1);
  rr(bad_cname, 12, 5, {3, 'a', 'b'});
  EXPECT_FALSE(parse(bad_cname).ok);
}

TEST(DnsParse, cname_loops_end)
{
  Bytes b = response("a.example", 2);
  Bytes t1, t2;
  name(t1, "b.example");
  rr(b, 12, 5, t1);
  const auto b_at = static_cast<uint16_t>(b.size() - t1.size());
  rr(b, b_at, 5, {0xc0, 12}); // b.example -> a.example
  const Parsed p = parse(b);
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.m.cnames, std::vector<std::string>{"b.example"});
  EXPECT_TRUE(p.m.addrs.empty());
}

vg_event_dns dns_record(const Bytes &payload)
{
  vg_event_dns r;
  std::memset(&r, 0, sizeof(r));
  r.hdr.type = VG_EV_DNS;
  r.hdr.size = sizeof(r);
  r.hdr.version = VG_ABI_VERSION;
  r.hdr.cgroup_id = 77;
  r.hdr.profile_id = 2;
  r.addr[10] = r.addr[11] = 0xff;
  r.addr[12] = 127;
  r.addr[15] = 53;
  r.port = 53;
  r.proto = 17;
  r.len = static_cast<uint16_t>(std::min(payload.size(), sizeof(r.data)));
  r.total = static_cast<uint16_t>(payload.size());
  std::memcpy(r.data, payload.data(), r.len);
  return r;
}

Result<Event> decode_record(const vg_event_dns &r)
{
  return decode({reinterpret_cast<const std::byte *>(&r), sizeof(r)});
}

TEST(DnsDecode, a_record_decodes_into_the_answer_and_a_bad_one_into_its_reason)
{
  Bytes b = response("pypi.vigil.test", 1);
  rr(b, 12, 1, {127, 0, 0, 9});
  auto ev = decode_record(dns_record(b));
  ASSERT_TRUE(ev) << ev.error().message();
  EXPECT_EQ(ev->hdr.type, EventType::dns);
  EXPECT_EQ(ev->hdr.tgid, 0u);
  const auto &d = std::get<DnsBody>(ev->body);
  EXPECT_EQ(text(d.server), "127.0.0.53");
  EXPECT_EQ(d.port, 53);
  EXPECT_EQ(d.qname, "pypi.vigil.test");
  ASSERT_EQ(d.addrs.size(), 1u);
  EXPECT_EQ(text(d.addrs[0]), "127.0.0.9");
  EXPECT_TRUE(d.error.empty());

  auto bad = decode_record(dns_record(response("a.example", 0, 1, 0x0100)));
  ASSERT_TRUE(bad) << "the record is sound, its message is not";
  EXPECT_EQ(std::get<DnsBody>(bad->body).error, "a query, not a response");
  EXPECT_TRUE(std::get<DnsBody>(bad->body).qname.empty());

  vg_event_dns over = dns_record(b);
  over.len = VG_DNS_MAX + 1;
  EXPECT_FALSE(decode_record(over));
  vg_event_dns shortrec = dns_record(b);
  EXPECT_FALSE(decode({reinterpret_cast<const std::byte *>(&shortrec), sizeof(shortrec) - 1}));
}

} // namespace
} // namespace vigil::pipeline
