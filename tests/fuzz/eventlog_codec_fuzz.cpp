// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the event log's EVENT payload codec. First byte even: the rest is a payload as a
// damaged or forged log holds it; decode must refuse or produce an event whose encoding decodes
// back to the same bytes. Odd: the rest builds an Event field by field (as an agent's names,
// paths, argv and environment reach the recorder); decode(encode(ev)) must equal ev.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <variant>

#include "eventlog/codec.h"
#include "fuzz.h"
#include "pipeline/event.h"

namespace {

using namespace vigil;

std::span<const std::byte> bytes_of(const std::string &s)
{
  return std::as_bytes(std::span(s.data(), s.size()));
}

pipeline::Event build(fuzz::Input &in)
{
  using namespace pipeline;
  Event ev;
  Header &h = ev.hdr;
  h.flags = in.take<uint16_t>();
  h.ts_ns = in.take<uint64_t>();
  h.cgroup_id = in.take<uint64_t>();
  h.tgid = in.take<uint32_t>();
  h.tid = in.take<uint32_t>();
  h.uid = in.take<uint32_t>();
  h.gid = in.take<uint32_t>();
  h.profile_id = in.take<uint32_t>();
  h.rule_id = in.take<uint32_t>();
  h.verdict = static_cast<Verdict>(in.take<uint8_t>() % 5);
  h.tier = static_cast<Tier>(in.take<uint8_t>() % 4);
  h.comm = in.str();
  switch (in.take<uint8_t>() % 11) {
  case 0: {
    ExecBody b;
    b.ppid = in.take<uint32_t>();
    b.old_tid = in.take<uint32_t>();
    b.loginuid = in.take<uint32_t>();
    b.exe_dev = in.take<uint32_t>();
    b.exe_ino = in.take<uint64_t>();
    b.exe = in.str();
    for (size_t n = in.take<uint8_t>() % 16; n > 0; --n)
      b.argv.push_back(in.str());
    for (size_t n = in.take<uint8_t>() % 8; n > 0; --n)
      b.env.push_back(in.str());
    b.env_truncated = in.flag();
    ev.body = std::move(b);
    break;
  }
  case 1:
    ev.body = ForkBody{in.take<uint32_t>()};
    break;
  case 2:
    ev.body = ExitBody{in.take<int32_t>()};
    break;
  case 3: {
    OpenBody b;
    b.ret = in.take<int64_t>();
    b.ino = in.take<uint64_t>();
    b.dev = in.take<uint32_t>();
    b.flags = in.take<uint32_t>();
    b.mode = in.take<uint32_t>();
    b.dfd = in.take<int32_t>();
    b.call = static_cast<OpenCall>(in.take<uint16_t>());
    b.resolved = in.flag();
    b.truncated = in.flag();
    b.ipc = in.flag();
    b.path = in.str();
    b.pattern = in.str();
    ev.body = std::move(b);
    break;
  }
  case 4: {
    ConnectBody b;
    b.ret = in.take<int64_t>();
    b.sendmsg = in.flag();
    b.ipc = in.flag();
    b.family = in.take<uint16_t>();
    b.port = in.take<uint16_t>();
    b.fd = in.take<int32_t>();
    for (auto &a : b.addr)
      a = in.take<uint8_t>();
    b.unix_path = in.str();
    ev.body = std::move(b);
    break;
  }
  case 5: {
    PtraceBody b;
    b.target_tgid = in.take<uint32_t>();
    b.mode = in.take<uint32_t>();
    b.target_cgroup = in.take<uint64_t>();
    b.target_comm = in.str();
    ev.body = std::move(b);
    break;
  }
  case 6:
    ev.body = SocketBody{in.take<int32_t>(), in.take<int32_t>(), in.take<int32_t>(),
                         in.take<int32_t>()};
    break;
  case 7: {
    VolumeBody b;
    for (auto &a : b.addr)
      a = in.take<uint8_t>();
    b.port = in.take<uint16_t>();
    b.proto = in.take<uint8_t>();
    b.bytes = in.take<uint64_t>();
    b.packets = in.take<uint64_t>();
    ev.body = b;
    break;
  }
  case 8: {
    TamperBody b;
    b.kind = static_cast<TamperKind>(in.take<uint16_t>());
    b.arg = in.take<int32_t>();
    b.target_tgid = in.take<uint32_t>();
    b.target_cgroup = in.take<uint64_t>();
    b.name = in.str();
    ev.body = std::move(b);
    break;
  }
  case 9: {
    DnsBody b;
    for (auto &a : b.server)
      a = in.take<uint8_t>();
    b.port = in.take<uint16_t>();
    b.proto = in.take<uint8_t>();
    b.cut = in.flag();
    b.truncated = in.flag();
    b.rcode = in.take<uint8_t>();
    b.qtype = in.take<uint16_t>();
    b.id = in.take<uint16_t>();
    b.ttl = in.take<uint32_t>();
    b.qname = in.str();
    b.error = in.str();
    for (size_t n = in.take<uint8_t>() % 8; n > 0; --n)
      b.cnames.push_back(in.str());
    for (size_t n = in.take<uint8_t>() % 8; n > 0; --n) {
      std::array<uint8_t, 16> a{};
      for (auto &x : a)
        x = in.take<uint8_t>();
      b.addrs.push_back(a);
    }
    ev.body = std::move(b);
    break;
  }
  default:
    ev.body = ThrottleBody{in.take<uint64_t>(), in.take<uint32_t>()};
    break;
  }
  static constexpr EventType kTypeOf[] = {
      EventType::exec,    EventType::fork,   EventType::exit,          EventType::open,
      EventType::connect, EventType::ptrace, EventType::socket,        EventType::egress_volume,
      EventType::tamper,  EventType::throttle, EventType::dns};
  static_assert(std::size(kTypeOf) == std::variant_size_v<decltype(ev.body)>);
  h.type = kTypeOf[ev.body.index()];
  return ev;
}

bool same_header(const pipeline::Header &a, const pipeline::Header &b)
{
  return a.type == b.type && a.flags == b.flags && a.ts_ns == b.ts_ns &&
         a.cgroup_id == b.cgroup_id && a.tgid == b.tgid && a.tid == b.tid && a.uid == b.uid &&
         a.gid == b.gid && a.profile_id == b.profile_id && a.rule_id == b.rule_id &&
         a.verdict == b.verdict && a.tier == b.tier && a.comm == b.comm;
}

bool same_body(const pipeline::Event &a, const pipeline::Event &b)
{
  using namespace pipeline;
  if (a.body.index() != b.body.index())
    return false;
  if (const auto *x = std::get_if<ExecBody>(&a.body)) {
    const auto &y = std::get<ExecBody>(b.body);
    return x->ppid == y.ppid && x->old_tid == y.old_tid && x->loginuid == y.loginuid &&
           x->exe_dev == y.exe_dev && x->exe_ino == y.exe_ino && x->exe == y.exe &&
           x->argv == y.argv && x->env == y.env && x->env_truncated == y.env_truncated;
  }
  if (const auto *x = std::get_if<ForkBody>(&a.body))
    return x->child_tgid == std::get<ForkBody>(b.body).child_tgid;
  if (const auto *x = std::get_if<ExitBody>(&a.body))
    return x->exit_code == std::get<ExitBody>(b.body).exit_code;
  if (const auto *x = std::get_if<OpenBody>(&a.body)) {
    const auto &y = std::get<OpenBody>(b.body);
    return x->ret == y.ret && x->ino == y.ino && x->dev == y.dev && x->flags == y.flags &&
           x->mode == y.mode && x->dfd == y.dfd && x->call == y.call &&
           x->resolved == y.resolved && x->truncated == y.truncated && x->ipc == y.ipc &&
           x->path == y.path && x->pattern == y.pattern;
  }
  if (const auto *x = std::get_if<ConnectBody>(&a.body)) {
    const auto &y = std::get<ConnectBody>(b.body);
    return x->ret == y.ret && x->sendmsg == y.sendmsg && x->ipc == y.ipc &&
           x->family == y.family && x->port == y.port && x->fd == y.fd && x->addr == y.addr &&
           x->unix_path == y.unix_path;
  }
  if (const auto *x = std::get_if<PtraceBody>(&a.body)) {
    const auto &y = std::get<PtraceBody>(b.body);
    return x->target_tgid == y.target_tgid && x->mode == y.mode &&
           x->target_cgroup == y.target_cgroup && x->target_comm == y.target_comm;
  }
  if (const auto *x = std::get_if<SocketBody>(&a.body)) {
    const auto &y = std::get<SocketBody>(b.body);
    return x->family == y.family && x->type == y.type && x->protocol == y.protocol &&
           x->ret == y.ret;
  }
  if (const auto *x = std::get_if<VolumeBody>(&a.body)) {
    const auto &y = std::get<VolumeBody>(b.body);
    return x->addr == y.addr && x->port == y.port && x->proto == y.proto &&
           x->bytes == y.bytes && x->packets == y.packets;
  }
  if (const auto *x = std::get_if<TamperBody>(&a.body)) {
    const auto &y = std::get<TamperBody>(b.body);
    return x->kind == y.kind && x->arg == y.arg && x->target_tgid == y.target_tgid &&
           x->target_cgroup == y.target_cgroup && x->name == y.name;
  }
  if (const auto *x = std::get_if<DnsBody>(&a.body)) {
    const auto &y = std::get<DnsBody>(b.body);
    return x->server == y.server && x->port == y.port && x->proto == y.proto &&
           x->cut == y.cut && x->truncated == y.truncated && x->rcode == y.rcode &&
           x->qtype == y.qtype && x->id == y.id && x->ttl == y.ttl && x->qname == y.qname &&
           x->error == y.error && x->cnames == y.cnames && x->addrs == y.addrs;
  }
  const auto &x = std::get<ThrottleBody>(a.body);
  const auto &y = std::get<ThrottleBody>(b.body);
  return x.suppressed == y.suppressed && x.rate == y.rate;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fuzz::Input in(data, size);
  if (in.take<uint8_t>() & 1) {
    const pipeline::Event ev = build(in);
    std::string enc;
    eventlog::encode(ev, enc);
    auto back = eventlog::decode(bytes_of(enc));
    VG_FUZZ_CHECK(back.has_value());
    // Every string is under the codec's bounds here, so nothing is truncated: exact equality.
    VG_FUZZ_CHECK(same_header(ev.hdr, back->hdr));
    VG_FUZZ_CHECK(same_body(ev, *back));
    return 0;
  }
  const std::string payload = in.rest();
  auto ev = eventlog::decode(bytes_of(payload));
  if (!ev)
    return 0;
  std::string first;
  eventlog::encode(*ev, first);
  auto back = eventlog::decode(bytes_of(first));
  VG_FUZZ_CHECK(back.has_value());
  VG_FUZZ_CHECK(same_header(ev->hdr, back->hdr));
  VG_FUZZ_CHECK(same_body(*ev, *back));
  return 0;
}
