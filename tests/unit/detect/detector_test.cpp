// SPDX-License-Identifier: Apache-2.0
// Detector: rules evaluated over synthetic events with a process table rooted at an empty
// directory (nothing is read from the real /proc), fake home and directory resolvers, and a
// temporary state directory for learned baselines.

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <nlohmann/json.hpp>

#include "common/text.h"
#include "detect/detector.h"
#include "detect/enrich.h"
#include "support/heap.h"
#include "pipeline/event.h"
#include "pipeline/process_table.h"
#include "policy/profile.h"
#include "policy/rules.h"

namespace vigil::detect {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

using pipeline::Verdict;
using policy::RuleKind;

constexpr uint32_t kAgent = 1; // profile "agent"
constexpr uint32_t kOther = 2; // profile "other"
constexpr uint32_t kDev = 1000;
constexpr uint32_t kOps = 1001;
constexpr uint32_t kNoHome = 4242;
constexpr uint64_t kMs = 1'000'000ull;
constexpr uint64_t kSec = 1'000'000'000ull;
constexpr uint64_t kStart = 1000 * kSec; // CLOCK_BOOTTIME of the first event
constexpr uint16_t kAfInet = 2;
constexpr uint16_t kAfInet6 = 10;

class TempDir {
public:
  TempDir()
  {
    std::string tmpl = (std::filesystem::temp_directory_path() / "vg-detect-XXXXXX").string();
    EXPECT_NE(::mkdtemp(tmpl.data()), nullptr);
    path_ = tmpl;
  }
  ~TempDir()
  {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  const std::string &path() const { return path_; }

private:
  std::string path_;
};

std::array<uint8_t, 16> ip(std::string_view text)
{
  auto a = policy::parse_ip(text);
  EXPECT_TRUE(a) << text;
  return a.value_or(std::array<uint8_t, 16>{});
}

policy::EgressAllow allow(std::string_view cidr, std::vector<policy::PortRange> ports = {})
{
  policy::EgressAllow a;
  auto c = policy::parse_cidr(cidr);
  EXPECT_TRUE(c) << cidr;
  if (c)
    a.cidr = *c;
  a.ports = std::move(ports);
  return a;
}

// The profile both test profiles share: a few credential paths and a small allowlist.
policy::Profile make_profile(std::string name)
{
  policy::Profile p;
  p.name = std::move(name);
  p.credential_paths = {"~/.aws/credentials", "~/.ssh/id_*", "/etc/shadow", "~/.npmrc"};
  p.egress_allow = {allow("10.0.0.0/8"), allow("140.82.112.0/20", {{443, 443}})};
  return p;
}

std::vector<std::string> rule_ids(const std::vector<Finding> &fs)
{
  std::vector<std::string> out;
  for (const auto &f : fs)
    out.push_back(f.rule);
  return out;
}

const Finding *find_rule(const std::vector<Finding> &fs, std::string_view id)
{
  for (const auto &f : fs)
    if (f.rule == id)
      return &f;
  return nullptr;
}

std::string read_all(const std::string &path)
{
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class DetectorTest : public ::testing::Test {
protected:
  void SetUp() override
  {
    procs_ = std::make_unique<pipeline::ProcessTable>(proc_root_.path());
    make_detector("");
    // The launcher (vigil run): outside every agent profile.
    run(ev_exec(50, 1, "/usr/bin/vigil", {"vigil", "run"}, {}, 0));
  }

  void make_detector(const std::string &state_dir)
  {
    det_ = another_detector(state_dir);
    if (!rules_yaml_.empty())
      det_->set_rules(parse(rules_yaml_));
  }

  // A detector as the fixture makes them, with both profiles and no rules.
  static std::unique_ptr<Detector> another_detector(const std::string &state_dir = "",
                                                    bool skip_unmatched_path_rules = true)
  {
    Detector::Options o;
    o.dirs = [](uint32_t, int32_t) { return std::string("/home/dev/project"); };
    o.homes = [](uint32_t uid) -> std::string {
      if (uid == kDev)
        return "/home/dev";
      if (uid == kOps)
        return "/home/ops";
      return {};
    };
    o.state_dir = state_dir;
    o.skip_unmatched_path_rules = skip_unmatched_path_rules;
    auto det = std::make_unique<Detector>(std::move(o));
    det->set_profile(kAgent, make_profile("agent"));
    det->set_profile(kOther, make_profile("other"));
    return det;
  }

  static policy::RuleSet parse(const std::string &yaml)
  {
    policy::RuleSet set;
    std::vector<std::string> errors;
    policy::parse_rules(yaml, "t.yaml", set, errors);
    EXPECT_THAT(errors, IsEmpty());
    return set;
  }

  void rules(const std::string &yaml)
  {
    rules_yaml_ = yaml;
    det_->set_rules(parse(yaml));
  }

  pipeline::Event base(pipeline::EventType t, uint32_t pid, uint32_t profile = kAgent)
  {
    pipeline::Event ev;
    ev.hdr.type = t;
    ev.hdr.ts_ns = ts_;
    ts_ += kMs;
    ev.hdr.tgid = pid;
    ev.hdr.tid = pid;
    ev.hdr.uid = kDev;
    ev.hdr.cgroup_id = 77;
    ev.hdr.profile_id = profile;
    ev.hdr.comm = "proc" + std::to_string(pid);
    return ev;
  }

  pipeline::Event ev_exec(uint32_t pid, uint32_t ppid, std::string exe,
                          std::vector<std::string> argv, std::vector<std::string> env = {},
                          uint32_t profile = kAgent)
  {
    pipeline::Event ev = base(pipeline::EventType::exec, pid, profile);
    pipeline::ExecBody b;
    b.ppid = ppid;
    b.exe = std::move(exe);
    b.argv = std::move(argv);
    b.env = std::move(env);
    ev.hdr.comm = std::filesystem::path(b.exe).filename().string();
    ev.body = std::move(b);
    return ev;
  }

  pipeline::Event ev_fork(uint32_t parent, uint32_t child, uint32_t profile = kAgent)
  {
    pipeline::Event ev = base(pipeline::EventType::fork, parent, profile);
    ev.body = pipeline::ForkBody{child};
    return ev;
  }

  pipeline::Event ev_open(uint32_t pid, std::string path, int64_t ret = 3)
  {
    pipeline::Event ev = base(pipeline::EventType::open, pid);
    pipeline::OpenBody b;
    b.ret = ret;
    b.dfd = -100;
    b.call = pipeline::OpenCall::openat;
    b.resolved = ret >= 0 && !path.empty() && path.front() == '/';
    b.path = std::move(path);
    ev.body = std::move(b);
    return ev;
  }

  pipeline::Event ev_connect(uint32_t pid, std::string_view addr, uint16_t port)
  {
    pipeline::Event ev = base(pipeline::EventType::connect, pid);
    pipeline::ConnectBody b;
    b.addr = ip(addr);
    b.family = addr.find(':') == std::string_view::npos ? kAfInet : kAfInet6;
    b.port = port;
    b.ret = -115;
    ev.body = std::move(b);
    return ev;
  }

  pipeline::Event ev_volume(uint32_t pid, std::string_view addr, uint16_t port, uint64_t bytes)
  {
    pipeline::Event ev = base(pipeline::EventType::egress_volume, pid);
    pipeline::VolumeBody b;
    b.addr = ip(addr);
    b.port = port;
    b.proto = 6;
    b.bytes = bytes;
    b.packets = 1;
    ev.body = std::move(b);
    return ev;
  }

  pipeline::Event ev_ptrace(uint32_t pid, Verdict v)
  {
    pipeline::Event ev = base(pipeline::EventType::ptrace, pid);
    ev.hdr.verdict = v;
    ev.hdr.tier = pipeline::Tier::lsm;
    pipeline::PtraceBody b;
    b.target_tgid = 1;
    b.mode = 0x10;
    b.target_comm = "systemd";
    ev.body = std::move(b);
    return ev;
  }

  pipeline::Event ev_socket(uint32_t pid, Verdict v)
  {
    pipeline::Event ev = base(pipeline::EventType::socket, pid);
    ev.hdr.verdict = v;
    ev.hdr.tier = pipeline::Tier::lsm;
    ev.body = pipeline::SocketBody{17, 3, 0, v == Verdict::deny ? -1 : 5};
    return ev;
  }

  // As the engine does: normalise, update the process table, then evaluate.
  std::vector<Finding> run(pipeline::Event ev)
  {
    det_->normalize(ev);
    procs_->apply(ev);
    std::vector<Finding> out;
    det_->evaluate(ev, *procs_, out);
    return out;
  }

  // fork from the parent (when it is known), then exec: the usual way a process starts.
  std::vector<Finding> spawn(uint32_t pid, uint32_t ppid, std::string exe,
                             std::vector<std::string> argv, std::vector<std::string> env = {},
                             uint32_t profile = kAgent)
  {
    if (procs_->find(ppid))
      run(ev_fork(ppid, pid, profile));
    return run(ev_exec(pid, ppid, std::move(exe), std::move(argv), std::move(env), profile));
  }

  // The agent: bash (pid 100) started by the launcher.
  void agent_shell(uint32_t pid = 100, uint32_t profile = kAgent)
  {
    spawn(pid, 50, "/usr/bin/bash", {"bash"}, {}, profile);
  }

  TempDir proc_root_;
  std::unique_ptr<pipeline::ProcessTable> procs_;
  std::unique_ptr<Detector> det_;
  std::string rules_yaml_;
  uint64_t ts_ = kStart;
};

// ---------------------------------------------------------------------------------------------
// credential_read

const std::string kCredRules = R"(rules:
  - id: cred-aws
    description: AWS credentials read
    kind: credential_read
    severity: critical
    tags: [T1552.001]
    paths: [~/.aws/credentials, "*.key"]
    exceptions:
      - exe: [aws]
      - args: ["*/bin/aws *"]
      - ancestor: {args: ["terraform apply*"]}
      - exe: [backup]
        paths: ["*.key"]
)";

const std::string kFallbackCred = R"(
  - id: credential-read
    description: read of a file the profile protects
    kind: credential_read
    severity: error
    tags: [T1552]
    profile_paths: true
    fallback: true
)";

using DetectorCredential = DetectorTest;

// A detector given no rule set yet (vigil replay of a log that records none) looks at opens all
// the same: nothing to find, and no question to an index group nobody made.
TEST_F(DetectorCredential, an_open_before_any_rule_set_finds_nothing)
{
  agent_shell();
  EXPECT_TRUE(run(ev_open(100, "/home/dev/.aws/credentials")).empty());
}

TEST_F(DetectorCredential, finding_carries_the_rule_and_the_file)
{
  rules(kCredRules);
  agent_shell();
  auto fs = run(ev_open(100, "/home/dev/.aws/credentials"));
  ASSERT_EQ(fs.size(), 1u);
  const Finding &f = fs[0];
  EXPECT_EQ(f.rule, "cred-aws");
  EXPECT_EQ(f.description, "AWS credentials read");
  EXPECT_EQ(f.kind, RuleKind::credential_read);
  EXPECT_EQ(f.severity, policy::Severity::critical);
  EXPECT_THAT(f.tags, ElementsAre("T1552.001"));
  EXPECT_EQ(f.profile_id, kAgent);
  EXPECT_EQ(f.path, "/home/dev/.aws/credentials");
  EXPECT_EQ(f.pattern, "~/.aws/credentials");
  EXPECT_FALSE(f.fallback);
}

TEST_F(DetectorCredential, home_paths_follow_each_uid_home)
{
  rules(kCredRules);
  agent_shell();
  auto dev_other_home = ev_open(100, "/home/ops/.aws/credentials");
  EXPECT_THAT(run(dev_other_home), IsEmpty()) << "uid 1000's ~ is /home/dev";

  auto ops = ev_open(100, "/home/ops/.aws/credentials");
  ops.hdr.uid = kOps;
  auto fs = run(ops);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].path, "/home/ops/.aws/credentials");

  auto ops_dev_home = ev_open(100, "/home/dev/.aws/credentials");
  ops_dev_home.hdr.uid = kOps;
  EXPECT_THAT(run(ops_dev_home), IsEmpty());

  auto homeless = ev_open(100, "/.aws/credentials");
  homeless.hdr.uid = kNoHome;
  EXPECT_THAT(run(homeless), IsEmpty()) << "no home: ~/ patterns match nothing";

  // The dev user again, after other homes were compiled.
  EXPECT_THAT(rule_ids(run(ev_open(100, "/home/dev/.aws/credentials"))), ElementsAre("cred-aws"));
}

TEST_F(DetectorCredential, basename_patterns_match_in_any_directory)
{
  rules(kCredRules);
  agent_shell();
  auto fs = run(ev_open(100, "/srv/tls/server.key"));
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].pattern, "*.key");
  EXPECT_EQ(fs[0].path, "/srv/tls/server.key");
  EXPECT_THAT(run(ev_open(100, "/srv/tls/server.keys")), IsEmpty());
  EXPECT_THAT(run(ev_open(100, "/srv/tls.key/readme")), IsEmpty());
}

TEST_F(DetectorCredential, failed_opens_report_only_refusals)
{
  rules(kCredRules);
  agent_shell();
  EXPECT_THAT(run(ev_open(100, "/home/dev/.aws/credentials", -ENOENT)), IsEmpty())
      << "a file that is not there was not read";
  EXPECT_THAT(run(ev_open(100, "/home/dev/.aws/credentials", -EISDIR)), IsEmpty());
  EXPECT_THAT(rule_ids(run(ev_open(100, "/home/dev/.aws/credentials", -EPERM))),
              ElementsAre("cred-aws"));
  EXPECT_THAT(rule_ids(run(ev_open(100, "/home/dev/.aws/credentials", -EACCES))),
              ElementsAre("cred-aws"));

  auto denied = ev_open(100, "/home/dev/.aws/credentials", -ENOENT);
  denied.hdr.verdict = Verdict::deny;
  EXPECT_THAT(rule_ids(run(denied)), ElementsAre("cred-aws")) << "the kernel decided on it";
  auto audited = ev_open(100, "/home/dev/.aws/credentials", 3);
  audited.hdr.verdict = Verdict::audit;
  EXPECT_THAT(rule_ids(run(audited)), ElementsAre("cred-aws"));
}

TEST_F(DetectorCredential, relative_paths_are_made_absolute_first)
{
  rules(kCredRules);
  agent_shell();
  auto ev = ev_open(100, "../.aws/credentials", -EACCES);
  ASSERT_FALSE(std::get<pipeline::OpenBody>(ev.body).resolved);
  auto fs = run(ev);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].path, "/home/dev/.aws/credentials");
  // A FIFO served from outside is a side channel, not a credential.
  auto fifo = ev_open(100, "/tmp/secret.key");
  std::get<pipeline::OpenBody>(fifo.body).ipc = true;
  EXPECT_THAT(run(fifo), IsEmpty());
}

TEST_F(DetectorCredential, exception_by_exe_args_and_ancestor)
{
  rules(kCredRules);
  agent_shell();
  spawn(200, 100, "/usr/local/bin/aws", {"aws", "s3", "ls"});
  EXPECT_THAT(run(ev_open(200, "/home/dev/.aws/credentials")), IsEmpty()) << "exe aws";

  spawn(201, 100, "/usr/bin/python3", {"python3", "/usr/local/bin/aws", "s3", "ls"});
  EXPECT_THAT(run(ev_open(201, "/home/dev/.aws/credentials")), IsEmpty()) << "args */bin/aws *";

  spawn(202, 100, "/usr/bin/python3", {"python3", "steal.py"});
  EXPECT_THAT(rule_ids(run(ev_open(202, "/home/dev/.aws/credentials"))), ElementsAre("cred-aws"));

  spawn(300, 100, "/usr/bin/terraform", {"terraform", "apply", "-auto-approve"});
  spawn(301, 300, "/usr/bin/sh", {"sh", "-c", "cat creds"});
  spawn(302, 301, "/usr/bin/cat", {"cat", "/home/dev/.aws/credentials"});
  EXPECT_THAT(run(ev_open(302, "/home/dev/.aws/credentials")), IsEmpty())
      << "terraform apply is an ancestor";

  spawn(310, 100, "/usr/bin/terraform", {"terraform", "plan"});
  spawn(311, 310, "/usr/bin/cat", {"cat", "/home/dev/.aws/credentials"});
  EXPECT_THAT(rule_ids(run(ev_open(311, "/home/dev/.aws/credentials"))), ElementsAre("cred-aws"))
      << "terraform plan is not excepted";
  EXPECT_THAT(rule_ids(run(ev_open(300, "/home/dev/.aws/credentials"))), ElementsAre("cred-aws"))
      << "the ancestor exception needs an ancestor, not the process itself";
}

TEST_F(DetectorCredential, exception_with_exe_and_paths_needs_both)
{
  rules(kCredRules);
  agent_shell();
  spawn(400, 100, "/usr/sbin/backup", {"backup", "--all"});
  EXPECT_THAT(run(ev_open(400, "/srv/tls/server.key")), IsEmpty()) << "exe and path match";
  EXPECT_THAT(rule_ids(run(ev_open(400, "/home/dev/.aws/credentials"))), ElementsAre("cred-aws"))
      << "exe matches, path does not";
  spawn(401, 100, "/usr/bin/cat", {"cat"});
  EXPECT_THAT(rule_ids(run(ev_open(401, "/srv/tls/server.key"))), ElementsAre("cred-aws"))
      << "path matches, exe does not";
}

// ---------------------------------------------------------------------------------------------
// fallback rules

using DetectorFallback = DetectorTest;

TEST_F(DetectorFallback, profile_paths_rule_gives_way_to_a_specific_rule)
{
  rules(kCredRules + kFallbackCred);
  agent_shell();
  spawn(101, 100, "/usr/bin/cat", {"cat"});
  EXPECT_THAT(rule_ids(run(ev_open(101, "/home/dev/.aws/credentials"))), ElementsAre("cred-aws"))
      << "both match; the specific rule names it";

  auto fs = run(ev_open(101, "/home/dev/.ssh/id_ed25519"));
  ASSERT_EQ(fs.size(), 1u) << "only the profile protects it";
  EXPECT_EQ(fs[0].rule, "credential-read");
  EXPECT_TRUE(fs[0].fallback);
  EXPECT_EQ(fs[0].path, "/home/dev/.ssh/id_ed25519");
  EXPECT_EQ(fs[0].pattern, "~/.ssh/id_*");
  EXPECT_EQ(fs[0].severity, policy::Severity::error) << "the rule's severity, not the profile's";

  EXPECT_THAT(run(ev_open(101, "/home/dev/notes.txt")), IsEmpty());
}

TEST_F(DetectorFallback, profile_paths_rule_reports_kernel_decisions)
{
  rules(kCredRules + kFallbackCred);
  agent_shell();
  auto ev = ev_open(100, "/etc/shadow", -EPERM);
  ev.hdr.verdict = Verdict::deny;
  ev.hdr.tier = pipeline::Tier::lsm;
  ev.hdr.rule_id = 3; // the profile's third credential path
  auto fs = run(ev);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].rule, "credential-read");
  EXPECT_EQ(fs[0].path, "/etc/shadow");
  EXPECT_EQ(fs[0].pattern, "/etc/shadow");
}

TEST_F(DetectorFallback, an_excepted_specific_rule_leaves_the_fallback)
{
  rules(kCredRules + kFallbackCred);
  agent_shell();
  spawn(200, 100, "/usr/local/bin/aws", {"aws", "s3", "ls"});
  // cred-aws lets aws read its credentials; the profile still protects the file.
  EXPECT_THAT(rule_ids(run(ev_open(200, "/home/dev/.aws/credentials"))),
              ElementsAre("credential-read"));
  // cred-aws matches *.key but the profile does not protect it: nothing from the fallback.
  spawn(400, 100, "/usr/sbin/backup", {"backup"});
  EXPECT_THAT(run(ev_open(400, "/srv/tls/server.key")), IsEmpty());
}

const std::string kEgressRules = R"(rules:
  - id: egress-cloud-metadata
    description: connect to a cloud instance metadata endpoint
    kind: egress
    severity: critical
    tags: [T1552.005]
    match: destinations
    destinations:
      - 169.254.169.254/32
      - {cidr: 192.0.2.0/24, ports: [22, 8000-8080]}
      - "2001:db8::/32"
  - id: egress-not-allowed
    description: connect outside the profile's egress allowlist
    kind: egress
    severity: error
    tags: [T1041]
    match: outside_allowlist
    fallback: true
)";

TEST_F(DetectorFallback, outside_allowlist_gives_way_to_a_destinations_rule)
{
  rules(kEgressRules);
  agent_shell();
  auto meta = run(ev_connect(100, "169.254.169.254", 80));
  EXPECT_THAT(rule_ids(meta), ElementsAre("egress-cloud-metadata"));
  EXPECT_THAT(rule_ids(run(ev_connect(100, "8.8.8.8", 443))), ElementsAre("egress-not-allowed"));
  EXPECT_THAT(run(ev_connect(100, "10.1.2.3", 22)), IsEmpty()) << "allowed and not listed";
}

// ---------------------------------------------------------------------------------------------
// egress

using DetectorEgress = DetectorTest;

TEST_F(DetectorEgress, destinations_with_port_ranges)
{
  rules(kEgressRules);
  agent_shell();
  auto fs = run(ev_connect(100, "192.0.2.7", 22));
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].rule, "egress-cloud-metadata");
  EXPECT_EQ(fs[0].kind, RuleKind::egress);
  EXPECT_EQ(fs[0].detail, "connect to a cloud instance metadata endpoint");
  for (uint16_t port : {8000, 8042, 8080})
    EXPECT_THAT(rule_ids(run(ev_connect(100, "192.0.2.7", port))),
                ElementsAre("egress-cloud-metadata"))
        << port;
  for (uint16_t port : {21, 23, 7999, 8081})
    EXPECT_THAT(rule_ids(run(ev_connect(100, "192.0.2.7", port))),
                ElementsAre("egress-not-allowed"))
        << port;
  EXPECT_THAT(rule_ids(run(ev_connect(100, "192.0.3.7", 22))), ElementsAre("egress-not-allowed"));
  EXPECT_THAT(rule_ids(run(ev_connect(100, "2001:db8::1", 443))),
              ElementsAre("egress-cloud-metadata"));
  EXPECT_THAT(rule_ids(run(ev_connect(100, "::ffff:169.254.169.254", 80))),
              ElementsAre("egress-cloud-metadata"))
      << "an IPv4-mapped address is the IPv4 destination";
}

TEST_F(DetectorEgress, ignores_ports_zero_unix_and_ipc)
{
  rules(kEgressRules);
  agent_shell();
  EXPECT_THAT(run(ev_connect(100, "169.254.169.254", 0)), IsEmpty()) << "a UDP disconnect";
  auto unix_family = ev_connect(100, "169.254.169.254", 80);
  std::get<pipeline::ConnectBody>(unix_family.body).family = 1;
  EXPECT_THAT(run(unix_family), IsEmpty());
  auto ipc = ev_connect(100, "169.254.169.254", 80);
  std::get<pipeline::ConnectBody>(ipc.body).ipc = true;
  EXPECT_THAT(run(ipc), IsEmpty()) << "no ipc rule loaded, and egress rules skip side channels";
}

TEST_F(DetectorEgress, outside_allowlist_follows_the_profile)
{
  rules(kEgressRules);
  agent_shell();
  EXPECT_THAT(run(ev_connect(100, "10.9.9.9", 5555)), IsEmpty());
  EXPECT_THAT(run(ev_connect(100, "140.82.112.5", 443)), IsEmpty());
  EXPECT_THAT(rule_ids(run(ev_connect(100, "140.82.112.5", 22))), ElementsAre("egress-not-allowed"))
      << "the allowlist entry has ports";
  auto kernel_allowed = ev_connect(100, "8.8.8.8", 443);
  kernel_allowed.hdr.verdict = Verdict::allow;
  EXPECT_THAT(run(kernel_allowed), IsEmpty()) << "the kernel's decision stands";
  auto kernel_denied = ev_connect(100, "10.1.1.1", 443);
  kernel_denied.hdr.verdict = Verdict::deny;
  EXPECT_THAT(rule_ids(run(kernel_denied)), ElementsAre("egress-not-allowed"));

  // A new profile with 8.8.8.8 allowed: the same connect is fine.
  policy::Profile p = make_profile("agent");
  p.egress_allow.push_back(allow("8.8.8.8/32", {{443, 443}}));
  det_->set_profile(kAgent, std::move(p));
  EXPECT_THAT(run(ev_connect(100, "8.8.8.8", 443)), IsEmpty());
  EXPECT_THAT(rule_ids(run(ev_connect(100, "8.8.8.8", 53))), ElementsAre("egress-not-allowed"));
}

TEST_F(DetectorEgress, exception_by_destination)
{
  rules(R"(rules:
  - id: egress-not-allowed
    description: outside
    kind: egress
    severity: error
    match: outside_allowlist
    exceptions:
      - destinations: [{cidr: 0.0.0.0/0, ports: [53]}, {cidr: "::/0", ports: [53]}]
)");
  agent_shell();
  EXPECT_THAT(run(ev_connect(100, "8.8.8.8", 53)), IsEmpty());
  EXPECT_THAT(run(ev_connect(100, "2001:4860::8888", 53)), IsEmpty());
  EXPECT_THAT(rule_ids(run(ev_connect(100, "8.8.8.8", 443))), ElementsAre("egress-not-allowed"));
}

const std::string kNewDestination = R"(rules:
  - id: egress-new-destination
    description: first connect of this program to this destination
    kind: egress
    severity: notice
    tags: [T1071]
    match: new_destination
    learning: 1s
    exceptions:
      - destinations: [127.0.0.0/8]
)";

TEST_F(DetectorEgress, new_destination_learns_then_alerts_once)
{
  rules(kNewDestination);
  agent_shell();
  spawn(101, 100, "/usr/bin/curl", {"curl"});
  ts_ = kStart + 10 * kSec;
  EXPECT_THAT(run(ev_connect(101, "1.1.1.1", 443)), IsEmpty()) << "learning starts";
  ts_ = kStart + 10 * kSec + 300 * kMs;
  EXPECT_THAT(run(ev_connect(101, "2.2.2.2", 443)), IsEmpty()) << "still learning";

  ts_ = kStart + 20 * kSec;
  EXPECT_THAT(run(ev_connect(101, "1.1.1.1", 443)), IsEmpty()) << "learned";
  EXPECT_THAT(run(ev_connect(101, "2.2.2.2", 443)), IsEmpty()) << "learned";
  auto fs = run(ev_connect(101, "3.3.3.3", 443));
  ASSERT_EQ(fs.size(), 1u) << "a new destination after learning";
  EXPECT_EQ(fs[0].rule, "egress-new-destination");
  EXPECT_THAT(fs[0].detail, HasSubstr("/usr/bin/curl"));
  EXPECT_THAT(run(ev_connect(101, "3.3.3.3", 443)), IsEmpty()) << "alerts once";

  EXPECT_THAT(rule_ids(run(ev_connect(101, "1.1.1.1", 80))), ElementsAre("egress-new-destination"))
      << "the port is part of the tuple";
  spawn(102, 100, "/usr/bin/wget", {"wget"});
  EXPECT_THAT(rule_ids(run(ev_connect(102, "1.1.1.1", 443))),
              ElementsAre("egress-new-destination"))
      << "the executable is part of the tuple";

  EXPECT_THAT(run(ev_connect(101, "127.0.0.1", 8080)), IsEmpty()) << "excepted";

  auto denied = ev_connect(101, "4.4.4.4", 443);
  denied.hdr.verdict = Verdict::deny;
  EXPECT_THAT(run(denied), IsEmpty()) << "a refused connect is no egress";
  EXPECT_THAT(rule_ids(run(ev_connect(101, "4.4.4.4", 443))),
              ElementsAre("egress-new-destination"))
      << "and it was not learned either";
}

TEST_F(DetectorEgress, new_destination_baseline_persists_across_detectors)
{
  TempDir state;
  make_detector(state.path());
  rules(kNewDestination);
  agent_shell();
  spawn(101, 100, "/usr/bin/curl", {"curl"});
  ts_ = kStart + 10 * kSec;
  EXPECT_THAT(run(ev_connect(101, "1.1.1.1", 443)), IsEmpty());
  det_->flush();
  const std::string file = state.path() + "/baseline/agent.json";
  ASSERT_TRUE(std::filesystem::exists(file));
  nlohmann::json j = nlohmann::json::parse(read_all(file), nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << read_all(file);
  const uint64_t started = j.at("learning_started_ns").get<uint64_t>();
  const uint64_t expected = Enricher::boot_to_realtime(kStart + 10 * kSec);
  EXPECT_LT(started > expected ? started - expected : expected - started, kSec)
      << "learning started at the first observation, in wall-clock time";
  ASSERT_EQ(j.at("entries").size(), 1u);
  EXPECT_EQ(j.at("entries")[0].at("exe"), "/usr/bin/curl");
  EXPECT_EQ(j.at("entries")[0].at("ip"), "1.1.1.1");
  EXPECT_EQ(j.at("entries")[0].at("port"), 443);

  // A restart: a new detector reads the baseline and does not learn again.
  make_detector(state.path());
  ts_ = kStart + 30 * kSec;
  EXPECT_THAT(run(ev_connect(101, "1.1.1.1", 443)), IsEmpty()) << "known from the file";
  EXPECT_THAT(rule_ids(run(ev_connect(101, "5.5.5.5", 443))),
              ElementsAre("egress-new-destination"))
      << "learning ended 19 s ago by the file's clock";
  det_->flush();
  nlohmann::json k = nlohmann::json::parse(read_all(file), nullptr, false);
  ASSERT_FALSE(k.is_discarded());
  EXPECT_EQ(k.at("entries").size(), 2u);
  EXPECT_EQ(k.at("learning_started_ns"), j.at("learning_started_ns"));
  EXPECT_FALSE(std::filesystem::exists(file + ".tmp"));
}

TEST_F(DetectorEgress, corrupt_baseline_is_replaced)
{
  TempDir state;
  std::filesystem::create_directories(state.path() + "/baseline");
  const std::string file = state.path() + "/baseline/agent.json";
  {
    std::ofstream out(file);
    out << "{\"learning_started_ns\": 12, \"entries\": [";
  }
  make_detector(state.path());
  rules(kNewDestination);
  agent_shell();
  spawn(101, 100, "/usr/bin/curl", {"curl"});
  ts_ = kStart + 10 * kSec;
  EXPECT_THAT(run(ev_connect(101, "1.1.1.1", 443)), IsEmpty())
      << "learning starts again (a learning start of 12 ns would have alerted)";
  det_->flush();
  nlohmann::json j = nlohmann::json::parse(read_all(file), nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << "replaced by a valid file: " << read_all(file);
  EXPECT_GT(j.at("learning_started_ns").get<uint64_t>(), 12u);
  EXPECT_EQ(j.at("entries").size(), 1u);
  ts_ = kStart + 20 * kSec;
  EXPECT_THAT(rule_ids(run(ev_connect(101, "6.6.6.6", 443))),
              ElementsAre("egress-new-destination"));

  // Wrong types inside valid JSON are as corrupt.
  {
    std::ofstream out(state.path() + "/baseline/other.json");
    out << R"({"learning_started_ns": "yesterday", "entries": 5})";
  }
  agent_shell(900, kOther);
  auto other = ev_connect(900, "1.1.1.1", 443);
  other.hdr.profile_id = kOther;
  EXPECT_THAT(run(other), IsEmpty());
  det_->flush();
  nlohmann::json o = nlohmann::json::parse(read_all(state.path() + "/baseline/other.json"),
                                           nullptr, false);
  ASSERT_FALSE(o.is_discarded());
  EXPECT_EQ(o.at("entries").size(), 1u);
}

TEST_F(DetectorEgress, baselines_are_per_profile)
{
  TempDir state;
  make_detector(state.path());
  rules(kNewDestination);
  agent_shell();
  agent_shell(900, kOther);
  spawn(101, 100, "/usr/bin/curl", {"curl"});
  spawn(901, 900, "/usr/bin/curl", {"curl"}, {}, kOther);
  ts_ = kStart + 10 * kSec;
  EXPECT_THAT(run(ev_connect(101, "1.1.1.1", 443)), IsEmpty());
  ts_ = kStart + 20 * kSec;
  auto other = ev_connect(901, "7.7.7.7", 443);
  other.hdr.profile_id = kOther;
  EXPECT_THAT(run(other), IsEmpty()) << "the other profile starts its own learning";
  EXPECT_THAT(rule_ids(run(ev_connect(101, "7.7.7.7", 443))),
              ElementsAre("egress-new-destination"));
  det_->flush();
  EXPECT_TRUE(std::filesystem::exists(state.path() + "/baseline/agent.json"));
  EXPECT_TRUE(std::filesystem::exists(state.path() + "/baseline/other.json"));
}

const std::string kVolume = R"(rules:
  - id: egress-volume
    description: large upload
    kind: egress
    severity: warning
    tags: [T1030]
    match: volume
    bytes: 1000
    window: 10s
    exceptions:
      - destinations: [127.0.0.0/8]
  - id: egress-not-allowed
    description: outside
    kind: egress
    severity: error
    match: outside_allowlist
    fallback: true
)";

TEST_F(DetectorEgress, volume_accumulates_within_a_window_and_alerts_once)
{
  rules(kVolume);
  agent_shell();
  ts_ = kStart + 100 * kSec;
  EXPECT_THAT(run(ev_volume(100, "8.8.8.8", 443, 400)), IsEmpty());
  ts_ = kStart + 101 * kSec;
  EXPECT_THAT(run(ev_volume(100, "8.8.8.8", 443, 400)), IsEmpty());
  ts_ = kStart + 102 * kSec;
  auto fs = run(ev_volume(100, "8.8.8.8", 443, 300));
  ASSERT_EQ(fs.size(), 1u) << "1100 bytes within 10 s; outside_allowlist ignores volume events";
  EXPECT_EQ(fs[0].rule, "egress-volume");
  EXPECT_EQ(fs[0].bytes, 1100u);
  EXPECT_THAT(fs[0].detail, HasSubstr("1100 bytes to 8.8.8.8 port 443"));
  EXPECT_THAT(fs[0].detail, HasSubstr("threshold 1000"));
  ts_ = kStart + 103 * kSec;
  EXPECT_THAT(run(ev_volume(100, "8.8.8.8", 443, 5000)), IsEmpty()) << "once per window";

  // The window started at 100 s: at 110 s a new one starts.
  ts_ = kStart + 110 * kSec;
  EXPECT_THAT(run(ev_volume(100, "8.8.8.8", 443, 600)), IsEmpty()) << "the count starts over";
  ts_ = kStart + 111 * kSec;
  auto again = run(ev_volume(100, "8.8.8.8", 443, 600));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].bytes, 1200u);
}

TEST_F(DetectorEgress, volume_is_per_destination_and_cgroup)
{
  rules(kVolume);
  agent_shell();
  ts_ = kStart + 100 * kSec;
  EXPECT_THAT(run(ev_volume(100, "8.8.8.8", 443, 600)), IsEmpty());
  EXPECT_THAT(run(ev_volume(100, "8.8.4.4", 443, 600)), IsEmpty()) << "another address";
  EXPECT_THAT(run(ev_volume(100, "8.8.8.8", 80, 600)), IsEmpty()) << "another port";
  auto other_cgroup = ev_volume(100, "8.8.8.8", 443, 600);
  other_cgroup.hdr.cgroup_id = 78;
  EXPECT_THAT(run(other_cgroup), IsEmpty()) << "another agent cgroup";
  EXPECT_THAT(rule_ids(run(ev_volume(100, "8.8.8.8", 443, 600))), ElementsAre("egress-volume"));
  EXPECT_THAT(run(ev_volume(100, "127.0.0.1", 8080, 1'000'000)), IsEmpty()) << "excepted";
  // A volume rule never looks at a connect.
  EXPECT_THAT(rule_ids(run(ev_connect(100, "8.8.8.8", 443))), ElementsAre("egress-not-allowed"));
}

// ---------------------------------------------------------------------------------------------
// sequences

const std::string kSequenceRules = kCredRules + kFallbackCred + R"(
  - id: egress-cloud-metadata
    description: metadata
    kind: egress
    severity: critical
    tags: [T1552.005]
    match: destinations
    destinations: [169.254.169.254/32]
  - id: egress-not-allowed
    description: outside
    kind: egress
    severity: error
    tags: [T1041]
    match: outside_allowlist
    fallback: true
  - id: exfil
    description: credential read then egress outside the allowlist
    kind: sequence
    severity: critical
    tags: [T1041, T1552]
    first: {kinds: [credential_read]}
    then: {rules: [egress-not-allowed]}
    within: 60s
)";

class DetectorSequence : public DetectorTest {
protected:
  // Agent tree 100 with a reader (101) and a sender (102); another agent tree 200.
  void trees()
  {
    rules(kSequenceRules);
    agent_shell(100);
    spawn(101, 100, "/usr/bin/cat", {"cat"});
    spawn(102, 100, "/usr/bin/curl", {"curl"});
    agent_shell(200);
    spawn(201, 200, "/usr/bin/curl", {"curl"});
  }
};

TEST_F(DetectorSequence, first_then_within_fires_naming_both)
{
  trees();
  ts_ = kStart + 100 * kSec;
  EXPECT_THAT(rule_ids(run(ev_open(101, "/home/dev/.aws/credentials"))), ElementsAre("cred-aws"));
  ts_ = kStart + 130 * kSec;
  auto fs = run(ev_connect(102, "8.8.8.8", 443));
  EXPECT_THAT(rule_ids(fs), UnorderedElementsAre("egress-not-allowed", "exfil"));
  const Finding *s = find_rule(fs, "exfil");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->kind, RuleKind::sequence);
  EXPECT_EQ(s->severity, policy::Severity::critical);
  EXPECT_THAT(s->tags, ElementsAre("T1041", "T1552"));
  EXPECT_THAT(s->detail, HasSubstr("egress-not-allowed"));
  EXPECT_THAT(s->detail, HasSubstr("8.8.8.8:443"));
  EXPECT_THAT(s->detail, HasSubstr("after cred-aws /home/dev/.aws/credentials"));
  EXPECT_THAT(s->detail, HasSubstr("pid 101"));
  EXPECT_THAT(s->detail, HasSubstr("pid 102"));
  EXPECT_THAT(s->detail, Not(HasSubstr("credential-read"))) << "the specific rule names the first";

  ts_ = kStart + 131 * kSec;
  EXPECT_THAT(rule_ids(run(ev_connect(102, "8.8.8.8", 443))), ElementsAre("egress-not-allowed"))
      << "one alert per first step";
}

TEST_F(DetectorSequence, specific_first_step_named_whatever_the_rule_order)
{
  // The fallback rule comes first in the file: the pending first step still names cred-aws.
  const std::string header = "rules:\n";
  std::string yaml = header + kFallbackCred + kSequenceRules.substr(header.size());
  rules(yaml);
  agent_shell(100);
  spawn(101, 100, "/usr/bin/cat", {"cat"});
  EXPECT_EQ(det_->rules().rules[0].id, "credential-read");
  EXPECT_THAT(rule_ids(run(ev_open(101, "/home/dev/.aws/credentials"))), ElementsAre("cred-aws"));
  auto fs = run(ev_connect(101, "8.8.8.8", 443));
  const Finding *s = find_rule(fs, "exfil");
  ASSERT_NE(s, nullptr);
  EXPECT_THAT(s->detail, HasSubstr("after cred-aws /home/dev/.aws/credentials"));
}

TEST_F(DetectorSequence, outside_the_window_does_not_fire)
{
  trees();
  ts_ = kStart + 100 * kSec;
  run(ev_open(101, "/home/dev/.aws/credentials"));
  ts_ = kStart + 161 * kSec;
  EXPECT_THAT(rule_ids(run(ev_connect(102, "8.8.8.8", 443))), ElementsAre("egress-not-allowed"));
  // The expired first step is gone: a later then does not pair with it either.
  ts_ = kStart + 162 * kSec;
  EXPECT_THAT(rule_ids(run(ev_connect(102, "8.8.8.8", 443))), ElementsAre("egress-not-allowed"));
  // Exactly at the edge of the window it still fires.
  ts_ = kStart + 200 * kSec;
  run(ev_open(101, "/home/dev/.aws/credentials"));
  ts_ = kStart + 260 * kSec;
  EXPECT_THAT(rule_ids(run(ev_connect(102, "8.8.8.8", 443))),
              UnorderedElementsAre("egress-not-allowed", "exfil"));
}

TEST_F(DetectorSequence, then_before_first_does_not_fire)
{
  trees();
  run(ev_connect(102, "8.8.8.8", 443));
  EXPECT_THAT(rule_ids(run(ev_open(101, "/home/dev/.aws/credentials"))), ElementsAre("cred-aws"));
}

TEST_F(DetectorSequence, another_process_tree_does_not_fire)
{
  trees();
  run(ev_open(101, "/home/dev/.aws/credentials"));
  EXPECT_THAT(rule_ids(run(ev_connect(201, "8.8.8.8", 443))), ElementsAre("egress-not-allowed"))
      << "200 is another agent root under the same launcher";
  EXPECT_THAT(rule_ids(run(ev_connect(100, "8.8.8.8", 443))),
              UnorderedElementsAre("egress-not-allowed", "exfil"))
      << "the root of the reader's tree";
}

TEST_F(DetectorSequence, deeper_descendants_share_the_tree)
{
  trees();
  spawn(103, 102, "/usr/bin/sh", {"sh"});
  spawn(104, 103, "/usr/bin/nc", {"nc"});
  run(ev_open(101, "/home/dev/.ssh/id_rsa"));
  auto fs = run(ev_connect(104, "8.8.8.8", 4444));
  EXPECT_THAT(rule_ids(fs), UnorderedElementsAre("egress-not-allowed", "exfil"));
  const Finding *s = find_rule(fs, "exfil");
  ASSERT_NE(s, nullptr);
  EXPECT_THAT(s->detail, HasSubstr("after credential-read /home/dev/.ssh/id_rsa"))
      << "a fallback finding is a first step too";
}

TEST_F(DetectorSequence, scope_process_needs_the_same_process)
{
  std::string yaml = kSequenceRules;
  yaml.replace(yaml.find("within: 60s"), 11, "within: 60s\n    scope: process");
  rules(yaml);
  agent_shell(100);
  spawn(101, 100, "/usr/bin/python3", {"python3"});
  spawn(102, 100, "/usr/bin/curl", {"curl"});
  run(ev_open(101, "/home/dev/.aws/credentials"));
  EXPECT_THAT(rule_ids(run(ev_connect(102, "8.8.8.8", 443))), ElementsAre("egress-not-allowed"));
  EXPECT_THAT(rule_ids(run(ev_connect(101, "8.8.8.8", 443))),
              UnorderedElementsAre("egress-not-allowed", "exfil"));
}

TEST_F(DetectorSequence, scope_profile_spans_trees)
{
  std::string yaml = kSequenceRules;
  yaml.replace(yaml.find("within: 60s"), 11, "within: 60s\n    scope: profile");
  rules(yaml);
  agent_shell(100);
  agent_shell(200);
  agent_shell(900, kOther);
  run(ev_open(100, "/home/dev/.aws/credentials"));
  auto other = ev_connect(900, "8.8.8.8", 443);
  other.hdr.profile_id = kOther;
  EXPECT_THAT(rule_ids(run(other)), ElementsAre("egress-not-allowed")) << "another profile";
  EXPECT_THAT(rule_ids(run(ev_connect(200, "8.8.8.8", 443))),
              UnorderedElementsAre("egress-not-allowed", "exfil"));
}

TEST_F(DetectorSequence, sees_fallback_findings_dropped_from_the_output)
{
  rules(kSequenceRules);
  agent_shell(100);
  run(ev_open(100, "/home/dev/.aws/credentials"));
  // The metadata rule reports the connect; egress-not-allowed (a fallback) is dropped from the
  // output but still completes the sequence.
  auto fs = run(ev_connect(100, "169.254.169.254", 80));
  EXPECT_THAT(rule_ids(fs), UnorderedElementsAre("egress-cloud-metadata", "exfil"));
}

TEST_F(DetectorSequence, set_rules_drops_pending_first_steps)
{
  trees();
  run(ev_open(101, "/home/dev/.aws/credentials"));
  rules(kSequenceRules);
  EXPECT_THAT(rule_ids(run(ev_connect(102, "8.8.8.8", 443))), ElementsAre("egress-not-allowed"));
}

TEST_F(DetectorSequence, exception_and_disabled_sequence)
{
  std::string yaml = kSequenceRules;
  yaml += "    exceptions:\n      - exe: [curl]\n";
  rules(yaml);
  agent_shell(100);
  spawn(101, 100, "/usr/bin/cat", {"cat"});
  spawn(102, 100, "/usr/bin/curl", {"curl"});
  spawn(103, 100, "/usr/bin/nc", {"nc"});
  run(ev_open(101, "/home/dev/.aws/credentials"));
  EXPECT_THAT(rule_ids(run(ev_connect(102, "8.8.8.8", 443))), ElementsAre("egress-not-allowed"))
      << "the sender is excepted";
  run(ev_open(101, "/home/dev/.aws/credentials"));
  EXPECT_THAT(rule_ids(run(ev_connect(103, "8.8.8.8", 443))),
              UnorderedElementsAre("egress-not-allowed", "exfil"));

  std::string off = kSequenceRules;
  off.replace(off.find("within: 60s"), 11, "within: 60s\n    enabled: false");
  rules(off);
  run(ev_open(101, "/home/dev/.aws/credentials"));
  EXPECT_THAT(rule_ids(run(ev_connect(103, "8.8.8.8", 443))), ElementsAre("egress-not-allowed"));
}

TEST_F(DetectorSequence, bounded_state_keeps_live_first_steps)
{
  Detector::Options o;
  o.homes = [](uint32_t) { return std::string("/home/dev"); };
  o.max_sequence_state = 2;
  det_ = std::make_unique<Detector>(std::move(o));
  det_->set_profile(kAgent, make_profile("agent"));
  std::string yaml = kSequenceRules;
  yaml.replace(yaml.find("within: 60s"), 11, "within: 60s\n    scope: process");
  rules(yaml);
  agent_shell(100);
  spawn(101, 100, "/usr/bin/python3", {"python3"});
  spawn(102, 100, "/usr/bin/python3", {"python3"});
  run(ev_open(101, "/home/dev/.aws/credentials"));
  run(ev_open(101, "/home/dev/.aws/credentials")); // refreshes 101's pending step
  run(ev_open(102, "/home/dev/.aws/credentials"));
  // Two pending steps (101 and 102) fit a bound of 2.
  EXPECT_THAT(rule_ids(run(ev_connect(101, "8.8.8.8", 443))),
              UnorderedElementsAre("egress-not-allowed", "exfil"));
  EXPECT_THAT(rule_ids(run(ev_connect(102, "8.8.8.8", 443))),
              UnorderedElementsAre("egress-not-allowed", "exfil"));
}

// ---------------------------------------------------------------------------------------------
// exec_context

const std::string kExecRules = R"(rules:
  - id: ld-preload
    description: preloaded library
    kind: exec_context
    severity: critical
    tags: [T1574.006]
    env: [LD_PRELOAD, LD_AUDIT]
    exceptions:
      - env: ["LD_PRELOAD=*libfakeroot*"]
  - id: git-env
    description: git with command or config from the environment
    kind: exec_context
    severity: critical
    tags: [T1059.004]
    exe: [git]
    env: [GIT_SSH_COMMAND, "GIT_CONFIG_*"]
    exceptions:
      - env: ["GIT_CONFIG_NOSYSTEM=*"]
  - id: env-oversized
    description: environment too large to scan
    kind: exec_context
    severity: warning
    tags: [T1027]
    env_truncated: true
    exceptions:
      - exe: [make]
)";

using DetectorExecContext = DetectorTest;

TEST_F(DetectorExecContext, watched_variable_fires_with_the_variables)
{
  rules(kExecRules);
  agent_shell();
  auto fs = spawn(101, 100, "/usr/bin/python3", {"python3", "x.py"},
                  {"PATH=/usr/bin", "LD_PRELOAD=/tmp/evil.so", "LD_AUDIT=/tmp/a.so"});
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].rule, "ld-preload");
  EXPECT_EQ(fs[0].kind, RuleKind::exec_context);
  EXPECT_THAT(fs[0].env, ElementsAre("LD_PRELOAD=/tmp/evil.so", "LD_AUDIT=/tmp/a.so"));
  EXPECT_TRUE(fs[0].detail.empty());
  EXPECT_THAT(spawn(102, 100, "/usr/bin/python3", {"python3"}, {"LD_PRELOADX=1", "XLD_PRELOAD=1"}),
              IsEmpty())
      << "names compare exactly";
}

TEST_F(DetectorExecContext, inherited_unchanged_does_not_fire_again)
{
  rules(kExecRules);
  agent_shell();
  EXPECT_THAT(rule_ids(spawn(101, 100, "/usr/bin/bash", {"bash"}, {"LD_PRELOAD=/tmp/evil.so"})),
              ElementsAre("ld-preload"))
      << "introduced here";
  EXPECT_THAT(spawn(102, 101, "/usr/bin/ls", {"ls"}, {"LD_PRELOAD=/tmp/evil.so"}), IsEmpty())
      << "inherited from the parent's image";
  EXPECT_THAT(run(ev_exec(101, 100, "/usr/bin/cat", {"cat"}, {"LD_PRELOAD=/tmp/evil.so"})),
              IsEmpty())
      << "the same process's previous image had it";
  auto changed = spawn(103, 101, "/usr/bin/ls", {"ls"}, {"LD_PRELOAD=/tmp/other.so"});
  ASSERT_EQ(changed.size(), 1u) << "a changed value is a new variable";
  EXPECT_THAT(changed[0].env, ElementsAre("LD_PRELOAD=/tmp/other.so"));
  auto added = spawn(104, 101, "/usr/bin/ls", {"ls"},
                     {"LD_PRELOAD=/tmp/evil.so", "LD_AUDIT=/tmp/audit.so"});
  ASSERT_EQ(added.size(), 1u);
  EXPECT_THAT(added[0].env, ElementsAre("LD_AUDIT=/tmp/audit.so")) << "only what is new";
}

TEST_F(DetectorExecContext, inherited_true_fires_on_every_exec)
{
  std::string yaml = kExecRules;
  yaml.replace(yaml.find("env: [LD_PRELOAD, LD_AUDIT]"), 27,
               "env: [LD_PRELOAD, LD_AUDIT]\n    inherited: true");
  rules(yaml);
  agent_shell();
  EXPECT_THAT(rule_ids(spawn(101, 100, "/usr/bin/bash", {"bash"}, {"LD_PRELOAD=/tmp/evil.so"})),
              ElementsAre("ld-preload"));
  auto fs = spawn(102, 101, "/usr/bin/ls", {"ls"}, {"LD_PRELOAD=/tmp/evil.so"});
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_THAT(fs[0].env, ElementsAre("LD_PRELOAD=/tmp/evil.so"));
}

TEST_F(DetectorExecContext, prefixes_and_exe_filter)
{
  rules(kExecRules);
  agent_shell();
  auto fs = spawn(101, 100, "/usr/bin/git", {"git", "fetch"},
                  {"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=core.sshCommand",
                   "GIT_CONFIG_VALUE_0=sh -c evil", "GIT_DIR=/tmp"});
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].rule, "git-env");
  EXPECT_THAT(fs[0].env, ElementsAre("GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=core.sshCommand",
                                     "GIT_CONFIG_VALUE_0=sh -c evil"));
  EXPECT_THAT(rule_ids(spawn(102, 100, "/usr/lib/git-core/git", {"git"},
                             {"GIT_SSH_COMMAND=ssh -o ProxyCommand=evil"})),
              ElementsAre("git-env"));
  EXPECT_THAT(spawn(103, 100, "/usr/bin/python3", {"python3"},
                    {"GIT_SSH_COMMAND=ssh -o ProxyCommand=evil"}),
              IsEmpty())
      << "exe: [git] only";
  EXPECT_THAT(spawn(104, 100, "/usr/bin/git", {"git"}, {"GIT_CONFIGX=1"}), IsEmpty())
      << "GIT_CONFIG_* needs the underscore";
}

TEST_F(DetectorExecContext, exception_env_globs_must_cover_every_variable)
{
  rules(kExecRules);
  agent_shell();
  EXPECT_THAT(spawn(101, 100, "/usr/bin/fakeroot-tcp", {"x"},
                    {"LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libfakeroot/libfakeroot-sysv.so"}),
              IsEmpty());
  auto fs = spawn(102, 100, "/usr/bin/x", {"x"},
                  {"LD_PRELOAD=/usr/lib/libfakeroot-sysv.so", "LD_AUDIT=/tmp/a.so"});
  ASSERT_EQ(fs.size(), 1u) << "LD_AUDIT is not excepted";
  EXPECT_THAT(fs[0].env,
              ElementsAre("LD_PRELOAD=/usr/lib/libfakeroot-sysv.so", "LD_AUDIT=/tmp/a.so"));
  EXPECT_THAT(spawn(103, 100, "/usr/bin/git", {"git"}, {"GIT_CONFIG_NOSYSTEM=1"}), IsEmpty());
  EXPECT_THAT(rule_ids(spawn(104, 100, "/usr/bin/git", {"git"},
                             {"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_COUNT=1"})),
              ElementsAre("git-env"));
}

TEST_F(DetectorExecContext, truncated_environment)
{
  rules(kExecRules);
  agent_shell();
  auto big = ev_exec(101, 100, "/usr/bin/python3", {"python3"}, {});
  std::get<pipeline::ExecBody>(big.body).env_truncated = true;
  auto fs = run(big);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].rule, "env-oversized");
  EXPECT_TRUE(fs[0].env.empty());
  EXPECT_THAT(fs[0].detail, HasSubstr("could not scan the whole environment"));

  auto by_make = ev_exec(102, 100, "/usr/bin/make", {"make"}, {});
  std::get<pipeline::ExecBody>(by_make.body).env_truncated = true;
  EXPECT_THAT(run(by_make), IsEmpty()) << "excepted by exe";

  EXPECT_THAT(spawn(103, 100, "/usr/bin/python3", {"python3"}), IsEmpty()) << "not truncated";

  // Truncated with a watched variable: the variable rule fires, and the truncation rule too.
  auto both = ev_exec(104, 100, "/usr/bin/python3", {"python3"}, {"LD_PRELOAD=/tmp/e.so"});
  std::get<pipeline::ExecBody>(both.body).env_truncated = true;
  EXPECT_THAT(rule_ids(run(both)), UnorderedElementsAre("ld-preload", "env-oversized"));
}

TEST_F(DetectorExecContext, variable_set_by_a_non_matching_parent_image)
{
  rules(kExecRules);
  agent_shell();
  EXPECT_THAT(spawn(101, 100, "/usr/bin/sh", {"sh", "-c", "git fetch"},
                    {"GIT_SSH_COMMAND=sh -c evil"}),
              IsEmpty())
      << "sh is not git";
  EXPECT_THAT(rule_ids(spawn(102, 101, "/usr/bin/git", {"git", "fetch"},
                             {"GIT_SSH_COMMAND=sh -c evil"})),
              ElementsAre("git-env"))
      << "git runs with a command override no rule has reported";
}

// ---------------------------------------------------------------------------------------------
// process

const std::string kProcessRules = R"(rules:
  - id: shell-in-package-install
    description: shell spawned by a package manager's install script
    kind: process
    severity: notice
    tags: [T1195.002]
    exe: [sh, bash]
    ancestor:
      args: ["*npm* install*", "*pip install *"]
    exceptions:
      - args: ["*node-gyp*"]
  - id: shell-from-node
    description: shell started by node
    kind: process
    severity: warning
    tags: [T1059]
    exe: [sh]
    parent: {exe: [node]}
  - id: netcat
    description: netcat
    kind: process
    severity: warning
    tags: [T1095]
    args: ["nc *", "ncat *"]
    exceptions:
      - args: ["* -z *"]
)";

using DetectorProcess = DetectorTest;

TEST_F(DetectorProcess, ancestor_args_and_parent)
{
  rules(kProcessRules);
  agent_shell();
  spawn(101, 100, "/usr/bin/node", {"node", "/usr/lib/node_modules/npm/bin/npm-cli.js", "install"});
  auto fs = spawn(102, 101, "/usr/bin/sh", {"sh", "-c", "node install.js"});
  EXPECT_THAT(rule_ids(fs), UnorderedElementsAre("shell-in-package-install", "shell-from-node"));
  const Finding *f = find_rule(fs, "shell-in-package-install");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->kind, RuleKind::process);
  EXPECT_EQ(f->severity, policy::Severity::notice);

  EXPECT_THAT(rule_ids(spawn(103, 102, "/bin/bash", {"bash", "x.sh"})),
              ElementsAre("shell-in-package-install"))
      << "npm is a grandparent; the parent is sh";
  EXPECT_THAT(rule_ids(spawn(104, 101, "/usr/bin/sh", {"sh", "-c", "node-gyp rebuild"})),
              ElementsAre("shell-from-node"))
      << "excepted by args from one rule only";
  EXPECT_THAT(spawn(105, 100, "/usr/bin/sh", {"sh"}), IsEmpty()) << "no npm install above";
  EXPECT_THAT(spawn(106, 100, "/usr/bin/bash", {"bash", "-c", "npm install"}), IsEmpty())
      << "the process itself is not its own ancestor";
  EXPECT_THAT(spawn(107, 101, "/usr/bin/python3", {"python3"}), IsEmpty()) << "not a shell";
}

// The launcher outside the agent (`vigil run -- bash -c 'npm install x'`) carries the agent's
// command line in its own: it is no ancestor the rules look at. Ancestors inside the agent are.
TEST_F(DetectorProcess, ancestors_end_at_the_agents_root)
{
  rules(kProcessRules);
  spawn(50, 1, "/usr/bin/vigil", {"vigil", "run", "--", "bash", "-c", "npm install x"}, {}, 0);
  EXPECT_THAT(spawn(60, 50, "/usr/bin/bash", {"bash", "-c", "npm install x"}), IsEmpty());
  EXPECT_THAT(spawn(61, 50, "/usr/bin/sh", {"sh", "-c", "true"}), IsEmpty())
      << "only the launcher above runs npm install";
  EXPECT_THAT(rule_ids(spawn(62, 60, "/usr/bin/sh", {"sh", "-c", "node x"})),
              ElementsAre("shell-in-package-install"))
      << "bash (in the agent) runs npm install above it";
}

TEST_F(DetectorProcess, args_only_rule_with_exception)
{
  rules(kProcessRules);
  agent_shell();
  EXPECT_THAT(rule_ids(spawn(101, 100, "/usr/bin/nc", {"nc", "-l", "4444"})),
              ElementsAre("netcat"));
  EXPECT_THAT(spawn(102, 100, "/usr/bin/nc", {"nc", "-z", "example.com", "443"}), IsEmpty());
  EXPECT_THAT(spawn(103, 100, "/usr/bin/nc", {"nc"}), IsEmpty()) << "'nc *' needs an argument";
}

TEST_F(DetectorProcess, process_rules_look_only_at_exec)
{
  rules(kProcessRules);
  agent_shell();
  spawn(101, 100, "/usr/bin/nc", {"nc", "-l", "4444"});
  EXPECT_THAT(run(ev_open(101, "/etc/hosts")), IsEmpty());
  EXPECT_THAT(run(ev_fork(101, 102)), IsEmpty());
}

// ---------------------------------------------------------------------------------------------
// the kernel's decisions: process_access, ipc, raw_socket

const std::string kKernelRules = R"(rules:
  - id: foreign-process-access
    description: access to a process outside the agent
    kind: process_access
    severity: critical
    tags: [T1055.008]
    exceptions:
      - exe: [ps, top]
  - id: ipc-not-allowed
    description: side channel served from outside the agent
    kind: ipc
    severity: error
    tags: [T1559]
    exceptions:
      - paths: [/dev/log, /run/systemd/journal/socket]
  - id: raw-socket
    description: raw socket
    kind: raw_socket
    severity: error
    tags: [T1040]
    exceptions:
      - exe: [ping]
  - id: egress-not-allowed
    description: outside
    kind: egress
    severity: error
    match: outside_allowlist
)";

using DetectorKernel = DetectorTest;

TEST_F(DetectorKernel, process_access_with_exception)
{
  rules(kKernelRules);
  agent_shell();
  auto fs = run(ev_ptrace(100, Verdict::deny));
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].rule, "foreign-process-access");
  EXPECT_EQ(fs[0].kind, RuleKind::process_access);
  EXPECT_THAT(rule_ids(run(ev_ptrace(100, Verdict::audit))), ElementsAre("foreign-process-access"));
  EXPECT_THAT(run(ev_ptrace(100, Verdict::none)), IsEmpty()) << "only the kernel reports these";
  spawn(101, 100, "/usr/bin/ps", {"ps", "aux"});
  EXPECT_THAT(run(ev_ptrace(101, Verdict::deny)), IsEmpty()) << "ps is excepted";
}

TEST_F(DetectorKernel, ipc_from_fifo_and_unix_socket)
{
  rules(kKernelRules);
  agent_shell();
  auto fifo = ev_open(100, "/run/user/1000/agent.fifo");
  std::get<pipeline::OpenBody>(fifo.body).ipc = true;
  fifo.hdr.verdict = Verdict::deny;
  auto fs = run(fifo);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].rule, "ipc-not-allowed");
  EXPECT_EQ(fs[0].path, "/run/user/1000/agent.fifo");

  auto sock = ev_connect(100, "::", 0);
  auto &b = std::get<pipeline::ConnectBody>(sock.body);
  b.family = 1;
  b.ipc = true;
  b.unix_path = "/run/docker.sock";
  sock.hdr.verdict = Verdict::audit;
  auto sf = run(sock);
  EXPECT_THAT(rule_ids(sf), ElementsAre("ipc-not-allowed")) << "and no egress finding";
  ASSERT_EQ(sf.size(), 1u);
  EXPECT_EQ(sf[0].path, "/run/docker.sock");

  auto journal = ev_connect(100, "::", 0);
  auto &l = std::get<pipeline::ConnectBody>(journal.body);
  l.family = 1;
  l.ipc = true;
  l.unix_path = "/dev/log";
  journal.hdr.verdict = Verdict::deny;
  EXPECT_THAT(run(journal), IsEmpty()) << "excepted by path";

  auto undecided = ev_open(100, "/run/user/1000/agent.fifo");
  std::get<pipeline::OpenBody>(undecided.body).ipc = true;
  EXPECT_THAT(run(undecided), IsEmpty()) << "no kernel decision";
}

TEST_F(DetectorKernel, raw_socket_with_exception)
{
  rules(kKernelRules);
  agent_shell();
  EXPECT_THAT(rule_ids(run(ev_socket(100, Verdict::deny))), ElementsAre("raw-socket"));
  EXPECT_THAT(run(ev_socket(100, Verdict::none)), IsEmpty());
  spawn(101, 100, "/usr/bin/ping", {"ping", "-c1", "10.0.0.1"});
  EXPECT_THAT(run(ev_socket(101, Verdict::deny)), IsEmpty()) << "ping is excepted";
  spawn(102, 100, "/usr/bin/python3", {"python3", "scapy.py"});
  EXPECT_THAT(rule_ids(run(ev_socket(102, Verdict::audit))), ElementsAre("raw-socket"));
}

// ---------------------------------------------------------------------------------------------
// which rules apply

using DetectorRules = DetectorTest;

TEST_F(DetectorRules, profiles_and_enabled)
{
  rules(R"(rules:
  - id: only-other
    description: applies to the other profile only
    kind: raw_socket
    severity: error
    profiles: [other]
  - id: off
    description: disabled
    kind: raw_socket
    severity: error
    enabled: false
  - id: everywhere
    description: every profile
    kind: raw_socket
    severity: error
)");
  agent_shell(100, kAgent);
  agent_shell(900, kOther);
  EXPECT_THAT(rule_ids(run(ev_socket(100, Verdict::deny))), ElementsAre("everywhere"));
  auto other = ev_socket(900, Verdict::deny);
  other.hdr.profile_id = kOther;
  auto fs = run(other);
  EXPECT_THAT(rule_ids(fs), UnorderedElementsAre("only-other", "everywhere"));
  for (const auto &f : fs)
    EXPECT_EQ(f.profile_id, kOther);
}

TEST_F(DetectorRules, unknown_or_removed_profile_gives_nothing)
{
  rules(kKernelRules);
  agent_shell();
  auto unknown = ev_socket(100, Verdict::deny);
  unknown.hdr.profile_id = 99;
  EXPECT_THAT(run(unknown), IsEmpty());
  EXPECT_THAT(rule_ids(run(ev_socket(100, Verdict::deny))), ElementsAre("raw-socket"));
  det_->remove_profile(kAgent);
  EXPECT_EQ(det_->profile(kAgent), nullptr);
  EXPECT_THAT(run(ev_socket(100, Verdict::deny)), IsEmpty());
  ASSERT_NE(det_->profile(kOther), nullptr);
  EXPECT_EQ(det_->profile(kOther)->name, "other");
}

TEST_F(DetectorRules, set_rules_replaces_the_set)
{
  rules(kKernelRules);
  agent_shell();
  EXPECT_EQ(det_->rules().rules.size(), 4u);
  EXPECT_THAT(rule_ids(run(ev_socket(100, Verdict::deny))), ElementsAre("raw-socket"));
  rules(kProcessRules);
  EXPECT_EQ(det_->rules().rules.size(), 3u);
  EXPECT_THAT(run(ev_socket(100, Verdict::deny)), IsEmpty());
  det_->set_rules(policy::RuleSet{});
  EXPECT_THAT(spawn(101, 100, "/usr/bin/nc", {"nc", "-l", "1"}), IsEmpty());
}

TEST_F(DetectorRules, shipped_packs_on_a_typical_agent)
{
  auto set = policy::load_rules({VG_SOURCE_DIR "/rules"});
  ASSERT_TRUE(set) << set.error().message();
  det_->set_rules(std::move(*set));
  agent_shell();
  spawn(101, 100, "/usr/bin/cat", {"cat", "/home/dev/.aws/credentials"});
  ts_ = kStart + 100 * kSec;
  EXPECT_THAT(rule_ids(run(ev_open(101, "/home/dev/.aws/credentials"))), ElementsAre("cred-aws"));
  EXPECT_THAT(run(ev_open(101, "/home/dev/.ssh/id_ed25519.pub")), IsEmpty());
  spawn(102, 100, "/usr/bin/curl", {"curl", "http://169.254.169.254/"});
  ts_ = kStart + 110 * kSec;
  auto fs = run(ev_connect(102, "169.254.169.254", 80));
  EXPECT_THAT(rule_ids(fs),
              UnorderedElementsAre("egress-cloud-metadata", "exfil-credential-then-egress"));
  spawn(103, 100, "/usr/bin/git", {"git", "fetch"}, {"GIT_SSH_COMMAND=sh -c evil"});
  EXPECT_THAT(rule_ids(spawn(104, 100, "/usr/bin/git", {"git", "fetch"},
                             {"GIT_SSH_COMMAND=ssh -i /home/dev/.ssh/deploy"})),
              ElementsAre("exec-git-ssh-command"));
  // git exports its built-in exec path to the helpers it runs (a clone's git-remote-http):
  // no override. Any other path is one, and the default beside a real override still alerts.
  EXPECT_THAT(spawn(105, 100, "/usr/lib/git-core/git-remote-http",
                    {"git-remote-http", "origin", "http://127.0.0.5/r.git"},
                    {"GIT_EXEC_PATH=/usr/lib/git-core"}),
              IsEmpty());
  EXPECT_THAT(rule_ids(spawn(106, 100, "/usr/bin/git", {"git", "status"},
                             {"GIT_EXEC_PATH=/tmp/evil"})),
              ElementsAre("exec-git-ssh-command"));
  EXPECT_THAT(rule_ids(spawn(107, 100, "/usr/bin/git", {"git", "fetch"},
                             {"GIT_EXEC_PATH=/usr/lib/git-core", "GIT_SSH_COMMAND=sh -c evil"})),
              ElementsAre("exec-git-ssh-command"));
}

// ---------------------------------------------------------------------------------------------
// hostile input: names that are not text, and tables an agent grows

namespace hostile {

// Every JSON string in the file is valid UTF-8: nlohmann parses only that (strict by default).
nlohmann::json parse_file(const std::string &path)
{
  return nlohmann::json::parse(read_all(path), nullptr, false);
}

std::array<uint8_t, 16> v4(uint32_t n)
{
  std::array<uint8_t, 16> a{};
  a[10] = a[11] = 0xff;
  a[12] = static_cast<uint8_t>(n >> 24);
  a[13] = static_cast<uint8_t>(n >> 16);
  a[14] = static_cast<uint8_t>(n >> 8);
  a[15] = static_cast<uint8_t>(n);
  return a;
}

} // namespace hostile

using DetectorHostile = DetectorTest;

// An executable whose file name is not UTF-8 connects: the baseline save used to throw
// (nlohmann's dump of invalid UTF-8) on the engine's worker thread, which ended the daemon.
TEST_F(DetectorHostile, baseline_with_an_invalid_utf8_exe_saves_and_round_trips)
{
  TempDir state;
  make_detector(state.path());
  rules(kNewDestination);
  agent_shell();
  const std::string exe = "/tmp/\xff\xfe\n vigil: INFO fake\x1b[31m";
  spawn(101, 100, exe, {"x"});
  ts_ = kStart + 10 * kSec;
  EXPECT_THAT(run(ev_connect(101, "1.1.1.1", 443)), IsEmpty()) << "learning";
  EXPECT_NO_THROW(det_->flush());
  const std::string file = state.path() + "/baseline/agent.json";
  nlohmann::json j = hostile::parse_file(file);
  ASSERT_FALSE(j.is_discarded()) << read_all(file);
  ASSERT_EQ(j.at("entries").size(), 1u);
  EXPECT_FALSE(j.at("entries")[0].contains("exe"));
  EXPECT_EQ(j.at("entries")[0].at("exe_hex"), to_hex(exe));

  // A restart reads the name back byte for byte: the tuple is known, not new.
  make_detector(state.path());
  ts_ = kStart + 30 * kSec;
  EXPECT_THAT(run(ev_connect(101, "1.1.1.1", 443)), IsEmpty()) << "known from the file";
  auto fresh = run(ev_connect(101, "9.9.9.9", 443));
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_NO_THROW(det_->flush());
  nlohmann::json k = hostile::parse_file(file);
  ASSERT_FALSE(k.is_discarded()) << read_all(file);
  EXPECT_EQ(k.at("entries").size(), 2u);
}

TEST(BaselineBound, a_flood_of_new_destinations_stays_at_the_bound)
{
  TempDir state;
  const std::string file = state.path() + "/b.json";
  const uint64_t learning = 10 * kSec, t0 = 1'000 * kSec;
  Baseline b(file);
  // Learned: what the agent used while learning.
  for (uint32_t i = 0; i < 100; ++i)
    EXPECT_EQ(b.observe("/usr/bin/curl", hostile::v4(i), 443, t0, learning),
              Baseline::Seen::learning);
  const uint64_t after = t0 + 2 * learning;
  uint32_t n = 0;
  for (; n < 2 * Baseline::kMaxEntries; ++n)
    b.observe("/tmp/x" + std::to_string(n % 7), hostile::v4(1'000'000 + n), 443, after, learning);
  const size_t heap = test::heap_in_use();
  for (; n < 1'000'000; ++n)
    EXPECT_EQ(b.observe("/tmp/x" + std::to_string(n % 7), hostile::v4(1'000'000 + n), 443, after,
                        learning),
              Baseline::Seen::fresh);
  EXPECT_EQ(b.size(), Baseline::kMaxEntries);
  EXPECT_EQ(b.evictions(), 1'000'000u + 100u - Baseline::kMaxEntries);
  const size_t now = test::heap_in_use();
  EXPECT_LT(now > heap ? now - heap : 0, 2u << 20) << "heap " << heap << " -> " << now;
  // The flood pushed out flood entries, never the learned baseline.
  for (uint32_t i = 0; i < 100; ++i)
    EXPECT_EQ(b.observe("/usr/bin/curl", hostile::v4(i), 443, after, learning),
              Baseline::Seen::known);
  EXPECT_EQ(b.observe("/tmp/x" + std::to_string((n - 1) % 7), hostile::v4(1'000'000 + n - 1), 443,
                      after, learning),
            Baseline::Seen::known)
      << "the newest stay";
  b.save();
  Baseline again(file);
  EXPECT_EQ(again.size(), Baseline::kMaxEntries) << "the file holds what the bound kept";
  EXPECT_EQ(again.observe("/usr/bin/curl", hostile::v4(7), 443, after, learning),
            Baseline::Seen::known);
}

// Long executable names (the kernel reports up to 4 KiB): the bytes bound holds before the count.
TEST(BaselineBound, long_names_are_bounded_by_bytes)
{
  Baseline b("", Baseline::kMaxEntries, 1u << 20);
  const std::string dir = "/tmp/" + std::string(4000, 'd') + "/";
  for (uint32_t n = 0; n < 20'000; ++n)
    b.observe(dir + std::to_string(n), hostile::v4(n), 443, 1000 * kSec, kSec);
  EXPECT_LT(b.size(), 300u) << "about 1 MiB of 4 KiB names";
  EXPECT_GT(b.size(), 200u);
  EXPECT_EQ(b.evictions(), 20'000u - b.size());
}

// A baseline that cannot be written (a full disk, a file where its directory should be): save()
// neither throws nor gives up the state; the failure is counted, and a later save succeeds.
TEST(BaselineSave, a_failed_write_is_counted_and_retried)
{
  TempDir state;
  const std::string blocker = state.path() + "/baseline";
  { std::ofstream(blocker) << "not a directory"; }
  Baseline b(blocker + "/agent.json");
  b.observe("/tmp/\xff", hostile::v4(1), 443, 1000 * kSec, kSec);
  EXPECT_NO_THROW(b.save());
  EXPECT_NO_THROW(b.save());
  EXPECT_EQ(b.save_errors(), 2u);
  std::filesystem::remove(blocker);
  b.save();
  EXPECT_EQ(b.save_errors(), 2u);
  Baseline again(blocker + "/agent.json");
  EXPECT_EQ(again.observe("/tmp/\xff", hostile::v4(1), 443, 1001 * kSec, kSec),
            Baseline::Seen::known);
}

// An agent under the volume threshold sends to ever new destinations: every window used to be
// kept (only an alert pruned them).
TEST_F(DetectorHostile, volume_windows_of_millions_of_destinations_stay_bounded)
{
  rules(kVolume);
  agent_shell();
  const size_t bound = Detector::Options().max_volume_state;
  auto send = [&](uint32_t n) {
    pipeline::Event ev = base(pipeline::EventType::egress_volume, 100);
    pipeline::VolumeBody b;
    b.addr = hostile::v4(0x0b000000u + n);
    b.port = static_cast<uint16_t>(1 + n % 60000);
    b.proto = 6;
    b.bytes = 10;
    ev.body = b;
    return run(std::move(ev));
  };
  uint32_t n = 0;
  for (; n < 2 * bound; ++n)
    send(n);
  const size_t heap = test::heap_in_use();
  constexpr uint32_t kTotal = 1'500'000;
  for (; n < kTotal; ++n)
    ASSERT_THAT(send(n), IsEmpty());
  const Detector::Stats s = det_->stats();
  EXPECT_EQ(s.volume.size, bound);
  EXPECT_EQ(s.volume.evictions, kTotal - bound);
  const size_t now = test::heap_in_use();
  EXPECT_LT(now > heap ? now - heap : 0, 8u << 20) << "heap " << heap << " -> " << now;
  // Recent windows still count: the newest destination goes over the threshold.
  n = kTotal - 1;
  pipeline::Event ev = base(pipeline::EventType::egress_volume, 100);
  pipeline::VolumeBody b;
  b.addr = hostile::v4(0x0b000000u + n);
  b.port = static_cast<uint16_t>(1 + n % 60000);
  b.proto = 6;
  b.bytes = 995;
  ev.body = b;
  EXPECT_THAT(rule_ids(run(std::move(ev))), ElementsAre("egress-volume"));
}

// First steps of a sequence from a quarter million processes (each looked up in /proc): the
// oldest go, and are counted.
TEST_F(DetectorHostile, sequence_state_of_many_processes_stays_bounded)
{
  Detector::Options o;
  o.homes = [](uint32_t) { return std::string("/home/dev"); };
  o.max_sequence_state = 4096;
  det_ = std::make_unique<Detector>(std::move(o));
  det_->set_profile(kAgent, make_profile("agent"));
  std::string yaml = kSequenceRules;
  yaml.replace(yaml.find("within: 60s"), 11, "within: 60s\n    scope: process");
  rules(yaml);
  agent_shell(100);
  uint32_t pid = 1000;
  for (; pid < 1000 + 2 * 4096; ++pid)
    run(ev_open(pid, "/home/dev/.aws/credentials"));
  const size_t heap = test::heap_in_use();
  constexpr uint32_t kEnd = 1000 + 250'000;
  for (; pid < kEnd; ++pid)
    run(ev_open(pid, "/home/dev/.aws/credentials"));
  const Detector::Stats s = det_->stats();
  EXPECT_EQ(s.sequence.size, 4096u);
  EXPECT_EQ(s.sequence.evictions, 250'000u - 4096u);
  const size_t now = test::heap_in_use();
  EXPECT_LT(now > heap ? now - heap : 0, 8u << 20) << "heap " << heap << " -> " << now;
  EXPECT_THAT(rule_ids(run(ev_connect(kEnd - 1, "8.8.8.8", 443))),
              UnorderedElementsAre("egress-not-allowed", "exfil"))
      << "the newest first step is kept";
  EXPECT_THAT(rule_ids(run(ev_connect(1000, "8.8.8.8", 443))), ElementsAre("egress-not-allowed"))
      << "the oldest was pushed out";
}

} // namespace
} // namespace vigil::detect

// ---------------------------------------------------------------------------------------------
// persistence_write

namespace vigil::detect {
namespace {

const std::string kPersistRules = R"(rules:
  - id: persist-shell-startup
    description: shell start-up file written
    kind: persistence_write
    severity: critical
    tags: [T1546.004]
    paths: [~/.bashrc]
  - id: persist-git-hook
    description: git hook written
    kind: persistence_write
    severity: critical
    tags: [T1546]
    paths: ["/**/.git/hooks/*"]
    exceptions:
      - paths: ["*.sample"]
  - id: egress-not-allowed
    description: outside
    kind: egress
    severity: error
    tags: [T1041]
    match: outside_allowlist
    fallback: true
  - id: exfil
    description: credential read or persistence write then egress
    kind: sequence
    severity: critical
    tags: [T1041]
    first: {kinds: [credential_read, persistence_write]}
    then: {rules: [egress-not-allowed]}
    within: 60s
)";

using DetectorPersistence = DetectorTest;

pipeline::Event with_flags(pipeline::Event ev, uint32_t flags)
{
  std::get<pipeline::OpenBody>(ev.body).flags = flags;
  return ev;
}

TEST_F(DetectorPersistence, refused_and_allowed_writes_alert_reads_and_other_failures_do_not)
{
  rules(kPersistRules);
  agent_shell();
  const std::string rc = "/home/dev/.bashrc";
  // Refused by a read-only bind: one finding naming the file.
  auto fs = run(with_flags(ev_open(100, rc, -EROFS), O_WRONLY | O_APPEND));
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].rule, "persist-shell-startup");
  EXPECT_EQ(fs[0].path, rc);
  EXPECT_EQ(fs[0].kind, RuleKind::persistence_write);
  // Allowed (audit mode): alerted too.
  EXPECT_THAT(rule_ids(run(with_flags(ev_open(100, rc, 3), O_WRONLY | O_TRUNC))),
              ElementsAre("persist-shell-startup"));
  // A read is not a write; a failure that wrote nothing is not an attempt on the file.
  EXPECT_THAT(run(with_flags(ev_open(100, rc, 3), O_RDONLY)), IsEmpty());
  EXPECT_THAT(run(with_flags(ev_open(100, rc, -ENOENT), O_WRONLY | O_CREAT)), IsEmpty());
  // Hooks of any repository; git init's samples are not hooks.
  EXPECT_THAT(rule_ids(run(with_flags(ev_open(100, "/src/p/.git/hooks/pre-commit", -EROFS),
                                      O_WRONLY | O_CREAT))),
              ElementsAre("persist-git-hook"));
  EXPECT_THAT(run(with_flags(ev_open(100, "/src/p/.git/hooks/pre-commit.sample", 3),
                             O_WRONLY | O_CREAT)),
              IsEmpty());
}

pipeline::Event with_call(pipeline::Event ev, pipeline::OpenCall call)
{
  std::get<pipeline::OpenBody>(ev.body).call = call;
  std::get<pipeline::OpenBody>(ev.body).flags = 0;
  return ev;
}

TEST_F(DetectorPersistence, changes_of_the_name_itself_alert_whatever_the_open_flags)
{
  rules(kPersistRules);
  agent_shell();
  using pipeline::OpenCall;
  for (OpenCall call : {OpenCall::link, OpenCall::rename, OpenCall::unlink, OpenCall::chmod,
                        OpenCall::chown, OpenCall::symlink, OpenCall::mknod, OpenCall::truncate}) {
    auto fs = run(with_call(ev_open(100, "/home/dev/.bashrc", -EPERM), call));
    ASSERT_EQ(fs.size(), 1u) << pipeline::to_string(call);
    EXPECT_EQ(fs[0].rule, "persist-shell-startup");
  }
  // A plain open without write flags stays a read.
  EXPECT_THAT(run(with_call(ev_open(100, "/home/dev/.bashrc", 3), OpenCall::openat)), IsEmpty());
}

TEST_F(DetectorPersistence, a_persistence_write_then_egress_is_the_exfil_sequence)
{
  rules(kPersistRules);
  agent_shell(100);
  spawn(101, 100, "/usr/bin/sh", {"sh"});
  spawn(102, 100, "/usr/bin/curl", {"curl"});
  EXPECT_THAT(rule_ids(run(with_flags(ev_open(101, "/home/dev/.bashrc", -EROFS), O_WRONLY))),
              ElementsAre("persist-shell-startup"));
  EXPECT_THAT(rule_ids(run(ev_connect(102, "8.8.8.8", 443))),
              UnorderedElementsAre("egress-not-allowed", "exfil"));
}

// A path each pattern matches ("~/" in kDev's home, wildcards filled in), and one below it.
std::vector<std::string> paths_of(const std::vector<policy::Rule> &rules)
{
  std::vector<std::string> out = {"/home/dev/project/src/main.cpp", "/usr/lib/libc.so.6",
                                  "/home/dev/project/.git/HEAD", "/proc/self/status", "/"};
  for (const auto &r : rules)
    for (const std::string &pattern : r.paths) {
      std::string p = pattern.starts_with("~/") ? "/home/dev" + pattern.substr(1) : pattern;
      if (p.front() != '/')
        p = "/home/dev/project/" + p;
      std::string filled;
      for (size_t i = 0; i < p.size(); ++i) {
        if (p[i] == '*' && i + 1 < p.size() && p[i + 1] == '*') {
          filled += "d1/d2";
          ++i;
        } else if (p[i] == '*' || p[i] == '?') {
          filled += 'x';
        } else if (p[i] == '[') {
          const size_t close = p.find(']', i + 2);
          filled += close == std::string::npos ? '[' : p[i + 1];
          i = close == std::string::npos ? i : close;
        } else {
          filled += p[i];
        }
      }
      out.push_back(filled);
      out.push_back(filled + "/inner");
    }
  return out;
}

// An open visits only the path rules that can fire (open_skips: one question to the path index
// per kind): over the shipped packs, for paths made from their patterns and opens of every kind,
// the findings are those of a detector that visits every rule.
TEST_F(DetectorPersistence, skipping_unmatched_path_rules_changes_no_finding)
{
  auto loaded = policy::load_rules({VG_SOURCE_DIR "/rules"});
  ASSERT_TRUE(loaded) << loaded.error().message();
  const std::vector<std::string> paths = paths_of(loaded->rules);
  auto every = another_detector("", false);
  every->set_rules(*loaded);
  det_->set_rules(std::move(*loaded));
  agent_shell();

  using pipeline::OpenCall;
  struct Variant {
    int64_t ret;
    uint32_t flags;
    OpenCall call;
    Verdict verdict;
    bool persist;
  };
  const Variant variants[] = {
      {3, O_RDONLY, OpenCall::openat, Verdict::none, false},
      {-ENOENT, O_RDONLY, OpenCall::openat, Verdict::none, false},
      {-EACCES, O_RDONLY, OpenCall::openat, Verdict::none, false},
      {-EPERM, O_RDONLY, OpenCall::openat, Verdict::deny, false},
      {3, O_WRONLY | O_CREAT, OpenCall::openat, Verdict::none, false},
      {-EROFS, O_WRONLY | O_TRUNC, OpenCall::openat, Verdict::none, false},
      {-ENOENT, O_WRONLY | O_CREAT, OpenCall::openat, Verdict::none, false},
      {0, 0, OpenCall::rename, Verdict::none, false},
      {-EPERM, O_WRONLY, OpenCall::openat, Verdict::deny, true},
      {-EPERM, 0, OpenCall::unlink, Verdict::audit, false},
  };
  size_t fired = 0;
  for (const auto &path : paths)
    for (const Variant &v : variants) {
      pipeline::Event ev = ev_open(100, path, v.ret);
      auto &o = std::get<pipeline::OpenBody>(ev.body);
      o.flags = v.flags;
      o.call = v.call;
      o.persist = v.persist;
      ev.hdr.verdict = v.verdict;
      ev.hdr.tier = pipeline::Tier::lsm;
      det_->normalize(ev);
      const std::vector<Finding> all = run(ev);
      std::vector<Finding> each;
      every->evaluate(ev, *procs_, each);
      ASSERT_EQ(rule_ids(all), rule_ids(each))
          << path << " ret " << v.ret << " flags " << v.flags << " call "
          << pipeline::to_string(v.call);
      for (size_t i = 0; i < all.size(); ++i) {
        EXPECT_EQ(all[i].path, each[i].path) << path;
        EXPECT_EQ(all[i].pattern, each[i].pattern) << path;
        EXPECT_EQ(all[i].detail, each[i].detail) << path;
      }
      fired += !all.empty();
    }
  // The corpus reaches the rules, not only the quiet opens.
  EXPECT_GT(fired, paths.size());

  // Rules that need the profile's verdict are skipped without one: connects, ptrace and
  // sockets, with and without a verdict, find the same.
  std::vector<pipeline::Event> others;
  for (const char *addr : {"10.1.2.3", "8.8.8.8", "140.82.112.4", "::1", "2001:db8::1"})
    for (uint16_t port : {0, 53, 443, 8080})
      others.push_back(ev_connect(100, addr, port));
  for (Verdict v : {Verdict::none, Verdict::deny, Verdict::audit}) {
    others.push_back(ev_ptrace(100, v));
    others.push_back(ev_socket(100, v));
    pipeline::Event denied = ev_connect(100, "1.1.1.1", 443);
    denied.hdr.verdict = v;
    others.push_back(denied);
  }
  size_t others_fired = 0;
  for (auto &ev : others) {
    const std::vector<Finding> all = run(ev);
    std::vector<Finding> each;
    every->evaluate(ev, *procs_, each);
    ASSERT_EQ(rule_ids(all), rule_ids(each)) << pipeline::to_string(ev.hdr.type);
    others_fired += !all.empty();
  }
  EXPECT_GT(others_fired, 5u);
}

} // namespace
} // namespace vigil::detect
