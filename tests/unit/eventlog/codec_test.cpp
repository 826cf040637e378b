// SPDX-License-Identifier: Apache-2.0
// The EVENT codec: round trips of every body type, every truncated prefix refused cleanly,
// random damage never crashes, and the extension rule (unknown tags skipped) holds.
#include <random>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "eventlog/codec.h"
#include "eventlog/wire.h"
#include "samples.h"

namespace vigil::eventlog {
namespace {

using ::testing::HasSubstr;
using namespace pipeline;

std::span<const std::byte> bytes(const std::string &s)
{
  return wire::as_bytes(s);
}

void expect_same(const Event &a, const Event &b)
{
  EXPECT_EQ(a.hdr.type, b.hdr.type);
  EXPECT_EQ(a.hdr.flags, b.hdr.flags);
  EXPECT_EQ(a.hdr.ts_ns, b.hdr.ts_ns);
  EXPECT_EQ(a.hdr.cgroup_id, b.hdr.cgroup_id);
  EXPECT_EQ(a.hdr.tgid, b.hdr.tgid);
  EXPECT_EQ(a.hdr.tid, b.hdr.tid);
  EXPECT_EQ(a.hdr.uid, b.hdr.uid);
  EXPECT_EQ(a.hdr.gid, b.hdr.gid);
  EXPECT_EQ(a.hdr.profile_id, b.hdr.profile_id);
  EXPECT_EQ(a.hdr.rule_id, b.hdr.rule_id);
  EXPECT_EQ(a.hdr.verdict, b.hdr.verdict);
  EXPECT_EQ(a.hdr.tier, b.hdr.tier);
  EXPECT_EQ(a.hdr.comm, b.hdr.comm);
  ASSERT_EQ(a.body.index(), b.body.index());
  if (auto *x = std::get_if<ExecBody>(&a.body)) {
    auto &y = std::get<ExecBody>(b.body);
    EXPECT_EQ(x->ppid, y.ppid);
    EXPECT_EQ(x->old_tid, y.old_tid);
    EXPECT_EQ(x->loginuid, y.loginuid);
    EXPECT_EQ(x->exe_dev, y.exe_dev);
    EXPECT_EQ(x->exe_ino, y.exe_ino);
    EXPECT_EQ(x->exe, y.exe);
    EXPECT_EQ(x->argv, y.argv);
    EXPECT_EQ(x->env, y.env);
    EXPECT_EQ(x->env_truncated, y.env_truncated);
  } else if (auto *f = std::get_if<ForkBody>(&a.body)) {
    EXPECT_EQ(f->child_tgid, std::get<ForkBody>(b.body).child_tgid);
  } else if (auto *x2 = std::get_if<ExitBody>(&a.body)) {
    EXPECT_EQ(x2->exit_code, std::get<ExitBody>(b.body).exit_code);
  } else if (auto *o = std::get_if<OpenBody>(&a.body)) {
    auto &p = std::get<OpenBody>(b.body);
    EXPECT_EQ(o->ret, p.ret);
    EXPECT_EQ(o->ino, p.ino);
    EXPECT_EQ(o->dev, p.dev);
    EXPECT_EQ(o->flags, p.flags);
    EXPECT_EQ(o->mode, p.mode);
    EXPECT_EQ(o->dfd, p.dfd);
    EXPECT_EQ(o->call, p.call);
    EXPECT_EQ(o->resolved, p.resolved);
    EXPECT_EQ(o->truncated, p.truncated);
    EXPECT_EQ(o->path, p.path);
    EXPECT_EQ(o->pattern, p.pattern);
    EXPECT_EQ(o->ipc, p.ipc);
  } else if (auto *c = std::get_if<ConnectBody>(&a.body)) {
    auto &d = std::get<ConnectBody>(b.body);
    EXPECT_EQ(c->ret, d.ret);
    EXPECT_EQ(c->sendmsg, d.sendmsg);
    EXPECT_EQ(c->ipc, d.ipc);
    EXPECT_EQ(c->family, d.family);
    EXPECT_EQ(c->port, d.port);
    EXPECT_EQ(c->fd, d.fd);
    EXPECT_EQ(c->addr, d.addr);
    EXPECT_EQ(c->unix_path, d.unix_path);
  } else if (auto *t = std::get_if<PtraceBody>(&a.body)) {
    auto &u = std::get<PtraceBody>(b.body);
    EXPECT_EQ(t->target_tgid, u.target_tgid);
    EXPECT_EQ(t->mode, u.mode);
    EXPECT_EQ(t->target_cgroup, u.target_cgroup);
    EXPECT_EQ(t->target_comm, u.target_comm);
  } else if (auto *s = std::get_if<SocketBody>(&a.body)) {
    auto &r = std::get<SocketBody>(b.body);
    EXPECT_EQ(s->family, r.family);
    EXPECT_EQ(s->type, r.type);
    EXPECT_EQ(s->protocol, r.protocol);
    EXPECT_EQ(s->ret, r.ret);
  } else if (auto *v = std::get_if<VolumeBody>(&a.body)) {
    auto &w = std::get<VolumeBody>(b.body);
    EXPECT_EQ(v->addr, w.addr);
    EXPECT_EQ(v->port, w.port);
    EXPECT_EQ(v->proto, w.proto);
    EXPECT_EQ(v->bytes, w.bytes);
    EXPECT_EQ(v->packets, w.packets);
  } else if (auto *k = std::get_if<TamperBody>(&a.body)) {
    auto &l = std::get<TamperBody>(b.body);
    EXPECT_EQ(k->kind, l.kind);
    EXPECT_EQ(k->arg, l.arg);
    EXPECT_EQ(k->target_tgid, l.target_tgid);
    EXPECT_EQ(k->target_cgroup, l.target_cgroup);
    EXPECT_EQ(k->name, l.name);
  } else if (auto *h = std::get_if<ThrottleBody>(&a.body)) {
    auto &g = std::get<ThrottleBody>(b.body);
    EXPECT_EQ(h->suppressed, g.suppressed);
    EXPECT_EQ(h->rate, g.rate);
  } else if (auto *d = std::get_if<DnsBody>(&a.body)) {
    auto &e = std::get<DnsBody>(b.body);
    EXPECT_EQ(d->server, e.server);
    EXPECT_EQ(d->port, e.port);
    EXPECT_EQ(d->proto, e.proto);
    EXPECT_EQ(d->cut, e.cut);
    EXPECT_EQ(d->truncated, e.truncated);
    EXPECT_EQ(d->rcode, e.rcode);
    EXPECT_EQ(d->qtype, e.qtype);
    EXPECT_EQ(d->id, e.id);
    EXPECT_EQ(d->qname, e.qname);
    EXPECT_EQ(d->cnames, e.cnames);
    EXPECT_EQ(d->addrs, e.addrs);
    EXPECT_EQ(d->ttl, e.ttl);
    EXPECT_EQ(d->error, e.error);
  }
}

TEST(EventCodec, round_trips_every_body_type)
{
  const auto events = test::one_of_each();
  ASSERT_EQ(events.size(), std::variant_size_v<decltype(Event::body)>)
      << "a new body type needs a sample here and a body in the codec";
  for (const auto &ev : events) {
    std::string buf;
    encode(ev, buf);
    auto back = decode(bytes(buf));
    ASSERT_TRUE(back) << to_string(ev.hdr.type) << ": " << back.error().message();
    SCOPED_TRACE(std::string(to_string(ev.hdr.type)));
    expect_same(ev, *back);
  }
}

TEST(EventCodec, round_trips_an_inbound_connection)
{
  Event ev{test::sample_header(EventType::connect, 1), ConnectBody{}};
  auto &b = std::get<ConnectBody>(ev.body);
  b.inbound = true;
  b.family = 2;
  b.port = 41540;
  b.lport = 8123;
  b.proto = 17;
  b.addr = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
  std::string buf;
  encode(ev, buf);
  auto back = decode(bytes(buf));
  ASSERT_TRUE(back) << back.error().message();
  const auto &g = std::get<ConnectBody>(back->body);
  EXPECT_TRUE(g.inbound);
  EXPECT_EQ(g.port, 41540);
  EXPECT_EQ(g.lport, 8123);
  EXPECT_EQ(g.proto, 17);
  EXPECT_EQ(g.addr, b.addr);
}

// Tier 1's count of repeated opens travels as an extension: it round-trips, a plain open decoded
// into the same event after it carries no count, and a count of zero is refused as corrupt.
TEST(EventCodec, round_trips_a_count_of_repeated_opens)
{
  Event ev{test::sample_header(EventType::open, 1), OpenBody{}};
  auto &b = std::get<OpenBody>(ev.body);
  b.path = "/etc/hostname";
  b.call = OpenCall::hook;
  b.repeats = 49;
  b.repeat_first_ns = 1000;
  b.repeat_last_ns = 9000;
  std::string buf;
  encode(ev, buf);
  Event reused;
  ASSERT_TRUE(eventlog::decode_into(bytes(buf), reused));
  const auto &g = std::get<OpenBody>(reused.body);
  EXPECT_EQ(g.repeats, 49u);
  EXPECT_EQ(g.repeat_first_ns, 1000u);
  EXPECT_EQ(g.repeat_last_ns, 9000u);
  Event plain{test::sample_header(EventType::open, 1), OpenBody{}};
  std::string pbuf;
  encode(plain, pbuf);
  ASSERT_TRUE(eventlog::decode_into(bytes(pbuf), reused));
  EXPECT_EQ(std::get<OpenBody>(reused.body).repeats, 0u);
  // The extension's count field (the first 8 bytes after its tag and length) zeroed.
  const size_t at = buf.size() - 24;
  std::fill(buf.begin() + static_cast<std::ptrdiff_t>(at),
            buf.begin() + static_cast<std::ptrdiff_t>(at + 8), '\0');
  EXPECT_FALSE(decode(bytes(buf)));
}

// A decoder that reuses its events gives what a fresh decode gives, whatever came before: every
// sample after every other (the previous event's strings, extensions and flags left nowhere).
TEST(EventCodec, a_reused_event_decodes_like_a_fresh_one)
{
  auto events = test::one_of_each();
  Event inbound{test::sample_header(EventType::connect, 1), ConnectBody{}};
  std::get<ConnectBody>(inbound.body).inbound = true;
  std::get<ConnectBody>(inbound.body).lport = 8123;
  std::get<ConnectBody>(inbound.body).unix_path = "/run/a-long-socket-name-to-leave-behind";
  events.push_back(inbound);
  Decoder decoder;
  Event reused;
  for (const auto &first : events)
    for (const auto &second : events) {
      std::string a, b;
      encode(first, a);
      encode(second, b);
      ASSERT_TRUE(eventlog::decode_into(bytes(a), reused));
      ASSERT_TRUE(decoder.decode(bytes(a)));
      ASSERT_TRUE(eventlog::decode_into(bytes(b), reused));
      auto slot = decoder.decode(bytes(b));
      ASSERT_TRUE(slot);
      auto fresh = decode(bytes(b));
      ASSERT_TRUE(fresh);
      SCOPED_TRACE(std::string(to_string(first.hdr.type)) + " then " +
                   std::string(to_string(second.hdr.type)));
      expect_same(*fresh, reused);
      expect_same(*fresh, **slot);
      if (const auto *c = std::get_if<ConnectBody>(&fresh->body)) {
        EXPECT_EQ(c->inbound, std::get<ConnectBody>(reused.body).inbound);
        EXPECT_EQ(c->lport, std::get<ConnectBody>(reused.body).lport);
      }
    }
}

TEST(EventCodec, type_follows_the_body_not_the_header)
{
  Event ev{test::sample_header(EventType::exec, 0), ForkBody{5}}; // header says exec
  std::string buf;
  encode(ev, buf);
  auto back = decode(bytes(buf));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->hdr.type, EventType::fork);
  EXPECT_EQ(std::get<ForkBody>(back->body).child_tgid, 5u);
}

TEST(EventCodec, every_truncated_prefix_is_a_clean_error)
{
  for (const auto &ev : test::one_of_each()) {
    std::string buf;
    encode(ev, buf);
    // Extensions are optional: the event cut just before them is the event an older writer
    // wrote, and decodes (without them). Every other cut is an error.
    Event bare = ev;
    if (auto *x = std::get_if<ExecBody>(&bare.body)) {
      x->env.clear();
      x->env_truncated = false;
    }
    std::string bare_buf;
    encode(bare, bare_buf);
    for (size_t n = 0; n < buf.size(); ++n) {
      // A fresh heap copy of exactly n bytes, so an over-read would leave the allocation.
      std::vector<std::byte> prefix(bytes(buf).begin(), bytes(buf).begin() + static_cast<long>(n));
      auto r = decode(prefix);
      if (n == bare_buf.size() && bare_buf.size() < buf.size()) {
        ASSERT_TRUE(r) << r.error().message();
        EXPECT_TRUE(std::get<ExecBody>(r->body).env.empty());
        continue;
      }
      EXPECT_FALSE(r) << to_string(ev.hdr.type) << " decoded from " << n << " of " << buf.size()
                      << " bytes";
    }
  }
}

TEST(EventCodec, random_damage_never_crashes)
{
  std::mt19937 rng(42);
  const auto events = test::one_of_each();
  size_t refused = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string buf;
    encode(events[static_cast<size_t>(iter) % events.size()], buf);
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f)
      buf[rng() % buf.size()] = static_cast<char>(rng());
    std::vector<std::byte> copy(bytes(buf).begin(), bytes(buf).end());
    auto r = decode(copy);
    if (!r)
      ++refused;
    else
      EXPECT_LE(r->hdr.comm.size(), kMaxComm);
  }
  EXPECT_GT(refused, 0u) << "damage must be noticed at least sometimes";
}

TEST(EventCodec, refuses_unknown_version_and_type)
{
  std::string buf;
  encode(test::one_of_each()[0], buf);
  std::string v2 = buf;
  v2[0] = 2;
  auto r = decode(bytes(v2));
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("codec version 2"));
  std::string t = buf;
  t[1] = 99; // event type, low byte
  t[2] = 0;
  r = decode(bytes(t));
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("unknown event type 99"));
}

TEST(EventCodec, skips_unknown_extension_tags_and_refuses_tag_zero)
{
  const Event ev = test::one_of_each()[3];
  std::string buf;
  encode(ev, buf);
  std::string ext = buf;
  wire::put_varint(ext, 77);    // a tag from the future
  wire::put_str(ext, "future"); // its length and bytes
  auto r = decode(bytes(ext));
  ASSERT_TRUE(r) << r.error().message();
  expect_same(ev, *r);
  std::string zero = buf;
  wire::put_varint(zero, 0);
  wire::put_varint(zero, 0);
  EXPECT_FALSE(decode(bytes(zero)));
  std::string overlong = buf;
  wire::put_varint(overlong, 5);
  wire::put_varint(overlong, 1000); // length past the end
  EXPECT_FALSE(decode(bytes(overlong)));
}

TEST(EventCodec, refuses_argument_counts_beyond_the_payload)
{
  Event ev{test::sample_header(EventType::exec, 0), ExecBody{}};
  std::string buf;
  encode(ev, buf);
  // The empty argv's count is the last byte: claim a million arguments instead.
  buf.pop_back();
  wire::put_varint(buf, 1000000);
  auto r = decode(bytes(buf));
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("exec body"));
}

TEST(EventCodec, bounds_overlong_strings_on_encode)
{
  Event ev{test::sample_header(EventType::open, 0), OpenBody{}};
  ev.hdr.comm = std::string(1000, 'c');
  std::get<OpenBody>(ev.body).path = std::string(kMaxString + 10, 'p');
  std::string buf;
  encode(ev, buf);
  auto r = decode(bytes(buf));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->hdr.comm.size(), kMaxComm);
  EXPECT_EQ(std::get<OpenBody>(r->body).path.size(), kMaxString);
}

} // namespace
} // namespace vigil::eventlog
