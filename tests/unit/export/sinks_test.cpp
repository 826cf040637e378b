// SPDX-License-Identifier: Apache-2.0
// Alert serialisation (every JSON field) and the JSON-lines and stderr sinks.

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/text.h"
#include "export/sinks.h"

namespace vigil::exporter {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

detect::Alert credential_alert()
{
  detect::Alert a;
  a.time_ns = 1795400104123456789ull;
  a.hostname = "host-a";
  a.profile = "coding-agent";
  a.rule = "credential-read";
  a.severity = policy::Severity::critical;
  a.output = "credential file /home/dev/.aws/credentials opened by cat";
  a.event_type = pipeline::EventType::open;
  a.verdict = pipeline::Verdict::deny;
  a.tier = pipeline::Tier::lsm;
  a.pid = 700;
  a.ppid = 600;
  a.uid = 1000;
  a.comm = "cat";
  a.exe = "/usr/bin/cat";
  a.argv = {"cat", "/home/dev/.aws/credentials"};
  a.ancestry = {{600, "/usr/bin/python3", {"python3", "agent.py"}}, {500, "/usr/bin/bash", {}}};
  a.cgroup_id = 4711;
  a.cgroup = "/agents/run-1";
  a.path = "/home/dev/.aws/credentials";
  a.result = -13;
  return a;
}

detect::Alert egress_alert()
{
  detect::Alert a;
  a.time_ns = 5;
  a.hostname = "host-b";
  a.profile = "coding-agent";
  a.rule = "egress-not-allowed";
  a.severity = policy::Severity::error;
  a.output = "connect to 2001:db8::1 port 443";
  a.event_type = pipeline::EventType::connect;
  a.verdict = pipeline::Verdict::audit;
  a.pid = 800;
  a.comm = "curl";
  a.dest_ip = "2001:db8::1";
  a.dest_port = 443;
  a.dest_family = "ipv6";
  a.result = 0;
  return a;
}

// A fresh temporary directory, removed with the fixture.
class JsonLinesSinkTest : public ::testing::Test {
protected:
  void SetUp() override
  {
    std::string tmpl = (fs::temp_directory_path() / "vg_sinks_test_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override
  {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  static std::vector<std::string> lines_of(const fs::path &p)
  {
    std::ifstream in(p);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);)
      out.push_back(line);
    return out;
  }

  fs::path dir_;
};

TEST(ToJson, writes_every_field_of_a_credential_alert)
{
  json j = to_json(credential_alert());
  EXPECT_EQ(j["time"], "2026-11-23T02:15:04.123456789Z");
  EXPECT_EQ(j["hostname"], "host-a");
  EXPECT_EQ(j["profile"], "coding-agent");
  EXPECT_EQ(j["rule"], "credential-read");
  EXPECT_EQ(j["severity"], "critical");
  EXPECT_EQ(j["output"], "credential file /home/dev/.aws/credentials opened by cat");
  EXPECT_EQ(j["event"], "open");
  EXPECT_EQ(j["verdict"], "denied");
  EXPECT_EQ(j["tier"], "lsm");
  EXPECT_EQ(j["pid"], 700);
  EXPECT_EQ(j["ppid"], 600);
  EXPECT_EQ(j["uid"], 1000);
  EXPECT_EQ(j["comm"], "cat");
  EXPECT_EQ(j["exe"], "/usr/bin/cat");
  EXPECT_EQ(j["argv"], json::array({"cat", "/home/dev/.aws/credentials"}));
  ASSERT_TRUE(j["ancestry"].is_array());
  ASSERT_EQ(j["ancestry"].size(), 2u);
  EXPECT_EQ(j["ancestry"][0]["pid"], 600);
  EXPECT_EQ(j["ancestry"][0]["exe"], "/usr/bin/python3");
  EXPECT_EQ(j["ancestry"][0]["argv"], json::array({"python3", "agent.py"}));
  EXPECT_EQ(j["ancestry"][1]["pid"], 500);
  EXPECT_EQ(j["ancestry"][1]["argv"], json::array());
  EXPECT_EQ(j["cgroup"], "/agents/run-1");
  EXPECT_EQ(j["cgroup_id"], 4711);
  EXPECT_EQ(j["result"], -13);
  EXPECT_EQ(j["result_name"], "EACCES");
  EXPECT_EQ(j["path"], "/home/dev/.aws/credentials");
  EXPECT_FALSE(j.contains("destination"));
}

TEST(ToJson, writes_destination_of_an_egress_alert)
{
  json j = to_json(egress_alert());
  EXPECT_EQ(j["time"], "1970-01-01T00:00:00.000000005Z");
  EXPECT_EQ(j["severity"], "error");
  EXPECT_EQ(j["event"], "connect");
  EXPECT_EQ(j["verdict"], "would-deny");
  EXPECT_EQ(j["tier"], "none");
  ASSERT_TRUE(j.contains("destination"));
  EXPECT_EQ(j["destination"]["ip"], "2001:db8::1");
  EXPECT_EQ(j["destination"]["port"], 443);
  EXPECT_EQ(j["destination"]["family"], "ipv6");
  EXPECT_FALSE(j.contains("path"));
  EXPECT_EQ(j["ancestry"], json::array());
  EXPECT_EQ(j["argv"], json::array());
  EXPECT_EQ(j["result"], 0);
  EXPECT_EQ(j["result_name"], "ok");
}

TEST(ToJson, a_response_record_says_what_was_done_to_which_cgroup)
{
  EXPECT_FALSE(to_json(egress_alert()).contains("response")) << "only on response-* records";
  detect::Alert a = egress_alert();
  a.rule = "response-isolate";
  a.response = {"isolate", "done", "/sys/fs/cgroup/agents/a1"};
  const json j = to_json(a);
  ASSERT_TRUE(j.contains("response"));
  EXPECT_EQ(j["response"]["action"], "isolate");
  EXPECT_EQ(j["response"]["result"], "done");
  EXPECT_EQ(j["response"]["target"], "/sys/fs/cgroup/agents/a1");
}

TEST_F(JsonLinesSinkTest, writes_one_object_per_line)
{
  const fs::path file = dir_ / "alerts.json";
  auto sink = JsonLinesSink::open(file.string());
  ASSERT_TRUE(sink) << sink.error().message();
  (*sink)->write(credential_alert());
  (*sink)->write(egress_alert());
  // Flushed per alert: readable before the sink is closed.
  auto lines = lines_of(file);
  ASSERT_EQ(lines.size(), 2u);
  json first = json::parse(lines[0]);
  json second = json::parse(lines[1]);
  EXPECT_EQ(first, to_json(credential_alert()));
  EXPECT_EQ(second, to_json(egress_alert()));
  EXPECT_EQ(first["path"], "/home/dev/.aws/credentials");
  EXPECT_EQ(second["destination"]["port"], 443);
}

TEST_F(JsonLinesSinkTest, appends_to_an_existing_file)
{
  const fs::path file = dir_ / "alerts.json";
  std::ofstream(file) << "{\"old\":true}\n";
  {
    auto sink = JsonLinesSink::open(file.string());
    ASSERT_TRUE(sink) << sink.error().message();
    (*sink)->write(egress_alert());
  }
  auto lines = lines_of(file);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(json::parse(lines[0])["old"], true);
  EXPECT_EQ(json::parse(lines[1])["rule"], "egress-not-allowed");
}

TEST_F(JsonLinesSinkTest, replaces_invalid_utf8)
{
  const fs::path file = dir_ / "alerts.json";
  auto sink = JsonLinesSink::open(file.string());
  ASSERT_TRUE(sink) << sink.error().message();
  detect::Alert a = credential_alert();
  a.argv = {"cat", std::string("/tmp/\xff\xfe.pem")};
  (*sink)->write(a);
  auto lines = lines_of(file);
  ASSERT_EQ(lines.size(), 1u);
  json j = json::parse(lines[0]);
  EXPECT_EQ(j["argv"][1], "/tmp/\xef\xbf\xbd\xef\xbf\xbd.pem");
}

TEST_F(JsonLinesSinkTest, reports_unwritable_path)
{
  const std::string missing_dir = (dir_ / "no-such-dir" / "alerts.json").string();
  auto r = JsonLinesSink::open(missing_dir);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, std::errc::no_such_file_or_directory);
  EXPECT_EQ(r.error().message(), "open alerts file " + missing_dir + ": No such file or directory");

  auto d = JsonLinesSink::open(dir_.string());
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, std::errc::is_a_directory);
}

TEST(StderrSink, writes_one_readable_line)
{
  StderrSink sink;
  ::testing::internal::CaptureStderr();
  sink.write(credential_alert());
  std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(out, "vigil: CRITICAL credential-read [coding-agent] credential file "
                 "/home/dev/.aws/credentials opened by cat\n");
}

// What an agent names: a directory with a newline and an ANSI escape in its name (a forged
// "vigil: INFO" line, a recoloured terminal), and bytes that are not UTF-8.
const std::string kHostilePath = "/tmp/d\n vigil: INFO fake\x1b[31m/\xff\xfe.pem";
const std::string kHostileEscaped = "/tmp/d\\n vigil: INFO fake\\x1b[31m/\\xff\\xfe.pem";

detect::Alert hostile_alert()
{
  detect::Alert a = credential_alert();
  a.path = kHostilePath;
  a.argv = {"cat", kHostilePath};
  a.output = "credential file " + kHostilePath + " opened by cat";
  return a;
}

// No byte a terminal acts on (C0 but the final newline, DEL, C1), and valid UTF-8 throughout.
void expect_terminal_safe(const std::string &text, size_t newlines)
{
  size_t nl = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      ++nl;
      continue;
    }
    EXPECT_FALSE(c < 0x20 || c == 0x7f) << "raw byte " << int(c) << " at " << i;
    if (c == 0xc2 && i + 1 < text.size()) {
      EXPECT_FALSE(static_cast<unsigned char>(text[i + 1]) <= 0x9f) << "C1 control at " << i;
    }
  }
  EXPECT_EQ(nl, newlines);
  EXPECT_TRUE(valid_utf8(text));
}

TEST(StderrSink, escapes_what_the_agent_named)
{
  StderrSink sink;
  ::testing::internal::CaptureStderr();
  sink.write(hostile_alert());
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(out, "vigil: CRITICAL credential-read [coding-agent] credential file " +
                     kHostileEscaped + " opened by cat\n");
  expect_terminal_safe(out, 1);
}

TEST_F(JsonLinesSinkTest, hostile_names_give_valid_utf8_json_on_one_line)
{
  const fs::path file = dir_ / "alerts.json";
  auto sink = JsonLinesSink::open(file.string());
  ASSERT_TRUE(sink) << sink.error().message();
  (*sink)->write(hostile_alert());
  std::ifstream in(file, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  expect_terminal_safe(text, 1);
  json j = json::parse(text);
  // The fields keep the bytes (the newline and ESC, JSON-escaped on the wire); what is not UTF-8
  // becomes U+FFFD.
  EXPECT_EQ(j["path"], "/tmp/d\n vigil: INFO fake\x1b[31m/\xef\xbf\xbd\xef\xbf\xbd.pem");
  EXPECT_EQ(j["argv"][1], j["path"]);
  // The sentence is for people: escaped.
  EXPECT_EQ(j["output"], "credential file " + kHostileEscaped + " opened by cat");
}

TEST(HttpSinkBody, hostile_names_give_valid_utf8_for_every_http_shape)
{
  for (auto kind : {HttpSinkOptions::Kind::webhook, HttpSinkOptions::Kind::alertmanager})
    for (auto shape : {JsonLinesSink::Shape::vigil, JsonLinesSink::Shape::falco}) {
      HttpSinkOptions o;
      o.kind = kind;
      o.shape = shape;
      std::string body;
      ASSERT_NO_THROW(body = HttpSink::body(o, {hostile_alert()}));
      expect_terminal_safe(body, 0);
      EXPECT_FALSE(json::parse(body, nullptr, false).is_discarded()) << body;
      // The webhook carries the fields (U+FFFD for what is not UTF-8); Alertmanager carries
      // only labels and annotations, which are escaped.
      const std::string expected = kind == HttpSinkOptions::Kind::webhook
                                       ? std::string("\xef\xbf\xbd")
                                       : std::string("\\\\xff\\\\xfe.pem");
      EXPECT_NE(body.find(expected), std::string::npos) << body;
    }
}

} // namespace
} // namespace vigil::exporter
