// SPDX-License-Identifier: Apache-2.0
// `vigil doctor [--json]`: runs the kernel feature probes and reports, per probe, what was found
// or why it is missing, then the enforcement tier that files and the network get on this host.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cgroup/cgroup.h"
#include "cgroup/sockets.h"
#include "cli/commands.h"
#include "loader/loader.h"
#include "loader/preflight.h"
#include "loader/probe.h"

namespace vigil::cli {

namespace {

using loader::Features;
using loader::Probe;

// Unix sockets served outside an agent (docker, git-credential-cache, ssh-agent): who decides
// on this host, and why.
std::pair<std::string, std::string> unix_coverage(const Features &f)
{
  if (f.net_tier == loader::Tier::lsm)
    return {"lsm", "unix_stream_connect and unix_may_send decide by the peer socket's cgroup"};
  if (f.net_tier == loader::Tier::monitor)
    return {"none", "no network enforcement tier on this host: observed only"};
  if (auto types = loader::kernel_cgroup_unix_hooks())
    return {"cgroup", "connect_unix and sendmsg_unix programs (attach types " +
                          std::to_string(types->connect) + ", " + std::to_string(types->sendmsg) +
                          ") decide by the address: names bound by the agent's own sockets, the "
                          "system's logging and nscd sockets and ipc.allow pass"};
  return {"none", "kernel before 6.7 (no cgroup unix socket hooks): connects and datagrams to "
                  "unix sockets served outside the agent are neither denied nor reported"};
}

// The report's keys, in the order they are printed; the same names in text and JSON.
std::vector<std::pair<const char *, Probe>> probe_rows(const Features &f)
{
  return {{"kernel", Probe{!f.kernel_release.empty(), f.kernel_release}},
          {"btf", f.btf},
          {"cgroup2", f.cgroup2},
          {"bpffs", f.bpffs},
          {"lsm_list", f.securityfs_lsm},
          {"bpf_lsm", f.bpf_lsm_listed},
          {"lsm_prog", f.lsm_prog},
          {"lsm_cgroup", f.lsm_cgroup},
          {"cgroup_sock_addr", f.cgroup_sock_addr},
          {"cgroup_skb", f.cgroup_skb},
          {"ringbuf", f.ringbuf},
          {"bpf_loop", f.bpf_loop},
          {"fanotify_perm", f.fanotify_perm}};
}

// Connections into an agent from outside it: the cgroup_skb/ingress program, whatever the tier.
std::string inbound_detail(const Features &f)
{
  if (f.cgroup_skb.ok)
    return "dropped by the cgroup_skb/ingress program on each agent cgroup (any tier)";
  return "not enforced: cgroup_skb programs do not load here (" + f.cgroup_skb.detail + ")";
}

// One attempt class of an agent and how this kernel stops it: under `vigil run` (own mount
// and pid namespaces, launch filter) and in daemon mode (a cgroup the daemon confines, no
// launch). docs/SECURITY.md has the same rows with the tests that hold them.
struct Coverage {
  const char *attempt;
  std::string run;
  std::string daemon;
};

std::vector<Coverage> coverage(const Features &f)
{
  using loader::Tier;
  const bool lsm = f.file_tier == Tier::lsm, fan = f.file_tier == Tier::fallback;
  const bool net_lsm = f.net_tier == Tier::lsm;
  const std::string none = "observed only (no enforcement tier for files on this host)";
  auto files = [&](std::string l, std::string run, std::string daemon) {
    return lsm ? std::pair{l, l} : fan ? std::pair{run, daemon} : std::pair{none, none};
  };
  std::vector<Coverage> rows;
  auto add = [&](const char *attempt, std::pair<std::string, std::string> how) {
    rows.push_back({attempt, std::move(how.first), std::move(how.second)});
  };
  add("credential_by_name",
      files("refused: BPF LSM file_open (inode, directory and name rules)",
            "refused: fanotify inode marks and the agent's mount marks",
            "refused: fanotify inode and directory marks"));
  add("renamed_directory",
      files("refused: inode rules move with the files",
            "refused: files keyed by inode, protected trees by their directory's inode",
            "refused for files present when the profile was installed (inode keys)"));
  add("basename_pattern",
      files("refused: BPF LSM name rules",
            "refused: every open of the agent is decided (mount marks)",
            "observed and alerted, not refused (no agent mount namespace to mark)"));
  add("hard_link",
      files("refused: path_link, inode_link",
            "the link is made; its read refused for inode-keyed files, allowed for files "
            "protected only by a basename pattern",
            "as vigil run"));
  add("foreign_fifo",
      files("refused: file_open (FIFOs the agent did not create)",
            "refused for FIFOs present at the start (stand-in binds); later ones refused "
            "when opened for writing (launch filter: FIFOs the agent did not make)",
            "not decided"));
  const auto [unix_tier, unix_reason] = unix_coverage(f);
  add("unix_socket", {unix_tier + ": " + unix_reason, unix_tier + ": " + unix_reason});
  add("inbound_connection", {inbound_detail(f), inbound_detail(f)});
  add("foreign_process_memory",
      {lsm ? std::string("refused: ptrace_access_check")
           : "refused: the agent's pid namespace and the launch filter",
       lsm ? std::string("refused: ptrace_access_check")
           : "not decided (the runtime's own pid namespace and capabilities)"});
  add("raw_socket", {net_lsm ? std::string("refused: socket_create") : "refused: launch filter",
                     net_lsm ? std::string("refused: socket_create")
                             : "not decided (CAP_NET_RAW of the runtime)"});
  add("nested_namespace", {"refused: launch filter (launch.nested_namespaces)",
                           "not decided (capabilities of the runtime)"});
  if (lsm) // tier 1: the kernel decides and reports each attempt (vigil run installs the paths)
    add("persistence_write",
        {"refused: BPF LSM file_open, path_mknod, path_mkdir, path_symlink, path_link, "
         "path_rename, path_unlink, path_rmdir, path_chmod, path_chown, path_truncate "
         "(CONFIG_SECURITY_PATH); names not yet made included",
         "not decided (the daemon knows no project to protect)"});
  else
    add("persistence_write",
        {"refused: the launch filter's persistence gate (writes, creates, links, renames, "
         "unlinks, chmod, chown; names that do not exist yet included), read-only binds behind "
         "it",
         "alerted on opens for writing, not refused"});
  add("io_uring", {"refused: launch filter", "not decided"});
  return rows;
}

// The response actions this kernel supports: cgroup.freeze (5.2) and cgroup.kill (5.14) exist in
// every non-root cgroup (the root has neither), and isolate needs the network tier's hooks.
struct ResponseSupport {
  bool freeze = false, kill = false, isolate = false;
  bool cut_connections = false; // isolate also aborts the agent's open sockets (SOCK_DESTROY)
  std::string detail;
};
ResponseSupport response_support(const Features &f)
{
  ResponseSupport r;
  std::string dir;
  if (auto mount = cgroup::find_cgroup2_mount()) {
    auto own = cgroup::cgroup_of_pid(::getpid());
    dir = *mount + (own && *own != "/" ? *own : "");
    if (!own || *own == "/")
      for (const auto &d : cgroup::glob_dirs(*mount, "/*")) {
        dir = d;
        break;
      }
  }
  r.freeze = !dir.empty() && ::access((dir + "/cgroup.freeze").c_str(), F_OK) == 0;
  r.kill = !dir.empty() && ::access((dir + "/cgroup.kill").c_str(), F_OK) == 0;
  r.isolate = f.net_tier != loader::Tier::monitor;
  const auto cut = cgroup::probe_sock_destroy();
  r.cut_connections = bool(cut);
  const std::string open_connections =
      cut ? "; open connections cut by SOCK_DESTROY"
          : "; open connections stay up: " +
                std::string(cut.error().code == std::errc::operation_not_supported
                                ? "no SOCK_DESTROY (CONFIG_INET_DIAG_DESTROY)"
                                : cut.error().message());
  r.detail = std::string("freeze ") + (r.freeze ? "ok (cgroup.freeze)" : "missing (5.2+)") +
             ", kill " + (r.kill ? "ok (cgroup.kill)" : "missing (5.14+)") + ", isolate " +
             (r.isolate ? "ok (the " + std::string(loader::tier_name(f.net_tier, false)) +
                              " egress hooks read the agent's flag" + open_connections + ")"
                        : std::string("missing (no network enforcement)")) +
             ", run ok";
  return r;
}

// How the agents' activity is seen without syscall tracepoints: by the hooks that decide.
struct Seen {
  const char *what;
  std::string how;
};
std::vector<Seen> observation(const Features &f)
{
  const bool lsm = f.file_tier == loader::Tier::lsm;
  const bool fan = f.file_tier == loader::Tier::fallback;
  std::vector<Seen> rows;
  rows.push_back(
      {"opens", lsm   ? "BPF LSM file_open: each process's first open of a file in a second is "
                        "reported, the repeats counted in the kernel and reported as one count"
                : fan ? "fanotify: vigil run marks the agent's mounts (the agent's first open of "
                        "each file; files the credential rules name, every open); daemon mode "
                        "sees only the files the profiles and the credential rules name"
                      : "the open syscall tracepoints (no deciding hook on this kernel)"});
  rows.push_back({"connects", f.net_tier == loader::Tier::lsm
                                  ? "BPF LSM socket_connect and unix_stream_connect"
                              : f.net_tier == loader::Tier::fallback
                                  ? "the cgroup connect4/6 and connect_unix programs"
                                  : "the connect syscall tracepoints"});
  rows.push_back({"failed_opens", "not observed (no file reaches a deciding hook: a path that "
                                  "does not exist for the agent, a file its permissions refuse, "
                                  "/proc/PID of a process outside its PID namespace) unless "
                                  "syscall tracepoints are on"});
  rows.push_back(
      {"syscall_tracepoints",
       f.file_tier == loader::Tier::monitor || f.net_tier == loader::Tier::monitor
           ? "on (the monitor tier has no other way to see the agent): every process of the "
             "machine takes the slow syscall path while vigil runs"
           : "off; `vigil run --syscall-tracepoints` or `syscall_tracepoints: true` turns them "
             "on, which puts every process of the machine on the slow syscall path "
             "(docs/BENCHMARKS.md: about 1.2x on an open/close loop outside agents)"});
  return rows;
}

void print_text(const Features &f)
{
  for (const auto &[key, probe] : probe_rows(f))
    std::printf("%-8s %-17s %s\n", probe.ok ? "ok" : "missing", key, probe.detail.c_str());
  std::printf("file enforcement: tier %s (%s)\n",
              std::string(loader::tier_name(f.file_tier, true)).c_str(), f.file_reason.c_str());
  std::printf("network enforcement: tier %s (%s)\n",
              std::string(loader::tier_name(f.net_tier, false)).c_str(), f.net_reason.c_str());
  std::printf("inbound connections: %s\n", inbound_detail(f).c_str());
  const auto [unix_tier, unix_reason] = unix_coverage(f);
  std::printf("unix socket side channels: tier %s (%s)\n", unix_tier.c_str(), unix_reason.c_str());
  std::printf("response actions: %s\n", response_support(f).detail.c_str());
  std::printf("self-protection (an agent's attempts on vigil and its own boundary):\n");
  for (const auto &p : loader::self_protection(f.file_tier == loader::Tier::lsm))
    std::printf("  %-8s %-17s %s\n", p.by, p.attempt, p.detail);
  std::printf("observation (what sees the agent's activity):\n");
  for (const auto &s : observation(f))
    std::printf("  %-20s %s\n", s.what, s.how.c_str());
  std::printf("confinement by attempt (vigil run | daemon mode):\n");
  for (const auto &c : coverage(f))
    std::printf("  %-22s %s | %s\n", c.attempt, c.run.c_str(), c.daemon.c_str());
}

void print_json(const Features &f)
{
  nlohmann::ordered_json j;
  for (const auto &[key, probe] : probe_rows(f))
    j[key] = {{"ok", probe.ok}, {"detail", probe.detail}};
  j["tiers"]["file"] = {{"tier", loader::tier_name(f.file_tier, true)}, {"reason", f.file_reason}};
  j["tiers"]["network"] = {{"tier", loader::tier_name(f.net_tier, false)},
                           {"reason", f.net_reason}};
  j["inbound"] = {{"enforced", f.cgroup_skb.ok}, {"detail", inbound_detail(f)}};
  const auto [unix_tier, unix_reason] = unix_coverage(f);
  j["tiers"]["unix"] = {{"tier", unix_tier}, {"reason", unix_reason}};
  const ResponseSupport rs = response_support(f);
  j["response"] = {{"freeze", rs.freeze}, {"kill", rs.kill}, {"isolate", rs.isolate},
                   {"cut_connections", rs.cut_connections}, {"run", true},
                   {"detail", rs.detail}};
  for (const auto &p : loader::self_protection(f.file_tier == loader::Tier::lsm))
    j["self_protection"][p.attempt] = {{"by", p.by}, {"detail", p.detail}};
  for (const auto &c : coverage(f))
    j["confinement"][c.attempt] = {{"vigil_run", c.run}, {"daemon", c.daemon}};
  for (const auto &s : observation(f))
    j["observation"][s.what] = s.how;
  std::printf("%s\n",
              j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
}

} // namespace

int doctor_command(bool json)
{
  if (auto r = loader::check_privileges(); !r) {
    spdlog::error("doctor: {}", r.error().message());
    return 1;
  }
  loader::route_libbpf_logs();
  const Features f = loader::probe_features();
  if (json)
    print_json(f);
  else
    print_text(f);
  return 0;
}

} // namespace vigil::cli
