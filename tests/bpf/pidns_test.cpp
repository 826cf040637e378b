// SPDX-License-Identifier: Apache-2.0
// The agent of a real `vigil run` on this host's kernel, as root and as uid 65534, against a
// process of its own uid outside it that holds a canary in its environment: the agent's PID
// namespace hides that process (its /proc, process_vm_readv, ptrace), and every attempt the
// launch stops (outside processes, mounts and namespaces, raw sockets, the 32-bit entry point)
// fails and raises exactly one alert naming what stopped it. In the same runs the agent still
// traces and reads its own children, `ps` lists its own processes, and its exit status and the
// signals sent to vigil still reach it.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <sstream>
#include <thread>

#include "harness.h"

namespace vigil::test {
namespace {

namespace fs = std::filesystem;

// "T:<name> <outcome>" lines -> outcome.
std::map<std::string, std::string> outcomes(const std::string &out)
{
  std::map<std::string, std::string> m;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    const size_t sp = line.find(' ');
    if (line.rfind("T:", 0) == 0)
      m[line.substr(2, sp == std::string::npos ? std::string::npos : sp - 2)] =
          sp == std::string::npos ? "" : line.substr(sp + 1);
  }
  return m;
}

const std::vector<std::string> kAs65534 = {"setpriv", "--reuid=65534", "--regid=65534",
                                            "--clear-groups"};

// The attempts and controls, as the agent's shell runs them; $1 is the canary's pid.
std::string agent_script(const std::string &marker)
{
  const std::string p = tamperprobe_bin(), n = netprobe_bin();
  return "c=$1; "
         "t() { name=$1; shift; printf 'T:%s ' \"$name\"; \"$@\" | sed 's/^[^ ]* //'; }; "
         "tn() { name=$1; shift; printf 'T:%s ' \"$name\"; \"$@\"; }; "
         "t environ " + p + " read /proc/$c/environ; "
         "t mem " + p + " read /proc/$c/mem; "
         "t vm-read " + p + " vm-read $c; "
         "t ptrace-peek " + p + " ptrace-peek $c; "
         "t pidfd-open " + p + " pidfd-open $c; "
         "t mount " + p + " mount /tmp; "
         "t unshare-user " + p + " unshare-user; "
         "t unshare-mnt " + p + " unshare-mnt; "
         "t setns " + p + " setns /proc/self/ns/uts; "
         "tn raw-icmp " + n + " raw icmp 0; "
         "tn raw-packet " + n + " raw packet 0; "
         "tn socketcall32 " + n + " int80 socketcall 0; "
         // Controls: the agent's own processes.
         "t own-ptrace " + p + " child ptrace-peek; "
         "t own-vm-read " + p + " child vm-read; "
         "t own-pidfd " + p + " child pidfd-open; "
         "strace -f -o /dev/null true; printf 'T:strace %s\\n' $?; "
         "printf 'T:ps %s\\n' \"$(ps -e -o comm= | sort -u | tr '\\n' ,)\"; "
         "printf 'T:canary-env %s\\n' \"$(tr '\\0' '\\n' </proc/self/environ | grep -c " +
         marker + ")\"; "
         "exit 7";
}

void check_agent(bool unprivileged)
{
  VG_REQUIRE_ROOT();
  TempDir tmp;
  const std::string alerts = tmp / "alerts.jsonl";
  const std::string marker = "vg-canary-" + std::to_string(::getpid());
  // The same uid as the agent, outside it: the developer's other program with a secret in its
  // environment.
  std::vector<std::string> canary_argv = unprivileged ? kAs65534 : std::vector<std::string>{};
  canary_argv.insert(canary_argv.end(), {"sleep", "120"});
  Proc canary(canary_argv, {"VG_SECRET_CANARY=" + marker});
  const std::string cpid = std::to_string(canary.pid());
  // Wait for the exec into sleep, so that the canary is the process the agent aims at. exec sets
  // the new comm before it lays out the new stack: until then /proc/PID/environ reads empty, so
  // wait for the marker too (a slow VM lands in that window).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((read_file("/proc/" + cpid + "/comm") != "sleep\n" ||
          read_file("/proc/" + cpid + "/environ").find(marker) == std::string::npos) &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(read_file("/proc/" + cpid + "/comm"), "sleep\n");
  ASSERT_NE(read_file("/proc/" + cpid + "/environ").find(marker), std::string::npos);

  // The opens of /proc/PID/environ and /mem fail inside the agent's PID namespace before any
  // file exists to decide on: only the open tracepoints see a failed open, so this run asks for
  // them (by default the namespace stops these two silently; docs/SECURITY.md).
  std::vector<std::string> argv{vigil_bin(), "run",           "-v", "--syscall-tracepoints",
                                "--alerts-json", alerts, "--"};
  if (unprivileged)
    argv.insert(argv.end(), kAs65534.begin(), kAs65534.end());
  argv.insert(argv.end(), {"sh", "-c", agent_script(marker), "agent", cpid});
  ProcResult r = run(argv);
  canary.signal(SIGKILL);
  canary.wait();
  EXPECT_EQ(r.status, 7) << "the agent's exit status passes through its init\n" << r.err;
  EXPECT_EQ(r.out.find(marker), std::string::npos) << "the canary reached the agent\n" << r.out;
  const auto got = outcomes(r.out);
  const std::map<std::string, std::string> want = {
      {"environ", "ENOENT"},     // not in the agent's /proc
      {"mem", "ENOENT"},         // ... nor its memory
      {"vm-read", "EPERM"},      // the supervisor: pid not a process of the agent
      {"ptrace-peek", "EPERM"},  // ... PTRACE_ATTACH
      {"pidfd-open", "EPERM"},   // ... pidfd_open
      {"mount", "EPERM"},        // the launch filter
      {"unshare-user", "EPERM"}, // launch.nested_namespaces: deny
      {"unshare-mnt", "EPERM"},
      {"setns", "EPERM"},
      {"raw-icmp", "EPERM"},     // raw sockets bypass the egress allowlist
      {"raw-packet", "EPERM"},
      {"socketcall32", "ENOSYS"}, // the 32-bit entry point
      {"own-ptrace", "ok"},      // controls: the agent's own child
      {"own-vm-read", "ok"},
      {"own-pidfd", "ok"},
      {"strace", "0"},
      {"canary-env", "0"},
  };
  for (const auto &[op, outcome] : want)
    EXPECT_EQ(got.count(op) ? got.at(op) : "<missing>", outcome) << op << "\n" << r.out << r.err;
  // ps lists the agent's own processes and nothing of the machine's: not the canary, not vigil.
  ASSERT_TRUE(got.count("ps")) << r.out;
  EXPECT_NE(got.at("ps").find("ps,"), std::string::npos) << got.at("ps");
  EXPECT_NE(got.at("ps").find("sh,"), std::string::npos) << got.at("ps");
  EXPECT_EQ(got.at("ps").find("sleep"), std::string::npos) << got.at("ps");
  EXPECT_EQ(got.at("ps").find("systemd"), std::string::npos) << got.at("ps");

  // One alert per attempt, naming the call, what stopped it, and the agent's process.
  std::map<std::string, int> seen;
  auto count = [&](const std::string &key) { return seen.count(key) ? seen.at(key) : 0; };
  for (auto &a : read_json_lines(alerts)) {
    const std::string rule = a["rule"], out = a["output"], sev = a["severity"];
    if (rule == "foreign-process-access") {
      const std::string path = a.value("path", "");
      seen["foreign " + path]++;
      EXPECT_EQ(a["comm"], "vg_tamperprobe") << a.dump();
      // The process tree is the host's: the chain ends at vigil itself.
      ASSERT_FALSE(a["ancestry"].empty()) << a.dump();
      EXPECT_EQ(a["ancestry"].back()["exe"], fs::canonical(vigil_bin()).string()) << a.dump();
      EXPECT_NE(out.find("PID namespace"), std::string::npos) << out;
      continue;
    }
    if (rule.rfind("vigil-launch-", 0) != 0)
      continue;
    const size_t at = out.find(" tried ");
    ASSERT_NE(at, std::string::npos) << out;
    const std::string call = out.substr(at + 7, out.find_first_of("( ", at + 7) - at - 7);
    seen[rule + " " + call]++;
    seen["sev " + call + " " + sev]++;
    EXPECT_TRUE(out.find("(vg_tamperprobe)") != std::string::npos ||
                out.find("(vg_netprobe)") != std::string::npos)
        << out;
    EXPECT_TRUE(out.find("denied by the launch filter") != std::string::npos ||
                out.find("stopped by the agent's PID namespace") != std::string::npos)
        << out;
  }
  const std::string dump = read_file(alerts);
  EXPECT_EQ(count("foreign /proc/" + cpid + "/environ"), 1) << dump;
  EXPECT_EQ(count("foreign /proc/" + cpid + "/mem"), 1) << dump;
  EXPECT_EQ(count("vigil-launch-process process_vm_readv"), 1) << dump;
  EXPECT_EQ(count("vigil-launch-process ptrace"), 1) << dump;
  EXPECT_EQ(count("vigil-launch-process pidfd_open"), 1) << dump;
  EXPECT_EQ(count("vigil-launch-namespace mount"), 1) << dump;
  EXPECT_EQ(count("vigil-launch-namespace unshare"), 2) << dump;
  EXPECT_EQ(count("vigil-launch-namespace setns"), 1) << dump;
  // Where BPF LSM decides socket creation (socket_create), raw and packet sockets are its to
  // refuse and report (rule raw-socket); the launch filter leaves them alone.
  const bool lsm_sockets = expected_net_tier() == "lsm";
  if (lsm_sockets) {
    size_t raw = 0;
    for (auto &a : read_json_lines(alerts))
      raw += a["rule"] == "raw-socket" && a["verdict"] == "denied" && a["tier"] == "lsm";
    EXPECT_EQ(raw, 2u) << dump;
  } else {
    EXPECT_EQ(count("vigil-launch-raw-socket socket"), 2) << dump;
    EXPECT_EQ(count("sev socket warning"), 1) << "ping's ICMP socket is ordinary\n" << dump;
    EXPECT_EQ(count("sev socket error"), 1) << "a packet socket is not\n" << dump;
  }
  EXPECT_EQ(count("vigil-launch-32bit socketcall"), 1) << dump;
  // The controls raised nothing: no launch alert beyond the attempts above.
  size_t launch_alerts = 0;
  for (const auto &[k, n] : seen)
    if (k.rfind("vigil-launch-", 0) == 0)
      launch_alerts += n;
  EXPECT_EQ(launch_alerts, lsm_sockets ? 8u : 10u) << dump;
}

TEST(RunLaunchPidns, root_agent_cannot_see_outside_processes_and_every_stop_alerts)
{
  check_agent(false);
}

TEST(RunLaunchPidns, unprivileged_agent_cannot_see_outside_processes_and_every_stop_alerts)
{
  check_agent(true);
}

// Signals sent to vigil reach the agent through its init (pid 1 of its namespace ignores
// signals it has no handler for, so vigil's init forwards them), and the agent's death by the
// signal is vigil's status.
TEST(RunLaunchPidns, signals_sent_to_vigil_reach_the_agent)
{
  VG_REQUIRE_ROOT();
  TempDir tmp;
  const std::string flag = tmp / "started";
  Proc vigil({vigil_bin(), "run", "--", "sh", "-c",
              "echo $$ > " + flag + "; exec sleep 60"});
  // vigil's start in a TCG guest on a busy host took more than 20 s (6.12, under ctest -j2).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (read_file(flag).empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_FALSE(read_file(flag).empty()) << vigil.err_so_far();
  // The agent is pid 2 of its namespace: pid 1 is vigil's init.
  EXPECT_EQ(read_file(flag), "2\n");
  vigil.signal(SIGTERM);
  ProcResult r = vigil.wait(std::chrono::seconds(20));
  EXPECT_FALSE(r.timed_out) << r.err;
  EXPECT_EQ(r.status, 128 + SIGTERM) << r.err;
}

// launch.pid_namespace: false gives the old view (every process of the machine); the
// supervisor still stops ptrace of an outside process, naming the launch filter.
TEST(RunLaunchPidns, pid_namespace_can_be_switched_off)
{
  VG_REQUIRE_ROOT();
  TempDir tmp;
  const std::string profile = tmp / "p.yaml";
  const std::string alerts = tmp / "alerts.jsonl";
  write_file(profile, "profile: p\nlaunch:\n  pid_namespace: false\n");
  Proc canary({"sleep", "120"});
  const std::string cpid = std::to_string(canary.pid());
  ProcResult r = run({vigil_bin(), "run", "--profile", profile, "--alerts-json", alerts, "--",
                      "sh", "-c",
                      "test -d /proc/" + cpid + " && echo visible; " + tamperprobe_bin() +
                          " ptrace-peek " + cpid + "; " + tamperprobe_bin() +
                          " child ptrace-peek"});
  canary.signal(SIGKILL);
  canary.wait();
  EXPECT_NE(r.out.find("visible"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.out.find("ptrace-peek EPERM"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("child-ptrace-peek ok"), std::string::npos) << r.out;
  int n = 0;
  for (auto &a : read_json_lines(alerts))
    if (a["rule"] == "vigil-launch-process") {
      ++n;
      const std::string out = a["output"];
      EXPECT_NE(out.find("denied by the launch filter"), std::string::npos) << out;
    }
  EXPECT_EQ(n, 1) << read_file(alerts);
}

// launch.nested_namespaces: allow lets the agent make a user namespace (a rootless container
// runtime's first step), with no alert; it weakens tier 2, and vigil says so.
TEST(RunLaunchPidns, nested_namespaces_can_be_allowed)
{
  VG_REQUIRE_ROOT();
  TempDir tmp;
  const std::string profile = tmp / "p.yaml";
  const std::string alerts = tmp / "alerts.jsonl";
  write_file(profile, "profile: p\nlaunch:\n  nested_namespaces: allow\n");
  ProcResult r = run({vigil_bin(), "run", "-v", "--profile", profile, "--alerts-json", alerts,
                      "--", tamperprobe_bin(), "unshare-user"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("unshare-user ok"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("nested_namespaces is allow"), std::string::npos) << r.err;
  for (auto &a : read_json_lines(alerts))
    EXPECT_NE(a["rule"], "vigil-launch-namespace") << a.dump();
}

} // namespace
} // namespace vigil::test
