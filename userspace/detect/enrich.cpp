// SPDX-License-Identifier: Apache-2.0
// Alert construction, time formatting and errno names.
#include "detect/enrich.h"

#include <fcntl.h>

#include <arpa/inet.h>
#include <cerrno>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>

#include "common/kernel_ids.h"
#include "vigil/abi.h"

namespace vigil::detect {

namespace {

std::string join_argv(const std::vector<std::string> &argv)
{
  std::string s;
  for (const auto &a : argv) {
    if (!s.empty())
      s += ' ';
    s += a;
  }
  return s;
}

bool isolated_connect(const pipeline::Event &ev)
{
  const auto *c = std::get_if<pipeline::ConnectBody>(&ev.body);
  return c && c->isolated;
}

} // namespace

std::string format_time(uint64_t realtime_ns)
{
  time_t secs = static_cast<time_t>(realtime_ns / 1000000000ull);
  tm t{};
  ::gmtime_r(&secs, &t);
  char buf[64];
  size_t n = ::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &t);
  std::snprintf(buf + n, sizeof(buf) - n, ".%09lluZ",
                static_cast<unsigned long long>(realtime_ns % 1000000000ull));
  return buf;
}

std::string describe_errno(int64_t ret)
{
  if (ret >= 0)
    return "ok";
  const char *name = ::strerrorname_np(static_cast<int>(-ret));
  return name ? name : "errno " + std::to_string(-ret);
}

std::string local_hostname()
{
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0)
    return "unknown";
  return buf;
}

uint64_t Enricher::boot_to_realtime(uint64_t boot_ns)
{
  const uint64_t real = clock_ns(CLOCK_REALTIME);
  const uint64_t boot = clock_ns(CLOCK_BOOTTIME);
  return boot_ns + (real - boot);
}

// What an agent's attempt on vigil or its boundary was, in words.
std::string describe_tamper(const pipeline::TamperBody &t, const Enricher::CgroupNamer &cgroups)
{
  auto cg = [&](uint64_t id) {
    const std::string name = cgroups && id ? cgroups(id) : std::string();
    return name.empty() ? "cgroup " + std::to_string(id) : name;
  };
  using K = pipeline::TamperKind;
  switch (t.kind) {
  case K::cgroup_write:
    return "write to " + t.name + " of " + cg(t.target_cgroup) + ", outside the agent's cgroup";
  case K::cgroup_mkdir:
    return "cgroup directory change (" + t.name + ") in " + cg(t.target_cgroup) +
           ", outside the agent's cgroup";
  case K::cgroup_escape:
    return "pid " + std::to_string(t.target_tgid) + " moved out of the agent's cgroup to " +
           cg(t.target_cgroup);
  case K::clone_into_cgroup:
    return "child " + (t.target_tgid ? "pid " + std::to_string(t.target_tgid) + " " : "") +
           "created in another cgroup (clone3 CLONE_INTO_CGROUP)" +
           (t.target_cgroup ? " " + cg(t.target_cgroup) : "");
  case K::bpf:
    return "bpf() command " + std::to_string(t.arg);
  case K::bpffs:
    return "change under the BPF file system (" + t.name + "), where vigil pins its programs";
  case K::signal:
    return "signal " + std::to_string(t.arg) + " to pid " + std::to_string(t.target_tgid) + " (" +
           t.name + "), outside the agent";
  case K::mount:
    return "mount" + (t.name.empty() ? std::string() : " of " + t.name) +
           " in a mount namespace the agent did not create";
  case K::umount:
    return "umount" + (t.name.empty() ? std::string() : " of a " + t.name + " file system") +
           " in a mount namespace the agent did not create";
  case K::move_mount:
    return "move_mount in a mount namespace the agent did not create";
  case K::pivot_root:
    return "pivot_root in a mount namespace the agent did not create";
  case K::module:
    return "kernel code or image load (id " + std::to_string(t.arg) + ")" +
           (t.name.empty() ? std::string() : " of " + t.name);
  case K::sysctl:
    return "write to kernel setting " + t.name;
  }
  return "unknown attempt " + std::to_string(static_cast<int>(t.kind));
}

Enricher::Enricher(pipeline::ProcessTable &procs, std::string hostname, CgroupNamer cgroups)
    : procs_(procs), hostname_(std::move(hostname)), cgroups_(std::move(cgroups))
{
}

Alert Enricher::build(const pipeline::Event &ev, const Finding &f, const policy::Profile &profile)
{
  using policy::RuleKind;
  Alert a;
  a.time_ns = realtime_of(ev.hdr.ts_ns);
  a.hostname = hostname_;
  a.profile = profile.name;
  a.rule = f.rule;
  a.rule_description = f.description;
  a.tags = f.tags;
  a.severity = f.severity;
  a.event_type = ev.hdr.type;
  a.verdict = ev.hdr.verdict;
  a.tier = ev.hdr.tier;
  a.pid = ev.hdr.tgid;
  a.uid = ev.hdr.uid;
  a.comm = ev.hdr.comm;
  a.cgroup_id = ev.hdr.cgroup_id;
  a.cgroup = cgroups_ ? cgroups_(ev.hdr.cgroup_id) : std::string();
  if (workloads_ && !a.cgroup.empty())
    if (auto w = workloads_(a.cgroup))
      a.workload = std::move(*w);
  a.env = f.env;
  a.detail = f.detail;
  a.bytes = f.bytes;
  if (ev.hdr.tgid != 0) {
    if (const pipeline::ProcessInfo *p = procs_.find(ev.hdr.tgid)) {
      a.ppid = p->ppid;
      a.exe = p->exe;
      a.argv = p->argv;
    }
    // The chain ends with the first process outside the agent (its launcher: vigil run, a
    // container runtime): what lies above it is the host's business, not the incident's.
    for (const pipeline::ProcessInfo *anc : procs_.ancestry(ev.hdr.tgid)) {
      a.ancestry.push_back(ProcessRef{anc->pid, anc->exe, anc->argv});
      if (anc->profile_id == 0)
        break;
    }
  }

  const std::string who =
      ev.hdr.tgid == 0 ? std::string("the agent cgroup")
                       : a.comm + " (pid " + std::to_string(a.pid) + ", ppid " +
                             std::to_string(a.ppid) + ", " +
                             (a.exe.empty() ? std::string("exe unknown") : a.exe) + ")";
  const std::string how = std::string(pipeline::to_string(a.verdict)) +
                          (a.tier == pipeline::Tier::none
                               ? std::string()
                               : " by " + std::string(pipeline::to_string(a.tier)));
  std::string object;
  if (const auto *o = std::get_if<pipeline::OpenBody>(&ev.body)) {
    a.path = f.path.empty() ? o->path : f.path;
    a.result = o->ret;
  } else if (const auto *c = std::get_if<pipeline::ConnectBody>(&ev.body)) {
    a.result = c->ret;
    if (c->inbound) {
      a.source_ip = policy::ip_to_string(c->addr);
      a.source_port = c->port;
      a.dest_port = c->lport;
      a.dest_family = c->family == 2 ? "ipv4" : "ipv6";
      a.protocol = c->proto == 17 ? "udp" : "tcp";
    } else if (c->family == 2 || c->family == 10) {
      a.dest_ip = policy::ip_to_string(c->addr);
      a.dest_port = c->port;
      a.dest_family = c->family == 2 ? "ipv4" : "ipv6";
    } else {
      a.dest_family = "unix";
      a.path = f.path.empty() ? c->unix_path : f.path;
    }
  } else if (const auto *v = std::get_if<pipeline::VolumeBody>(&ev.body)) {
    a.dest_ip = policy::ip_to_string(v->addr);
    a.dest_port = v->port;
    a.dest_family = policy::is_v4_mapped(v->addr) ? "ipv4" : "ipv6";
  } else if (const auto *k = std::get_if<pipeline::SocketBody>(&ev.body)) {
    a.result = k->ret;
  } else if (const auto *t = std::get_if<pipeline::PtraceBody>(&ev.body)) {
    a.target_pid = t->target_tgid;
  } else if (const auto *tb = std::get_if<pipeline::TamperBody>(&ev.body)) {
    a.target_pid = tb->target_tgid;
  }
  const std::string dest = a.dest_ip + " port " + std::to_string(a.dest_port);
  const std::string verb = [&] {
    const auto *c = std::get_if<pipeline::ConnectBody>(&ev.body);
    if (c && c->srcroute)
      return std::string("source-routed send (IPv6 routing header or IPv4 options) via ");
    return std::string(c && c->sendmsg ? "send to " : "connect to ");
  }();

  switch (f.kind) {
  case RuleKind::credential_read: {
    const auto *o = std::get_if<pipeline::OpenBody>(&ev.body);
    const pipeline::OpenCall call = o ? o->call : pipeline::OpenCall::hook;
    const char *what = call == pipeline::OpenCall::link     ? "hard link of credential file "
                       : call == pipeline::OpenCall::rename ? "rename of credential file "
                                                            : "credential file ";
    a.output = what + a.path + (o && o->truncated ? " (path truncated)" : "") +
               (call == pipeline::OpenCall::link || call == pipeline::OpenCall::rename
                    ? " by "
                    : " opened by ") +
               who + " [" + how + ", " + describe_errno(a.result) + ", matched " +
               (f.pattern.empty() ? std::string("(protected object)") : f.pattern) + "]";
    break;
  }
  case RuleKind::persistence_write: {
    const auto *lo = std::get_if<pipeline::OpenBody>(&ev.body);
    if (lo && lo->persist && a.tier == pipeline::Tier::lsm) {
      // Tier 1: the hook that decided names what stopped it; a new regular file (path_mknod
      // of an O_CREAT open) is a write, as the launch filter's gate says too.
      const bool write =
          lo->call < pipeline::OpenCall::link ||
          (lo->call == pipeline::OpenCall::mknod && (lo->flags & O_CREAT) != 0);
      a.output = (write ? std::string("write to persistence path ")
                        : std::string(pipeline::to_string(lo->call)) + " of persistence path ") +
                 a.path + (lo->truncated ? " (path truncated)" : "") + " by " + who + " [" +
                 std::string(pipeline::to_string(a.verdict)) + " by BPF LSM " +
                 std::string(pipeline::lsm_hook(lo->call)) + ", " + describe_errno(a.result) +
                 ", matched " + f.pattern + "]";
      break;
    }
    // A read-only bind of the persistence guard refuses in the VFS, before any program of
    // vigil's decides: the open's EROFS is what says who stopped it.
    const std::string stopped =
        a.tier == pipeline::Tier::launch
            ? (a.verdict == pipeline::Verdict::deny
                   ? ", the persistence guard's gate in the launch filter"
                   : ", allowed: the profile entry is in audit mode")
        : a.result == -EROFS ? ", denied by the read-only mount of the persistence guard"
                             : "";
    const auto *o = std::get_if<pipeline::OpenBody>(&ev.body);
    const pipeline::OpenCall call = o ? o->call : pipeline::OpenCall::hook;
    const std::string what = call < pipeline::OpenCall::link
                                 ? std::string("write to persistence path ")
                                 : std::string(pipeline::to_string(call)) + " of persistence path ";
    // The launch filter reports a change nothing decides before the call runs.
    const std::string result = (ev.hdr.flags & VG_F_BEFORE)
                                   ? std::string("reported before the call ran, result unknown")
                                   : describe_errno(a.result);
    a.output = what + a.path + " by " + who + " [" + how + ", " + result + stopped +
               ", matched " + f.pattern + "]";
    break;
  }
  case RuleKind::egress:
    if (std::holds_alternative<pipeline::VolumeBody>(ev.body))
      a.output = "egress volume from " + (a.cgroup.empty() ? who : a.cgroup) + ": " + f.detail;
    else
      a.output = verb + dest +
                 (!f.detail.empty() ? std::string()
                  : isolated_connect(ev)
                      ? std::string(" while the agent is isolated (a response action denies all "
                                    "its egress)")
                      : std::string(" outside the egress allowlist")) +
                 " by " + who + " [" + how + ", " + describe_errno(a.result) + "]" +
                 (f.detail.empty() ? std::string() : ": " + f.detail);
    break;
  case RuleKind::ipc: {
    // Which program decided: the unix hooks say it in the alert, the tier name alone does not.
    const auto *c = std::get_if<pipeline::ConnectBody>(&ev.body);
    std::string hook;
    if (c && c->family == 1 && a.tier == pipeline::Tier::cgroup)
      hook = c->sendmsg ? " sendmsg_unix program" : " connect_unix program";
    else if (c && c->family == 1 && a.tier == pipeline::Tier::lsm)
      hook = c->sendmsg ? " unix_may_send" : " unix_stream_connect";
    a.output = "side channel " + (a.path.empty() ? std::string("(unnamed)") : a.path) +
               " served from outside the agent, used by " + who + " [" + how + hook + ", " +
               describe_errno(a.result) + "]";
    break;
  }
  case RuleKind::inbound:
    a.output = (a.protocol == "udp" ? std::string("inbound UDP datagram from ")
                                    : std::string("inbound TCP connection from ")) +
               (a.dest_family == "ipv6" ? "[" + a.source_ip + "]" : a.source_ip) + " port " +
               std::to_string(a.source_port) + " to port " + std::to_string(a.dest_port) +
               " of " + (a.cgroup.empty() ? who : a.cgroup) + ", from outside the agent [" +
               how + " ingress packet program" +
               (a.verdict == pipeline::Verdict::deny ? std::string(": dropped")
                                                     : std::string(": let in (audit)")) +
               "]";
    break;
  case RuleKind::raw_socket:
    if (const auto *k = std::get_if<pipeline::SocketBody>(&ev.body))
      a.output = std::string(k->family == 17 ? "packet" : "raw") + " socket (family " +
                 std::to_string(k->family) + ", protocol " + std::to_string(k->protocol) +
                 ") created by " + who + " [" + how + ", " + describe_errno(k->ret) + "]";
    break;
  case RuleKind::process_access:
    if (const auto *t = std::get_if<pipeline::PtraceBody>(&ev.body))
      a.output = "access to the memory or environment of pid " + std::to_string(t->target_tgid) +
                 " (" + t->target_comm + "), outside the agent, by " + who + " [" + how + "]";
    else if (std::holds_alternative<pipeline::OpenBody>(ev.body))
      a.output = "open of " + a.path + ", the memory or environment of a process the agent "
                 "cannot see, by " + who + " [" + describe_errno(a.result) +
                 ": no such process in the agent's view; stopped by the agent's PID namespace "
                 "(vigil run), or the process is gone]";
    break;
  case RuleKind::tamper:
    if (const auto *t = std::get_if<pipeline::TamperBody>(&ev.body))
      a.output = f.description + ": " + describe_tamper(*t, cgroups_) + " by " + who + " [" + how +
                 "]";
    break;
  case RuleKind::throttle:
    a.output = f.description + ": " + (a.cgroup.empty() ? who : a.cgroup) + ", " + f.detail;
    break;
  case RuleKind::exec_context: {
    std::string vars;
    for (const auto &e : f.env)
      vars += (vars.empty() ? "" : ", ") + e;
    a.output = f.description + ": " + who + " started with " +
               (vars.empty() ? f.detail : vars);
    break;
  }
  case RuleKind::process:
    a.output = f.description + ": " + who;
    break;
  case RuleKind::sequence:
    a.output = f.description + ": " + f.detail;
    break;
  }
  if (!a.argv.empty())
    a.output += " cmdline: " + join_argv(a.argv);
  if (!a.workload.pod.empty())
    a.output += " pod: " + a.workload.ns + "/" + a.workload.pod +
                (a.workload.container.empty() ? std::string()
                                              : " container: " + a.workload.container);
  return a;
}

} // namespace vigil::detect
