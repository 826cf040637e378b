// SPDX-License-Identifier: Apache-2.0
// The Falco-shaped alert, field by field and type by type, against Falco's JSON output
// (falcosecurity/falco userspace/engine/formats.cpp, falco_formats::format_event; libsinsp's
// JSON field rendering: integers for pids, uids, ports and evt.time, strings otherwise), and the
// Alertmanager v2 postableAlert.

#include <gtest/gtest.h>

#include <regex>

#include "common/text.h"
#include "export/formats.h"
#include "export/sinks.h"

namespace vigil::exporter {
namespace {

using nlohmann::json;

detect::Alert credential_alert()
{
  detect::Alert a;
  a.time_ns = 1795400104123456789ull; // 2026-11-23T02:15:04.123456789Z
  a.hostname = "host-a";
  a.profile = "coding-agent";
  a.rule = "credential-read";
  a.rule_description = "An agent opened a credential file";
  a.tags = {"mitre_credential_access", "credentials", "credentials"};
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
  a.result = -1;
  return a;
}

detect::Alert egress_alert()
{
  detect::Alert a;
  a.time_ns = 5;
  a.hostname = "host-b";
  a.profile = "coding-agent";
  a.rule = "egress-not-allowed";
  a.severity = policy::Severity::informational;
  a.output = "connect to 2001:db8::1 port 443";
  a.event_type = pipeline::EventType::connect;
  a.verdict = pipeline::Verdict::audit;
  a.tier = pipeline::Tier::cgroup;
  a.pid = 800;
  a.comm = "curl";
  a.dest_ip = "2001:db8::1";
  a.dest_port = 443;
  a.dest_family = "ipv6";
  a.result = 0;
  return a;
}

// Falco's top-level keys, all of them and nothing else.
TEST(FalcoShape, has_exactly_falcos_top_level_fields_with_their_types)
{
  const json j = to_falco_json(credential_alert());
  ASSERT_TRUE(j.is_object());
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it)
    keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"hostname", "output", "output_fields", "priority",
                                            "rule", "source", "tags", "time"}));
  EXPECT_TRUE(j["time"].is_string());
  EXPECT_TRUE(j["rule"].is_string());
  EXPECT_TRUE(j["priority"].is_string());
  EXPECT_TRUE(j["source"].is_string());
  EXPECT_TRUE(j["hostname"].is_string());
  EXPECT_TRUE(j["output"].is_string());
  EXPECT_TRUE(j["tags"].is_array());
  EXPECT_TRUE(j["output_fields"].is_object());
}

TEST(FalcoShape, top_level_values_follow_falco)
{
  const json j = to_falco_json(credential_alert());
  // Falco: strftime("%FT%T") of the event time, then ".%09luZ".
  EXPECT_EQ(j["time"], "2026-11-23T02:15:04.123456789Z");
  EXPECT_EQ(j["rule"], "credential-read");
  EXPECT_EQ(j["priority"], "Critical");
  EXPECT_EQ(j["source"], "syscall");
  EXPECT_EQ(j["hostname"], "host-a");
  // Falco's output starts with "<evt.time>: <Priority> ".
  EXPECT_EQ(j["output"],
            "02:15:04.123456789: Critical credential file /home/dev/.aws/credentials opened "
            "by cat");
  // Falco's tags come from a std::set: sorted, unique.
  EXPECT_EQ(j["tags"], json::array({"credentials", "mitre_credential_access"}));
}

TEST(FalcoShape, priorities_are_falcos_capitalised_names)
{
  const std::vector<std::pair<policy::Severity, std::string>> want{
      {policy::Severity::emergency, "Emergency"}, {policy::Severity::alert, "Alert"},
      {policy::Severity::critical, "Critical"},   {policy::Severity::error, "Error"},
      {policy::Severity::warning, "Warning"},     {policy::Severity::notice, "Notice"},
      {policy::Severity::informational, "Informational"}, {policy::Severity::debug, "Debug"}};
  for (const auto &[sev, name] : want) {
    detect::Alert a = credential_alert();
    a.severity = sev;
    EXPECT_EQ(to_falco_json(a)["priority"], name);
  }
}

TEST(FalcoShape, output_fields_use_falco_names_and_types_for_a_file)
{
  const json f = to_falco_json(credential_alert())["output_fields"];
  // Integers where libsinsp renders numbers.
  EXPECT_TRUE(f["evt.time"].is_number_unsigned());
  EXPECT_EQ(f["evt.time"].get<uint64_t>(), 1795400104123456789ull);
  EXPECT_EQ(f["proc.pid"], 700);
  EXPECT_TRUE(f["proc.pid"].is_number_integer());
  EXPECT_EQ(f["proc.ppid"], 600);
  EXPECT_TRUE(f["proc.ppid"].is_number_integer());
  EXPECT_EQ(f["user.uid"], 1000);
  EXPECT_TRUE(f["user.uid"].is_number_integer());
  EXPECT_EQ(f["proc.apid[1]"], 600);
  EXPECT_EQ(f["proc.apid[2]"], 500);
  // Strings.
  EXPECT_EQ(f["evt.type"], "open");
  EXPECT_EQ(f["evt.res"], "EPERM");
  EXPECT_EQ(f["evt.hostname"], "host-a");
  EXPECT_EQ(f["proc.name"], "cat");
  EXPECT_EQ(f["proc.exe"], "cat");
  EXPECT_EQ(f["proc.exepath"], "/usr/bin/cat");
  EXPECT_EQ(f["proc.args"], "/home/dev/.aws/credentials");
  EXPECT_EQ(f["proc.cmdline"], "cat /home/dev/.aws/credentials"); // proc.name + args
  EXPECT_EQ(f["proc.pname"], "python3");
  EXPECT_EQ(f["proc.aname[1]"], "python3");
  EXPECT_EQ(f["proc.aname[2]"], "bash");
  EXPECT_EQ(f["fd.name"], "/home/dev/.aws/credentials");
  EXPECT_EQ(f["fd.type"], "file");
  EXPECT_FALSE(f.contains("fd.sip"));
  // What Falco has no field for, under vigil.
  EXPECT_EQ(f["vigil.profile"], "coding-agent");
  EXPECT_EQ(f["vigil.verdict"], "denied");
  EXPECT_EQ(f["vigil.tier"], "lsm");
  EXPECT_EQ(f["vigil.cgroup"], "/agents/run-1");
  EXPECT_EQ(f["vigil.cgroup_id"], 4711);
  EXPECT_EQ(f["vigil.result"], -1);
  EXPECT_EQ(f["vigil.rule_description"], "An agent opened a credential file");
  // Falco's output_fields hold scalars only, and every key is a Falco field or vigil.*.
  static const std::regex falco_field(
      R"((evt|proc|user|fd)\.[a-z]+(\[[0-9]+\])?|vigil\.[a-z_]+)");
  for (auto it = f.begin(); it != f.end(); ++it) {
    EXPECT_TRUE(it->is_primitive()) << it.key();
    EXPECT_TRUE(std::regex_match(it.key(), falco_field)) << it.key();
  }
}

TEST(FalcoShape, output_fields_for_a_connect_name_the_server_side)
{
  const json j = to_falco_json(egress_alert());
  EXPECT_EQ(j["priority"], "Informational");
  EXPECT_EQ(j["tags"], json::array());
  EXPECT_EQ(j["time"], "1970-01-01T00:00:00.000000005Z");
  const json f = j["output_fields"];
  EXPECT_EQ(f["evt.type"], "connect");
  EXPECT_EQ(f["evt.res"], "SUCCESS");
  EXPECT_EQ(f["fd.sip"], "2001:db8::1");
  EXPECT_EQ(f["fd.sport"], 443);
  EXPECT_TRUE(f["fd.sport"].is_number_integer());
  EXPECT_EQ(f["fd.type"], "ipv6");
  EXPECT_FALSE(f.contains("fd.name"));
  EXPECT_FALSE(f.contains("proc.pname")) << "no ancestry, no parent name";
  EXPECT_EQ(f["vigil.verdict"], "would-deny");
  EXPECT_EQ(f["proc.cmdline"], "curl");
}

TEST(FalcoShape, a_falcosidekick_payload_round_trips)
{
  // falcosidekick's FalcoPayload reads output, priority, rule, time, output_fields, source,
  // tags and hostname: all present with the types it declares (time parses as RFC 3339).
  const json j = json::parse(to_falco_json(credential_alert()).dump());
  static const std::regex rfc3339(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z)");
  EXPECT_TRUE(std::regex_match(j["time"].get<std::string>(), rfc3339));
  for (const auto &t : j["tags"])
    EXPECT_TRUE(t.is_string());
}

TEST(AlertmanagerPayload, is_a_postable_alert_with_bounded_labels)
{
  const json j = to_alertmanager_alert(credential_alert(), std::chrono::seconds(3600));
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it)
    keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"annotations", "endsAt", "labels", "startsAt"}));
  EXPECT_EQ(j["startsAt"], "2026-11-23T02:15:04.123456789Z");
  EXPECT_EQ(j["endsAt"], "2026-11-23T03:15:04.123456789Z");
  const json l = j["labels"];
  EXPECT_EQ(l, (json{{"alertname", "credential-read"},
                     {"rule", "credential-read"},
                     {"severity", "critical"},
                     {"priority", "Critical"},
                     {"profile", "coding-agent"},
                     {"hostname", "host-a"},
                     {"verdict", "denied"},
                     {"process", "cat"},
                     {"source", "vigil"}}));
  static const std::regex label_name("[a-zA-Z_][a-zA-Z0-9_]*");
  for (auto it = l.begin(); it != l.end(); ++it) {
    EXPECT_TRUE(std::regex_match(it.key(), label_name)) << it.key();
    EXPECT_TRUE(it->is_string());
  }
  const json an = j["annotations"];
  EXPECT_EQ(an["summary"], "credential file /home/dev/.aws/credentials opened by cat");
  EXPECT_EQ(an["description"], "An agent opened a credential file");
  EXPECT_EQ(an["pid"], "700");
  EXPECT_EQ(an["exe"], "/usr/bin/cat");
  EXPECT_EQ(an["cmdline"], "cat /home/dev/.aws/credentials");
  EXPECT_EQ(an["object"], "/home/dev/.aws/credentials");
  EXPECT_EQ(an["cgroup"], "/agents/run-1");
  EXPECT_EQ(an["result"], "EPERM");
  EXPECT_EQ(an["tags"], "credentials,mitre_credential_access");
  for (auto it = an.begin(); it != an.end(); ++it)
    EXPECT_TRUE(it->is_string()) << it.key();
}

TEST(AlertmanagerPayload, leaves_out_empty_values_and_names_destinations)
{
  detect::Alert a = egress_alert();
  a.hostname.clear();
  const json j = to_alertmanager_alert(a, std::chrono::seconds(60));
  EXPECT_FALSE(j["labels"].contains("hostname"));
  EXPECT_EQ(j["annotations"]["object"], "[2001:db8::1]:443");
  EXPECT_EQ(j["annotations"]["description"], "connect to 2001:db8::1 port 443");
  EXPECT_FALSE(j["annotations"].contains("cgroup"));
  EXPECT_EQ(j["endsAt"], "1970-01-01T00:01:00.000000005Z");
}

TEST(HttpSinkBody, alertmanager_posts_an_array_and_the_webhook_one_object)
{
  HttpSinkOptions am;
  am.kind = HttpSinkOptions::Kind::alertmanager;
  const json arr = json::parse(HttpSink::body(am, {credential_alert(), egress_alert()}));
  ASSERT_TRUE(arr.is_array());
  ASSERT_EQ(arr.size(), 2u);
  EXPECT_EQ(arr[1]["labels"]["alertname"], "egress-not-allowed");

  HttpSinkOptions hook;
  const json vigil_shape = json::parse(HttpSink::body(hook, {credential_alert()}));
  EXPECT_EQ(vigil_shape["severity"], "critical");
  hook.shape = JsonLinesSink::Shape::falco;
  const json falco_shape = json::parse(HttpSink::body(hook, {credential_alert()}));
  EXPECT_EQ(falco_shape["priority"], "Critical");
}

const std::string kHostilePath = "/tmp/d\n vigil: INFO fake\x1b[31m/\xff\xfe.pem";
const std::string kHostileEscaped = "/tmp/d\\n vigil: INFO fake\\x1b[31m/\\xff\\xfe.pem";

detect::Alert hostile_alert()
{
  detect::Alert a = credential_alert();
  a.path = kHostilePath;
  a.exe = "/tmp/\xc3\x28";
  a.argv = {"cat", kHostilePath};
  a.comm = "c\x1b]0;pwned\x07";
  a.output = "credential file " + kHostilePath + " opened by cat";
  return a;
}

std::string dump(const json &j)
{
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

TEST(FalcoShape, output_is_escaped_and_fields_are_valid_utf8)
{
  const json j = to_falco_json(hostile_alert());
  EXPECT_EQ(j["output"], "02:15:04.123456789: Critical credential file " + kHostileEscaped +
                             " opened by cat");
  std::string text;
  ASSERT_NO_THROW(text = dump(j));
  EXPECT_TRUE(valid_utf8(text));
  const json back = json::parse(text);
  EXPECT_EQ(back["output_fields"]["fd.name"],
            "/tmp/d\n vigil: INFO fake\x1b[31m/\xef\xbf\xbd\xef\xbf\xbd.pem");
  EXPECT_EQ(back["output_fields"]["proc.exepath"], "/tmp/\xef\xbf\xbd(");
}

TEST(AlertmanagerPayload, labels_and_annotations_are_escaped_and_bounded)
{
  detect::Alert a = hostile_alert();
  const json j = to_alertmanager_alert(a, std::chrono::seconds(60));
  EXPECT_EQ(j["labels"]["process"], "c\\x1b]0;pwned\\x07");
  EXPECT_EQ(j["annotations"]["summary"], "credential file " + kHostileEscaped + " opened by cat");
  EXPECT_EQ(j["annotations"]["object"], kHostileEscaped);
  EXPECT_EQ(j["annotations"]["exe"], "/tmp/\\xc3(");
  const std::string text = dump(j);
  EXPECT_TRUE(valid_utf8(text));
  for (char c : text)
    EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20) << text;

  a.comm = std::string(100000, 'x') + "\x1b";
  const json big = to_alertmanager_alert(a, std::chrono::seconds(60));
  const std::string process = big["labels"]["process"];
  EXPECT_LE(process.size(), kMaxAlertmanagerLabelBytes);
  EXPECT_TRUE(process.ends_with("..."));
}

} // namespace
} // namespace vigil::exporter
