// SPDX-License-Identifier: Apache-2.0
// Daemon configuration files: a valid file with relative profile paths, and every error with its
// file:line:column.

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "daemon/config.h"

namespace vigil::daemon {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

class ConfigTest : public ::testing::Test {
protected:
  void SetUp() override
  {
    std::string tmpl = (fs::temp_directory_path() / "vg_config_test_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    file_ = (dir_ / "etc" / "vigil.yaml").string();
    fs::create_directories(dir_ / "etc");
  }
  void TearDown() override
  {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  Result<Config> load(const std::string &text)
  {
    std::ofstream(file_, std::ios::binary | std::ios::trunc) << text;
    return load_config(file_);
  }

  std::string error_of(const std::string &text)
  {
    auto r = load(text);
    EXPECT_FALSE(r) << "loaded, but an error was expected:\n" << text;
    return r ? std::string() : r.error().message();
  }

  fs::path dir_;
  std::string file_;
};

TEST_F(ConfigTest, loads_every_field_and_resolves_relative_profiles)
{
  auto r = load(R"(# vigil daemon configuration
profiles:
  - profiles/agent.yaml
  - ../shared/./other.yaml
  - /usr/share/vigil/profiles/default.yaml
cgroups:
  - path: /agents/*
    profile: coding-agent
  - {path: "/kubepods/**/agent-*", profile: k8s-agent}
alerts_json: /var/log/vigil/alerts.json
metrics_address: 127.0.0.1:9464
log_dir: /var/lib/vigil/log
rescan_ms: 250
)");
  ASSERT_TRUE(r) << r.error().message();
  const Config &c = *r;
  EXPECT_EQ(c.source, file_);
  EXPECT_THAT(c.profile_files, ElementsAre((dir_ / "etc" / "profiles" / "agent.yaml").string(),
                                           (dir_ / "shared" / "other.yaml").string(),
                                           "/usr/share/vigil/profiles/default.yaml"));
  ASSERT_EQ(c.cgroups.size(), 2u);
  EXPECT_EQ(c.cgroups[0].glob, "/agents/*");
  EXPECT_EQ(c.cgroups[0].profile, "coding-agent");
  EXPECT_EQ(c.cgroups[1].glob, "/kubepods/**/agent-*");
  EXPECT_EQ(c.cgroups[1].profile, "k8s-agent");
  EXPECT_EQ(c.alerts_json, "/var/log/vigil/alerts.json");
  EXPECT_EQ(c.metrics_address, "127.0.0.1:9464");
  EXPECT_EQ(c.log_dir, "/var/lib/vigil/log");
  EXPECT_EQ(c.rescan_ms, 250);
}

TEST_F(ConfigTest, applies_defaults_for_optional_fields)
{
  auto r = load("profiles: [p.yaml]\ncgroups: []\n");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_THAT(r->profile_files, ElementsAre((dir_ / "etc" / "p.yaml").string()));
  EXPECT_TRUE(r->cgroups.empty());
  EXPECT_FALSE(r->alerts_json);
  EXPECT_FALSE(r->metrics_address);
  EXPECT_FALSE(r->log_dir);
  EXPECT_EQ(r->rescan_ms, 1000);
}

TEST_F(ConfigTest, accepts_rescan_ms_at_its_bounds)
{
  auto lo = load("profiles: [p.yaml]\ncgroups: []\nrescan_ms: 50\n");
  ASSERT_TRUE(lo) << lo.error().message();
  EXPECT_EQ(lo->rescan_ms, 50);
  auto hi = load("profiles: [p.yaml]\ncgroups: []\nrescan_ms: 60000\n");
  ASSERT_TRUE(hi) << hi.error().message();
  EXPECT_EQ(hi->rescan_ms, 60000);
}

TEST_F(ConfigTest, rejects_unknown_key_at_its_line)
{
  EXPECT_EQ(error_of("profiles: [p.yaml]\ncgroups: []\nalert_json: /tmp/a.json\n"),
            file_ + ":3:1: alert_json: unknown key");
}

TEST_F(ConfigTest, rejects_unknown_key_in_cgroups_entry)
{
  EXPECT_EQ(error_of("profiles: [p.yaml]\ncgroups:\n  - path: /a\n    profile: p\n    prof: q\n"),
            file_ + ":5:5: cgroups[0].prof: unknown key");
}

TEST_F(ConfigTest, rejects_missing_or_empty_profiles)
{
  EXPECT_EQ(error_of("cgroups: []\n"),
            file_ + ":1:1: profiles: expected a non-empty list of profile files");
  EXPECT_EQ(error_of("cgroups: []\nprofiles: []\n"),
            file_ + ":2:11: profiles: expected a non-empty list of profile files");
  EXPECT_EQ(error_of("profiles: p.yaml\ncgroups: []\n"),
            file_ + ":1:11: profiles: expected a non-empty list of profile files");
}

TEST_F(ConfigTest, rejects_non_string_profile_entry)
{
  EXPECT_EQ(error_of("profiles:\n  - p.yaml\n  - [q.yaml]\ncgroups: []\n"),
            file_ + ":3:5: profiles[1]: expected a string");
}

TEST_F(ConfigTest, rejects_missing_cgroups)
{
  EXPECT_EQ(error_of("profiles: [p.yaml]\n"),
            file_ + ":1:1: cgroups: expected a list of {path, profile}");
}

TEST_F(ConfigTest, rejects_cgroups_entry_without_profile)
{
  EXPECT_EQ(error_of("profiles: [p.yaml]\ncgroups:\n  - path: /a\n    profile: p\n"
                     "  - path: /agents/*\n"),
            file_ + ":5:5: cgroups[1]: needs both 'path' and 'profile'");
}

TEST_F(ConfigTest, rejects_cgroups_entry_that_is_not_a_mapping)
{
  EXPECT_EQ(error_of("profiles: [p.yaml]\ncgroups:\n  - /agents/*\n"),
            file_ + ":3:5: cgroups[0]: expected a mapping with 'path' and 'profile'");
}

TEST_F(ConfigTest, rejects_cgroup_path_not_starting_with_slash)
{
  EXPECT_EQ(error_of("profiles: [p.yaml]\ncgroups:\n  - path: agents/*\n    profile: p\n"),
            file_ + ":3:11: cgroups[0].path: must start with '/' (relative to the cgroup2 mount)");
  EXPECT_EQ(error_of("profiles: [p.yaml]\ncgroups:\n  - profile: p\n    path: \"\"\n"),
            file_ + ":4:11: cgroups[0].path: must start with '/' (relative to the cgroup2 mount)");
}

TEST_F(ConfigTest, ring_buffer_is_a_power_of_two_within_its_bounds)
{
  EXPECT_FALSE(load("profiles: [p.yaml]\ncgroups: []\n")->ring_buffer_bytes);
  auto lo = load("profiles: [p.yaml]\ncgroups: []\nring_buffer: 256KiB\n");
  ASSERT_TRUE(lo) << lo.error().message();
  EXPECT_EQ(lo->ring_buffer_bytes, 256u << 10);
  auto hi = load("profiles: [p.yaml]\ncgroups: []\nring_buffer: 256MiB\n");
  ASSERT_TRUE(hi) << hi.error().message();
  EXPECT_EQ(hi->ring_buffer_bytes, 256u << 20);
  for (const char *bad : {"128KiB", "512MiB", "3MiB", "4GiB", "lots", "0"})
    EXPECT_EQ(error_of(std::string("profiles: [p.yaml]\ncgroups: []\nring_buffer: ") + bad +
                       "\n"),
              file_ + ":3:14: ring_buffer: '" + bad +
                  "' is not a power of two between 256KiB and 256MiB (e.g. 4MiB)")
        << bad;
  EXPECT_EQ(error_of("profiles: [p.yaml]\ncgroups: []\nring_buffer: [4MiB]\n"),
            file_ + ":3:14: ring_buffer: expected a string");
}

TEST_F(ConfigTest, rejects_rescan_ms_out_of_range_or_not_a_number)
{
  const std::string msg = "rescan_ms: expected an integer between 50 and 60000";
  EXPECT_EQ(error_of("profiles: [p.yaml]\ncgroups: []\nrescan_ms: 49\n"), file_ + ":3:12: " + msg);
  EXPECT_EQ(error_of("profiles: [p.yaml]\ncgroups: []\nrescan_ms: 60001\n"),
            file_ + ":3:12: " + msg);
  EXPECT_EQ(error_of("profiles: [p.yaml]\ncgroups: []\nrescan_ms: -5\n"), file_ + ":3:12: " + msg);
  EXPECT_EQ(error_of("profiles: [p.yaml]\ncgroups: []\nrescan_ms: fast\n"),
            file_ + ":3:12: " + msg);
  EXPECT_EQ(error_of("profiles: [p.yaml]\ncgroups: []\nrescan_ms: [100]\n"),
            file_ + ":3:12: " + msg);
}

TEST_F(ConfigTest, rejects_non_string_optional_field)
{
  EXPECT_EQ(error_of("profiles: [p.yaml]\ncgroups: []\nalerts_json: {a: b}\n"),
            file_ + ":3:14: alerts_json: expected a string");
}

TEST_F(ConfigTest, reports_yaml_syntax_error_with_line)
{
  std::string e = error_of("profiles: [p.yaml]\ncgroups:\n  - path: /a\n   profile: p\n");
  EXPECT_THAT(e, StartsWith(file_ + ":4:"));
  std::string flow = error_of("profiles: [p.yaml\ncgroups: []\n");
  EXPECT_THAT(flow, StartsWith(file_ + ":"));
  EXPECT_THAT(flow.substr(file_.size()), MatchesRegex(":[1-9][0-9]*:[1-9][0-9]*: .+"));
}

TEST_F(ConfigTest, rejects_empty_file_at_line_one)
{
  EXPECT_EQ(error_of(""), file_ + ":1:1: (top level): expected a mapping");
  EXPECT_EQ(error_of("- a\n- b\n"), file_ + ":1:1: (top level): expected a mapping");
}

TEST_F(ConfigTest, reports_missing_file_with_errno)
{
  const std::string missing = (dir_ / "absent.yaml").string();
  auto r = load_config(missing);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, std::errc::no_such_file_or_directory);
  EXPECT_EQ(r.error().message(), "read config " + missing + ": No such file or directory");
}

TEST_F(ConfigTest, loads_several_outputs_at_once)
{
  auto r = load(R"(profiles: [p.yaml]
cgroups: []
outputs:
  stderr: false
  json: "-"
  falco: /var/log/vigil/falco.jsonl
  webhook:
    url: http://falcosidekick:2801/
    format: falco
    queue: 100
  alertmanager: http://alertmanager:9093
)");
  ASSERT_TRUE(r) << r.error().message();
  const Outputs &o = r->outputs;
  EXPECT_FALSE(o.stderr_lines);
  EXPECT_EQ(o.json, "-");
  EXPECT_EQ(o.falco, "/var/log/vigil/falco.jsonl");
  ASSERT_TRUE(o.webhook);
  EXPECT_EQ(o.webhook->url, "http://falcosidekick:2801/");
  EXPECT_EQ(o.webhook->format, "falco");
  EXPECT_EQ(o.webhook->queue, 100);
  ASSERT_TRUE(o.alertmanager);
  EXPECT_EQ(o.alertmanager->url, "http://alertmanager:9093");
  EXPECT_EQ(o.alertmanager->hold_s, 3600);
}

TEST_F(ConfigTest, control_socket_is_absolute_or_empty)
{
  const std::string base = "profiles: [p.yaml]\ncgroups:\n  - path: /a/*\n    profile: p\n";
  auto d = load(base);
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->control_socket, kDefaultControlSocket);
  auto set = load(base + "control_socket: /run/x/ctl.sock\n");
  ASSERT_TRUE(set) << set.error().message();
  EXPECT_EQ(set->control_socket, "/run/x/ctl.sock");
  auto off = load(base + "control_socket: \"\"\n");
  ASSERT_TRUE(off) << off.error().message();
  EXPECT_EQ(off->control_socket, "");
  EXPECT_THAT(error_of(base + "control_socket: run/ctl.sock\n"),
              ::testing::HasSubstr("control_socket"));
  EXPECT_THAT(error_of(base + "control_socket: /" + std::string(120, 'x') + "\n"),
              ::testing::HasSubstr("longer than a unix socket path"));
}

TEST_F(ConfigTest, alerts_json_is_the_older_spelling_of_outputs_json)
{
  auto r = load("profiles: [p.yaml]\ncgroups: []\nalerts_json: /a.jsonl\n");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->outputs.json, "/a.jsonl");
  EXPECT_TRUE(r->outputs.stderr_lines);
  EXPECT_EQ(error_of("profiles: [p.yaml]\ncgroups: []\nalerts_json: /a\noutputs: {json: /b}\n"),
            file_ + ":4:10: outputs.json: given twice (top-level alerts_json is the older "
                    "spelling)");
}

TEST_F(ConfigTest, rejects_bad_outputs_with_file_and_line)
{
  EXPECT_EQ(error_of("profiles: [p.yaml]\ncgroups: []\noutputs:\n  slack: x\n"),
            file_ + ":4:3: outputs.slack: unknown key");
  EXPECT_EQ(error_of("profiles: [p.yaml]\ncgroups: []\noutputs:\n  webhook: ftp://x\n"),
            file_ + ":4:12: outputs.webhook: expected an http:// or https:// URL");
  EXPECT_EQ(error_of("profiles: [p.yaml]\ncgroups: []\noutputs:\n  webhook: {url: http://x, "
                     "format: xml}\n"),
            file_ + ":4:36: outputs.webhook.format: 'xml' is not a format (one of: json, falco)");
  EXPECT_EQ(error_of("profiles: [p.yaml]\ncgroups: []\noutputs:\n  alertmanager: {url: http://x, "
                     "format: falco}\n"),
            file_ + ":4:33: outputs.alertmanager.format: unknown key");
  EXPECT_EQ(error_of("profiles: [p.yaml]\ncgroups: []\noutputs:\n  stderr: maybe\n"),
            file_ + ":4:11: outputs.stderr: expected true or false");
  EXPECT_EQ(error_of("profiles: [p.yaml]\ncgroups: []\noutputs:\n  webhook: {url: http://x, "
                     "queue: 0}\n"),
            file_ + ":4:35: outputs.webhook.queue: expected an integer between 1 and 1000000");
}

} // namespace
} // namespace vigil::daemon

namespace vigil::daemon {
namespace {

TEST_F(ConfigTest, log_retention_sizes_and_age)
{
  auto r = load("profiles: [p.yaml]\ncgroups: []\nlog_dir: /var/log/vigil\nlog_retention:\n"
                "  segment_bytes: 16MiB\n  segment_age: 30m\n  max_bytes: 2GiB\n");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->log_segment_bytes, 16ull << 20);
  EXPECT_EQ(r->log_segment_age_ns, 1800ull * 1'000'000'000ull);
  EXPECT_EQ(r->log_max_bytes, 2ull << 30);

  auto defaults = load("profiles: [p.yaml]\ncgroups: []\n");
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->log_segment_bytes, 64ull << 20);
  EXPECT_EQ(defaults->log_max_bytes, 1ull << 30);
}

TEST_F(ConfigTest, log_retention_mistakes_name_their_line)
{
  for (const auto &[text, line, needle] :
       std::vector<std::tuple<std::string, int, std::string>>{
           {"log_retention:\n  segment_bytes: lots\n", 4, "segment_bytes"},
           {"log_retention:\n  segment_age: 10ms\n", 4, "segment_age"},
           {"log_retention:\n  keep: forever\n", 4, "unknown key"},
           {"log_retention:\n  segment_bytes: 64MiB\n  max_bytes: 2MiB\n", 3, "max_bytes"}}) {
    auto r = load("profiles: [p.yaml]\ncgroups: []\n" + text);
    ASSERT_FALSE(r) << text;
    EXPECT_NE(r.error().message().find(":" + std::to_string(line) + ":"), std::string::npos)
        << r.error().message();
    EXPECT_NE(r.error().message().find(needle), std::string::npos) << r.error().message();
  }
}

} // namespace
} // namespace vigil::daemon
