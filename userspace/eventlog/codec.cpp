// SPDX-License-Identifier: Apache-2.0
// EVENT payload encoding and decoding (layout in codec.h).
#include "eventlog/codec.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <variant>

#include "eventlog/wire.h"

namespace vigil::eventlog {

namespace {

using namespace wire;

void put_bounded(std::string &out, const std::string &s, size_t max)
{
  put_str(out, s.size() > max ? std::string_view(s).substr(0, max) : std::string_view(s));
}

struct BodyEncoder {
  std::string &out;

  void operator()(const pipeline::ExecBody &b)
  {
    put_u32(out, b.ppid);
    put_u32(out, b.old_tid);
    put_u32(out, b.loginuid);
    put_u32(out, b.exe_dev);
    put_u64(out, b.exe_ino);
    put_bounded(out, b.exe, kMaxString);
    const size_t argc = std::min(b.argv.size(), kMaxArgs);
    put_varint(out, argc);
    for (size_t i = 0; i < argc; ++i)
      put_bounded(out, b.argv[i], kMaxString);
  }
  void operator()(const pipeline::ForkBody &b) { put_u32(out, b.child_tgid); }
  void operator()(const pipeline::ExitBody &b) { put_u32(out, static_cast<uint32_t>(b.exit_code)); }
  void operator()(const pipeline::OpenBody &b)
  {
    put_u64(out, static_cast<uint64_t>(b.ret));
    put_u64(out, b.ino);
    put_u32(out, b.dev);
    put_u32(out, b.flags);
    put_u32(out, b.mode);
    put_u32(out, static_cast<uint32_t>(b.dfd));
    put_u16(out, static_cast<uint16_t>(b.call));
    put_u8(out,
           static_cast<uint8_t>((b.resolved ? 1 : 0) | (b.truncated ? 2 : 0) | (b.ipc ? 4 : 0) |
                                 (b.persist ? 8 : 0)));
    put_bounded(out, b.path, kMaxString);
    put_bounded(out, b.pattern, kMaxString);
  }
  void operator()(const pipeline::ConnectBody &b)
  {
    put_u64(out, static_cast<uint64_t>(b.ret));
    put_u8(out, static_cast<uint8_t>((b.sendmsg ? 1 : 0) | (b.ipc ? 2 : 0) | (b.srcroute ? 4 : 0)));
    put_u16(out, b.family);
    put_u16(out, b.port);
    put_u32(out, static_cast<uint32_t>(b.fd));
    out.append(reinterpret_cast<const char *>(b.addr.data()), b.addr.size());
    put_bounded(out, b.unix_path, kMaxString);
  }
  void operator()(const pipeline::PtraceBody &b)
  {
    put_u32(out, b.target_tgid);
    put_u32(out, b.mode);
    put_u64(out, b.target_cgroup);
    put_bounded(out, b.target_comm, kMaxComm);
  }
  void operator()(const pipeline::SocketBody &b)
  {
    put_u32(out, static_cast<uint32_t>(b.family));
    put_u32(out, static_cast<uint32_t>(b.type));
    put_u32(out, static_cast<uint32_t>(b.protocol));
    put_u32(out, static_cast<uint32_t>(b.ret));
  }
  void operator()(const pipeline::TamperBody &b)
  {
    put_u16(out, static_cast<uint16_t>(b.kind));
    put_u32(out, static_cast<uint32_t>(b.arg));
    put_u32(out, b.target_tgid);
    put_u64(out, b.target_cgroup);
    put_bounded(out, b.name, kMaxComm);
  }
  void operator()(const pipeline::ThrottleBody &b)
  {
    put_u64(out, b.suppressed);
    put_u32(out, b.rate);
  }
  void operator()(const pipeline::DnsBody &b)
  {
    out.append(reinterpret_cast<const char *>(b.server.data()), b.server.size());
    put_u16(out, b.port);
    put_u8(out, b.proto);
    put_u8(out, static_cast<uint8_t>((b.cut ? 1 : 0) | (b.truncated ? 2 : 0)));
    put_u8(out, b.rcode);
    put_u16(out, b.qtype);
    put_u16(out, b.id);
    put_u32(out, b.ttl);
    put_bounded(out, b.qname, kMaxDnsName);
    put_bounded(out, b.error, kMaxDnsName);
    const size_t nc = std::min(b.cnames.size(), kMaxDnsItems);
    put_varint(out, nc);
    for (size_t i = 0; i < nc; ++i)
      put_bounded(out, b.cnames[i], kMaxDnsName);
    const size_t na = std::min(b.addrs.size(), kMaxDnsItems);
    put_varint(out, na);
    for (size_t i = 0; i < na; ++i)
      out.append(reinterpret_cast<const char *>(b.addrs[i].data()), b.addrs[i].size());
  }
  void operator()(const pipeline::VolumeBody &b)
  {
    out.append(reinterpret_cast<const char *>(b.addr.data()), b.addr.size());
    put_u16(out, b.port);
    put_u8(out, b.proto);
    put_u64(out, b.bytes);
    put_u64(out, b.packets);
  }
};

// Extension tags (see the bump rule in codec.h).
constexpr uint64_t kTagExecEnv = 1; // exec: u8 truncated | varint n | n x str "NAME=VALUE"
constexpr uint64_t kTagInbound = 2; // connect: u16 lport | u8 proto (an inbound connection)
constexpr uint64_t kTagRepeats = 3; // open: u64 repeats | u64 first_ns | u64 last_ns

// The alternative B of ev.body, made if the body holds another one (a body of the same type
// keeps its strings' capacity; the caller assigns every field).
template <typename B> B &body_of(pipeline::Event &ev)
{
  if (auto *b = std::get_if<B>(&ev.body))
    return *b;
  return ev.body.template emplace<B>();
}

// n strings into v, reusing its strings.
void strs_into(Cursor &c, std::vector<std::string> &v, uint64_t n, size_t max)
{
  v.resize(n);
  for (uint64_t i = 0; i < n && c.ok(); ++i)
    c.str_into(v[i], max);
}

// The variant alternative a type's body decodes into; false for a type this version lacks.
bool decode_body(pipeline::EventType t, Cursor &c, pipeline::Event &ev)
{
  using pipeline::EventType;
  switch (t) {
  case EventType::exec: {
    pipeline::ExecBody &b = body_of<pipeline::ExecBody>(ev);
    b.ppid = c.u32();
    b.old_tid = c.u32();
    b.loginuid = c.u32();
    b.exe_dev = c.u32();
    b.exe_ino = c.u64();
    c.str_into(b.exe, kMaxString);
    b.env.clear(); // an extension, below
    b.env_truncated = false;
    const uint64_t argc = c.varint();
    // Each argument takes at least its one length byte: a count beyond the bytes left is corrupt
    // and must not size an allocation.
    if (!c.ok() || argc > kMaxArgs || argc > c.remaining()) {
      c.fail();
      return false;
    }
    strs_into(c, b.argv, argc, kMaxString);
    return true;
  }
  case EventType::fork:
    ev.body = pipeline::ForkBody{c.u32()};
    return true;
  case EventType::exit:
    ev.body = pipeline::ExitBody{c.i32()};
    return true;
  case EventType::open: {
    pipeline::OpenBody &b = body_of<pipeline::OpenBody>(ev);
    // i64 ret | u64 ino | u32 dev, flags, mode | i32 dfd | u16 call | u8 bits: checked at once.
    const std::byte *p = c.take(35);
    if (!p)
      return true; // the failed cursor reports a corrupt body
    b.ret = static_cast<int64_t>(load_le<uint64_t>(p));
    b.ino = load_le<uint64_t>(p + 8);
    b.dev = load_le<uint32_t>(p + 16);
    b.flags = load_le<uint32_t>(p + 20);
    b.mode = load_le<uint32_t>(p + 24);
    b.dfd = static_cast<int32_t>(load_le<uint32_t>(p + 28));
    b.call = static_cast<pipeline::OpenCall>(load_le<uint16_t>(p + 32));
    const uint8_t bits = load_le<uint8_t>(p + 34);
    b.resolved = bits & 1;
    b.truncated = bits & 2;
    b.ipc = bits & 4;
    b.persist = bits & 8;
    b.repeats = 0; // an extension, below
    b.repeat_first_ns = 0;
    b.repeat_last_ns = 0;
    c.str_into(b.path, kMaxString);
    c.str_into(b.pattern, kMaxString);
    return true;
  }
  case EventType::connect: {
    pipeline::ConnectBody &b = body_of<pipeline::ConnectBody>(ev);
    b.ret = c.i64();
    const uint8_t bits = c.u8();
    b.sendmsg = bits & 1;
    b.srcroute = (bits & 4) != 0;
    b.ipc = bits & 2;
    b.inbound = false; // an extension, below
    b.lport = 0;
    b.proto = 0;
    b.family = c.u16();
    b.port = c.u16();
    b.fd = c.i32();
    auto addr = c.bytes(b.addr.size());
    if (c.ok())
      std::memcpy(b.addr.data(), addr.data(), b.addr.size());
    c.str_into(b.unix_path, kMaxString);
    return true;
  }
  case EventType::ptrace: {
    pipeline::PtraceBody &b = body_of<pipeline::PtraceBody>(ev);
    b.target_tgid = c.u32();
    b.mode = c.u32();
    b.target_cgroup = c.u64();
    c.str_into(b.target_comm, kMaxComm);
    return true;
  }
  case EventType::socket: {
    pipeline::SocketBody b;
    b.family = c.i32();
    b.type = c.i32();
    b.protocol = c.i32();
    b.ret = c.i32();
    ev.body = b;
    return true;
  }
  case EventType::tamper: {
    pipeline::TamperBody &b = body_of<pipeline::TamperBody>(ev);
    b.kind = static_cast<pipeline::TamperKind>(c.u16());
    b.arg = c.i32();
    b.target_tgid = c.u32();
    b.target_cgroup = c.u64();
    c.str_into(b.name, kMaxComm);
    return true;
  }
  case EventType::throttle: {
    pipeline::ThrottleBody b;
    b.suppressed = c.u64();
    b.rate = c.u32();
    ev.body = b;
    return true;
  }
  case EventType::dns: {
    pipeline::DnsBody &b = body_of<pipeline::DnsBody>(ev);
    auto server = c.bytes(b.server.size());
    if (c.ok())
      std::memcpy(b.server.data(), server.data(), b.server.size());
    b.port = c.u16();
    b.proto = c.u8();
    const uint8_t bits = c.u8();
    b.cut = bits & 1;
    b.truncated = (bits & 2) != 0;
    b.rcode = c.u8();
    b.qtype = c.u16();
    b.id = c.u16();
    b.ttl = c.u32();
    c.str_into(b.qname, kMaxDnsName);
    c.str_into(b.error, kMaxDnsName);
    const uint64_t nc = c.varint();
    // Each name takes at least its length byte: a count beyond the bytes left is corrupt.
    if (!c.ok() || nc > kMaxDnsItems || nc > c.remaining()) {
      c.fail();
      return false;
    }
    strs_into(c, b.cnames, nc, kMaxDnsName);
    const uint64_t na = c.varint();
    if (!c.ok() || na > kMaxDnsItems || na * 16 > c.remaining()) {
      c.fail();
      return false;
    }
    b.addrs.resize(na);
    for (auto &a : b.addrs) {
      auto bytes = c.bytes(a.size());
      if (c.ok())
        std::memcpy(a.data(), bytes.data(), a.size());
    }
    return true;
  }
  case EventType::egress_volume: {
    pipeline::VolumeBody b;
    auto addr = c.bytes(b.addr.size());
    if (c.ok())
      std::memcpy(b.addr.data(), addr.data(), b.addr.size());
    b.port = c.u16();
    b.proto = c.u8();
    b.bytes = c.u64();
    b.packets = c.u64();
    ev.body = b;
    return true;
  }
  }
  return false;
}

} // namespace

void encode(const pipeline::Event &ev, std::string &out)
{
  const pipeline::Header &h = ev.hdr;
  put_u8(out, kCodecVersion);
  // The type follows the body actually held, so a header/body mismatch cannot be written.
  static constexpr pipeline::EventType kTypeOf[] = {
      pipeline::EventType::exec,  pipeline::EventType::fork,    pipeline::EventType::exit,
      pipeline::EventType::open,  pipeline::EventType::connect, pipeline::EventType::ptrace,
      pipeline::EventType::socket, pipeline::EventType::egress_volume,
      pipeline::EventType::tamper, pipeline::EventType::throttle, pipeline::EventType::dns};
  static_assert(std::size(kTypeOf) == std::variant_size_v<decltype(ev.body)>);
  put_u16(out, static_cast<uint16_t>(kTypeOf[ev.body.index()]));
  put_u16(out, h.flags);
  put_u8(out, static_cast<uint8_t>(h.verdict));
  put_u8(out, static_cast<uint8_t>(h.tier));
  put_u64(out, h.ts_ns);
  put_u64(out, h.cgroup_id);
  put_u32(out, h.tgid);
  put_u32(out, h.tid);
  put_u32(out, h.uid);
  put_u32(out, h.gid);
  put_u32(out, h.profile_id);
  put_u32(out, h.rule_id);
  put_bounded(out, h.comm, kMaxComm);
  std::visit(BodyEncoder{out}, ev.body);
  if (const auto *x = std::get_if<pipeline::ExecBody>(&ev.body);
      x && (!x->env.empty() || x->env_truncated)) {
    std::string ext;
    put_u8(ext, x->env_truncated ? 1 : 0);
    const size_t n = std::min(x->env.size(), kMaxArgs);
    put_varint(ext, n);
    for (size_t i = 0; i < n; ++i)
      put_bounded(ext, x->env[i], kMaxString);
    put_varint(out, kTagExecEnv);
    put_varint(out, ext.size());
    out += ext;
  }
  if (const auto *x = std::get_if<pipeline::OpenBody>(&ev.body); x && x->repeats) {
    std::string ext;
    put_u64(ext, x->repeats);
    put_u64(ext, x->repeat_first_ns);
    put_u64(ext, x->repeat_last_ns);
    put_varint(out, kTagRepeats);
    put_varint(out, ext.size());
    out += ext;
  }
  if (const auto *x = std::get_if<pipeline::ConnectBody>(&ev.body); x && x->inbound) {
    std::string ext;
    put_u16(ext, x->lport);
    put_u8(ext, x->proto);
    put_varint(out, kTagInbound);
    put_varint(out, ext.size());
    out += ext;
  }
}

Result<pipeline::Event> decode(std::span<const std::byte> payload)
{
  pipeline::Event ev;
  if (auto r = eventlog::decode_into(payload, ev); !r)
    return tl::unexpected(r.error());
  return ev;
}

Result<> decode_into(std::span<const std::byte> payload, pipeline::Event &ev)
{
  Cursor c(payload);
  const uint8_t version = c.u8();
  if (!c.ok())
    return fail("event record: empty payload");
  if (version != kCodecVersion)
    return fail("event record: codec version " + std::to_string(version) + " (this vigil reads " +
                std::to_string(kCodecVersion) + ")");
  pipeline::Header &h = ev.hdr;
  // u16 type | u16 flags | u8 verdict | u8 tier | u64 ts_ns, cgroup_id | u32 tgid, tid, uid,
  // gid, profile_id, rule_id: checked at once.
  const std::byte *p = c.take(46);
  if (!p)
    return fail("event record: truncated header (" + std::to_string(payload.size()) + " bytes)");
  const uint16_t type = load_le<uint16_t>(p);
  h.type = static_cast<pipeline::EventType>(type);
  h.flags = load_le<uint16_t>(p + 2);
  const uint8_t verdict = load_le<uint8_t>(p + 4);
  const uint8_t tier = load_le<uint8_t>(p + 5);
  if (verdict > static_cast<uint8_t>(pipeline::Verdict::kill) ||
      tier > static_cast<uint8_t>(pipeline::Tier::launch))
    return fail("event record: verdict " + std::to_string(verdict) + " / tier " +
                std::to_string(tier) + " out of range");
  h.verdict = static_cast<pipeline::Verdict>(verdict);
  h.tier = static_cast<pipeline::Tier>(tier);
  h.ts_ns = load_le<uint64_t>(p + 6);
  h.cgroup_id = load_le<uint64_t>(p + 14);
  h.tgid = load_le<uint32_t>(p + 22);
  h.tid = load_le<uint32_t>(p + 26);
  h.uid = load_le<uint32_t>(p + 30);
  h.gid = load_le<uint32_t>(p + 34);
  h.profile_id = load_le<uint32_t>(p + 38);
  h.rule_id = load_le<uint32_t>(p + 42);
  c.str_into(h.comm, kMaxComm);
  if (!c.ok())
    return fail("event record: truncated header (" + std::to_string(payload.size()) + " bytes)");
  if (!decode_body(h.type, c, ev))
    return fail(c.ok() ? "event record: unknown event type " + std::to_string(type)
                       : "event record: truncated or corrupt " +
                             std::string(pipeline::to_string(h.type)) + " body");
  if (!c.ok())
    return fail("event record: truncated or corrupt " + std::string(pipeline::to_string(h.type)) +
                " body");
  while (c.remaining() > 0) {
    const uint64_t tag = c.varint();
    const uint64_t len = c.varint();
    auto bytes = c.bytes(c.ok() && len <= c.remaining() ? len : SIZE_MAX);
    if (!c.ok() || tag == 0)
      return fail("event record: corrupt extension area at byte " + std::to_string(c.pos()));
    auto *x = std::get_if<pipeline::ExecBody>(&ev.body);
    if (tag == kTagExecEnv && x) {
      Cursor e(bytes);
      x->env_truncated = e.u8() != 0;
      const uint64_t n = e.varint();
      if (!e.ok() || n > kMaxArgs || n > e.remaining())
        return fail("event record: corrupt exec environment");
      strs_into(e, x->env, n, kMaxString);
      if (!e.ok())
        return fail("event record: corrupt exec environment");
    }
    if (auto *cb = std::get_if<pipeline::ConnectBody>(&ev.body); tag == kTagInbound && cb) {
      Cursor e(bytes);
      cb->lport = e.u16();
      cb->proto = e.u8();
      if (!e.ok())
        return fail("event record: corrupt inbound connection");
      cb->inbound = true;
    }
    if (auto *ob = std::get_if<pipeline::OpenBody>(&ev.body); tag == kTagRepeats && ob) {
      Cursor e(bytes);
      ob->repeats = e.u64();
      ob->repeat_first_ns = e.u64();
      ob->repeat_last_ns = e.u64();
      if (!e.ok() || ob->repeats == 0)
        return fail("event record: corrupt open count");
    }
    // Unknown tags are skipped by design.
  }
  return {};
}

Result<pipeline::Event *> Decoder::decode(std::span<const std::byte> payload)
{
  // The type follows the codec version byte (see encode()).
  size_t slot = 0;
  if (payload.size() >= 3) {
    const auto type = static_cast<uint16_t>(wire::load_le<uint16_t>(payload.data() + 1));
    slot = type == static_cast<uint16_t>(pipeline::EventType::egress_volume) ? 10
           : type == static_cast<uint16_t>(pipeline::EventType::dns)          ? 11
           : type < 10                                                        ? type
                                                                              : 0;
  }
  if (auto r = eventlog::decode_into(payload, slots_[slot]); !r)
    return tl::unexpected(r.error());
  return &slots_[slot];
}

} // namespace vigil::eventlog
