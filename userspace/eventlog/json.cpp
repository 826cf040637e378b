// SPDX-License-Identifier: Apache-2.0
// Record -> JSON for export.
#include "eventlog/json.h"

#include <filesystem>

#include "detect/alert.h"
#include "eventlog/codec.h"
#include "policy/profile.h"

namespace vigil::eventlog {

namespace {

using json = nlohmann::ordered_json;

std::string family_name(uint16_t f)
{
  switch (f) {
  case 1:
    return "unix";
  case 2:
    return "ipv4";
  case 10:
    return "ipv6";
  }
  return std::to_string(f);
}

struct BodyJson {
  json &j;

  void operator()(const pipeline::ExecBody &b)
  {
    j["ppid"] = b.ppid;
    j["exe"] = b.exe;
    j["argv"] = b.argv;
    if (!b.env.empty())
      j["env"] = b.env;
    if (b.env_truncated)
      j["env_truncated"] = true;
    j["loginuid"] = b.loginuid;
    j["old_tid"] = b.old_tid;
    j["exe_dev"] = b.exe_dev;
    j["exe_ino"] = b.exe_ino;
  }
  void operator()(const pipeline::ForkBody &b) { j["child_pid"] = b.child_tgid; }
  void operator()(const pipeline::ExitBody &b) { j["exit_code"] = b.exit_code; }
  void operator()(const pipeline::OpenBody &b)
  {
    j["path"] = b.path;
    j["ret"] = b.ret;
    j["call"] = std::string(pipeline::to_string(b.call));
    j["open_flags"] = b.flags;
    j["mode"] = b.mode;
    j["dfd"] = b.dfd;
    j["dev"] = b.dev;
    j["ino"] = b.ino;
    j["resolved"] = b.resolved;
    j["truncated"] = b.truncated;
    j["ipc"] = b.ipc;
    if (b.persist)
      j["persist"] = true;
    if (!b.pattern.empty())
      j["pattern"] = b.pattern;
    if (b.repeats) {
      j["repeats"] = b.repeats;
      j["repeat_first_ns"] = b.repeat_first_ns;
      j["repeat_last_ns"] = b.repeat_last_ns;
    }
  }
  void operator()(const pipeline::ConnectBody &b)
  {
    j["family"] = family_name(b.family);
    if (b.family == 1)
      j["unix_path"] = b.unix_path;
    else
      j["ip"] = policy::ip_to_string(b.addr);
    j["port"] = b.port;
    j["ret"] = b.ret;
    j["fd"] = b.fd;
    j["sendmsg"] = b.sendmsg;
    if (b.srcroute)
      j["source_routed"] = true;
    if (b.inbound) {
      j["inbound"] = true;
      j["local_port"] = b.lport;
      j["protocol"] = b.proto == 17 ? "udp" : "tcp";
    }
    j["ipc"] = b.ipc;
  }
  void operator()(const pipeline::PtraceBody &b)
  {
    j["target_pid"] = b.target_tgid;
    j["target_comm"] = b.target_comm;
    j["target_cgroup"] = b.target_cgroup;
    j["mode"] = b.mode;
  }
  void operator()(const pipeline::SocketBody &b)
  {
    j["family"] = b.family;
    j["socket_type"] = b.type;
    j["protocol"] = b.protocol;
    j["ret"] = b.ret;
  }
  void operator()(const pipeline::TamperBody &b)
  {
    j["kind"] = std::string(pipeline::to_string(b.kind));
    j["arg"] = b.arg;
    j["target_pid"] = b.target_tgid;
    j["target_cgroup"] = b.target_cgroup;
    j["name"] = b.name;
  }
  void operator()(const pipeline::ThrottleBody &b)
  {
    j["suppressed"] = b.suppressed;
    j["rate"] = b.rate;
  }
  void operator()(const pipeline::DnsBody &b)
  {
    j["server"] = policy::ip_to_string(b.server);
    j["port"] = b.port;
    j["proto"] = b.proto;
    if (!b.error.empty()) {
      j["dns_error"] = b.error;
      return;
    }
    j["name"] = b.qname;
    j["qtype"] = b.qtype;
    j["rcode"] = b.rcode;
    j["cnames"] = b.cnames;
    json addrs = json::array();
    for (const auto &a : b.addrs)
      addrs.push_back(policy::ip_to_string(a));
    j["addresses"] = std::move(addrs);
    j["ttl"] = b.ttl;
    if (b.cut)
      j["cut"] = true;
    if (b.truncated)
      j["truncated"] = true;
  }
  void operator()(const pipeline::VolumeBody &b)
  {
    j["destination"] = policy::ip_to_string(b.addr);
    j["port"] = b.port;
    j["proto"] = b.proto;
    j["bytes"] = b.bytes;
    j["packets"] = b.packets;
  }
};

void event_json(const RecordView &r, json &j)
{
  auto ev = decode(r.payload);
  if (!ev) {
    j["error"] = ev.error().message();
    return;
  }
  const pipeline::Header &h = ev->hdr;
  j["type"] = std::string(pipeline::to_string(h.type));
  if (r.segment && r.segment->header_ok) {
    // Events carry CLOCK_BOOTTIME; the segment header pairs both clocks at its creation.
    const SegmentHeader &s = r.segment->header;
    const int64_t offset = static_cast<int64_t>(s.created_realtime_ns - s.created_boottime_ns);
    j["time"] = detect::format_time(static_cast<uint64_t>(static_cast<int64_t>(h.ts_ns) + offset));
  }
  j["ts_boot_ns"] = h.ts_ns;
  j["pid"] = h.tgid;
  j["tid"] = h.tid;
  j["uid"] = h.uid;
  j["gid"] = h.gid;
  j["comm"] = h.comm;
  j["cgroup_id"] = h.cgroup_id;
  j["profile_id"] = h.profile_id;
  j["rule_id"] = h.rule_id;
  j["verdict"] = std::string(pipeline::to_string(h.verdict));
  j["tier"] = std::string(pipeline::to_string(h.tier));
  j["flags"] = h.flags;
  std::visit(BodyJson{j}, ev->body);
}

} // namespace

nlohmann::ordered_json to_json(const RecordView &r)
{
  json j;
  const auto type = static_cast<RecordType>(r.type);
  const std::string_view name = to_string(type);
  j["record"] = std::string(name);
  if (name == "unknown")
    j["record_type"] = r.type;
  if (r.segment)
    j["segment"] = std::filesystem::path(r.segment->path).filename().string();
  j["offset"] = r.block_offset;
  j["index"] = r.index;
  if (type == RecordType::event) {
    event_json(r, j);
    return j;
  }
  if (name == "unknown") {
    j["size"] = r.payload.size();
    return j;
  }
  const auto *p = reinterpret_cast<const char *>(r.payload.data());
  json body = json::parse(p, p + r.payload.size(), nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    j["error"] = "payload is not JSON";
  } else if (type == RecordType::alert || !body.is_object()) {
    j[type == RecordType::alert ? "alert" : "value"] = std::move(body);
  } else {
    for (auto &[k, v] : body.items())
      if (!j.contains(k))
        j[k] = v;
  }
  return j;
}

} // namespace vigil::eventlog
