// SPDX-License-Identifier: Apache-2.0
// synthlog: writes a synthetic agent session to an event log with the real writer, for the
// report's scale test and benchmark and the progress tests: a policy, an agent cgroup, and
// EVENTS events of a tree of processes (an agent spawning git, python3, npm, curl, cat ...)
// whose opens are mostly shared libraries and locale files, with project files, connects,
// denied credential reads and egress with their alerts every 10000 events. With --hostile, the
// names are what a hostile agent would pick: markup, quotes, control characters, invalid UTF-8
// and a 100 KB argument.
//   synthlog DIR EVENTS [--hostile]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "eventlog/writer.h"

namespace {

using namespace vigil;
using namespace vigil::pipeline;

constexpr uint64_t kCgroup = 77;
constexpr uint32_t kProfile = 1;

Header header(EventType t, uint64_t i, uint32_t pid, const std::string &comm)
{
  Header h;
  h.type = t;
  h.ts_ns = 5'000'000'000ull + i * 100'000; // 100 us apart: a million events is 100 s
  h.cgroup_id = kCgroup;
  h.tgid = pid;
  h.tid = pid;
  h.profile_id = kProfile;
  h.comm = comm;
  return h;
}

std::string time_of(uint64_t realtime_ns)
{
  char buf[64];
  const time_t s = static_cast<time_t>(realtime_ns / 1'000'000'000ull);
  std::tm tm{};
  gmtime_r(&s, &tm);
  const size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof(buf) - n, ".%09lluZ",
                static_cast<unsigned long long>(realtime_ns % 1'000'000'000ull));
  return buf;
}

} // namespace

int main(int argc, char **argv)
{
  if (argc < 3) {
    std::fprintf(stderr, "usage: synthlog DIR EVENTS [--hostile]\n");
    return 2;
  }
  const uint64_t total = std::strtoull(argv[2], nullptr, 10);
  const bool hostile = argc > 3 && std::strcmp(argv[3], "--hostile") == 0;
  eventlog::WriterOptions opts;
  opts.dir = argv[1];
  opts.segment_max_bytes = 16ull << 20;
  auto w = eventlog::Writer::open(opts);
  if (!w) {
    std::fprintf(stderr, "synthlog: %s\n", w.error().message().c_str());
    return 1;
  }
  // Realtime of the segment's clock pair, so that alert times line up with event times.
  timespec rt{}, bt{};
  clock_gettime(CLOCK_REALTIME, &rt);
  clock_gettime(CLOCK_BOOTTIME, &bt);
  const int64_t offset = (rt.tv_sec - bt.tv_sec) * 1'000'000'000ll + (rt.tv_nsec - bt.tv_nsec);

  nlohmann::json policy{{"profile_id", kProfile},
                        {"name", "synth"},
                        {"source", "<synthetic>"},
                        {"text", "profile: synth\ncredentials:\n  paths: [~/.aws/credentials, "
                                 "/etc/shadow]\negress:\n  allow: [127.0.0.1/32]\n"},
                        {"home", "/home/dev"}};
  (*w)->append_policy(policy.dump(), {});
  (*w)->append(eventlog::RecordType::cgroup,
               nlohmann::json{{"cgroup_id", kCgroup},
                              {"path", "/sys/fs/cgroup/vigil/run-1000"},
                              {"profile_id", kProfile},
                              {"profile", "synth"}}
                   .dump());

  const std::string evil =
      hostile ? "<script>document.title='pwned'</script>\"'&\x01\x1b[31m\xff\xfe" : "tool";
  const char *tools[] = {"git", "python3", "npm", "cat", "curl", "make", "cc1", "ld"};
  uint32_t agent = 1000, child = agent, next_pid = 1001;
  std::string comm = "agent";
  auto put = [&](const Event &ev) {
    while (!(*w)->append_event(ev))
      std::this_thread::yield(); // the queue is full: let the writer catch up (never a drop)
  };
  auto alert = [&](uint64_t i, uint32_t pid, const std::string &c, const char *rule,
                   const char *sev, const nlohmann::json &extra) {
    nlohmann::json j{{"time", time_of(5'000'000'000ull + i * 100'000 + offset)},
                     {"rule", rule},
                     {"severity", sev},
                     {"verdict", "denied"},
                     {"tier", "fanotify"},
                     {"pid", pid},
                     {"comm", c},
                     {"profile", "synth"},
                     {"cgroup", "/vigil/run-1000"},
                     {"output", std::string(rule) + " by " + c}};
    j.update(extra);
    (*w)->append(eventlog::RecordType::alert,
                 j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  };
  {
    Event e{header(EventType::exec, 0, agent, comm), ExecBody{}};
    auto &x = std::get<ExecBody>(e.body);
    x.ppid = 999;
    x.exe = "/usr/bin/agent";
    x.argv = {"agent", "--task", "fix the build"};
    put(e);
  }
  for (uint64_t i = 1; i < total; ++i) {
    const uint64_t phase = i % 500;
    if (phase == 0) { // the previous tool exits, the agent forks and execs the next one
      if (child != agent)
        put(Event{header(EventType::exit, i, child, comm), ExitBody{0}});
      const uint32_t pid = next_pid++;
      put(Event{header(EventType::fork, i, agent, "agent"), ForkBody{pid}});
      child = pid;
      const std::string tool = tools[(i / 500) % std::size(tools)];
      comm = (i / 500) % 97 == 3 ? evil.substr(0, 15) : tool;
      Event e{header(EventType::exec, i, child, comm), ExecBody{}};
      auto &x = std::get<ExecBody>(e.body);
      x.ppid = agent;
      x.exe = "/usr/bin/" + tool;
      x.argv = {tool, "--step", std::to_string(i / 500)};
      if ((i / 500) % 97 == 3) {
        x.exe = "/tmp/" + evil;
        x.argv.push_back(evil);
        x.argv.push_back(std::string(100'000, 'A'));
        x.env = {"LD_PRELOAD=/tmp/" + evil + ".so"};
      }
      put(e);
      continue;
    }
    if (i % 10000 == 5001) { // a denied credential read and its alert
      Event e{header(EventType::open, i, child, comm), OpenBody{}};
      auto &o = std::get<OpenBody>(e.body);
      o.dev = 8;
      o.ino = i + 1;
      o.path = "/home/dev/.aws/credentials";
      o.ret = -1;
      o.pattern = "~/.aws/credentials";
      e.hdr.verdict = Verdict::deny;
      e.hdr.tier = Tier::fanotify;
      put(e);
      alert(i, child, comm, "cred-aws", "critical", {{"path", o.path}, {"event", "open"}});
      continue;
    }
    if (i % 10000 == 7001) { // a denied connect and its alert
      Event e{header(EventType::connect, i, child, comm), ConnectBody{}};
      auto &c = std::get<ConnectBody>(e.body);
      c.family = 2;
      c.port = 4444;
      c.addr = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 7};
      c.ret = -1;
      e.hdr.verdict = Verdict::deny;
      e.hdr.tier = Tier::cgroup;
      put(e);
      alert(i, child, comm, "egress-not-allowed", "error",
            {{"destination", {{"ip", "203.0.113.7"}, {"port", 4444}, {"family", "ipv4"}}},
             {"event", "connect"}});
      continue;
    }
    const uint64_t k = (i * 2654435761u) % 100;
    if (k < 5) {
      Event e{header(EventType::connect, i, child, comm), ConnectBody{}};
      auto &c = std::get<ConnectBody>(e.body);
      c.family = 2;
      c.port = 443;
      c.addr = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, static_cast<uint8_t>(i % 20), 1};
      put(e);
      continue;
    }
    Event e{header(EventType::open, i, child, comm), OpenBody{}};
    auto &o = std::get<OpenBody>(e.body);
    o.dev = 8;
    o.ino = i + 1; // distinct files: no open repeats the previous decision (OpenDedup)
    o.ret = 3;
    if (k < 65)
      o.path = "/usr/lib/x86_64-linux-gnu/lib" + std::to_string(k % 40) + ".so.6";
    else if (k < 75)
      o.path = "/usr/lib/locale/C.utf8/LC_" + std::to_string(k % 12);
    else if (k < 80)
      o.path = "/proc/self/status";
    else if (hostile && k == 99)
      o.path = "/home/dev/project/" + evil + ".py";
    else
      o.path = "/home/dev/project/src/module" + std::to_string(i % 400) + ".py";
    put(e);
  }
  if (child != agent)
    put(Event{header(EventType::exit, total, child, comm), ExitBody{0}});
  (*w)->close();
  std::printf("%llu events\n", static_cast<unsigned long long>(total));
  return 0;
}
