// SPDX-License-Identifier: Apache-2.0
// Self-protection: an agent running as root, with every capability, knows vigil is there and
// tries to switch it off or leave its cgroup. `vigil daemon` confines the agent's cgroup (no
// launcher hardening is involved: these are the kernel's answers alone). With BPF LSM (the VM)
// each attempt is refused; on a kernel without it (this host) the tracepoints kill the agent
// before its syscall returns. Every attempt raises an alert.
#include <gtest/gtest.h>

#include <sys/mount.h>

#include <filesystem>
#include <thread>

#include "harness.h"

namespace vigil::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

bool lsm_tier()
{
  return expected_file_tier() == "lsm";
}

std::string rules_dir()
{
  return env_or("VIGIL_RULES_DIR", VG_SOURCE_DIR "/rules");
}

constexpr int kKilled = 128 + SIGKILL;

class SelfProtect : public ::testing::Test {
protected:
  void SetUp() override
  {
    VG_REQUIRE_ROOT();
    tag_ = "vigil-sp-" + std::to_string(::getpid());
    root_ = cgroup2_mount() + "/" + tag_;
    secret_ = tmp_ / "secret.pem";
    write_file(secret_, "-----BEGIN PRIVATE KEY-----\n");
    alerts_ = tmp_ / "alerts.jsonl";
    metrics_ = "127.0.0.1:" + std::to_string(free_port());
    pins_ = "/sys/fs/bpf/" + tag_;
    fs::create_directories(root_);
  }
  void TearDown() override
  {
    if (root_.empty())
      return;
    daemon_.reset();
    run({vigil_bin(), "unload", "--pin-dir", pins_});
    std::error_code ec;
    for (const auto &d : {root_ + "/agent-1/sub", root_ + "/agent-1", root_ + "/evil",
                          root_ + "/other", root_})
      fs::remove(d, ec);
  }

  void start_daemon(const std::string &profile_extra = "", const std::string &config_extra = "")
  {
    write_file(tmp_ / "profile.yaml", "profile: test-agent\ncredentials:\n  paths:\n    - " +
                                          secret_ + "\negress:\n  allow: [127.0.0.1/32]\n" +
                                          profile_extra);
    write_file(tmp_ / "vigil.yaml", "profiles: [profile.yaml]\nrules: [" + rules_dir() +
                                        "]\ncgroups:\n  - path: /" + tag_ +
                                        "/agent-*\n    profile: test-agent\nalerts_json: " +
                                        alerts_ + "\nmetrics_address: " + metrics_ +
                                        "\nrescan_ms: 100\npin_dir: " + pins_ + "\n" +
                                        config_extra);
    daemon_ = std::make_unique<Proc>(
        std::vector<std::string>{vigil_bin(), "daemon", "--config", tmp_ / "vigil.yaml"});
    ASSERT_TRUE(daemon_->wait_for_err("daemon running")) << daemon_->err_so_far();
  }

  // Runs agent (waiting for go in cgroup dir) to its end while the daemon is stopped: nobody reads
  // the ring meanwhile.
  ProcResult while_vigil_stopped(Proc &agent, const std::string &dir, const std::string &go)
  {
    EXPECT_TRUE(daemon_->wait_for_err("confining " + dir)) << daemon_->err_so_far();
    confined_ = true;
    daemon_->signal(SIGSTOP);
    write_file(go, "");
    ProcResult r = agent.wait(300s);
    daemon_->signal(SIGCONT);
    return r;
  }

  // A root shell in the agent cgroup: joins it, waits until the daemon confines it, then runs
  // script. Returns its result.
  ProcResult agent(const std::string &script, std::chrono::seconds timeout = 60s)
  {
    const std::string dir = root_ + "/agent-1";
    fs::create_directories(dir);
    const std::string go = tmp_ / ("go-" + std::to_string(++agents_));
    Proc p({"sh", "-c",
            "echo $$ > " + dir + "/cgroup.procs && while [ ! -e " + go +
                " ]; do sleep 0.02; done; " + script});
    if (!confined_) {
      EXPECT_TRUE(daemon_->wait_for_err("confining " + dir)) << daemon_->err_so_far();
      confined_ = true;
    }
    write_file(go, "");
    return p.wait(timeout);
  }

  std::vector<nlohmann::json> alerts_for(const std::string &rule, size_t want = 1,
                                         std::chrono::milliseconds timeout = 10s)
  {
    std::vector<nlohmann::json> out;
    const auto end = std::chrono::steady_clock::now() + timeout;
    do {
      out.clear();
      for (const auto &a : read_json_lines(alerts_))
        if (a["rule"] == rule)
          out.push_back(a);
      if (out.size() >= want)
        break;
      std::this_thread::sleep_for(50ms);
    } while (std::chrono::steady_clock::now() < end);
    return out;
  }

  // What the tier does to an attempt it cannot refuse: LSM refuses (the attempt fails and the
  // agent goes on to exit with fail_status); without LSM the agent is killed.
  void expect_stopped(const ProcResult &r, int fail_status)
  {
    if (lsm_tier())
      EXPECT_EQ(r.status, fail_status) << r.out << r.err;
    else
      EXPECT_EQ(r.status, kKilled) << "killed before the syscall returned\n" << r.out << r.err;
  }
  std::string verdict() const { return lsm_tier() ? "denied" : "killed"; }

  TempDir tmp_;
  std::string tag_, root_, secret_, alerts_, metrics_, pins_;
  std::unique_ptr<Proc> daemon_;
  int agents_ = 0;
  bool confined_ = false;
};

TEST_F(SelfProtect, moving_itself_to_the_root_cgroup_and_reading_a_credential_fails)
{
  start_daemon();
  // The shell moves itself (a builtin echo: the shell is the writer); with LSM the open of the
  // root's cgroup.procs fails, without it the move happens and the shell dies inside write().
  ProcResult r = agent("echo $$ > " + cgroup2_mount() + "/cgroup.procs || exit 3; cat " +
                       secret_ + "; exit 0");
  expect_stopped(r, 3);
  EXPECT_EQ(r.out.find("PRIVATE KEY"), std::string::npos) << "the credential was read";
  auto found = alerts_for("agent-cgroup-escape");
  ASSERT_FALSE(found.empty()) << read_file(alerts_);
  EXPECT_EQ(found[0]["verdict"], verdict());
  EXPECT_EQ(found[0]["profile"], "test-agent");
}

TEST_F(SelfProtect, a_sibling_cgroup_cannot_be_made_or_entered)
{
  start_daemon();
  const std::string evil = root_ + "/evil";
  ProcResult r = agent("mkdir " + evil + " 2>/dev/null; echo $$ > " + evil +
                       "/cgroup.procs || exit 3; exit 0");
  expect_stopped(r, 3);
  if (lsm_tier()) {
    EXPECT_FALSE(fs::exists(evil)) << "mkdir outside the agent's subtree was refused";
  }
  EXPECT_FALSE(alerts_for("agent-cgroup-escape").empty()) << read_file(alerts_);
  // Inside its own subtree an agent may organise itself.
  ProcResult own = agent("mkdir " + root_ + "/agent-1/sub && echo $$ > " + root_ +
                         "/agent-1/sub/cgroup.procs && echo moved");
  EXPECT_EQ(own.status, 0) << own.out << own.err;
  EXPECT_NE(own.out.find("moved"), std::string::npos);
}

// A task that joins the agent cgroup after it was confined (and neither forks nor execs there)
// is the agent's too: its move out is an escape.
TEST_F(SelfProtect, a_task_that_joined_after_confinement_cannot_leave)
{
  start_daemon();
  const std::string dir = root_ + "/agent-1", evil = root_ + "/evil";
  fs::create_directories(dir);
  fs::create_directories(evil);
  ASSERT_TRUE(daemon_->wait_for_err("confining " + dir)) << daemon_->err_so_far();
  confined_ = true;
  ProcResult r = run({"sh", "-c",
                      "echo $$ > " + dir + "/cgroup.procs && echo $$ > " + evil +
                          "/cgroup.procs || exit 3; exit 0"});
  expect_stopped(r, 3);
  EXPECT_FALSE(alerts_for("agent-cgroup-escape").empty()) << read_file(alerts_);
}

TEST_F(SelfProtect, a_child_cloned_into_another_cgroup_never_runs_on)
{
  start_daemon();
  fs::create_directories(root_ + "/other");
  const std::string mark = tmp_ / "child-ran";
  ProcResult r = agent(std::string(tamperprobe_bin()) + " clone-into " + root_ + "/other " + mark);
  expect_stopped(r, 1);
  if (lsm_tier()) {
    EXPECT_NE(r.out.find("EPERM"), std::string::npos) << r.out;
  }
  std::this_thread::sleep_for(1500ms); // the child would have written its mark by now
  EXPECT_FALSE(fs::exists(mark)) << "the child outside the agent's cgroup ran on";
  auto found = alerts_for("agent-cgroup-escape");
  ASSERT_FALSE(found.empty()) << read_file(alerts_);
  EXPECT_NE(found[0]["output"].get<std::string>().find("CLONE_INTO_CGROUP"), std::string::npos)
      << found[0].dump();
}

// Tier 2 daemon mode sees bpf() only through the opt-in syscall tracepoints (vigil run's launch
// filter refuses it, see RunLaunch); tier 1 refuses it whatever the configuration.
TEST_F(SelfProtect, bpf_syscall_is_refused)
{
  start_daemon("", "syscall_tracepoints: true\n");
  ProcResult r = agent(std::string(tamperprobe_bin()) + " bpf-next-id");
  expect_stopped(r, 1);
  EXPECT_EQ(r.out.find("bpf-next-id ok"), std::string::npos)
      << "a program id reached the agent: " << r.out;
  auto found = alerts_for("agent-bpf-tampering");
  ASSERT_FALSE(found.empty()) << read_file(alerts_);
  EXPECT_EQ(found[0]["verdict"], verdict());
}

TEST_F(SelfProtect, reading_the_daemons_memory_is_refused)
{
  start_daemon();
  ProcResult r = agent(std::string(tamperprobe_bin()) + " read-mem " +
                       std::to_string(daemon_->pid()));
  // The daemon is not dumpable: /proc/PID/mem needs CAP_SYS_PTRACE, which this root agent has;
  // with LSM the ptrace check refuses it whatever the capabilities.
  if (!lsm_tier() && r.status == 0)
    GTEST_SKIP() << "no BPF LSM: a root agent with CAP_SYS_PTRACE reads it (vigil run drops the "
                    "capability; RunLaunch covers that path)";
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  if (lsm_tier()) {
    EXPECT_FALSE(alerts_for("foreign-process-access").empty()) << read_file(alerts_);
  }
}

TEST_F(SelfProtect, killing_the_daemon_fails_or_costs_the_agent_its_life)
{
  start_daemon();
  ProcResult r =
      agent(std::string(tamperprobe_bin()) + " kill " + std::to_string(daemon_->pid()) + " 9");
  if (lsm_tier()) {
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_NE(r.out.find("EPERM"), std::string::npos) << r.out;
    auto found = alerts_for("agent-signal-outside");
    ASSERT_FALSE(found.empty()) << read_file(alerts_);
    EXPECT_EQ(found[0]["verdict"], "denied");
    ::kill(daemon_->pid(), 0);
    EXPECT_EQ(::kill(daemon_->pid(), 0), 0) << "the daemon is alive";
    return;
  }
  // Without LSM nothing refuses SIGKILL from root: the daemon dies and so does the agent. The
  // pinned programs keep enforcing, and the next daemon reads the report from the pinned ring.
  EXPECT_EQ(r.status, kKilled) << r.out;
  ProcResult d = daemon_->wait(10s);
  EXPECT_EQ(d.status, kKilled);
  // 127.0.0.2 is outside the allowlist; nothing listens there, so only the kernel's EPERM
  // (not ECONNREFUSED) shows that egress enforcement held while no daemon ran.
  ProcResult net = run({"sh", "-c", "echo $$ > " + root_ + "/agent-1/cgroup.procs && exec " +
                                        netprobe_bin() + " tcp 127.0.0.2 9"});
  EXPECT_EQ(net.out, "EPERM\n") << "egress enforcement held while no daemon ran";
  daemon_ = std::make_unique<Proc>(
      std::vector<std::string>{vigil_bin(), "daemon", "--config", tmp_ / "vigil.yaml"});
  ASSERT_TRUE(daemon_->wait_for_err("daemon running")) << daemon_->err_so_far();
  auto found = alerts_for("agent-signal-outside");
  ASSERT_FALSE(found.empty()) << read_file(alerts_) << daemon_->err_so_far();
  EXPECT_EQ(found[0]["verdict"], "killed");
}

TEST_F(SelfProtect, removing_a_pinned_link_is_refused)
{
  if (!lsm_tier())
    GTEST_SKIP() << "no BPF LSM: the kernel cannot refuse an unlink; vigil run mounts the bpffs "
                    "read-only for its agent (RunLaunch)";
  start_daemon();
  const std::string link = pins_ + "/links/vg_exec";
  ASSERT_TRUE(fs::exists(link));
  ProcResult r = agent("rm -f " + link + " || exit 3; exit 0");
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_TRUE(fs::exists(link));
  EXPECT_FALSE(alerts_for("agent-bpf-tampering").empty()) << read_file(alerts_);
}

TEST_F(SelfProtect, unmounting_the_bpffs_or_in_a_copied_namespace_is_refused)
{
  if (!lsm_tier())
    GTEST_SKIP() << "no BPF LSM: the kernel cannot refuse a mount; vigil run drops CAP_SYS_ADMIN "
                    "and locks its mounts (RunLaunch)";
  start_daemon();
  const std::string mnt = tmp_ / "mnt";
  fs::create_directories(mnt);
  ASSERT_EQ(::mount("none", mnt.c_str(), "tmpfs", 0, nullptr), 0);
  ProcResult r = agent("umount /sys/fs/bpf && exit 4; unshare -m umount " + mnt +
                       " && exit 5; unshare -Urm sh -c 'mount -t tmpfs none " + mnt +
                       " && echo own-namespace-ok'");
  ::umount2(mnt.c_str(), MNT_DETACH);
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("own-namespace-ok"), std::string::npos)
      << "a mount namespace the agent made in its own user namespace is its own\n" << r.err;
  EXPECT_TRUE(fs::exists(pins_ + "/links/vg_exec"));
  EXPECT_GE(alerts_for("agent-mount-games", 2).size(), 2u) << read_file(alerts_);
}

TEST_F(SelfProtect, kernel_settings_and_modules_are_refused)
{
  if (!lsm_tier())
    GTEST_SKIP() << "no BPF LSM: sysctl writes and module loads cannot be refused in the kernel";
  start_daemon();
  // Writes the value it already has: harmless if it went through.
  const std::string value = read_file("/proc/sys/kernel/printk_ratelimit");
  ProcResult r = agent("printf '%s' '" + value.substr(0, value.find('\n')) +
                       "' > /proc/sys/kernel/printk_ratelimit && exit 4; exit 0");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(alerts_for("agent-kernel-change").empty()) << read_file(alerts_);
}

// A fork-and-open flood from one agent cannot blind vigil: the kernel drops that cgroup's
// observation events over its rate (counted, and said in an alert), while a credential read by
// another agent during the flood is still refused and reported, and /metrics still answers.
TEST_F(SelfProtect, an_event_flood_is_throttled_and_enforcement_holds)
{
  // The VM (one emulated CPU) makes a few hundred events a second; this host some thousands when
  // idle, fewer than two thousand while other tests and builds share its two CPUs.
  start_daemon(std::string("limits:\n  events_per_second: ") + (lsm_tier() ? "100" : "500") +
               "\n");
  const int seconds = std::atoi(env_or("VIGIL_FLOOD_SECONDS", lsm_tier() ? "8" : "30"));
  const std::string dir = root_ + "/agent-1";
  fs::create_directories(dir);
  const std::string go = tmp_ / "go-flood";
  // Two flooders: one forks, one opens, for `seconds`.
  Proc flood({"sh", "-c",
              "echo $$ > " + dir + "/cgroup.procs && while [ ! -e " + go +
                  " ]; do sleep 0.02; done; end=$(( $(date +%s) + " + std::to_string(seconds) +
                  " )); (while [ $(date +%s) -lt $end ]; do /bin/true; done) & "
                  "while [ $(date +%s) -lt $end ]; do cat /etc/hostname /etc/passwd >/dev/null; "
                  "done; wait"});
  ASSERT_TRUE(daemon_->wait_for_err("confining " + dir)) << daemon_->err_so_far();
  confined_ = true;
  write_file(go, "");
  std::this_thread::sleep_for(std::chrono::seconds(seconds / 2));
  ProcResult probe = run({"sh", "-c", "echo $$ > " + dir + "/cgroup.procs && cat " + secret_});
  EXPECT_NE(probe.status, 0) << "the credential read during the flood went through";
  const std::string during = http_get(metrics_, "/metrics");
  EXPECT_NE(during.find("vigil_kernel_throttled_events_total"), std::string::npos)
      << "the daemon answers /metrics during the flood";
  ProcResult f = flood.wait(std::chrono::seconds(seconds + 60));
  EXPECT_EQ(f.status, 0) << f.err;
  EXPECT_FALSE(alerts_for("agent-event-flood").empty()) << read_file(alerts_);
  EXPECT_FALSE(alerts_for("credential-read", 1, 20s).empty()) << read_file(alerts_);
  // Every dropped event is counted.
  const std::string m = http_get(metrics_, "/metrics");
  auto value_of = [&](const std::string &name) {
    const auto at = m.find("\n" + name + " ");
    return at == std::string::npos ? -1.0 : std::stod(m.substr(at + name.size() + 2));
  };
  EXPECT_GT(value_of("vigil_kernel_throttled_events_total"), 0) << m;
  EXPECT_EQ(value_of("vigil_ringbuf_drops_total"), 0) << "the rate limit kept the ring from filling";
}

// The reserved path: with the daemon stopped (nobody reads the ring), an agent fills the ring
// with observation events; its last quarter stays for decisions, so every denial made while it
// is full is still alerted once the daemon reads again, and the drops are counted.
TEST_F(SelfProtect, a_full_ring_still_carries_every_denial)
{
  // No rate limit to save the ring; the opens are observed by the (opt-in) open tracepoints,
  // since a host cgroup's opens of unprotected files reach no deciding hook in tier 2.
  start_daemon("limits:\n  events_per_second: 0\n", "syscall_tracepoints: true\n");
  const std::string dir = root_ + "/agent-1";
  fs::create_directories(dir);
  // A path of about 3,000 bytes: each open of it is a ~3 KiB event, so 8,000 opens (the shell's
  // own redirection, no fork) are ~24 MiB, more than the 16 MiB ring holds.
  std::string deep = tmp_.path();
  for (int i = 0; i < 15; ++i)
    deep += "/" + std::string(190, static_cast<char>('a' + i));
  write_file(deep + "/f", "x\n");
  const std::string go = tmp_ / "go-full", done = tmp_ / "done-full";
  std::string denials;
  for (int i = 0; i < 5; ++i)
    denials += std::string(netprobe_bin()) + " tcp 127.0.0.2 " + std::to_string(free_port()) + "; ";
  Proc agent({"sh", "-c",
              "echo $$ > " + dir + "/cgroup.procs && while [ ! -e " + go +
                  " ]; do sleep 0.02; done; i=0; while [ $i -lt 8000 ]; do : < " + deep +
                  "/f; i=$((i+1)); done; " + denials + "touch " + done});
  ProcResult r = while_vigil_stopped(agent, dir, go);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "EPERM\nEPERM\nEPERM\nEPERM\nEPERM\n") << r.err;
  EXPECT_EQ(alerts_for("egress-not-allowed", 5, 60s).size(), 5u) << read_file(alerts_);
  // The kernel's counters reach /metrics once a second.
  const std::string name = "\nvigil_kernel_reserved_drops_total ";
  std::string m;
  double reserved = 0;
  for (auto end = std::chrono::steady_clock::now() + 20s;
       reserved == 0 && std::chrono::steady_clock::now() < end;
       std::this_thread::sleep_for(100ms)) {
    m = http_get(metrics_, "/metrics");
    const auto at = m.find(name);
    reserved = at == std::string::npos ? 0 : std::atof(m.c_str() + at + name.size());
  }
  EXPECT_GT(reserved, 0) << "the flood reached the reserve\n" << m;
}

// Decisions can fill the whole ring (they are never held to the reserve): an agent that makes
// denials faster than a starved vigil reads them loses their records. Each stays refused, and
// the loss is itself alerted once vigil reads again, with how many records it was.
TEST_F(SelfProtect, denials_lost_to_a_full_ring_are_alerted)
{
  start_daemon("limits:\n  events_per_second: 0\n", "ring_buffer: 256KiB\n");
  const std::string dir = root_ + "/agent-1";
  fs::create_directories(dir);
  const std::string go = tmp_ / "go-lost";
  // 20,000 refused connects: each a decision record of about a hundred bytes, some 2 MB in all
  // against a ring of 256 KiB that nobody reads meanwhile.
  Proc agent({"sh", "-c",
              "echo $$ > " + dir + "/cgroup.procs && while [ ! -e " + go +
                  " ]; do sleep 0.02; done; exec " + netprobe_bin() + " tcpmany 127.0.0.2 " +
                  std::to_string(free_port())});
  ProcResult r = while_vigil_stopped(agent, dir, go);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "EPERM 20000\n") << "every connect stays refused";
  const auto lost = alerts_for("vigil-reports-lost", 1, 30s);
  ASSERT_FALSE(lost.empty()) << read_file(alerts_);
  const std::string output = lost[0]["output"];
  EXPECT_NE(output.find("kernel record(s) not written (the event ring was full)"),
            std::string::npos)
      << output;
  EXPECT_EQ(lost[0]["severity"], "critical");
  EXPECT_FALSE(alerts_for("egress-not-allowed", 1, 30s).empty())
      << "the denials the ring held are alerted" << read_file(alerts_);
}

} // namespace
} // namespace vigil::test
