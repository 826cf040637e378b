// SPDX-License-Identifier: Apache-2.0
// The daemon's pin directory as an unprivileged user can leave it: bpffs is mounted 1777 unless
// the init system says otherwise (the kernel's default; this host), so whoever creates the pin
// directory first owns it, and may remove or add entries under it whatever root pins there.
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "harness.h"

namespace vigil::test {
namespace {

namespace fs = std::filesystem;

class PinDirTest : public ::testing::Test {
protected:
  void SetUp() override
  {
    VG_REQUIRE_ROOT();
    struct stat st{};
    if (::stat("/sys/fs/bpf", &st) != 0 || (st.st_mode & S_IWOTH) == 0)
      GTEST_SKIP() << "bpffs is not world-writable here";
    root_ = cgroup2_mount() + "/vigil-pin-" + std::to_string(::getpid());
    pins_ = "/sys/fs/bpf/vigil-pin-" + std::to_string(::getpid());
    agent_ = root_ + "/agent-1";
    write_file(tmp_ / "profile.yaml",
               "profile: test-agent\negress:\n  allow:\n    - 127.0.0.1/32\n");
    alerts_ = tmp_ / "alerts.jsonl";
    write_file(tmp_ / "vigil.yaml", "profiles: [profile.yaml]\ncgroups:\n  - path: /vigil-pin-" +
                                        std::to_string(::getpid()) +
                                        "/agent-*\n    profile: test-agent\nalerts_json: " +
                                        alerts_ + "\nmetrics_address: 127.0.0.1:" +
                                        std::to_string(free_port()) + "\nrescan_ms: 100\n"
                                        "pin_dir: " + pins_ + "\ncontrol_socket: " +
                                        (tmp_ / "control.sock") + "\n");
    fs::create_directories(agent_);
  }
  void TearDown() override
  {
    if (root_.empty())
      return;
    run({vigil_bin(), "unload", "--pin-dir", pins_});
    std::error_code ec;
    fs::remove(agent_, ec);
    fs::remove(root_, ec);
  }
  // As uid 65534 (nobody): what any local user may run.
  static ProcResult as_nobody(const std::string &script)
  {
    return run({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c", script});
  }
  std::string in_agent(const std::string &script) const
  {
    return run({"sh", "-c", "echo $$ > " + agent_ + "/cgroup.procs && " + script}).out;
  }
  // A first daemon confines the agent, refuses its probe, and is SIGKILLed: its pins stay.
  void pin_and_die(const std::string &probe)
  {
    Proc first({vigil_bin(), "daemon", "--config", tmp_ / "vigil.yaml"});
    ASSERT_TRUE(first.wait_for_err("confining " + agent_)) << first.err_so_far();
    EXPECT_EQ(in_agent(probe), "EPERM\n");
    first.signal(SIGKILL);
    first.wait();
  }
  // Pins a map of another shape (4-byte key, 8-byte value, one entry) as an older build might.
  void plant_map(const std::string &name, const std::string &type) const
  {
    ASSERT_EQ(run({"bpftool", "map", "create", pins_ + "/" + name, "type", type, "key", "4",
                   "value", "8", "entries", "1", "name", name})
                  .status,
              0);
  }
  // A connect the test profile refuses (127.0.0.2 is outside its allowlist).
  static std::string refused_connect()
  {
    return "exec " + std::string(netprobe_bin()) + " tcp 127.0.0.2 " + std::to_string(free_port());
  }
  // The probe is refused in the agent, and a new egress-not-allowed alert says so.
  void expect_refused_and_alerted(const std::string &probe) const
  {
    const size_t before = alerts("egress-not-allowed");
    EXPECT_EQ(in_agent(probe), "EPERM\n");
    for (int i = 0; i < 100 && alerts("egress-not-allowed") == before; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_GT(alerts("egress-not-allowed"), before) << read_file(alerts_);
  }
  size_t alerts(const std::string &rule) const
  {
    size_t n = 0;
    for (const auto &a : read_json_lines(alerts_))
      n += a["rule"] == rule;
    return n;
  }

  TempDir tmp_;
  std::string root_, pins_, agent_, alerts_;
};

// nobody makes links/vg_exec (a directory) before the daemon's first start: the daemon "adopts"
// enforcement that does not exist, attaches none of its global programs and pins nothing. Here
// (tier 2) the cgroup-escape watch is one of them: an agent leaves its cgroup, unkilled and
// unreported, and connects where its profile forbids.
TEST_F(PinDirTest, an_unprivileged_user_cannot_make_the_daemon_adopt_nothing)
{
  ASSERT_EQ(as_nobody("mkdir -p " + pins_ + "/links/vg_exec").status, 0);
  Proc daemon({vigil_bin(), "daemon", "--config", tmp_ / "vigil.yaml"});
  ASSERT_TRUE(daemon.wait_for_err("confining " + agent_)) << daemon.err_so_far();
  EXPECT_EQ(daemon.err_so_far().find("adopting the enforcement pinned under"), std::string::npos)
      << "nothing was pinned by vigil: " << daemon.err_so_far();
  const std::string escaped =
      in_agent("echo $$ > " + cgroup2_mount() + "/cgroup.procs && exec " + netprobe_bin() +
               " tcp 127.0.0.2 " + std::to_string(free_port()));
  for (int i = 0; i < 200 && alerts("agent-cgroup-escape") == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_NE(escaped, "ECONNREFUSED\n") << "the escaped agent reached the network";
  EXPECT_EQ(alerts("agent-cgroup-escape"), 1u) << read_file(alerts_);
  EXPECT_EQ(alerts("vigil-pins-untrusted"), 1u) << "the plant is itself alerted\n"
                                                 << read_file(alerts_);
  daemon.signal(SIGTERM);
  daemon.wait();
}

// nobody owns the pin directory (made before the daemon's first start); after a daemon restart
// it removes the pinned ring and stats. The adopted programs keep deciding but write to the
// orphaned ring: denials without alerts, and no vigil-reports-lost either.
TEST_F(PinDirTest, an_unprivileged_user_cannot_silence_the_adopted_programs)
{
  ASSERT_EQ(as_nobody("mkdir " + pins_).status, 0);
  const std::string probe = refused_connect();
  ASSERT_NO_FATAL_FAILURE(pin_and_die(probe));
  as_nobody("rm -f " + pins_ + "/vg_events " + pins_ + "/vg_stats");
  Proc second({vigil_bin(), "daemon", "--config", tmp_ / "vigil.yaml"});
  ASSERT_TRUE(second.wait_for_err("confining " + agent_)) << second.err_so_far();
  const size_t before = alerts("egress-not-allowed");
  EXPECT_EQ(in_agent(probe), "EPERM\n");
  for (int i = 0; i < 200 && alerts("egress-not-allowed") == before &&
                  alerts("vigil-reports-lost") == 0;
       ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(alerts("egress-not-allowed") > before || alerts("vigil-reports-lost") > 0)
      << "a denial with no alert at all\n"
      << second.err_so_far() << read_file(alerts_);
  second.signal(SIGTERM);
  second.wait();
}

// The same swap by root (or a pin set a crash left half-made): the directory is root's, but the
// pinned links' programs no longer report to the ring pinned beside them. The next daemon does
// not adopt them: it removes the pin set and attaches afresh, so a denial is alerted again.
TEST_F(PinDirTest, a_pin_set_whose_programs_report_elsewhere_is_not_adopted)
{
  const std::string probe = refused_connect();
  ASSERT_NO_FATAL_FAILURE(pin_and_die(probe));
  struct stat st{};
  ASSERT_EQ(::stat(pins_.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_mode & 07777, 0700u) << "the pin directory is root's alone";
  fs::remove(pins_ + "/vg_events");
  fs::remove(pins_ + "/vg_stats");
  Proc second({vigil_bin(), "daemon", "--config", tmp_ / "vigil.yaml"});
  ASSERT_TRUE(second.wait_for_err("confining " + agent_)) << second.err_so_far();
  EXPECT_NE(second.err_so_far().find("did not report to the ring pinned there"),
            std::string::npos)
      << second.err_so_far();
  EXPECT_EQ(second.err_so_far().find("adopting the enforcement"), std::string::npos);
  EXPECT_EQ(alerts("vigil-pins-untrusted"), 1u) << read_file(alerts_);
  expect_refused_and_alerted(probe);
  second.signal(SIGTERM);
  second.wait();
}

// An upgrade: the pins an older build left hold its per-CPU scratch map, whose layout this build
// changed (the name buffer grew by the pattern length). Scratch holds nothing between two
// programs' runs, so it is never pinned: the new daemon adopts the pinned enforcement and its
// policy and ring, rather than failing to load on a map it would only have reused.
TEST_F(PinDirTest, a_scratch_map_of_another_build_does_not_stop_the_adoption)
{
  const std::string probe = refused_connect();
  ASSERT_NO_FATAL_FAILURE(pin_and_die(probe));
  EXPECT_FALSE(fs::exists(pins_ + "/vg_scratch_map")) << "scratch is not pinned";
  ASSERT_NO_FATAL_FAILURE(plant_map("vg_scratch_map", "percpu_array"));
  Proc second({vigil_bin(), "daemon", "--config", tmp_ / "vigil.yaml"});
  ASSERT_TRUE(second.wait_for_err("confining " + agent_)) << second.err_so_far();
  EXPECT_NE(second.err_so_far().find("adopting the enforcement pinned under"), std::string::npos)
      << second.err_so_far();
  expect_refused_and_alerted(probe);
  second.signal(SIGTERM);
  second.wait();
}

// An upgrade whose build changed a pinned map's layout (here vg_profiles, replaced by one of
// another shape): libbpf cannot reuse it, and the daemon used to fail its load until someone ran
// `vigil unload`, which in tier 2 left the credential files without their fanotify guard. It
// now removes the pin set, says so (vigil-pins-untrusted), and attaches afresh.
TEST_F(PinDirTest, a_pinned_map_of_another_shape_is_replaced_not_a_failed_start)
{
  const std::string probe = refused_connect();
  ASSERT_NO_FATAL_FAILURE(pin_and_die(probe));
  ASSERT_TRUE(fs::exists(pins_ + "/vg_profiles"));
  fs::remove(pins_ + "/vg_profiles");
  ASSERT_NO_FATAL_FAILURE(plant_map("vg_profiles", "hash"));
  Proc second({vigil_bin(), "daemon", "--config", tmp_ / "vigil.yaml"});
  ASSERT_TRUE(second.wait_for_err("confining " + agent_)) << second.err_so_far();
  EXPECT_NE(second.err_so_far().find("are not this build's"), std::string::npos)
      << second.err_so_far();
  EXPECT_EQ(second.err_so_far().find("adopting the enforcement"), std::string::npos);
  EXPECT_EQ(alerts("vigil-pins-untrusted"), 1u) << read_file(alerts_);
  expect_refused_and_alerted(probe);
  second.signal(SIGTERM);
  second.wait();
}

} // namespace
} // namespace vigil::test
