// SPDX-License-Identifier: Apache-2.0
// Record -> JSON for `vigil log export`: named fields for every body type, the wall-clock time
// from the segment's clock pair, and damage that becomes an "error" field, never an exception.
#include <gtest/gtest.h>

#include "detect/alert.h"
#include "eventlog/codec.h"
#include "eventlog/json.h"
#include "eventlog/wire.h"
#include "samples.h"

namespace vigil::eventlog {
namespace {

class ExportJson : public ::testing::Test {
protected:
  void SetUp() override
  {
    seg_.path = "/var/log/vigil/seg-0000000000000003.vglog";
    seg_.header_ok = true;
    seg_.header.created_realtime_ns = 1'800'000'000'000'000'000ull;
    seg_.header.created_boottime_ns = 500'000'000'000ull;
  }

  nlohmann::ordered_json of(uint16_t type, const std::string &payload)
  {
    RecordView r{type, 0, wire::as_bytes(payload), &seg_, 4096, 17};
    return to_json(r);
  }
  nlohmann::ordered_json of(const pipeline::Event &ev)
  {
    std::string buf;
    encode(ev, buf);
    return of(static_cast<uint16_t>(RecordType::event), buf);
  }

  SegmentInfo seg_;
};

TEST_F(ExportJson, events_have_named_header_and_body_fields)
{
  const auto evs = test::one_of_each();
  auto exec = of(evs[0]);
  EXPECT_EQ(exec.begin().key(), "record") << "record comes first, for people reading lines";
  EXPECT_EQ(exec["record"], "event");
  EXPECT_EQ(exec["segment"], "seg-0000000000000003.vglog");
  EXPECT_EQ(exec["offset"], 4096);
  EXPECT_EQ(exec["index"], 17);
  EXPECT_EQ(exec["type"], "exec");
  EXPECT_EQ(exec["time"], detect::format_time(evs[0].hdr.ts_ns + 1'800'000'000'000'000'000ull -
                                              500'000'000'000ull));
  EXPECT_EQ(exec["ts_boot_ns"], evs[0].hdr.ts_ns);
  EXPECT_EQ(exec["pid"], 4242);
  EXPECT_EQ(exec["tid"], 4243);
  EXPECT_EQ(exec["uid"], 1000);
  EXPECT_EQ(exec["comm"], "python3");
  EXPECT_EQ(exec["cgroup_id"], 0x1122334455667788ull);
  EXPECT_EQ(exec["profile_id"], 7);
  EXPECT_EQ(exec["verdict"], "denied");
  EXPECT_EQ(exec["tier"], "fanotify");
  EXPECT_EQ(exec["ppid"], 17);
  EXPECT_EQ(exec["exe"], "/usr/bin/python3.11");
  EXPECT_EQ(exec["argv"].size(), 5u);

  EXPECT_EQ(of(evs[1])["child_pid"], 99999);
  EXPECT_EQ(of(evs[2])["exit_code"], -9);
  auto open = of(evs[3]);
  EXPECT_EQ(open["path"], "/home/dev/.aws/credentials");
  EXPECT_EQ(open["ret"], -13);
  EXPECT_EQ(open["call"], "openat2");
  EXPECT_EQ(open["open_flags"], 0x80000);
  EXPECT_EQ(open["pattern"], "~/.aws/**");
  EXPECT_EQ(open["ipc"], true);
  auto conn = of(evs[4]);
  EXPECT_EQ(conn["family"], "ipv6");
  EXPECT_EQ(conn["ip"], "2001:db8::1");
  EXPECT_EQ(conn["port"], 443);
  EXPECT_EQ(conn["sendmsg"], true);
  auto pt = of(evs[5]);
  EXPECT_EQ(pt["target_pid"], 1);
  EXPECT_EQ(pt["target_comm"], "systemd");
  auto sock = of(evs[6]);
  EXPECT_EQ(sock["family"], 17);
  EXPECT_EQ(sock["socket_type"], 3);
  EXPECT_EQ(sock["protocol"], 768);
}

TEST_F(ExportJson, unix_connects_name_the_socket_path)
{
  pipeline::Event ev{test::sample_header(pipeline::EventType::connect, 0), pipeline::ConnectBody{}};
  auto &c = std::get<pipeline::ConnectBody>(ev.body);
  c.family = 1;
  c.unix_path = "/run/docker.sock";
  auto j = of(ev);
  EXPECT_EQ(j["family"], "unix");
  EXPECT_EQ(j["unix_path"], "/run/docker.sock");
  EXPECT_FALSE(j.contains("ip"));
}

TEST_F(ExportJson, other_records_carry_their_own_fields)
{
  auto p = of(static_cast<uint16_t>(RecordType::policy), R"({"name":"coding-agent","record":"x"})");
  EXPECT_EQ(p["record"], "policy") << "a payload cannot overwrite the record's own keys";
  EXPECT_EQ(p["name"], "coding-agent");
  auto a = of(static_cast<uint16_t>(RecordType::alert), R"({"rule":"credential-read"})");
  EXPECT_EQ(a["alert"]["rule"], "credential-read");
  auto n = of(static_cast<uint16_t>(RecordType::note), R"({"text":"hi"})");
  EXPECT_EQ(n["text"], "hi");
  auto u = of(4242, "opaque");
  EXPECT_EQ(u["record"], "unknown");
  EXPECT_EQ(u["record_type"], 4242);
  EXPECT_EQ(u["size"], 6);
}

TEST_F(ExportJson, undecodable_payloads_become_an_error_field)
{
  auto e = of(static_cast<uint16_t>(RecordType::event), std::string("\x07garbage", 8));
  EXPECT_EQ(e["record"], "event");
  EXPECT_NE(e["error"].get<std::string>().find("codec version 7"), std::string::npos);
  auto n = of(static_cast<uint16_t>(RecordType::note), "{not json");
  EXPECT_EQ(n["error"], "payload is not JSON");
}

TEST_F(ExportJson, no_time_without_a_readable_header)
{
  seg_.header_ok = false;
  auto j = of(test::one_of_each()[2]);
  EXPECT_FALSE(j.contains("time"));
  EXPECT_TRUE(j.contains("ts_boot_ns"));
}

} // namespace
} // namespace vigil::eventlog
