// SPDX-License-Identifier: Apache-2.0
// Matcher with the shipped default profile and fake directory/home resolvers: which opens and
// connects raise a finding and which do not.

#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "detect/matcher.h"
#include "policy/profile.h"

namespace vigil::detect {
namespace {

constexpr uint32_t kProfileId = 1;
constexpr uint32_t kDevUid = 1000;
constexpr int32_t kAtFdcwd = -100;

class MatcherTest : public ::testing::Test {
protected:
  void SetUp() override
  {
    auto p = policy::load_profile(VG_SOURCE_DIR "/rules/profiles/default.yaml");
    ASSERT_TRUE(p) << p.error().message();
    matcher_.set_profile(kProfileId, std::move(*p));
  }

  // cwd of every process is /home/dev/project; fd 7 refers to /etc; other fds are unknown.
  std::string dir_of(uint32_t pid, int32_t dfd)
  {
    dir_calls_.emplace_back(pid, dfd);
    if (dfd == kAtFdcwd)
      return "/home/dev/project";
    if (dfd == 7)
      return "/etc";
    return {};
  }

  static std::string home_of(uint32_t uid)
  {
    if (uid == kDevUid)
      return "/home/dev";
    if (uid == 0)
      return "/root";
    return {};
  }

  std::optional<PolicyHit> open(std::string path, int64_t ret = 3, bool resolved = true,
                              uint32_t uid = kDevUid, int32_t dfd = kAtFdcwd,
                              uint32_t profile_id = kProfileId)
  {
    pipeline::Event ev;
    ev.hdr.type = pipeline::EventType::open;
    ev.hdr.tgid = 4242;
    ev.hdr.uid = uid;
    ev.hdr.profile_id = profile_id;
    pipeline::OpenBody b;
    b.ret = ret;
    b.dfd = dfd;
    b.call = pipeline::OpenCall::openat;
    b.resolved = resolved;
    b.path = std::move(path);
    ev.body = std::move(b);
    return matcher_.match(ev);
  }

  std::optional<PolicyHit> connect(std::string_view ip, uint16_t port, uint16_t family = 0,
                                 pipeline::Verdict verdict = pipeline::Verdict::none)
  {
    pipeline::Event ev;
    ev.hdr.type = pipeline::EventType::connect;
    ev.hdr.verdict = verdict;
    ev.hdr.tgid = 4242;
    ev.hdr.uid = kDevUid;
    ev.hdr.profile_id = kProfileId;
    pipeline::ConnectBody b;
    auto addr = policy::parse_ip(ip);
    EXPECT_TRUE(addr) << ip;
    b.addr = addr.value_or(std::array<uint8_t, 16>{});
    b.family = family ? family : (ip.find(':') == std::string_view::npos ? 2 : 10);
    b.port = port;
    b.ret = -115;
    ev.body = std::move(b);
    return matcher_.match(ev);
  }

  std::vector<std::pair<uint32_t, int32_t>> dir_calls_;
  Matcher matcher_{[this](uint32_t pid, int32_t dfd) { return dir_of(pid, dfd); }, home_of};
};

TEST_F(MatcherTest, reports_resolved_credential_open)
{
  auto f = open("/home/dev/.aws/credentials");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->rule, kRuleCredentialRead);
  EXPECT_EQ(f->severity, policy::Severity::critical);
  EXPECT_EQ(f->profile_id, kProfileId);
  EXPECT_EQ(f->path, "/home/dev/.aws/credentials");
  EXPECT_EQ(f->pattern, "~/.aws/credentials");
  EXPECT_TRUE(dir_calls_.empty()) << "an absolute path needs no directory";
}

TEST_F(MatcherTest, reports_absolute_paths_and_globs)
{
  auto shadow = open("/etc/shadow");
  ASSERT_TRUE(shadow);
  EXPECT_EQ(shadow->pattern, "/etc/shadow");
  auto key = open("/home/dev/.ssh/id_ed25519");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->pattern, "~/.ssh/id_*");
  auto gcloud = open("/home/dev/.config/gcloud/legacy_credentials/me/adc.json");
  ASSERT_TRUE(gcloud);
  EXPECT_EQ(gcloud->pattern, "~/.config/gcloud/**");
  auto token = open("/var/run/secrets/kubernetes.io/serviceaccount/token");
  ASSERT_TRUE(token);
  EXPECT_EQ(token->pattern, "/var/run/secrets/kubernetes.io/serviceaccount/token");
}

TEST_F(MatcherTest, normalises_unresolved_absolute_path)
{
  auto f = open("/home/dev/project/.././/.ssh/./id_rsa", -13, false);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->path, "/home/dev/.ssh/id_rsa");
  EXPECT_EQ(f->pattern, "~/.ssh/id_*");
  EXPECT_TRUE(dir_calls_.empty());
}

TEST_F(MatcherTest, joins_relative_unresolved_path_to_the_cwd)
{
  auto f = open("../.aws/credentials", -1, false);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->path, "/home/dev/.aws/credentials");
  EXPECT_EQ(f->pattern, "~/.aws/credentials");
  ASSERT_EQ(dir_calls_.size(), 1u);
  EXPECT_EQ(dir_calls_[0], std::make_pair(4242u, kAtFdcwd));
}

TEST_F(MatcherTest, joins_relative_unresolved_path_to_the_dfd_directory)
{
  auto f = open("shadow", -13, false, kDevUid, 7);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->path, "/etc/shadow");
  ASSERT_EQ(dir_calls_.size(), 1u);
  EXPECT_EQ(dir_calls_[0], std::make_pair(4242u, 7));
}

TEST_F(MatcherTest, skips_relative_path_whose_directory_is_unknown)
{
  EXPECT_FALSE(open("shadow", -13, false, kDevUid, 9));
  EXPECT_EQ(dir_calls_.size(), 1u);
}

TEST_F(MatcherTest, ignores_enoent_and_reports_eperm_and_eacces)
{
  EXPECT_FALSE(open("/etc/shadow", -ENOENT, false));
  EXPECT_FALSE(open("/home/dev/.netrc", -ENOENT, true));
  auto eperm = open("/etc/shadow", -EPERM, false);
  ASSERT_TRUE(eperm);
  EXPECT_EQ(eperm->path, "/etc/shadow");
  auto eacces = open("/etc/shadow", -EACCES, false);
  ASSERT_TRUE(eacces);
  EXPECT_EQ(eacces->path, "/etc/shadow");
}

TEST_F(MatcherTest, matches_basename_patterns_in_any_directory)
{
  auto env = open("/srv/app/.env");
  ASSERT_TRUE(env);
  EXPECT_EQ(env->pattern, ".env");
  auto key = open("/home/dev/project/certs/server.key");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->pattern, "*.key");
  auto pem = open("/srv/tls/server-key.pem");
  ASSERT_TRUE(pem);
  EXPECT_EQ(pem->pattern, "*-key.pem");
  auto rel = open("deploy/privkey1.pem", 4, false);
  ASSERT_TRUE(rel);
  EXPECT_EQ(rel->path, "/home/dev/project/deploy/privkey1.pem");
  EXPECT_EQ(rel->pattern, "privkey*.pem");
  auto json = open("/tmp/x/credentials.json", 3, true, 4321);
  ASSERT_TRUE(json);
  EXPECT_EQ(json->pattern, "credentials.json");
}

TEST_F(MatcherTest, ignores_near_misses_of_basename_patterns)
{
  EXPECT_FALSE(open("/srv/app/.env.example"));
  EXPECT_FALSE(open("/srv/app/x.env"));
  EXPECT_FALSE(open("/srv/app/server.key.txt"));
  EXPECT_FALSE(open("/srv/app/.key/readme"));
  // CA bundles are .pem files that every TLS client reads: the profile leaves them out.
  EXPECT_FALSE(open("/etc/ssl/certs/ca-certificates.pem"));
  EXPECT_FALSE(open("/home/dev/project/src/main.cpp"));
}

TEST_F(MatcherTest, expands_home_per_uid)
{
  auto dev = open("/home/dev/.netrc", 3, true, kDevUid);
  ASSERT_TRUE(dev);
  EXPECT_EQ(dev->pattern, "~/.netrc");
  auto root = open("/root/.netrc", 3, true, 0);
  ASSERT_TRUE(root);
  EXPECT_EQ(root->pattern, "~/.netrc");
  // "~/" is the opener's own home: another user's dot files do not match it.
  EXPECT_FALSE(open("/root/.netrc", 3, true, kDevUid));
  EXPECT_FALSE(open("/home/dev/.netrc", 3, true, 0));
  // A user without a home only has the absolute and basename patterns.
  EXPECT_FALSE(open("/home/dev/.netrc", 3, true, 4321));
  EXPECT_TRUE(open("/etc/shadow", 3, true, 4321));
  // The per-home matcher cache keeps homes apart after both were used.
  EXPECT_TRUE(open("/home/dev/.kube/config", 3, true, kDevUid));
  EXPECT_TRUE(open("/root/.kube/config", 3, true, 0));
  EXPECT_FALSE(open("/root/.kube/config", 3, true, kDevUid));
}

TEST_F(MatcherTest, ignores_events_of_unknown_profile)
{
  EXPECT_FALSE(open("/etc/shadow", 3, true, kDevUid, kAtFdcwd, 0));
  EXPECT_FALSE(open("/etc/shadow", 3, true, kDevUid, kAtFdcwd, 99));
  matcher_.remove_profile(kProfileId);
  EXPECT_FALSE(open("/etc/shadow"));
  EXPECT_EQ(matcher_.profile(kProfileId), nullptr);
}

TEST_F(MatcherTest, ignores_process_lifecycle_events)
{
  pipeline::Event ev;
  ev.hdr.profile_id = kProfileId;
  pipeline::ExecBody x;
  x.exe = "/etc/shadow";
  ev.body = x;
  EXPECT_FALSE(matcher_.match(ev));
}

TEST_F(MatcherTest, reports_egress_outside_the_allowlist)
{
  auto v4 = connect("8.8.8.8", 443);
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->rule, kRuleEgressNotAllowed);
  EXPECT_EQ(v4->severity, policy::Severity::error);
  EXPECT_EQ(v4->profile_id, kProfileId);
  EXPECT_EQ(v4->path, "");
  auto v6 = connect("2001:db8::1", 443);
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->rule, kRuleEgressNotAllowed);
  EXPECT_TRUE(connect("127.0.0.2", 80));
  EXPECT_TRUE(connect("::2", 8080));
  EXPECT_TRUE(connect("1.1.1.1", 54));
}

TEST_F(MatcherTest, allows_loopback_but_not_dns_to_any_server)
{
  EXPECT_FALSE(connect("127.0.0.1", 8080));
  EXPECT_FALSE(connect("::1", 8080));
  EXPECT_FALSE(connect("::ffff:127.0.0.1", 80, 10)); // mapped address on an AF_INET6 socket
  // The shipped profile allows DNS to the host's resolvers only (added at install).
  EXPECT_TRUE(connect("8.8.8.8", 53));
  EXPECT_TRUE(connect("2001:4860:4860::8888", 53));
}

TEST_F(MatcherTest, takes_the_kernel_verdict_of_enforcing_hooks)
{
  using pipeline::Verdict;
  EXPECT_FALSE(connect("8.8.8.8", 443, 0, Verdict::allow));
  auto deny = connect("8.8.8.8", 443, 0, Verdict::deny);
  ASSERT_TRUE(deny);
  EXPECT_EQ(deny->rule, kRuleEgressNotAllowed);
  EXPECT_TRUE(connect("2001:db8::1", 443, 0, Verdict::audit));
  // The kernel's decision stands even where this profile copy would allow the destination.
  EXPECT_TRUE(connect("127.0.0.1", 8080, 0, Verdict::deny));
  EXPECT_FALSE(connect("8.8.8.8", 0, 0, Verdict::deny));
}

TEST_F(MatcherTest, ignores_port_zero_and_unix_sockets)
{
  EXPECT_FALSE(connect("8.8.8.8", 0));
  EXPECT_FALSE(connect("::", 0, 10));
  EXPECT_FALSE(connect("8.8.8.8", 443, 1));
  EXPECT_FALSE(connect("8.8.8.8", 443, 0xffff)); // neither IPv4 nor IPv6
}

// An inbound record's address is its source, which the egress allowlist has nothing to say
// about: it is the inbound rule's, and only when the kernel refused (or audited) it.
TEST_F(MatcherTest, inbound_connections_are_the_inbound_rule_never_egress)
{
  for (auto verdict :
       {pipeline::Verdict::deny, pipeline::Verdict::audit, pipeline::Verdict::allow}) {
    pipeline::Event ev;
    ev.hdr.type = pipeline::EventType::connect;
    ev.hdr.verdict = verdict;
    ev.hdr.profile_id = kProfileId;
    pipeline::ConnectBody b;
    b.inbound = true;
    b.family = 2;
    b.addr = policy::parse_ip("203.0.113.9").value();
    b.port = 40000;
    b.lport = 8123;
    b.proto = 6;
    ev.body = b;
    auto hit = matcher_.match(ev);
    if (verdict == pipeline::Verdict::allow) {
      EXPECT_FALSE(hit);
      continue;
    }
    ASSERT_TRUE(hit);
    EXPECT_EQ(hit->rule, kRuleInbound);
    EXPECT_EQ(hit->severity, policy::Severity::error);
  }
}

// Homes are kept per uid for kHomeTtlNs of event time (the last one asked for answered without
// the map): alternating uids each get their own, and passwd is asked again after the TTL.
TEST(MatcherHomes, each_uid_keeps_its_home_until_the_ttl)
{
  std::vector<uint32_t> asked;
  std::string ops_home = "/home/ops";
  Matcher m({}, [&](uint32_t uid) {
    asked.push_back(uid);
    return uid == 1000 ? std::string("/home/dev") : ops_home;
  });
  const uint64_t t0 = 1; // the cache starts at event time 0
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(m.home(1000, t0 + i), "/home/dev");
    EXPECT_EQ(m.home(1001, t0 + i), "/home/ops");
    EXPECT_EQ(m.home(1001, t0 + i), "/home/ops");
  }
  EXPECT_EQ(asked, (std::vector<uint32_t>{1000, 1001}));
  ops_home = "/srv/ops";
  EXPECT_EQ(m.home(1001, t0 + 1), "/home/ops") << "within the TTL";
  EXPECT_EQ(m.home(1001, t0 + Matcher::kHomeTtlNs + 1), "/srv/ops") << "after it";
  EXPECT_EQ(m.home(1000, t0 + Matcher::kHomeTtlNs + 2), "/home/dev");
  EXPECT_EQ(asked, (std::vector<uint32_t>{1000, 1001, 1001, 1000}));
  Matcher copy = m;
  EXPECT_EQ(copy.home(1001, t0 + Matcher::kHomeTtlNs + 3), "/srv/ops");
}

TEST(MatcherResolvers, passwd_home_finds_root_and_proc_dir_of_finds_own_cwd)
{
  EXPECT_EQ(passwd_home(0), "/root");
  EXPECT_EQ(proc_dir_of(static_cast<uint32_t>(::getpid()), kAtFdcwd),
            std::filesystem::current_path().string());
  EXPECT_EQ(proc_dir_of(static_cast<uint32_t>(::getpid()), 1 << 20), "");
}

} // namespace
} // namespace vigil::detect
