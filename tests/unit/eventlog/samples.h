// SPDX-License-Identifier: Apache-2.0
// Sample events for the event-log tests and benchmark: one of every body type with every field
// set to something distinctive, and a realistic mix (exec with argv, opens with paths, connects).
#pragma once

#include <string>
#include <vector>

#include "pipeline/event.h"

namespace vigil::eventlog::test {

inline pipeline::Header sample_header(pipeline::EventType t, uint64_t seq)
{
  pipeline::Header h;
  h.type = t;
  h.flags = 0x0102;
  h.ts_ns = 1'000'000'000ull + seq * 1000;
  h.cgroup_id = 0x1122334455667788ull;
  h.tgid = 4242 + static_cast<uint32_t>(seq % 1000);
  h.tid = 4243;
  h.uid = 1000;
  h.gid = 1001;
  h.profile_id = 7;
  h.rule_id = 3;
  h.verdict = pipeline::Verdict::deny;
  h.tier = pipeline::Tier::fanotify;
  h.comm = "python3";
  return h;
}

// Every alternative of pipeline::Event's body variant, in variant order.
inline std::vector<pipeline::Event> one_of_each(uint64_t seq = 0)
{
  using namespace pipeline;
  std::vector<Event> out;
  {
    Event e{sample_header(EventType::exec, seq), ExecBody{}};
    auto &b = std::get<ExecBody>(e.body);
    b.ppid = 17;
    b.old_tid = 18;
    b.loginuid = 1000;
    b.exe_dev = (8u << 20) | 1;
    b.exe_ino = 0xabcdef0123ull;
    b.exe = "/usr/bin/python3.11";
    b.argv = {"python3", "-c", "print('hello world')", "", std::string(300, 'x')};
    b.env = {"LD_PRELOAD=/tmp/evil.so", "GIT_CONFIG_COUNT=1"};
    b.env_truncated = true;
    out.push_back(e);
  }
  out.push_back(Event{sample_header(EventType::fork, seq), ForkBody{99999}});
  out.push_back(Event{sample_header(EventType::exit, seq), ExitBody{-9}});
  {
    Event e{sample_header(EventType::open, seq), OpenBody{}};
    auto &b = std::get<OpenBody>(e.body);
    b.ret = -13;
    b.ino = 777;
    b.dev = 66306;
    b.flags = 0x80000;
    b.mode = 0644;
    b.dfd = -100;
    b.call = OpenCall::openat2;
    b.resolved = true;
    b.truncated = false;
    b.path = "/home/dev/.aws/credentials";
    b.pattern = "~/.aws/**";
    b.ipc = true;
    out.push_back(e);
  }
  {
    Event e{sample_header(EventType::connect, seq), ConnectBody{}};
    auto &b = std::get<ConnectBody>(e.body);
    b.ret = -1;
    b.sendmsg = true;
    b.ipc = false;
    b.family = 10;
    b.port = 443;
    b.fd = 5;
    b.addr = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    b.unix_path = "";
    out.push_back(e);
  }
  {
    Event e{sample_header(EventType::ptrace, seq), PtraceBody{}};
    auto &b = std::get<PtraceBody>(e.body);
    b.target_tgid = 1;
    b.mode = 0x11;
    b.target_cgroup = 42;
    b.target_comm = "systemd";
    out.push_back(e);
  }
  out.push_back(Event{sample_header(EventType::socket, seq), SocketBody{17, 3, 768, -1}});
  {
    Event e{sample_header(EventType::egress_volume, seq), VolumeBody{}};
    auto &b = std::get<VolumeBody>(e.body);
    b.addr = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 199, 0, 1};
    b.port = 8443;
    b.proto = 6;
    b.bytes = 60'000'000;
    b.packets = 1234;
    out.push_back(e);
  }
  {
    Event e{sample_header(EventType::tamper, seq), TamperBody{}};
    auto &b = std::get<TamperBody>(e.body);
    b.kind = TamperKind::cgroup_escape;
    b.arg = -7;
    b.target_tgid = 4242;
    b.target_cgroup = 0x123456789ull;
    b.name = "cgroup.procs";
    e.hdr.verdict = Verdict::kill;
    out.push_back(e);
  }
  out.push_back(Event{sample_header(EventType::throttle, seq), ThrottleBody{123456, 2000}});
  {
    Event e{sample_header(EventType::dns, seq), DnsBody{}};
    auto &b = std::get<DnsBody>(e.body);
    b.server = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 53};
    b.port = 53;
    b.proto = 17;
    b.cut = true;
    b.truncated = true;
    b.rcode = 0;
    b.qtype = 1;
    b.id = 0xbeef;
    b.qname = "pypi.org";
    b.cnames = {"dualstack.pypi.map.fastly.net"};
    b.addrs = {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 151, 101, 0, 223},
               {0x2a, 0x04, 0x4e, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x23}};
    b.ttl = 300;
    e.hdr.tgid = 0;
    e.hdr.verdict = Verdict::none;
    e.hdr.tier = Tier::none;
    out.push_back(e);
  }
  return out;
}

// The benchmark's and the log tests' mix: per 10 events, 1 exec, 6 opens, 2 connects, 1 exit.
inline pipeline::Event mixed_event(uint64_t i)
{
  using namespace pipeline;
  const uint64_t k = i % 10;
  if (k == 0) {
    Event e{sample_header(EventType::exec, i), ExecBody{}};
    auto &b = std::get<ExecBody>(e.body);
    b.ppid = 100;
    b.exe = "/usr/bin/git";
    b.argv = {"git", "commit", "-m", "change number " + std::to_string(i)};
    e.hdr.comm = "git";
    return e;
  }
  if (k <= 6) {
    Event e{sample_header(EventType::open, i), OpenBody{}};
    auto &b = std::get<OpenBody>(e.body);
    b.ret = 3;
    b.ino = 1000 + i;
    b.dev = 66306;
    b.call = OpenCall::openat;
    b.resolved = true;
    b.path = "/home/dev/project/src/module_" + std::to_string(i % 97) + "/file_" +
             std::to_string(i) + ".py";
    return e;
  }
  if (k <= 8) {
    Event e{sample_header(EventType::connect, i), ConnectBody{}};
    auto &b = std::get<ConnectBody>(e.body);
    b.family = 2;
    b.port = 443;
    b.fd = 7;
    b.addr = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 140, 82, 112, static_cast<uint8_t>(i)};
    return e;
  }
  return Event{sample_header(EventType::exit, i), ExitBody{0}};
}

} // namespace vigil::eventlog::test
