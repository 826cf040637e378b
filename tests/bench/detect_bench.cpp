// SPDX-License-Identifier: Apache-2.0
// The userspace hot path on a realistic event mix: ring record -> decode -> normalize ->
// process table -> every rule of the shipped packs. Records are built with the kernel's own ABI
// structs, so decode does exactly the work it does live. Reports events/s and heap allocations
// per event (a global operator new counts them).
//
//   build/tests/bench/vg_detect_bench --benchmark_min_time=2
#include <arpa/inet.h>

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <new>
#include <string>
#include <vector>

#include "detect/detector.h"
#include "pipeline/event.h"
#include "pipeline/process_table.h"
#include "policy/profile.h"
#include "policy/rules.h"
#include "vigil/abi.h"

namespace {

std::atomic<uint64_t> g_allocs{0};

} // namespace

// GCC pairs these replacements with the free() below through their declarations; it cannot see
// that operator new here is malloc.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

void *operator new(std::size_t n)
{
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void *p = std::malloc(n ? n : 1))
    return p;
  throw std::bad_alloc();
}
void operator delete(void *p) noexcept
{
  std::free(p);
}
void operator delete(void *p, std::size_t) noexcept
{
  std::free(p);
}

namespace vigil {
namespace {

using Record = std::vector<std::byte>;

vg_event_hdr header(uint16_t type, uint32_t pid, uint64_t ts)
{
  vg_event_hdr h{};
  h.type = type;
  h.version = VG_ABI_VERSION;
  h.ts_ns = ts;
  h.cgroup_id = 4242;
  h.tgid = pid;
  h.tid = pid;
  h.profile_id = 1;
  std::strncpy(h.comm, "node", sizeof(h.comm) - 1);
  return h;
}

template <typename T> Record pack(T rec, const std::string &tail = {})
{
  Record r(sizeof(T) + tail.size());
  rec.hdr.size = static_cast<uint16_t>(r.size());
  std::memcpy(r.data(), &rec, sizeof(T));
  std::memcpy(r.data() + sizeof(T), tail.data(), tail.size());
  return r;
}

Record open_rec(uint32_t pid, uint64_t ts, const std::string &path, int64_t ret)
{
  vg_event_open o{};
  o.hdr = header(VG_EV_OPEN, pid, ts);
  o.hdr.flags = ret >= 0 ? VG_F_PATH_RESOLVED : 0;
  o.ret = ret;
  o.ino = ret >= 0 ? 1000 + ts % 97 : 0;
  o.dev = ret >= 0 ? 0x800001 : 0;
  o.dfd = -100;
  o.call = VG_OPEN_OPENAT;
  o.path_len = static_cast<uint16_t>(path.size() + 1);
  return pack(o, path + std::string(1, '\0'));
}

Record connect_rec(uint32_t pid, uint64_t ts, uint32_t ip_be, uint16_t port)
{
  vg_event_connect c{};
  c.hdr = header(VG_EV_CONNECT, pid, ts);
  c.ret = -115;
  c.family = 2;
  c.port = port;
  c.fd = 5;
  std::memcpy(c.addr, &ip_be, 4);
  return pack(c);
}

Record exec_rec(uint32_t pid, uint32_t ppid, uint64_t ts, const std::string &exe,
                const std::vector<std::string> &argv)
{
  vg_event_exec x{};
  x.hdr = header(VG_EV_EXEC, pid, ts);
  x.ppid = ppid;
  x.exe_ino = 77;
  x.exe_dev = 0x800001;
  std::string tail = exe + std::string(1, '\0');
  x.path_len = static_cast<uint16_t>(tail.size());
  std::string args;
  for (const auto &a : argv)
    args += a + std::string(1, '\0');
  x.args_len = static_cast<uint16_t>(args.size());
  return pack(x, tail + args);
}

Record fork_rec(uint32_t parent, uint32_t child, uint64_t ts)
{
  vg_event_fork f{};
  f.hdr = header(VG_EV_FORK, parent, ts);
  f.child_tgid = child;
  return pack(f);
}

Record exit_rec(uint32_t pid, uint64_t ts)
{
  vg_event_exit e{};
  e.hdr = header(VG_EV_EXIT, pid, ts);
  return pack(e);
}

// 200 events of what a coding agent does: mostly opens of project and library files, some
// execs of git/node with their fork and exit, connects to allowed and (rarely) other places.
// About 1 in 100 events raises an alert.
std::vector<Record> event_mix()
{
  std::vector<Record> mix;
  uint64_t ts = 1'000'000'000;
  const uint32_t agent = 5000;
  mix.push_back(exec_rec(agent, 1, ts++, "/usr/bin/node", {"node", "/opt/agent/cli.js"}));
  const char *files[] = {"/home/dev/project/src/main.cpp",  "/home/dev/project/src/util.h",
                         "/usr/lib/x86_64-linux-gnu/libc.so.6", "/etc/ld.so.cache",
                         "/home/dev/project/package.json", "/home/dev/project/README.md",
                         "/usr/share/zoneinfo/UTC",         "/proc/self/status",
                         "/home/dev/.gitconfig",            "/home/dev/project/.git/HEAD"};
  for (int round = 0; round < 10; ++round) {
    const uint32_t child = agent + 1 + static_cast<uint32_t>(round);
    mix.push_back(fork_rec(agent, child, ts++));
    mix.push_back(exec_rec(child, agent, ts++, "/usr/bin/git", {"git", "status", "--short"}));
    for (int i = 0; i < 12; ++i)
      mix.push_back(open_rec(child, ts++, files[(round + i) % 10], 3));
    mix.push_back(open_rec(child, ts++, "/home/dev/project/.git/MERGE_HEAD", -2));
    mix.push_back(connect_rec(agent, ts++, htonl(0x7f000001), 8080));
    mix.push_back(exit_rec(child, ts++));
    for (int i = 0; i < 2; ++i)
      mix.push_back(open_rec(agent, ts++, files[(round * 3 + i) % 10], 4));
  }
  // The rare alerting events: a credential file and a connect outside the allowlist.
  mix.push_back(open_rec(agent, ts++, "/home/dev/.aws/credentials", -1));
  mix.push_back(connect_rec(agent, ts++, htonl(0x0a000001), 443));
  return mix;
}

struct Fixture {
  Fixture()
  {
    proc_root = std::filesystem::temp_directory_path() / "vigil-bench-proc";
    std::filesystem::create_directories(proc_root);
    procs = std::make_unique<pipeline::ProcessTable>(proc_root.string());
    detect::Detector::Options o;
    o.dirs = [](uint32_t, int32_t) { return std::string(); };
    o.homes = [](uint32_t) { return std::string("/home/dev"); };
    detector = std::make_unique<detect::Detector>(o);
    auto rules = policy::load_rules({VG_SOURCE_DIR "/rules"});
    if (!rules)
      std::abort();
    detector->set_rules(std::move(*rules));
    auto profile = policy::load_profile(VG_SOURCE_DIR "/rules/profiles/default.yaml");
    if (!profile)
      std::abort();
    detector->set_profile(1, std::move(*profile));
    mix = event_mix();
  }
  std::filesystem::path proc_root;
  std::unique_ptr<pipeline::ProcessTable> procs;
  std::unique_ptr<detect::Detector> detector;
  std::vector<Record> mix;
};

void BM_Decode(benchmark::State &state)
{
  const auto mix = event_mix();
  size_t i = 0;
  for (auto _ : state) {
    auto ev = pipeline::decode(mix[i]);
    benchmark::DoNotOptimize(ev);
    i = (i + 1) % mix.size();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_Decode);

void BM_DecodeMatch(benchmark::State &state)
{
  Fixture f;
  std::vector<detect::Finding> findings;
  findings.reserve(16);
  size_t i = 0;
  uint64_t alerts = 0;
  const uint64_t allocs_before = g_allocs.load();
  for (auto _ : state) {
    auto ev = pipeline::decode(f.mix[i]);
    f.detector->normalize(*ev);
    f.procs->apply(*ev);
    findings.clear();
    f.detector->evaluate(*ev, *f.procs, findings);
    alerts += findings.size();
    i = (i + 1) % f.mix.size();
  }
  const double n = static_cast<double>(state.iterations());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["alerts_per_event"] = static_cast<double>(alerts) / n;
  state.counters["allocs_per_event"] = static_cast<double>(g_allocs.load() - allocs_before) / n;
}
BENCHMARK(BM_DecodeMatch);

} // namespace
} // namespace vigil

BENCHMARK_MAIN();
