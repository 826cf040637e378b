// SPDX-License-Identifier: Apache-2.0
// Enricher: alerts built from an event, a finding and a process table over a fake /proc; time and
// errno formatting.

#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "detect/enrich.h"

namespace vigil::detect {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

uint64_t now_ns(clockid_t id)
{
  timespec ts{};
  ::clock_gettime(id, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// Process tree: systemd(1) -> bash(500) -> python3(600, the agent) -> cat(700, the agent).
class EnrichTest : public ::testing::Test {
protected:
  void SetUp() override
  {
    std::string tmpl = (fs::temp_directory_path() / "vg_enrich_test_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    add(1, "systemd", 0, "/usr/lib/systemd/systemd", std::string("/sbin/init\0", 11));
    add(500, "bash", 1, "/usr/bin/bash", std::string("-bash\0", 6));
    add(600, "python3", 500, "/usr/bin/python3.11", std::string("python3\0agent.py\0", 17));
    add(700, "cat", 600, "/usr/bin/cat", std::string("cat\0/home/dev/.aws/credentials\0", 31));
    profile_.name = "coding-agent";
  }
  void TearDown() override
  {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  void add(uint32_t pid, const std::string &comm, uint32_t ppid, const std::string &exe,
           const std::string &cmdline)
  {
    const fs::path dir = root_ / std::to_string(pid);
    fs::create_directories(dir);
    std::ofstream(dir / "stat") << pid << " (" << comm << ") S " << ppid << " 1 1 0 -1 0\n";
    fs::create_symlink(exe, dir / "exe");
    std::ofstream(dir / "cmdline", std::ios::binary) << cmdline;
    std::ofstream(dir / "status") << "Name:\t" << comm << "\nUid:\t1000\t1000\t1000\t1000\n";
  }

  // Marks pid as an agent process, as the kernel's exec event does.
  void exec_as_agent(pipeline::ProcessTable &t, uint32_t pid, uint32_t ppid, std::string exe,
                     std::vector<std::string> argv)
  {
    pipeline::Event ev;
    ev.hdr.type = pipeline::EventType::exec;
    ev.hdr.tgid = pid;
    ev.hdr.uid = 1000;
    ev.hdr.profile_id = 1;
    ev.hdr.comm = fs::path(exe).filename().string();
    pipeline::ExecBody b;
    b.ppid = ppid;
    b.exe = std::move(exe);
    b.argv = std::move(argv);
    ev.body = std::move(b);
    t.apply(ev);
  }

  static pipeline::Event open_event(uint32_t pid, int64_t ret)
  {
    pipeline::Event ev;
    ev.hdr.type = pipeline::EventType::open;
    ev.hdr.tgid = pid;
    ev.hdr.tid = pid;
    ev.hdr.uid = 1000;
    ev.hdr.cgroup_id = 4711;
    ev.hdr.profile_id = 1;
    ev.hdr.verdict = pipeline::Verdict::deny;
    ev.hdr.comm = "cat";
    ev.hdr.ts_ns = now_ns(CLOCK_BOOTTIME);
    pipeline::OpenBody b;
    b.ret = ret;
    b.path = ".aws/credentials";
    ev.body = b;
    return ev;
  }

  static pipeline::Event connect_event(uint32_t pid, std::string_view ip, uint16_t family)
  {
    pipeline::Event ev;
    ev.hdr.type = pipeline::EventType::connect;
    ev.hdr.tgid = pid;
    ev.hdr.uid = 1000;
    ev.hdr.cgroup_id = 4711;
    ev.hdr.profile_id = 1;
    ev.hdr.verdict = pipeline::Verdict::audit;
    ev.hdr.comm = "curl";
    pipeline::ConnectBody b;
    b.family = family;
    b.port = 443;
    b.ret = -115;
    b.addr = policy::parse_ip(ip).value_or(std::array<uint8_t, 16>{});
    ev.body = b;
    return ev;
  }

  static Finding credential_finding()
  {
    Finding f;
    f.rule = std::string(kRuleCredentialRead);
    f.kind = policy::RuleKind::credential_read;
    f.severity = policy::Severity::critical;
    f.profile_id = 1;
    f.path = "/home/dev/.aws/credentials";
    f.pattern = "~/.aws/credentials";
    return f;
  }

  static Finding egress_finding()
  {
    Finding f;
    f.rule = std::string(kRuleEgressNotAllowed);
    f.kind = policy::RuleKind::egress;
    f.severity = policy::Severity::error;
    f.profile_id = 1;
    return f;
  }

  fs::path root_;
  policy::Profile profile_;
  std::vector<uint64_t> named_;
  Enricher::CgroupNamer namer_ = [this](uint64_t id) {
    named_.push_back(id);
    return std::string("/agents/run-1");
  };
};

TEST_F(EnrichTest, builds_credential_alert_with_process_and_ancestry)
{
  pipeline::ProcessTable procs(root_.string());
  procs.seed();
  exec_as_agent(procs, 600, 500, "/usr/bin/python3.11", {"python3", "agent.py"});
  exec_as_agent(procs, 700, 600, "/usr/bin/cat", {"cat", "/home/dev/.aws/credentials"});
  Enricher enricher(procs, "host-a", namer_);

  const uint64_t before = now_ns(CLOCK_REALTIME);
  Alert a = enricher.build(open_event(700, -EACCES), credential_finding(), profile_);
  const uint64_t after = now_ns(CLOCK_REALTIME);

  EXPECT_GE(a.time_ns + 1000000, before);
  EXPECT_LE(a.time_ns, after + 1000000);
  EXPECT_EQ(a.hostname, "host-a");
  EXPECT_EQ(a.profile, "coding-agent");
  EXPECT_EQ(a.rule, "credential-read");
  EXPECT_EQ(a.severity, policy::Severity::critical);
  EXPECT_EQ(a.event_type, pipeline::EventType::open);
  EXPECT_EQ(a.verdict, pipeline::Verdict::deny);
  EXPECT_EQ(a.tier, pipeline::Tier::none);
  EXPECT_EQ(a.pid, 700u);
  EXPECT_EQ(a.ppid, 600u);
  EXPECT_EQ(a.uid, 1000u);
  EXPECT_EQ(a.comm, "cat");
  EXPECT_EQ(a.exe, "/usr/bin/cat");
  EXPECT_THAT(a.argv, ElementsAre("cat", "/home/dev/.aws/credentials"));
  // Parent first; the chain ends with the agent's launcher (bash), which is not an agent.
  ASSERT_EQ(a.ancestry.size(), 2u);
  EXPECT_EQ(a.ancestry[0].pid, 600u);
  EXPECT_EQ(a.ancestry[0].exe, "/usr/bin/python3.11");
  EXPECT_THAT(a.ancestry[0].argv, ElementsAre("python3", "agent.py"));
  EXPECT_EQ(a.ancestry[1].pid, 500u);
  EXPECT_EQ(a.ancestry[1].exe, "/usr/bin/bash");
  EXPECT_THAT(a.ancestry[1].argv, ElementsAre("-bash"));
  EXPECT_EQ(a.cgroup_id, 4711u);
  EXPECT_EQ(a.cgroup, "/agents/run-1");
  EXPECT_THAT(named_, ElementsAre(4711u));
  EXPECT_EQ(a.path, "/home/dev/.aws/credentials");
  EXPECT_EQ(a.result, -EACCES);
  EXPECT_EQ(a.dest_ip, "");
  EXPECT_EQ(a.output, "credential file /home/dev/.aws/credentials opened by cat (pid 700, ppid "
                      "600, /usr/bin/cat) [denied, EACCES, matched ~/.aws/credentials] cmdline: "
                      "cat /home/dev/.aws/credentials");
}

TEST_F(EnrichTest, reads_processes_from_proc_on_demand)
{
  // Nothing seeded and no events: the enricher's lookups read the fake /proc.
  pipeline::ProcessTable procs(root_.string());
  Enricher enricher(procs, "host-a", namer_);
  Alert a = enricher.build(open_event(700, 3), credential_finding(), profile_);
  EXPECT_EQ(a.ppid, 600u);
  EXPECT_EQ(a.exe, "/usr/bin/cat");
  // Processes never seen as agents: the chain stops at the first (the parent).
  ASSERT_EQ(a.ancestry.size(), 1u);
  EXPECT_EQ(a.ancestry[0].pid, 600u);
  EXPECT_THAT(a.output, HasSubstr("[denied, ok, matched ~/.aws/credentials]"));
}

TEST_F(EnrichTest, builds_egress_alert_with_destination)
{
  pipeline::ProcessTable procs(root_.string());
  Enricher enricher(procs, "host-a", namer_);
  Alert v4 = enricher.build(connect_event(4000, "8.8.8.8", 2), egress_finding(), profile_);
  EXPECT_EQ(v4.rule, "egress-not-allowed");
  EXPECT_EQ(v4.severity, policy::Severity::error);
  EXPECT_EQ(v4.event_type, pipeline::EventType::connect);
  EXPECT_EQ(v4.dest_ip, "8.8.8.8");
  EXPECT_EQ(v4.dest_port, 443u);
  EXPECT_EQ(v4.dest_family, "ipv4");
  EXPECT_EQ(v4.result, -115);
  EXPECT_EQ(v4.path, "");
  // pid 4000 is in neither the table nor /proc.
  EXPECT_EQ(v4.ppid, 0u);
  EXPECT_EQ(v4.exe, "");
  EXPECT_TRUE(v4.ancestry.empty());
  EXPECT_EQ(v4.output, "connect to 8.8.8.8 port 443 outside the egress allowlist by curl (pid "
                       "4000, ppid 0, exe unknown) [would-deny, EINPROGRESS]");

  Alert v6 = enricher.build(connect_event(4000, "2001:db8::1", 10), egress_finding(), profile_);
  EXPECT_EQ(v6.dest_ip, "2001:db8::1");
  EXPECT_EQ(v6.dest_family, "ipv6");
  EXPECT_THAT(v6.output, HasSubstr("connect to 2001:db8::1 port 443 "));
}

TEST_F(EnrichTest, names_sendmsg_and_the_deciding_tier)
{
  pipeline::ProcessTable procs(root_.string());
  Enricher enricher(procs, "host-a", namer_);
  pipeline::Event ev = connect_event(4000, "1.2.3.4", 2);
  ev.hdr.verdict = pipeline::Verdict::deny;
  ev.hdr.tier = pipeline::Tier::cgroup;
  auto &b = std::get<pipeline::ConnectBody>(ev.body);
  b.sendmsg = true;
  b.port = 53;
  b.ret = -EPERM;
  Alert a = enricher.build(ev, egress_finding(), profile_);
  EXPECT_EQ(a.tier, pipeline::Tier::cgroup);
  EXPECT_EQ(a.output, "send to 1.2.3.4 port 53 outside the egress allowlist by curl (pid 4000, "
                      "ppid 0, exe unknown) [denied by cgroup, EPERM]");
}

TEST_F(EnrichTest, leaves_cgroup_empty_without_namer)
{
  pipeline::ProcessTable procs(root_.string());
  Enricher enricher(procs, "host-a", nullptr);
  Alert a = enricher.build(open_event(700, 3), credential_finding(), profile_);
  EXPECT_EQ(a.cgroup, "");
  EXPECT_EQ(a.cgroup_id, 4711u);
}

TEST(BootToRealtime, adds_the_current_clock_offset)
{
  const uint64_t boot = now_ns(CLOCK_BOOTTIME);
  const uint64_t real = now_ns(CLOCK_REALTIME);
  const uint64_t got = Enricher::boot_to_realtime(boot);
  EXPECT_GE(got + 50000000, real);
  EXPECT_LE(got, real + 50000000);
}

TEST(FormatTime, gives_rfc3339_utc_with_nanoseconds)
{
  EXPECT_EQ(format_time(0), "1970-01-01T00:00:00.000000000Z");
  EXPECT_EQ(format_time(1795400104123456789ull), "2026-11-23T02:15:04.123456789Z");
  EXPECT_EQ(format_time(951868799000000005ull), "2000-02-29T23:59:59.000000005Z");
  EXPECT_THAT(format_time(now_ns(CLOCK_REALTIME)),
              MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{9}Z"));
}

TEST(DescribeErrno, names_errno_values)
{
  EXPECT_EQ(describe_errno(-13), "EACCES");
  EXPECT_EQ(describe_errno(-EPERM), "EPERM");
  EXPECT_EQ(describe_errno(-ENOENT), "ENOENT");
  EXPECT_EQ(describe_errno(0), "ok");
  EXPECT_EQ(describe_errno(5), "ok");
  EXPECT_EQ(describe_errno(-100000), "errno 100000");
}

} // namespace
} // namespace vigil::detect
