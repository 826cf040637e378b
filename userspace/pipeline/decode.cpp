// SPDX-License-Identifier: Apache-2.0
// Ring-buffer record -> pipeline::Event. Every failure names what was wrong with the record.
#include <cstring>
#include <type_traits>
#include <variant>

#include "pipeline/dns.h"
#include "pipeline/event.h"
#include "vigil/abi.h"

namespace vigil::pipeline {

std::string_view to_string(EventType t)
{
  switch (t) {
  case EventType::exec:
    return "exec";
  case EventType::egress_volume:
    return "egress_volume";
  case EventType::fork:
    return "fork";
  case EventType::exit:
    return "exit";
  case EventType::open:
    return "open";
  case EventType::connect:
    return "connect";
  case EventType::ptrace:
    return "ptrace";
  case EventType::socket:
    return "socket";
  case EventType::tamper:
    return "tamper";
  case EventType::throttle:
    return "throttle";
  case EventType::dns:
    return "dns";
  }
  return "unknown";
}



std::string_view to_string(Verdict v)
{
  switch (v) {
  case Verdict::none:
    return "observed";
  case Verdict::allow:
    return "allowed";
  case Verdict::audit:
    return "would-deny";
  case Verdict::deny:
    return "denied";
  case Verdict::kill:
    return "killed";
  }
  return "unknown";
}

std::string_view to_string(Tier t)
{
  switch (t) {
  case Tier::none:
    return "none";
  case Tier::lsm:
    return "lsm";
  case Tier::cgroup:
    return "cgroup";
  case Tier::fanotify:
    return "fanotify";
  case Tier::launch:
    return "launch";
  }
  return "unknown";
}

std::string_view to_string(OpenCall c)
{
  switch (c) {
  case OpenCall::open:
    return "open";
  case OpenCall::openat:
    return "openat";
  case OpenCall::openat2:
    return "openat2";
  case OpenCall::open_by_handle_at:
    return "open_by_handle_at";
  case OpenCall::hook:
    return "file_open";
  case OpenCall::link:
    return "link";
  case OpenCall::rename:
    return "rename";
  case OpenCall::unlink:
    return "unlink";
  case OpenCall::chmod:
    return "chmod";
  case OpenCall::chown:
    return "chown";
  case OpenCall::symlink:
    return "symlink";
  case OpenCall::mknod:
    return "mknod";
  case OpenCall::truncate:
    return "truncate";
  case OpenCall::mkdir:
    return "mkdir";
  case OpenCall::rmdir:
    return "rmdir";
  }
  return "unknown";
}

std::string_view lsm_hook(OpenCall c)
{
  switch (c) {
  case OpenCall::hook:
    return "file_open";
  case OpenCall::link:
    return "path_link";
  case OpenCall::rename:
    return "path_rename";
  case OpenCall::mknod:
    return "path_mknod";
  case OpenCall::mkdir:
    return "path_mkdir";
  case OpenCall::symlink:
    return "path_symlink";
  case OpenCall::unlink:
    return "path_unlink";
  case OpenCall::rmdir:
    return "path_rmdir";
  case OpenCall::chmod:
    return "path_chmod";
  case OpenCall::chown:
    return "path_chown";
  case OpenCall::truncate:
    return "path_truncate";
  default:
    return "";
  }
}

namespace {

// A NUL-terminated string inside [p, p+max), or the whole range when no NUL is found; into out,
// whose capacity is reused.
void bounded_string(std::string &out, const char *p, size_t max)
{
  out.assign(p, strnlen(p, max));
}

// The alternative B of ev.body, made if the body holds another one: a body of the same type
// keeps its strings' capacity, and every field is assigned by the caller.
template <typename B> B &body_of(Event &ev)
{
  if (auto *b = std::get_if<B>(&ev.body))
    return *b;
  return ev.body.emplace<B>();
}

// Copies the fixed part of a record into an aligned local (records may be unaligned).
template <typename T>
Result<> read_fixed(std::span<const std::byte> data, T &out, const char *what)
{
  if (data.size() < sizeof(T))
    return fail(std::string("short ") + what + " record: " + std::to_string(data.size()) +
                " bytes, need " + std::to_string(sizeof(T)));
  std::memcpy(&out, data.data(), sizeof(T));
  return {};
}

void decode_header(const vg_event_hdr &h, Header &out)
{
  out.type = static_cast<EventType>(h.type);
  out.flags = h.flags;
  out.ts_ns = h.ts_ns;
  out.cgroup_id = h.cgroup_id;
  out.tgid = h.tgid;
  out.tid = h.tid;
  out.uid = h.uid;
  out.gid = h.gid;
  out.profile_id = h.profile_id;
  out.rule_id = h.rule_id;
  out.verdict = h.verdict <= VG_VERDICT_KILL ? static_cast<Verdict>(h.verdict) : Verdict::none;
  out.tier = h.tier <= VG_TIER_FANOTIFY ? static_cast<Tier>(h.tier) : Tier::none;
  bounded_string(out.comm, h.comm, sizeof(h.comm));
}

// NUL-separated strings into argv, reusing its strings (their capacity stays with the vector).
void split_args(std::vector<std::string> &argv, const char *p, size_t len)
{
  size_t count = 0;
  size_t i = 0;
  while (i < len) {
    size_t n = strnlen(p + i, len - i);
    if (count < argv.size())
      argv[count].assign(p + i, n);
    else
      argv.emplace_back(p + i, n);
    ++count;
    i += n + 1;
  }
  argv.resize(count);
}

// The string tail that follows a fixed struct: checks that [offset, offset+len) lies inside the
// record.
Result<std::span<const std::byte>> tail(std::span<const std::byte> data, size_t offset, size_t len,
                                        const char *what)
{
  if (offset > data.size() || len > data.size() - offset)
    return fail(std::string(what) + " runs past the end of the record (" +
                std::to_string(offset + len) + " > " + std::to_string(data.size()) + ")");
  return data.subspan(offset, len);
}

} // namespace

size_t footprint(const Event &ev)
{
  size_t n = sizeof(Event) + ev.hdr.comm.size();
  std::visit(
      [&](const auto &b) {
        using B = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<B, ExecBody>) {
          n += b.exe.size();
          for (const auto *v : {&b.argv, &b.env})
            for (const auto &s : *v)
              n += sizeof(std::string) + s.size();
        } else if constexpr (std::is_same_v<B, OpenBody>) {
          n += b.path.size() + b.pattern.size();
        } else if constexpr (std::is_same_v<B, ConnectBody>) {
          n += b.unix_path.size();
        } else if constexpr (std::is_same_v<B, PtraceBody>) {
          n += b.target_comm.size();
        } else if constexpr (std::is_same_v<B, TamperBody>) {
          n += b.name.size();
        } else if constexpr (std::is_same_v<B, DnsBody>) {
          n += b.qname.size() + b.error.size() + b.addrs.size() * 16;
          for (const auto &c : b.cnames)
            n += sizeof(std::string) + c.size();
        }
      },
      ev.body);
  return n;
}

Result<> decode_into(std::span<const std::byte> data, Event &ev)
{
  vg_event_hdr h;
  if (auto r = read_fixed(data, h, "header"); !r)
    return tl::unexpected(r.error());
  if ((h.version >> 8) != VG_ABI_MAJOR)
    return fail("record has ABI major version " + std::to_string(h.version >> 8) + ", expected " +
                std::to_string(VG_ABI_MAJOR));
  if (h.size > data.size() || h.size < sizeof(vg_event_hdr))
    return fail("record size field " + std::to_string(h.size) + " does not fit the " +
                std::to_string(data.size()) + " bytes received");
  data = data.first(h.size);

  decode_header(h, ev.hdr);
  switch (h.type) {
  case VG_EV_EXEC: {
    vg_event_exec rec;
    if (auto ok = read_fixed(data, rec, "exec"); !ok)
      return tl::unexpected(ok.error());
    const vg_event_exec *r = &rec;
    auto path = tail(data, sizeof(vg_event_exec), r->path_len, "exec path");
    if (!path)
      return tl::unexpected(path.error());
    auto args = tail(data, sizeof(vg_event_exec) + r->path_len, r->args_len, "exec argv");
    if (!args)
      return tl::unexpected(args.error());
    // ABI 1.1 objects wrote zero padding here: no environment.
    const size_t env_len = (h.version & 0xff) >= 2 ? r->env_len : 0;
    auto env = tail(data, sizeof(vg_event_exec) + r->path_len + r->args_len, env_len, "exec env");
    if (!env)
      return tl::unexpected(env.error());
    ExecBody &b = body_of<ExecBody>(ev);
    b.ppid = r->ppid;
    b.old_tid = r->old_tid;
    b.loginuid = r->loginuid;
    b.exe_dev = r->exe_dev;
    b.exe_ino = r->exe_ino;
    bounded_string(b.exe, reinterpret_cast<const char *>(path->data()), path->size());
    split_args(b.argv, reinterpret_cast<const char *>(args->data()), args->size());
    split_args(b.env, reinterpret_cast<const char *>(env->data()), env->size());
    b.env_truncated = (h.flags & VG_F_ENV_TRUNC) != 0;
    break;
  }
  case VG_EV_FORK: {
    vg_event_fork rec;
    if (auto ok = read_fixed(data, rec, "fork"); !ok)
      return tl::unexpected(ok.error());
    const vg_event_fork *r = &rec;
    ev.body = ForkBody{r->child_tgid};
    break;
  }
  case VG_EV_EXIT: {
    vg_event_exit rec;
    if (auto ok = read_fixed(data, rec, "exit"); !ok)
      return tl::unexpected(ok.error());
    const vg_event_exit *r = &rec;
    ev.body = ExitBody{r->exit_code};
    break;
  }
  case VG_EV_OPEN: {
    vg_event_open rec;
    if (auto ok = read_fixed(data, rec, "open"); !ok)
      return tl::unexpected(ok.error());
    const vg_event_open *r = &rec;
    auto path = tail(data, sizeof(vg_event_open), r->path_len, "open path");
    if (!path)
      return tl::unexpected(path.error());
    if (r->call < VG_OPEN_OPEN || r->call > VG_OPEN_CALL_LAST)
      return fail("open record has unknown call " + std::to_string(r->call));
    OpenBody &b = body_of<OpenBody>(ev);
    b.ret = r->ret;
    b.ino = r->ino;
    b.dev = r->dev;
    b.flags = r->flags;
    b.mode = r->mode;
    b.dfd = r->dfd;
    b.call = static_cast<OpenCall>(r->call);
    b.resolved = (h.flags & VG_F_PATH_RESOLVED) != 0;
    b.truncated = (h.flags & VG_F_PATH_TRUNC) != 0;
    b.ipc = (h.flags & VG_F_IPC) != 0;
    b.persist = (h.flags & VG_F_PERSIST) != 0;
    bounded_string(b.path, reinterpret_cast<const char *>(path->data()), path->size());
    b.pattern.clear();
    break;
  }
  case VG_EV_CONNECT: {
    vg_event_connect rec;
    if (auto ok = read_fixed(data, rec, "connect"); !ok)
      return tl::unexpected(ok.error());
    const vg_event_connect *r = &rec;
    ConnectBody &b = body_of<ConnectBody>(ev);
    b.ret = r->ret;
    b.sendmsg = (h.flags & VG_F_SENDMSG) != 0;
    b.srcroute = (h.flags & VG_F_SRCROUTE) != 0;
    b.ipc = (h.flags & VG_F_IPC) != 0;
    b.inbound = (h.flags & VG_F_INBOUND) != 0;
    b.isolated = (h.flags & VG_F_ISOLATED) != 0;
    b.lport = b.inbound ? r->lport : 0;
    b.proto = b.inbound ? r->proto : 0;
    b.family = r->family;
    b.port = r->port;
    b.fd = r->fd;
    b.addr = {};
    b.unix_path.clear();
    if (r->family == 2) { // AF_INET: map into the IPv6 space, as policy matching expects
      b.addr[10] = 0xff;
      b.addr[11] = 0xff;
      std::memcpy(&b.addr[12], r->addr, 4);
    } else if (r->family == 10) {
      std::memcpy(b.addr.data(), r->addr, 16);
    } else if (r->family == 1) {
      // Abstract names start with NUL; keep them visible as '@name', as ss(8) prints them.
      if (r->unix_path[0] == '\0' && r->unix_path[1] != '\0') {
        bounded_string(b.unix_path, r->unix_path + 1, sizeof(r->unix_path) - 1);
        b.unix_path.insert(0, 1, '@');
      } else {
        bounded_string(b.unix_path, r->unix_path, sizeof(r->unix_path));
      }
    }
    break;
  }
  case VG_EV_PTRACE: {
    vg_event_ptrace rec;
    if (auto ok = read_fixed(data, rec, "ptrace"); !ok)
      return tl::unexpected(ok.error());
    PtraceBody &b = body_of<PtraceBody>(ev);
    b.target_tgid = rec.target_tgid;
    b.mode = rec.mode;
    b.target_cgroup = rec.target_cgroup;
    bounded_string(b.target_comm, rec.target_comm, sizeof(rec.target_comm));
    break;
  }
  case VG_EV_SOCKET: {
    vg_event_socket rec;
    if (auto ok = read_fixed(data, rec, "socket"); !ok)
      return tl::unexpected(ok.error());
    ev.body = SocketBody{rec.family, rec.type, rec.protocol, rec.ret};
    break;
  }
  case VG_EV_TAMPER: {
    vg_event_tamper rec;
    if (auto ok = read_fixed(data, rec, "tamper"); !ok)
      return tl::unexpected(ok.error());
    TamperBody &b = body_of<TamperBody>(ev);
    b.kind = static_cast<TamperKind>(rec.kind);
    b.arg = rec.arg;
    b.target_tgid = rec.target_tgid;
    b.target_cgroup = rec.target_cgroup;
    bounded_string(b.name, rec.name, sizeof(rec.name));
    break;
  }
  case VG_EV_THROTTLE: {
    vg_event_throttle rec;
    if (auto ok = read_fixed(data, rec, "throttle"); !ok)
      return tl::unexpected(ok.error());
    ev.body = ThrottleBody{rec.suppressed, rec.rate};
    break;
  }
  case VG_EV_DNS: {
    vg_event_dns rec;
    if (auto ok = read_fixed(data, rec, "dns"); !ok)
      return tl::unexpected(ok.error());
    if (rec.len > sizeof(rec.data))
      return fail("dns: " + std::to_string(rec.len) + " bytes of data in a record that holds " +
                  std::to_string(sizeof(rec.data)));
    DnsBody &b = body_of<DnsBody>(ev);
    std::memcpy(b.server.data(), rec.addr, sizeof(rec.addr));
    b.port = rec.port;
    b.proto = rec.proto;
    DnsMessage m;
    if (parse_dns_response({rec.data, rec.len}, rec.proto == 6, m, b.error)) {
      b.qname = std::move(m.qname);
      b.cnames = std::move(m.cnames);
      b.addrs = std::move(m.addrs);
    } else {
      b.qname.clear();
      b.cnames.clear();
      b.addrs.clear();
    }
    // The copy stops at VG_DNS_MAX bytes of a longer payload: answers past it are lost (the
    // parse ran out of bytes in the answer section).
    b.cut = m.cut;
    b.truncated = m.truncated;
    b.rcode = m.rcode;
    b.qtype = m.qtype;
    b.id = m.id;
    b.ttl = m.ttl;
    break;
  }
  default:
    return fail("unknown record type " + std::to_string(h.type));
  }
  return {};
}

Result<Event> decode(std::span<const std::byte> data)
{
  Event ev;
  if (auto r = decode_into(data, ev); !r)
    return tl::unexpected(r.error());
  return ev;
}

Result<Event *> Decoder::decode(std::span<const std::byte> data)
{
  vg_event_hdr h;
  if (auto r = read_fixed(data, h, "header"); !r)
    return tl::unexpected(r.error());
  Event &slot = slots_[h.type < slots_.size() ? h.type : 0];
  if (auto r = decode_into(data, slot); !r)
    return tl::unexpected(r.error());
  return &slot;
}

} // namespace vigil::pipeline
