// SPDX-License-Identifier: Apache-2.0
// Profile parsing: the shipped default profile, every malformed case with its file:line:col, and
// the egress allowlist decision.

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/capability.h"
#include "policy/profile.h"

namespace vigil::policy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string error_of(std::string_view yaml)
{
  auto r = parse_profile(yaml, "t.yaml");
  EXPECT_FALSE(r) << "parsed, but an error was expected:\n" << yaml;
  return r ? std::string() : r.error().message();
}

Profile parse_ok(std::string_view yaml)
{
  auto r = parse_profile(yaml, "t.yaml");
  EXPECT_TRUE(r) << (r ? "" : r.error().message());
  return r.value_or(Profile{});
}

std::array<uint8_t, 16> ip(std::string_view text)
{
  return parse_ip(text).value_or(std::array<uint8_t, 16>{});
}

TEST(Severity, round_trips_every_falco_priority)
{
  for (int i = 0; i <= static_cast<int>(Severity::debug); ++i) {
    auto s = static_cast<Severity>(i);
    EXPECT_EQ(severity_from_string(to_string(s)), s);
  }
  EXPECT_EQ(to_string(Severity::informational), "informational");
  EXPECT_EQ(severity_from_string("info"), Severity::informational);
  EXPECT_EQ(severity_from_string("WARNING"), Severity::warning);
  EXPECT_EQ(severity_from_string("high"), std::nullopt);
  EXPECT_EQ(severity_from_string(""), std::nullopt);
}

TEST(Profile, parses_the_shipped_default_profile)
{
  auto r = load_profile(VG_SOURCE_DIR "/rules/profiles/default.yaml");
  ASSERT_TRUE(r) << r.error().message();
  const Profile &p = *r;
  EXPECT_EQ(p.name, "coding-agent");
  EXPECT_THAT(p.source, HasSubstr("rules/profiles/default.yaml"));
  EXPECT_EQ(p.credential_severity, Severity::critical);
  EXPECT_EQ(p.credential_paths.front(), "~/.aws/credentials");
  EXPECT_THAT(p.credential_paths, testing::Contains("/etc/shadow"));
  EXPECT_THAT(p.credential_paths, testing::Contains("*-key.pem"));
  // Its own two entries, then the coding-agent allowlist file's host names; DNS only to the
  // host's resolvers (added when the profile is installed), never port 53 to everyone.
  ASSERT_GT(p.egress_allow.size(), 2u);
  ASSERT_EQ(p.included.size(), 1u);
  EXPECT_TRUE(p.included[0].ends_with("allowlists/coding-agent.yaml")) << p.included[0];
  EXPECT_EQ(p.egress_allow[2].host, "api.anthropic.com");
  EXPECT_EQ(p.egress_allow[0].cidr.to_string(), "127.0.0.1/32");
  EXPECT_EQ(p.egress_allow[1].cidr.to_string(), "::1/128");
  EXPECT_TRUE(p.dns_system);

  EXPECT_TRUE(egress_allowed(p, ip("127.0.0.1"), 8080));
  EXPECT_FALSE(egress_allowed(p, ip("8.8.8.8"), 53));
  EXPECT_FALSE(egress_allowed(p, ip("2001:4860:4860::8888"), 53));
  EXPECT_FALSE(egress_allowed(p, ip("8.8.8.8"), 443));
  EXPECT_FALSE(egress_allowed(p, ip("127.0.0.2"), 80));

  PathMatcher m(p.credential_paths, "/home/dev");
  EXPECT_TRUE(m.match("/home/dev/.aws/credentials"));
  EXPECT_TRUE(m.match("/home/dev/.config/gcloud/legacy_credentials/a/adc.json"));
  EXPECT_TRUE(m.match("/srv/app/tls/server-key.pem"));
  EXPECT_FALSE(m.match("/etc/ssl/certs/ca-certificates.pem")) << "CA bundles are not secrets";
  EXPECT_EQ(p.mode, Mode::enforce) << "enforcement is the default";
  EXPECT_EQ(p.require, Requirement::none);
  EXPECT_FALSE(m.match("/home/dev/src/main.cpp"));
}

TEST(Profile, parses_every_field_with_lines)
{
  Profile p = parse_ok(R"(profile: p
description: test profile
credentials:
  severity: Error
  paths: [~/.netrc, /etc/shadow, .env]
egress:
  severity: info
  allow:
    - 10.0.0.0/8
    - cidr: 2001:db8::/32
      ports: [443, "8000-8100", 9000-9000]
)");
  EXPECT_EQ(p.name, "p");
  EXPECT_EQ(p.description, "test profile");
  EXPECT_EQ(p.source, "t.yaml");
  EXPECT_EQ(p.credential_severity, Severity::error);
  EXPECT_THAT(p.credential_paths, ElementsAre("~/.netrc", "/etc/shadow", ".env"));
  EXPECT_EQ(p.egress_severity, Severity::informational);
  ASSERT_EQ(p.egress_allow.size(), 2u);
  EXPECT_EQ(p.egress_allow[0].line, 9);
  EXPECT_TRUE(p.egress_allow[0].ports.empty());
  EXPECT_EQ(p.egress_allow[1].line, 10);
  ASSERT_EQ(p.egress_allow[1].ports.size(), 3u);
  EXPECT_EQ(p.egress_allow[1].ports[1].lo, 8000);
  EXPECT_EQ(p.egress_allow[1].ports[1].hi, 8100);
  EXPECT_EQ(p.egress_allow[1].ports[2].lo, 9000);
  EXPECT_EQ(p.egress_allow[1].ports[2].hi, 9000);
}

TEST(Profile, defaults_when_sections_are_absent)
{
  Profile p = parse_ok("profile: bare\n");
  EXPECT_EQ(p.credential_severity, Severity::critical);
  EXPECT_EQ(p.egress_severity, Severity::warning);
  EXPECT_TRUE(p.credential_paths.empty());
  EXPECT_TRUE(p.egress_allow.empty());
  EXPECT_FALSE(egress_allowed(p, ip("127.0.0.1"), 80));
}

TEST(Profile, source_defaults_to_string_marker)
{
  auto r = parse_profile("profile: [\n", "");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), StartsWith("<string>:"));
}

TEST(ProfileErrors, rejects_unknown_top_level_key)
{
  EXPECT_EQ(error_of("profile: p\negres:\n  allow: []\n"),
            "t.yaml:2:1: egres: unknown key (expected one of: profile, description, mode, require, "
            "credentials, persistence, egress, ingress, ipc, launch, self_protection, limits, "
            "response)");
}

TEST(ProfileErrors, rejects_unknown_nested_key)
{
  EXPECT_EQ(error_of(R"(profile: p
egress:
  allow:
    - 10.0.0.0/8
    - cidr: 0.0.0.0/0
      prots: [53]
)"),
            "t.yaml:6:7: egress.allow[1].prots: unknown key (expected one of: cidr, host, ports)");
}

TEST(ProfileErrors, rejects_duplicate_key)
{
  EXPECT_EQ(error_of("profile: p\ncredentials:\n  paths: [/a]\n  paths: [/b]\n"),
            "t.yaml:4:3: credentials.paths: duplicate key (first at line 3)");
}

TEST(ProfileErrors, rejects_missing_profile_name)
{
  EXPECT_EQ(error_of("description: nameless\n"),
            "t.yaml:1:1: profile: missing (every profile needs a name)");
}

TEST(ProfileErrors, rejects_empty_profile_name)
{
  EXPECT_EQ(error_of("description: d\nprofile: \"\"\n"), "t.yaml:2:10: profile: empty name");
}

TEST(ProfileErrors, rejects_null_profile_name_at_its_key)
{
  EXPECT_EQ(error_of("description: d\nprofile:\ncredentials:\n  paths: []\n"),
            "t.yaml:2:1: profile: expected a string, got nothing");
}

TEST(ProfileErrors, rejects_non_string_profile_name)
{
  EXPECT_EQ(error_of("profile: [a, b]\n"), "t.yaml:1:10: profile: expected a string, got a list");
}

TEST(ProfileErrors, rejects_empty_file)
{
  EXPECT_EQ(error_of(""), "t.yaml:1:1: profile: missing (the file holds no YAML document)");
  EXPECT_EQ(error_of("# nothing here\n"),
            "t.yaml:1:1: profile: missing (the file holds no YAML document)");
}

TEST(ProfileErrors, rejects_top_level_that_is_not_a_map)
{
  EXPECT_EQ(error_of("\n- a\n- b\n"), "t.yaml:2:1: (top level): expected a map, got a list");
}

TEST(ProfileErrors, rejects_second_document)
{
  EXPECT_EQ(error_of("profile: a\n---\nprofile: b\n"),
            "t.yaml:3:1: (top level): a profile file holds exactly one YAML document");
}

// yaml-cpp's LoadAll never returns on these (it appends empty documents until memory runs out);
// found by tests/fuzz (profile target).
TEST(ProfileErrors, rejects_a_stray_comma_where_a_document_starts)
{
  EXPECT_EQ(error_of(","), "t.yaml:1:1: syntax: unexpected ',' where a document should start");
  EXPECT_EQ(error_of("# c\n, x\n"),
            "t.yaml:2:1: syntax: unexpected ',' where a document should start");
  EXPECT_THAT(error_of("profile: a\n---\n,\n"), StartsWith("t.yaml:3:1: "));
}

TEST(ProfileErrors, reports_yaml_syntax_errors_in_the_same_form)
{
  EXPECT_THAT(error_of("profile: p\ncredentials:\n  paths: [/a, /b\negress: {}\n"),
              StartsWith("t.yaml:4:"));
  EXPECT_THAT(error_of("profile: p\ncredentials:\n  paths: [/a, /b\negress: {}\n"),
              HasSubstr(": syntax: "));
  EXPECT_EQ(error_of("profile: p\ncredentials: x\n  paths: [/a]\n"),
            "t.yaml:3:8: syntax: illegal map value");
  EXPECT_EQ(error_of("profile: *nope\n"),
            "t.yaml:1:10: syntax: the referenced anchor is not defined");
}

TEST(ProfileErrors, rejects_credentials_that_are_not_a_map)
{
  EXPECT_EQ(error_of("profile: p\ncredentials: [/etc/shadow]\n"),
            "t.yaml:2:14: credentials: expected a map, got a list");
}

TEST(ProfileErrors, rejects_missing_paths)
{
  EXPECT_EQ(error_of("profile: p\ncredentials:\n  severity: alert\n"),
            "t.yaml:3:3: credentials.paths: missing (a list of patterns)");
}

TEST(ProfileErrors, rejects_paths_that_are_not_a_list)
{
  EXPECT_EQ(error_of("profile: p\ncredentials:\n  paths: ~/.netrc\n"),
            "t.yaml:3:10: credentials.paths: expected a list, got '~/.netrc'");
  EXPECT_EQ(error_of("profile: p\ncredentials:\n  paths:\negress:\n  allow: []\n"),
            "t.yaml:3:3: credentials.paths: expected a list, got nothing");
}

TEST(ProfileErrors, rejects_relative_path_pattern)
{
  EXPECT_EQ(error_of("profile: p\ncredentials:\n  paths:\n    - /etc/shadow\n    - .ssh/id_rsa\n"),
            "t.yaml:5:7: credentials.paths[1]: '.ssh/id_rsa' must be absolute (/...), "
            "home-relative (~/...) or a basename pattern without '/'");
}

TEST(ProfileErrors, rejects_other_users_home)
{
  EXPECT_EQ(error_of("profile: p\ncredentials:\n  paths: [~root/.netrc]\n"),
            "t.yaml:3:11: credentials.paths[0]: '~root/.netrc': only '~/' is expanded (to the "
            "agent's home)");
}

TEST(ProfileErrors, rejects_unnormalised_path_pattern)
{
  for (const char *bad : {"/etc/../etc/shadow", "~/./.netrc", "/etc//shadow", "~/.ssh/", "/"}) {
    std::string yaml = "profile: p\ncredentials:\n  paths:\n    - \"" + std::string(bad) + "\"\n";
    EXPECT_EQ(error_of(yaml), "t.yaml:4:7: credentials.paths[0]: '" + std::string(bad) +
                                  "' is not a normalised path (empty, '.' or '..' component)");
  }
}

TEST(ProfileErrors, rejects_empty_and_non_string_path_entries)
{
  EXPECT_EQ(error_of("profile: p\ncredentials:\n  paths:\n    - \"\"\n"),
            "t.yaml:4:7: credentials.paths[0]: empty pattern");
  EXPECT_EQ(error_of("profile: p\ncredentials:\n  paths:\n    - {a: b}\n"),
            "t.yaml:4:7: credentials.paths[0]: expected a path pattern, got a map");
}

TEST(ProfileErrors, reports_an_empty_list_item_on_its_own_line)
{
  EXPECT_EQ(
      error_of("profile: p\ncredentials:\n  paths:\n    - /a\n    -   # forgot\n\n    - /b\n"),
      "t.yaml:5:5: credentials.paths[1]: expected a path pattern, got nothing");
}

TEST(ProfileErrors, rejects_unknown_severity)
{
  EXPECT_EQ(error_of("profile: p\negress:\n  severity: high\n  allow: []\n"),
            "t.yaml:3:13: egress.severity: 'high' is not a severity (one of: emergency, alert, "
            "critical, error, warning, notice, informational, debug)");
}

TEST(ProfileErrors, rejects_missing_allow)
{
  EXPECT_EQ(error_of("profile: p\negress:\n  severity: alert\n"),
            "t.yaml:3:3: egress.allow: missing (a list of CIDRs; [] allows nothing)");
}

TEST(ProfileErrors, rejects_prefix_out_of_range)
{
  EXPECT_EQ(error_of("profile: p\negress:\n  allow:\n    - 127.0.0.1/32\n    - 10.0.0.0/33\n"),
            "t.yaml:5:7: egress.allow[1]: '10.0.0.0/33' prefix length 33 is out of range 0..32");
  EXPECT_EQ(error_of("profile: p\negress:\n  allow:\n    - cidr: ::/129\n"),
            "t.yaml:4:13: egress.allow[0].cidr: '::/129' prefix length 129 is out of range 0..128");
}

TEST(ProfileErrors, rejects_invalid_address)
{
  EXPECT_EQ(error_of("profile: p\negress:\n  allow:\n    - cidr: 10.0.0.256/8\n      ports: [1]\n"),
            "t.yaml:4:13: egress.allow[0].cidr: '10.0.0.256/8': '10.0.0.256' is not an IPv4 or "
            "IPv6 address");
  EXPECT_EQ(error_of("profile: p\negress:\n  allow: [example.com]\n"),
            "t.yaml:3:11: egress.allow[0]: 'example.com': 'example.com' is not an IPv4 or IPv6 "
            "address");
}

TEST(ProfileErrors, rejects_entry_without_cidr)
{
  EXPECT_EQ(error_of("profile: p\negress:\n  allow:\n    - ports: [53]\n"),
            "t.yaml:4:7: egress.allow[0].cidr: missing (an entry with ports needs a cidr or a "
            "host)");
}

TEST(ProfileErrors, rejects_port_zero)
{
  EXPECT_EQ(error_of("profile: p\negress:\n  allow:\n    - cidr: ::/0\n      ports: [53, 0]\n"),
            "t.yaml:5:19: egress.allow[0].ports[1]: port 0 is out of range 1..65535");
}

TEST(ProfileErrors, rejects_port_above_65535)
{
  EXPECT_EQ(error_of("profile: p\negress:\n  allow:\n    - cidr: ::/0\n      ports:\n        - "
                     "65536\n"),
            "t.yaml:6:11: egress.allow[0].ports[0]: port 65536 is out of range 1..65535");
  EXPECT_EQ(error_of("profile: p\negress:\n  allow:\n    - cidr: ::/0\n      ports: [1-99999]\n"),
            "t.yaml:5:15: egress.allow[0].ports[0]: port 99999 is out of range 1..65535");
}

TEST(ProfileErrors, rejects_reversed_range)
{
  EXPECT_EQ(
      error_of("profile: p\negress:\n  allow:\n    - cidr: ::/0\n      ports: [\"2000-1000\"]\n"),
      "t.yaml:5:15: egress.allow[0].ports[0]: range '2000-1000' is reversed (lo > hi)");
}

TEST(ProfileErrors, rejects_malformed_ports)
{
  for (const char *bad : {"http", "-1", "80-", "1-2-3", "0x35", "+53", "1.5"}) {
    std::string yaml = "profile: p\negress:\n  allow:\n    - cidr: ::/0\n      ports: ['" +
                       std::string(bad) + "']\n";
    EXPECT_EQ(error_of(yaml), "t.yaml:5:15: egress.allow[0].ports[0]: '" + std::string(bad) +
                                  "' is not a port or a range lo-hi");
  }
  EXPECT_EQ(error_of("profile: p\negress:\n  allow:\n    - cidr: ::/0\n      ports: 53\n"),
            "t.yaml:5:14: egress.allow[0].ports: expected a list, got '53'");
  EXPECT_EQ(error_of("profile: p\negress:\n  allow:\n    - cidr: ::/0\n      ports: []\n"),
            "t.yaml:5:14: egress.allow[0].ports: empty list (omit ports to allow any port)");
}

TEST(ProfileLoad, missing_file_reports_errno)
{
  auto r = load_profile("/nonexistent/vigil/profile.yaml");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, std::errc::no_such_file_or_directory);
  EXPECT_EQ(r.error().message(),
            "cannot open profile /nonexistent/vigil/profile.yaml: No such file or directory");
}

TEST(ProfileLoad, directory_reports_errno)
{
  auto r = load_profile(VG_SOURCE_DIR "/rules");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, std::errc::is_a_directory);
}

TEST(ProfileLoad, parse_errors_name_the_file)
{
  char path[] = "/tmp/vg_profile_test_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string text = "profile: p\n\negress:\n  allow: [1.2.3.4/40]\n";
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  auto r = load_profile(path);
  unlink(path);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), std::string(path) +
                                     ":4:11: egress.allow[0]: '1.2.3.4/40' prefix length 40 is "
                                     "out of range 0..32");
}

TEST(EgressAllowed, checks_cidr_then_ports)
{
  Profile p = parse_ok(R"(profile: p
egress:
  allow:
    - 10.0.0.0/8
    - cidr: 192.168.0.0/16
      ports: [443, 8000-8100]
)");
  EXPECT_TRUE(egress_allowed(p, ip("10.9.9.9"), 1));
  EXPECT_TRUE(egress_allowed(p, ip("192.168.1.1"), 443));
  EXPECT_TRUE(egress_allowed(p, ip("192.168.1.1"), 8000));
  EXPECT_TRUE(egress_allowed(p, ip("192.168.1.1"), 8100));
  EXPECT_FALSE(egress_allowed(p, ip("192.168.1.1"), 8101));
  EXPECT_FALSE(egress_allowed(p, ip("192.168.1.1"), 80));
  EXPECT_FALSE(egress_allowed(p, ip("172.16.0.1"), 443));
}

TEST(EgressAllowed, mapped_ipv6_destination_matches_ipv4_rule)
{
  Profile p =
      parse_ok("profile: p\negress:\n  allow:\n    - cidr: 10.0.0.0/8\n      ports: [53]\n");
  EXPECT_TRUE(egress_allowed(p, ip("::ffff:10.1.2.3"), 53));
  EXPECT_FALSE(egress_allowed(p, ip("::ffff:10.1.2.3"), 54));
  EXPECT_FALSE(egress_allowed(p, ip("::ffff:11.1.2.3"), 53));
  // Only the mapped form stands for IPv4; the deprecated IPv4-compatible ::a.b.c.d does not.
  EXPECT_FALSE(egress_allowed(p, ip("::10.1.2.3"), 53));
}

TEST(EgressAllowed, later_entries_are_tried_after_a_port_mismatch)
{
  Profile p = parse_ok(R"(profile: p
egress:
  allow:
    - cidr: 0.0.0.0/0
      ports: [53]
    - cidr: 1.1.1.1
      ports: [443]
)");
  EXPECT_TRUE(egress_allowed(p, ip("1.1.1.1"), 443));
  EXPECT_FALSE(egress_allowed(p, ip("1.1.1.2"), 443));
}

TEST(Profile, reads_mode_and_requirement)
{
  Profile p = parse_ok("profile: p\nmode: audit\nrequire: enforce\n");
  EXPECT_EQ(p.mode, Mode::audit);
  EXPECT_EQ(p.require, Requirement::enforce);
  EXPECT_EQ(parse_ok("profile: p\nrequire: lsm\n").require, Requirement::lsm);
}

TEST(ProfileErrors, rejects_unknown_mode_and_requirement_with_line)
{
  EXPECT_EQ(error_of("profile: p\nmode: block\n"),
            "t.yaml:2:7: mode: 'block' is not a mode (one of: enforce, audit)");
  EXPECT_EQ(error_of("profile: p\n\nrequire: strong\n"),
            "t.yaml:3:10: require: 'strong' is not a requirement (one of: none, enforce, lsm)");
}

} // namespace
} // namespace vigil::policy

namespace vigil::policy {
namespace {

TEST(ProfileLaunch, env_allow_names_and_mistakes)
{
  auto p = parse_profile("profile: p\nlaunch:\n  env_allow: [ANTHROPIC_API_KEY, GH_TOKEN]\n",
                         "t.yaml");
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->env_allow, (std::vector<std::string>{"ANTHROPIC_API_KEY", "GH_TOKEN"}));
  auto bad = parse_profile("profile: p\nlaunch:\n  env_allow: [\"NOT A NAME\"]\n", "t.yaml");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("t.yaml:3:15: launch.env_allow[0]"), std::string::npos)
      << bad.error().message();
}

// The pid namespace is on and nested namespaces are denied unless a profile says otherwise.
TEST(ProfileLaunch, pid_namespace_and_nested_namespaces)
{
  auto dflt = parse_profile("profile: p\n", "t.yaml");
  ASSERT_TRUE(dflt) << dflt.error().message();
  EXPECT_TRUE(dflt->pid_namespace);
  EXPECT_FALSE(dflt->nested_namespaces);
  auto p = parse_profile(
      "profile: p\nlaunch:\n  pid_namespace: false\n  nested_namespaces: allow\n", "t.yaml");
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_FALSE(p->pid_namespace);
  EXPECT_TRUE(p->nested_namespaces);
  auto bad = parse_profile("profile: p\nlaunch:\n  nested_namespaces: yes\n", "t.yaml");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("t.yaml:3:22: launch.nested_namespaces"),
            std::string::npos)
      << bad.error().message();
  auto bad2 = parse_profile("profile: p\nlaunch:\n  pid_namespace: maybe\n", "t.yaml");
  ASSERT_FALSE(bad2);
  EXPECT_NE(bad2.error().message().find("not one of: true, false"), std::string::npos)
      << bad2.error().message();
}

TEST(ProfileLaunch, capabilities_and_isolation)
{
  auto dflt = parse_profile("profile: p\n", "t.yaml");
  ASSERT_TRUE(dflt) << dflt.error().message();
  EXPECT_FALSE(dflt->keep_capabilities) << "no list: the default set";
  EXPECT_TRUE(dflt->isolate);

  auto p = parse_profile("profile: p\nlaunch:\n  capabilities: [CHOWN, cap_net_bind_service, "
                         "CAP_KILL]\n  isolate: false\n",
                         "t.yaml");
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->keep_capabilities, cap_bit(0) | cap_bit(10) | cap_bit(5));
  EXPECT_FALSE(p->isolate);

  auto none = parse_profile("profile: p\nlaunch:\n  capabilities: []\n", "t.yaml");
  ASSERT_TRUE(none) << none.error().message();
  EXPECT_EQ(none->keep_capabilities, 0u) << "an empty list keeps nothing";

  auto unknown = parse_profile("profile: p\nlaunch:\n  capabilities: [CHOWN, FLY]\n", "t.yaml");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message().find("t.yaml:3:25: launch.capabilities[1]"),
            std::string::npos)
      << unknown.error().message();
  for (const char *cap : {"SYS_ADMIN", "BPF", "PERFMON", "SYS_PTRACE", "SYS_MODULE", "NET_ADMIN",
                          "DAC_READ_SEARCH"}) {
    auto bad = parse_profile("profile: p\nlaunch:\n  capabilities: [" + std::string(cap) + "]\n",
                             "t.yaml");
    ASSERT_FALSE(bad) << cap;
    EXPECT_NE(bad.error().message().find("cannot be kept"), std::string::npos)
        << bad.error().message();
  }
  auto isolate = parse_profile("profile: p\nlaunch:\n  isolate: maybe\n", "t.yaml");
  ASSERT_FALSE(isolate);
  EXPECT_NE(isolate.error().message().find("launch.isolate"), std::string::npos)
      << isolate.error().message();
}

} // namespace
} // namespace vigil::policy

namespace vigil::policy {
namespace {

TEST(Profile, ingress_defaults_to_the_profile_mode_and_can_be_switched_off)
{
  EXPECT_EQ(parse_ok("profile: p\n").inbound_mode(), Mode::enforce);
  EXPECT_EQ(parse_ok("profile: p\nmode: audit\n").inbound_mode(), Mode::audit);
  Profile p =
      parse_ok("profile: p\nmode: audit\ningress:\n  mode: enforce\n  severity: critical\n");
  EXPECT_EQ(p.inbound_mode(), Mode::enforce);
  EXPECT_EQ(p.ingress_severity, Severity::critical);
  EXPECT_FALSE(parse_ok("profile: p\ningress:\n  mode: off\n").inbound_mode());
  EXPECT_EQ(error_of("profile: p\ningress:\n  mode: open\n"),
            "t.yaml:3:9: ingress.mode: 'open' is not a mode (one of: enforce, audit, off)");
}

TEST(Profile, self_protection_and_limits)
{
  Profile bare = parse_ok("profile: bare\n");
  EXPECT_EQ(bare.self_protection, Mode::enforce) << "on by default, whatever the profile's mode";
  EXPECT_EQ(bare.events_per_second, 50000u);
  Profile p = parse_ok("profile: p\nmode: audit\nself_protection:\n  mode: audit\nlimits:\n"
                       "  events_per_second: 0\n");
  EXPECT_EQ(p.self_protection, Mode::audit);
  EXPECT_EQ(p.events_per_second, 0u);
  EXPECT_FALSE(parse_ok("profile: p\nself_protection:\n  mode: off\n").self_protection);
  EXPECT_EQ(error_of("profile: p\nself_protection:\n  mode: loud\n"),
            "t.yaml:3:9: self_protection.mode: 'loud' is not a mode (one of: enforce, audit, off)");
  EXPECT_EQ(error_of("profile: p\nlimits:\n  events_per_second: lots\n"),
            "t.yaml:3:22: limits.events_per_second: 'lots' is not a whole number of events (0: "
            "unlimited)");
}

} // namespace
} // namespace vigil::policy

namespace vigil::policy {
namespace {

TEST(ProfilePersistence, parses_patterns_and_per_entry_modes)
{
  Profile p = parse_ok("profile: p\nmode: enforce\npersistence:\n  mode: audit\n  paths:\n"
                       "    - ~/.bashrc\n    - {path: .git/hooks/**, mode: enforce}\n"
                       "    - .vscode/**\n    - .envrc\n    - /var/spool/cron/crontabs/*\n");
  ASSERT_EQ(p.persistence_paths.size(), 5u);
  EXPECT_EQ(p.persistence_paths[0].pattern, "~/.bashrc");
  EXPECT_EQ(p.persistence_paths[0].line, 6);
  EXPECT_EQ(p.persistence_mode_of(p.persistence_paths[0]), Mode::audit);
  EXPECT_EQ(p.persistence_paths[1].pattern, ".git/hooks/**");
  EXPECT_EQ(p.persistence_mode_of(p.persistence_paths[1]), Mode::enforce);
  EXPECT_EQ(persistence_scope("~/.bashrc"), PersistenceScope::home);
  EXPECT_EQ(persistence_scope(".git/hooks/**"), PersistenceScope::git_dir);
  EXPECT_EQ(persistence_scope(".vscode/**"), PersistenceScope::project);
  EXPECT_EQ(persistence_scope(".envrc"), PersistenceScope::basename);
  EXPECT_EQ(persistence_scope("/var/spool/cron/crontabs/*"), PersistenceScope::absolute);
}

TEST(ProfilePersistence, shipped_default_protects_hooks_config_and_shell_startup)
{
  auto r = load_profile(std::string(VG_SOURCE_DIR) + "/rules/profiles/default.yaml");
  ASSERT_TRUE(r) << r.error().message();
  std::vector<std::string> pats;
  for (const auto &e : r->persistence_paths) {
    pats.push_back(e.pattern);
    EXPECT_EQ(r->persistence_mode_of(e), Mode::enforce) << e.pattern;
  }
  for (const char *want : {".git/hooks/**", ".git/config", ".gitmodules", ".git/info/attributes",
                           "~/.bashrc", "~/.profile", "~/.zshrc", "~/.config/fish/**",
                           "~/.ssh/authorized_keys", "~/.gitconfig", "/var/spool/cron/crontabs/*",
                           "~/.config/systemd/user/**", ".vscode/**", ".mcp.json", ".envrc"})
    EXPECT_NE(std::find(pats.begin(), pats.end(), want), pats.end()) << want;
  // What git writes in everyday work is not protected.
  for (const char *never : {".git/index", ".git/objects/**", ".git/refs/**", ".git/FETCH_HEAD",
                            ".git/ORIG_HEAD", ".git/COMMIT_EDITMSG", ".git/packed-refs"})
    EXPECT_EQ(std::find(pats.begin(), pats.end(), never), pats.end()) << never;
}

TEST(ProfilePersistence, errors_name_file_line_and_field)
{
  EXPECT_EQ(error_of("profile: p\npersistence:\n  severity: alert\n"),
            "t.yaml:3:3: persistence.paths: missing (a list of patterns)");
  EXPECT_EQ(error_of("profile: p\npersistence:\n  paths: [.git/../hooks]\n"),
            "t.yaml:3:11: persistence.paths[0]: '.git/../hooks' is not a normalised relative "
            "path (empty, '.' or '..' component)");
  EXPECT_EQ(error_of("profile: p\npersistence:\n  paths:\n    - {path: ~/.bashrc, mode: off}\n"),
            "t.yaml:4:31: persistence.paths[0].mode: 'off' is not a mode (one of: enforce, "
            "audit)");
  EXPECT_EQ(error_of("profile: p\npersistence:\n  paths:\n    - {mode: audit}\n"),
            "t.yaml:4:7: persistence.paths[0].path: missing (a path pattern)");
  EXPECT_EQ(error_of("profile: p\npersistence:\n  paths:\n    - {path: ~/.bashrc, when: x}\n"),
            "t.yaml:4:25: persistence.paths[0].when: unknown key (expected one of: path, mode)");
  EXPECT_EQ(error_of("profile: p\npersistence:\n  paths: [~x/.bashrc]\n"),
            "t.yaml:3:11: persistence.paths[0]: '~x/.bashrc': only '~/' is expanded (to the "
            "agent's home)");
}

} // namespace
} // namespace vigil::policy

namespace vigil::policy {
namespace {

TEST(ProfileResponse, parses_actions_per_rule_the_wildcard_and_the_command)
{
  auto p = parse_profile("profile: r\nresponse:\n  rules:\n    exfil: [freeze, run]\n"
                         "    \"*\": isolate\n  freeze_timeout: 30s\n  run:\n"
                         "    command: [/usr/local/bin/revoke, --all]\n    timeout: 2s\n"
                         "    max_concurrent: 3\n",
                         "t.yaml");
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->response.freeze_timeout_ns, 30'000'000'000ull);
  EXPECT_THAT(p->response.run.argv, ElementsAre("/usr/local/bin/revoke", "--all"));
  EXPECT_EQ(p->response.run.timeout_ns, 2'000'000'000ull);
  EXPECT_EQ(p->response.run.max_concurrent, 3u);
  EXPECT_THAT(p->response.actions_for("exfil"),
              ElementsAre(Action::freeze, Action::run, Action::isolate));
  EXPECT_THAT(p->response.actions_for("other"), ElementsAre(Action::isolate));
}

TEST(ProfileResponse, defaults_to_alerts_only)
{
  auto p = parse_profile("profile: r\n", "t.yaml");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->response.empty());
  EXPECT_TRUE(p->response.actions_for("exfil-credential-then-egress").empty());
}

TEST(ProfileResponse, rejects_unknown_actions_a_run_without_command_and_relative_commands)
{
  EXPECT_THAT(error_of("profile: r\nresponse:\n  rules: {x: [freze]}\n"),
              HasSubstr("t.yaml:3:15: response.rules.x[0]: 'freze' is not a response action"));
  EXPECT_THAT(error_of("profile: r\nresponse:\n  rules: {x: run}\n"),
              HasSubstr("response.run: missing: rule 'x' asks for the run action"));
  EXPECT_THAT(error_of("profile: r\nresponse:\n  run: {command: [revoke]}\n"),
              HasSubstr("is not an absolute path"));
  EXPECT_THAT(error_of("profile: r\nresponse:\n  bogus: 1\n"), HasSubstr("response.bogus"));
}

} // namespace
} // namespace vigil::policy
