// SPDX-License-Identifier: Apache-2.0
// What `vigil run` does to what it launches, on this host's kernel: the agent is a real process
// running as root under a real `vigil run`, it tries each way of switching vigil off or leaving
// its cgroup that the launch is meant to close, and the test checks both that the attempt failed
// and that what it attacked is intact.
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <sstream>

#include "harness.h"

namespace vigil::test {
namespace {

namespace fs = std::filesystem;

// "T:<name> <outcome>" lines of the agent's script -> outcome ("ok", "EPERM", "(unshare) EPERM").
std::map<std::string, std::string> outcomes(const std::string &out)
{
  std::map<std::string, std::string> m;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    const size_t sp = line.find(' ');
    if (sp != std::string::npos && line.rfind("T:", 0) == 0)
      m[line.substr(2, sp - 2)] = line.substr(sp + 1);
  }
  return m;
}

// "CapEff:\t000001ff..." in the output -> the mask.
uint64_t cap_field(const std::string &out, const std::string &name)
{
  const size_t at = out.find(name + ":\t");
  if (at == std::string::npos)
    return ~uint64_t{0};
  return std::stoull(out.substr(at + name.size() + 2, 16), nullptr, 16);
}

constexpr uint64_t bit(int cap)
{
  return uint64_t{1} << cap;
}

// `vigil run` hardens what it launches: no caller secrets in the environment (names reported,
// values never), no_new_privs, a seccomp filter without the 32-bit entry points, and no raw
// sockets unless the profile allows them (denied by BPF LSM where it runs, by seccomp elsewhere).
TEST(RunLaunch, secrets_are_scrubbed_and_the_launch_is_hardened)
{
  VG_REQUIRE_ROOT();
  TempDir tmp;
  const std::vector<std::string> env{"SECRET_TOKEN=s3cret-1", "AWS_SECRET_ACCESS_KEY=s3cret-2",
                                     "GITHUB_TOKEN=s3cret-3", "AWS_REGION=eu-west-1"};
  ProcResult r = run({vigil_bin(), "run", "-v", "--", "sh", "-c",
                      "env; grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; " +
                          std::string(netprobe_bin()) + " int80 getpid 0; " + netprobe_bin() +
                          " raw icmp 0; " + netprobe_bin() + " raw packet 0; true"},
                     env);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.find("s3cret"), std::string::npos) << "a secret reached the agent:\n" << r.out;
  EXPECT_NE(r.out.find("AWS_REGION=eu-west-1"), std::string::npos) << r.out;
  for (const char *name : {"SECRET_TOKEN", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN"})
    EXPECT_NE(r.err.find(name), std::string::npos) << "removed names are reported\n" << r.err;
  EXPECT_EQ(r.err.find("s3cret"), std::string::npos) << "values are never printed\n" << r.err;
  EXPECT_NE(r.out.find("NoNewPrivs:\t1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Seccomp:\t2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ENOSYS\n"), std::string::npos) << "int 0x80 is closed\n" << r.out;
  EXPECT_EQ(r.out.find("ok\n"), std::string::npos) << "no raw or packet socket\n" << r.out;

  // A profile names what it lets through, and may allow raw sockets (the agent then keeps
  // CAP_NET_RAW, which they need).
  const std::string profile = tmp / "p.yaml";
  write_file(profile, "profile: loose\nlaunch:\n  env_allow: [GITHUB_TOKEN]\negress:\n"
                      "  raw_sockets: allow\n  allow: [127.0.0.1/32]\n");
  r = run({vigil_bin(), "run", "--profile", profile, "--", "sh", "-c",
           "env; " + std::string(netprobe_bin()) + " raw icmp 0"},
          env);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("GITHUB_TOKEN=s3cret-3"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("s3cret-1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ok\n"), std::string::npos) << r.out;
}

// A root agent keeps the default set: no CAP_SYS_ADMIN, CAP_BPF, CAP_SYS_PTRACE, NET_RAW, ...,
// in any of its sets, the bounding set included, so no setuid or file-capability binary brings
// them back; a profile's list replaces the default; vigil says what it dropped.
TEST(RunLaunch, capabilities_are_dropped_to_the_profile_keep_list)
{
  VG_REQUIRE_ROOT();
  TempDir tmp;
  const std::string show = "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb):' /proc/self/status";
  ProcResult r = run({vigil_bin(), "run", "-v", "--", "sh", "-c", show});
  ASSERT_EQ(r.status, 0) << r.err;
  const uint64_t kept = bit(CAP_CHOWN) | bit(CAP_DAC_OVERRIDE) | bit(CAP_FOWNER) |
                        bit(CAP_FSETID) | bit(CAP_KILL) | bit(CAP_SETGID) | bit(CAP_SETUID) |
                        bit(CAP_SETPCAP) | bit(CAP_SETFCAP) | bit(CAP_NET_BIND_SERVICE) |
                        bit(CAP_SYS_CHROOT) | bit(CAP_AUDIT_WRITE);
  EXPECT_EQ(cap_field(r.out, "CapEff"), kept) << r.out;
  EXPECT_EQ(cap_field(r.out, "CapPrm"), kept) << r.out;
  EXPECT_EQ(cap_field(r.out, "CapBnd"), kept) << r.out;
  EXPECT_EQ(cap_field(r.out, "CapAmb"), 0u) << r.out;
  for (int cap : {CAP_SYS_ADMIN, CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE, CAP_SYS_MODULE,
                  CAP_NET_ADMIN, CAP_NET_RAW, CAP_MKNOD, CAP_DAC_READ_SEARCH})
    EXPECT_FALSE(cap_field(r.out, "CapBnd") & bit(cap)) << cap << "\n" << r.out;
  EXPECT_NE(r.err.find("dropped capabilities"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("CAP_SYS_ADMIN"), std::string::npos) << r.err;

  const std::string profile = tmp / "p.yaml";
  write_file(profile, "profile: p\nlaunch:\n  capabilities: [NET_BIND_SERVICE]\n");
  r = run({vigil_bin(), "run", "--profile", profile, "--", "sh", "-c", show});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(cap_field(r.out, "CapEff"), bit(CAP_NET_BIND_SERVICE)) << r.out;
  EXPECT_EQ(cap_field(r.out, "CapBnd"), bit(CAP_NET_BIND_SERVICE)) << r.out;

  write_file(profile, "profile: p\nlaunch:\n  capabilities: [SYS_ADMIN]\n");
  r = run({vigil_bin(), "run", "--profile", profile, "--", "true"});
  EXPECT_EQ(r.status, 2) << "a profile cannot keep what switches vigil off\n" << r.err;
  EXPECT_NE(r.err.find("CAP_SYS_ADMIN cannot be kept"), std::string::npos) << r.err;
}

// The acceptance list of issue #9 for `vigil run`, tier 2 (this host): the agent runs as root,
// knows vigil's pid ($PPID of its shell: 1, vigil's init in the agent's pid namespace; a thread
// of vigil by its host tid) and tries each way out. Every attempt fails, vigil
// survives all of them, keeps enforcing (the credential read at the end is denied and alerted),
// the bpffs pin is still there, and the agent is still in its own cgroup.
TEST(RunLaunch, hostile_root_agent_cannot_switch_vigil_off)
{
  VG_REQUIRE_ROOT();
  TempDir tmp;
  const std::string home = tmp / "home";
  const std::string canary = home + "/.aws/credentials";
  write_file(canary, "aws_secret_access_key = canary-launch\n");
  const std::string alerts = tmp / "alerts.jsonl";
  const std::string cg2 = cgroup2_mount();
  ASSERT_FALSE(cg2.empty());
  // A pin of the kind the daemon keeps under /sys/fs/bpf/vigil.
  const std::string pin = "/sys/fs/bpf/vg-launch-test-" + std::to_string(::getpid());
  ASSERT_EQ(run({"bpftool", "map", "create", pin, "type", "array", "key", "4", "value", "4",
                 "entries", "1", "name", "vg_launch_test"})
                .status,
            0);
  struct Unpin {
    std::string path;
    ~Unpin() { ::unlink(path.c_str()); }
  } unpin{pin};

  const std::string p = tamperprobe_bin();
  // vigil's /proc directory is empty for the agent, so the test tells it one of vigil's threads
  // other than the main one ("$t"), as a scan of tids would find it.
  const std::string tid_file = tmp / "tid";
  // Each attempt prints "T:<op> <outcome>".
  const std::string script =
      "v=$PPID; while [ ! -s " + tid_file + " ]; do sleep 0.05; done; t=$(cat " + tid_file + "); "
      "try() { name=$1; shift; printf 'T:%s ' \"$name\"; " + p + " \"$@\" | sed 's/^[^ ]* //'; }; "
      "try cgroup-move write " + cg2 + "/cgroup.procs 0; "
      "try clone-into clone-into " + cg2 + "; "
      "try bpf-next-id bpf-next-id; "
      "try kill-9 kill $v 9; "
      "try kill-thread tkill $t 9; "
      "try kill-group kill 0 0; "
      "try kill-all kill -1 0; "
      "try pidfd-signal pidfd-signal $v 9; "
      "try prlimit prlimit-cpu $v; "
      "try ptrace ptrace $v; "
      "try mem read /proc/$v/mem; "
      "try environ read /proc/$v/environ; "
      "try oom write /proc/$v/oom_score_adj 1000; "
      "try oom-thread write /proc/$t/oom_score_adj 1000; "
      "try umount-bpffs umount /sys/fs/bpf; "
      "try unshare-umount unshare-umount /sys/fs/bpf; "
      "try userns-umount userns-umount /sys/fs/bpf; "
      "try userns-remount userns-remount-rw /sys/fs/bpf; "
      "try userns-cgroup2 userns-mount-cgroup2 /tmp; "
      "try unlink-pin unlink " + pin + "; "
      "try sysctl write /proc/sys/kernel/core_pattern \"$(cat /proc/sys/kernel/core_pattern)\"; "
      "printf 'T:cgroup %s\\n' \"$(grep '^0::' /proc/self/cgroup)\"; "
      "try cred read " + canary + "; "
      "true";
  Proc vigil({vigil_bin(), "run", "-v", "--alerts-json", alerts, "--", "sh", "-c", script},
             {"HOME=" + home});
  ASSERT_TRUE(vigil.wait_for_err("confines cgroup")) << vigil.err_so_far();
  const std::string own = std::to_string(vigil.pid());
  std::string thread;
  for (const auto &e : fs::directory_iterator("/proc/" + own + "/task"))
    if (e.path().filename() != own)
      thread = e.path().filename();
  ASSERT_FALSE(thread.empty()) << "vigil runs threads";
  write_file(tid_file + ".new", thread + "\n");
  fs::rename(tid_file + ".new", tid_file);
  ProcResult r = vigil.wait();
  ASSERT_EQ(r.status, 0) << "vigil survived and passed the agent's status through\n" << r.err;
  const auto got = outcomes(r.out);
  const std::map<std::string, std::string> want = {
      {"cgroup-move", "EROFS"},   // the cgroup tree is read-only in the agent's mount namespace
      {"clone-into", "ENOSYS"},   // seccomp: clone3 (CLONE_INTO_CGROUP), so runtimes use clone
      {"bpf-next-id", "EPERM"},   // seccomp
      {"kill-9", "EPERM"},        // seccomp: the launcher's pid
      {"kill-thread", "ESRCH"},   // its threads: no such pid in the agent's pid namespace
      {"kill-group", "EPERM"},    // ... and its process group
      {"kill-all", "EPERM"},      // ... and kill(-1)
      {"pidfd-signal", "EPERM"},  // seccomp: pidfd_send_signal
      {"prlimit", "EPERM"},       // seccomp: prlimit naming the launcher
      {"ptrace", "EPERM"},        // seccomp, and no CAP_SYS_PTRACE for a non-dumpable vigil
      {"mem", "ENOENT"},          // /proc/<vigil> is empty in the agent's mount namespace (and
      {"environ", "ENOENT"},      // vigil is not dumpable: its mem needs CAP_SYS_PTRACE)
      {"oom", "ENOENT"},          // oom_score_adj: no raising vigil's to be the OOM killer's pick
      {"oom-thread", "ENOENT"},
      {"umount-bpffs", "EPERM"},  // no CAP_SYS_ADMIN
      {"unshare-umount", "(unshare) EPERM"}, // nor for a mount namespace of its own
      {"unlink-pin", "EROFS"},    // bpffs is read-only in the agent's mount namespace
      {"sysctl", "EROFS"},        // so is /proc/sys
      {"cgroup", "0::/"},         // still at the root of its own cgroup namespace
      {"cred", "EPERM"},          // vigil still enforces after all of the above
  };
  for (const auto &[op, outcome] : want)
    EXPECT_EQ(got.count(op) ? got.at(op) : "<missing>", outcome) << op << "\n" << r.out;
  // In a user namespace it creates itself (where the kernel allows one) the agent's copies of the
  // read-only mounts are locked, and the cgroup namespace is not its own to mount.
  for (const char *op : {"userns-umount", "userns-remount", "userns-cgroup2"}) {
    ASSERT_TRUE(got.count(op)) << op << "\n" << r.out;
    EXPECT_NE(got.at(op), "ok") << op << "\n" << r.out;
  }
  EXPECT_TRUE(fs::exists(pin)) << "the pin survived";
  bool alerted = false;
  std::map<std::string, int> tamper; // system call -> alerts
  for (auto &a : read_json_lines(alerts)) {
    alerted = alerted || (a["rule"] == "cred-aws" && a["verdict"] == "denied");
    if (a["rule"] == "vigil-launch-tamper") {
      const std::string out = a["output"];
      const size_t at = out.find(" tried ");
      tamper[out.substr(at + 7, out.find('(', at) - at - 7)]++;
    }
  }
  EXPECT_TRUE(alerted) << read_file(alerts);
  // Each attempt on vigil the filter refused is an alert of its own.
  for (const auto &[call, n] : std::map<std::string, int>{
           {"kill", 3}, {"tkill", 0}, {"prlimit64", 1}, {"ptrace", 1}, {"bpf", 1}})
    EXPECT_EQ(tamper[call], n) << call << "\n" << read_file(alerts);
  EXPECT_NE(r.err.find("own cgroup, mount and pid namespaces"), std::string::npos) << r.err;
}

// launch.isolate: false leaves the agent in vigil's namespaces (and says so), which is what makes
// the test above able to fail: here the agent sees the host's cgroup path and a writable cgroupfs.
TEST(RunLaunch, isolation_can_be_switched_off)
{
  VG_REQUIRE_ROOT();
  TempDir tmp;
  const std::string profile = tmp / "p.yaml";
  write_file(profile, "profile: p\nlaunch:\n  isolate: false\n");
  const std::string host_mnt = fs::read_symlink("/proc/self/ns/mnt").string();
  ProcResult r = run({vigil_bin(), "run", "-v", "--profile", profile, "--", "sh", "-c",
                      "grep '^0::' /proc/self/cgroup; readlink /proc/self/ns/mnt"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("0::/vigil/run-"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(host_mnt), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("launch.isolate is false"), std::string::npos) << r.err;

  r = run({vigil_bin(), "run", "--", "sh", "-c",
           "grep '^0::' /proc/self/cgroup; readlink /proc/self/ns/mnt"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("0::/\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(host_mnt), std::string::npos) << r.out;
}

} // namespace
} // namespace vigil::test
