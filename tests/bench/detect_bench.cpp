// SPDX-License-Identifier: Apache-2.0
// The userspace hot path on a realistic event mix: ring record -> decode -> normalize ->
// process table -> every rule of the shipped packs -> metrics -> alert; each step alone too
// (decode per event type, process-table update, metric update), and replay of a recorded log.
// Records are built with the kernel's own ABI structs, so decode does exactly the work it does
// live. Reports events/s and heap allocations per event (a global operator new counts them).
//
//   build/tests/bench/vg_detect_bench --benchmark_min_time=2
#include <arpa/inet.h>

#include <benchmark/benchmark.h>

#include <atomic>
#include <thread>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <new>
#include <string>
#include <vector>

#include "detect/detector.h"
#include "detect/enrich.h"
#include "eventlog/codec.h"
#include "eventlog/reader.h"
#include "eventlog/writer.h"
#include "export/metrics.h"
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

Record ptrace_rec(uint32_t pid, uint64_t ts, uint32_t target)
{
  vg_event_ptrace p{};
  p.hdr = header(VG_EV_PTRACE, pid, ts);
  p.target_tgid = target;
  p.mode = 0x11; // PTRACE_MODE_READ | PTRACE_MODE_FSCREDS: /proc/PID/environ
  p.target_cgroup = 1;
  std::strncpy(p.target_comm, "sshd", sizeof(p.target_comm) - 1);
  return pack(p);
}

Record socket_rec(uint32_t pid, uint64_t ts)
{
  vg_event_socket k{};
  k.hdr = header(VG_EV_SOCKET, pid, ts);
  k.family = 17; // AF_PACKET
  k.type = 3;    // SOCK_RAW
  k.ret = -1;
  return pack(k);
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

// The mix once through, so that every cache the hot path keeps (the decoder's events, the
// process table's entries, the index of the home) holds what the measured loop needs: the
// allocations counted are those of the steady state.
void warm(Fixture &f, pipeline::Decoder &decoder)
{
  std::vector<detect::Finding> findings;
  for (int pass = 0; pass < 2; ++pass)
    for (const auto &rec : f.mix) {
      pipeline::Event *ev = *decoder.decode(rec);
      f.detector->normalize(*ev);
      f.procs->apply(*ev);
      findings.clear();
      f.detector->evaluate(*ev, *f.procs, findings);
    }
}

void BM_DecodeMatch(benchmark::State &state)
{
  Fixture f;
  pipeline::Decoder decoder;
  warm(f, decoder);
  std::vector<detect::Finding> findings;
  findings.reserve(16);
  size_t i = 0;
  uint64_t alerts = 0, alerting = 0, allocs_alerting = 0;
  const uint64_t allocs_before = g_allocs.load();
  for (auto _ : state) {
    const uint64_t at = g_allocs.load(std::memory_order_relaxed);
    pipeline::Event *ev = *decoder.decode(f.mix[i]);
    f.detector->normalize(*ev);
    f.procs->apply(*ev);
    findings.clear();
    f.detector->evaluate(*ev, *f.procs, findings);
    alerts += findings.size();
    if (!findings.empty()) {
      ++alerting;
      allocs_alerting += g_allocs.load(std::memory_order_relaxed) - at;
    }
    i = (i + 1) % f.mix.size();
  }
  const double n = static_cast<double>(state.iterations());
  const uint64_t allocs = g_allocs.load() - allocs_before;
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["alerts_per_event"] = static_cast<double>(alerts) / n;
  state.counters["allocs_per_event"] = static_cast<double>(allocs) / n;
  // Events that match nothing (all but ~1 in 100) apart from those that make a finding (its
  // strings are the alert's).
  state.counters["allocs_per_quiet_event"] =
      static_cast<double>(allocs - allocs_alerting) / (n - static_cast<double>(alerting));
}
BENCHMARK(BM_DecodeMatch);

// decode() of one record of each kind (Arg: enum vg_event_type), with its allocations.
Record one_of(int type)
{
  switch (type) {
  case VG_EV_EXEC:
    return exec_rec(5001, 5000, 1, "/usr/bin/git", {"git", "status", "--short"});
  case VG_EV_FORK:
    return fork_rec(5000, 5001, 1);
  case VG_EV_EXIT:
    return exit_rec(5001, 1);
  case VG_EV_OPEN:
    return open_rec(5001, 1, "/home/dev/project/src/main.cpp", 3);
  case VG_EV_CONNECT:
    return connect_rec(5001, 1, htonl(0x7f000001), 8080);
  case VG_EV_PTRACE:
    return ptrace_rec(5001, 1, 1);
  default:
    return socket_rec(5001, 1);
  }
}

void BM_DecodeType(benchmark::State &state)
{
  const Record rec = one_of(static_cast<int>(state.range(0)));
  const uint64_t allocs_before = g_allocs.load();
  for (auto _ : state) {
    auto ev = pipeline::decode(rec);
    benchmark::DoNotOptimize(ev);
  }
  state.SetLabel(std::string(pipeline::to_string(static_cast<pipeline::EventType>(state.range(0)))));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["allocs_per_event"] = static_cast<double>(g_allocs.load() - allocs_before) /
                                       static_cast<double>(state.iterations());
}
BENCHMARK(BM_DecodeType)->DenseRange(VG_EV_EXEC, VG_EV_SOCKET);

// ProcessTable::apply() on a lifecycle stream (fork, exec, exit of a child of a long-lived agent)
// with Arg processes already in the table: what the pipeline pays per lifecycle event.
void BM_ProcessTableUpdate(benchmark::State &state)
{
  pipeline::ProcessTable procs("/nonexistent-proc-for-bench");
  // The agent itself is known (its exec was seen), so no fork misses the table and reads /proc.
  procs.apply(*pipeline::decode(exec_rec(5000, 1, 1, "/usr/bin/node", {"node", "/opt/agent/cli.js"})));
  const auto resident = static_cast<uint32_t>(state.range(0));
  for (uint32_t pid = 100000; pid < 100000 + resident; ++pid) {
    auto ev = pipeline::decode(fork_rec(5000, pid, pid));
    procs.apply(*ev);
  }
  std::vector<pipeline::Event> cycle;
  for (uint32_t i = 0; i < 64; ++i) {
    const uint32_t child = 6000 + i;
    cycle.push_back(*pipeline::decode(fork_rec(5000, child, 10 + i)));
    cycle.push_back(*pipeline::decode(exec_rec(child, 5000, 11 + i, "/usr/bin/git",
                                               {"git", "status", "--short"})));
    cycle.push_back(*pipeline::decode(exit_rec(child, 12 + i)));
  }
  size_t i = 0;
  const uint64_t allocs_before = g_allocs.load();
  for (auto _ : state) {
    procs.apply(cycle[i]);
    i = (i + 1) % cycle.size();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["allocs_per_event"] = static_cast<double>(g_allocs.load() - allocs_before) /
                                       static_cast<double>(state.iterations());
  state.counters["table_size"] = static_cast<double>(procs.size());
}
BENCHMARK(BM_ProcessTableUpdate)->Arg(100)->Arg(10000);

// The metric updates the pipeline makes per event (vigil_events_total{type,profile}).
void BM_MetricEvent(benchmark::State &state)
{
  exporter::Metrics metrics;
  const std::string profile = "coding-agent";
  metrics.profile_loaded(profile);
  const std::string_view types[] = {"open", "open", "open", "exec", "connect", "fork", "exit"};
  size_t i = 0;
  const uint64_t allocs_before = g_allocs.load();
  for (auto _ : state) {
    metrics.event(types[i], profile);
    i = (i + 1) % std::size(types);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["allocs_per_event"] = static_cast<double>(g_allocs.load() - allocs_before) /
                                       static_cast<double>(state.iterations());
}
BENCHMARK(BM_MetricEvent);

// What the live pipeline thread does per event (daemon::Engine::process without the log):
// decode, normalize, process table, events metric, every rule, and for each finding the
// enriched alert, its metrics and the latency observation.
void BM_Pipeline(benchmark::State &state)
{
  Fixture f;
  exporter::Metrics metrics;
  metrics.profile_loaded("coding-agent");
  detect::Enricher enricher(*f.procs, "bench-host", [](uint64_t) { return std::string("/agent"); });
  const policy::Profile *profile = f.detector->profile(1);
  pipeline::Decoder decoder;
  warm(f, decoder);
  std::vector<detect::Finding> findings;
  findings.reserve(16);
  size_t i = 0;
  uint64_t alerts = 0, alerting = 0, allocs_alerting = 0;
  const uint64_t allocs_before = g_allocs.load();
  for (auto _ : state) {
    const uint64_t at = g_allocs.load(std::memory_order_relaxed);
    pipeline::Event *ev = *decoder.decode(f.mix[i]);
    f.detector->normalize(*ev);
    f.procs->apply(*ev);
    metrics.event(pipeline::to_string(ev->hdr.type), profile->name);
    findings.clear();
    f.detector->evaluate(*ev, *f.procs, findings);
    for (const auto &finding : findings) {
      detect::Alert a = enricher.build(*ev, finding, *profile);
      metrics.alert(a.rule, policy::to_string(a.severity), a.profile);
      metrics.process_alert(a.profile, a.comm);
      metrics.alert_latency(1e-4);
      benchmark::DoNotOptimize(a);
      ++alerts;
    }
    if (!findings.empty()) {
      ++alerting;
      allocs_alerting += g_allocs.load(std::memory_order_relaxed) - at;
    }
    i = (i + 1) % f.mix.size();
  }
  const double n = static_cast<double>(state.iterations());
  const uint64_t allocs = g_allocs.load() - allocs_before;
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["alerts_per_event"] = static_cast<double>(alerts) / n;
  state.counters["allocs_per_event"] = static_cast<double>(allocs) / n;
  state.counters["allocs_per_quiet_event"] =
      static_cast<double>(allocs - allocs_alerting) / (n - static_cast<double>(alerting));
}
BENCHMARK(BM_Pipeline);

// Replay: a recorded log of the mix (Arg events) read back with every check, each event
// decoded and run through normalize, the process table and every rule (what `vigil replay`
// does per event, without printing).
void BM_Replay(benchmark::State &state)
{
  Fixture f;
  const auto n = static_cast<size_t>(state.range(0));
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("vigil-bench-replay-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  {
    eventlog::WriterOptions o;
    o.dir = dir.string();
    auto w = eventlog::Writer::open(o);
    if (!w) {
      state.SkipWithError(w.error().message().c_str());
      return;
    }
    for (size_t k = 0; k < n; ++k) {
      auto ev = pipeline::decode(f.mix[k % f.mix.size()]);
      ev->hdr.ts_ns = 1'000'000'000 + k;
      f.detector->normalize(*ev);
      while (!(*w)->append_event(*ev))
        std::this_thread::yield();
    }
    (*w)->close();
  }
  const auto files = *eventlog::segment_files({dir.string()});
  std::vector<detect::Finding> findings;
  uint64_t alerts = 0, events = 0;
  eventlog::Decoder decoder;
  const uint64_t allocs_before = g_allocs.load();
  for (auto _ : state) {
    pipeline::ProcessTable procs(""); // as vigil replay: no /proc
    eventlog::Visitor v;
    v.on_record = [&](const eventlog::RecordView &r) {
      if (r.type != static_cast<uint16_t>(eventlog::RecordType::event))
        return true;
      auto decoded = decoder.decode(r.payload);
      if (!decoded)
        return true;
      pipeline::Event *ev = *decoded;
      ++events;
      procs.apply(*ev);
      findings.clear();
      f.detector->evaluate(*ev, procs, findings);
      alerts += findings.size();
      return true;
    };
    if (!eventlog::read_log(files, v).clean())
      state.SkipWithError("the log read back damaged");
  }
  std::filesystem::remove_all(dir);
  state.SetItemsProcessed(static_cast<int64_t>(events));
  state.counters["alerts_per_event"] = static_cast<double>(alerts) / static_cast<double>(events);
  // Each pass starts a new process table (as a replay does), so its entries are made again.
  state.counters["allocs_per_event"] =
      static_cast<double>(g_allocs.load() - allocs_before) / static_cast<double>(events);
}
BENCHMARK(BM_Replay)->Arg(200000)->Unit(benchmark::kMillisecond);

} // namespace
} // namespace vigil

BENCHMARK_MAIN();
