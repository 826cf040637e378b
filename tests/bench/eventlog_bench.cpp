// SPDX-License-Identifier: Apache-2.0
// Event-log throughput (Google Benchmark): encoding, appending through the writer's queue to
// segments on disk, and reading back with every CRC, the hash chain and the event decode, on a
// realistic mix (per 10 events: 1 exec with argv, 6 opens with paths, 2 connects, 1 exit).
//   vg_eventlog_bench [--benchmark_filter=...]; the log is written under $TMPDIR or /dev/shm.
#include <unistd.h>

#include <filesystem>
#include <thread>

#include <benchmark/benchmark.h>

#include "eventlog/codec.h"
#include "eventlog/reader.h"
#include "eventlog/writer.h"
#include "samples.h"

namespace vigil::eventlog {
namespace {

namespace fs = std::filesystem;

fs::path scratch(const std::string &name)
{
  const char *tmp = std::getenv("TMPDIR");
  fs::path base = tmp && *tmp ? fs::path(tmp) : fs::path("/dev/shm");
  std::error_code ec;
  if (!fs::is_directory(base, ec))
    base = fs::temp_directory_path();
  fs::path p = base / ("vigil-eventlog-bench-" + std::to_string(::getpid()) + "-" + name);
  fs::remove_all(p, ec);
  return p;
}

std::vector<pipeline::Event> mix(size_t n)
{
  std::vector<pipeline::Event> v;
  v.reserve(n);
  for (size_t i = 0; i < n; ++i)
    v.push_back(test::mixed_event(i));
  return v;
}

void BM_Encode(benchmark::State &state)
{
  const auto events = mix(1000);
  std::string buf;
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    buf.clear();
    encode(events[i++ % events.size()], buf);
    bytes += buf.size();
    benchmark::DoNotOptimize(buf.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["bytes_per_event"] =
      static_cast<double>(bytes) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_Encode);

void BM_Decode(benchmark::State &state)
{
  std::vector<std::string> encoded;
  for (const auto &ev : mix(1000)) {
    encoded.emplace_back();
    encode(ev, encoded.back());
  }
  size_t i = 0;
  for (auto _ : state) {
    const std::string &e = encoded[i++ % encoded.size()];
    auto ev = decode({reinterpret_cast<const std::byte *>(e.data()), e.size()});
    benchmark::DoNotOptimize(ev);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_Decode);

// The pipeline's cost per event: encode + queue push (the writer thread drains concurrently).
// Items the queue refused are counted as drops, not as throughput.
void BM_AppendEvent(benchmark::State &state)
{
  const fs::path dir = scratch("append");
  WriterOptions o;
  o.dir = dir.string();
  o.queue_capacity = 1u << 20;
  auto w = Writer::open(o);
  if (!w) {
    state.SkipWithError(w.error().message().c_str());
    return;
  }
  const auto events = mix(1000);
  size_t i = 0;
  for (auto _ : state)
    benchmark::DoNotOptimize((*w)->append_event(events[i++ % events.size()]));
  (*w)->close();
  const uint64_t dropped = (*w)->stats().records_dropped_queue.load();
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() - dropped));
  state.counters["dropped"] = static_cast<double>(dropped);
  std::error_code ec;
  fs::remove_all(dir, ec);
}
BENCHMARK(BM_AppendEvent)->UseRealTime();

// Sustained write throughput, end to end: N events appended (waiting out a full queue), packed,
// compressed, framed, hashed and written, until close() has the trailer on disk.
void BM_WriteSustained(benchmark::State &state)
{
  const auto events = mix(1000);
  const auto n = static_cast<size_t>(state.range(0));
  uint64_t bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const fs::path dir = scratch("write");
    state.ResumeTiming();
    WriterOptions o;
    o.dir = dir.string();
    auto w = Writer::open(o);
    if (!w) {
      state.SkipWithError(w.error().message().c_str());
      return;
    }
    for (size_t i = 0; i < n; ++i)
      while (!(*w)->append_event(events[i % events.size()]))
        std::this_thread::yield();
    (*w)->close();
    bytes += (*w)->stats().bytes_written.load();
    state.PauseTiming();
    std::error_code ec;
    fs::remove_all(dir, ec);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
  state.counters["disk_bytes_per_event"] =
      static_cast<double>(bytes) / static_cast<double>(state.iterations() * n);
}
BENCHMARK(BM_WriteSustained)->Arg(200000)->Unit(benchmark::kMillisecond)->UseRealTime();

class ReadFixture : public benchmark::Fixture {
public:
  void SetUp(const benchmark::State &state) override
  {
    n_ = static_cast<size_t>(state.range(0));
    dir_ = scratch("read");
    WriterOptions o;
    o.dir = dir_.string();
    auto w = Writer::open(o);
    const auto events = mix(1000);
    for (size_t i = 0; i < n_; ++i)
      while (!(*w)->append_event(events[i % events.size()]))
        std::this_thread::yield();
    (*w)->close();
    files_ = *segment_files({dir_.string()});
  }
  void TearDown(const benchmark::State &) override
  {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

protected:
  size_t n_ = 0;
  fs::path dir_;
  std::vector<std::string> files_;
};

// Read + verify (CRCs, chain, decompression) + decode every event into a pipeline::Event.
BENCHMARK_DEFINE_F(ReadFixture, ReadDecode)(benchmark::State &state)
{
  for (auto _ : state) {
    uint64_t decoded = 0;
    Visitor v;
    v.on_record = [&](const RecordView &r) {
      auto ev = decode(r.payload);
      decoded += ev.has_value();
      benchmark::DoNotOptimize(ev);
      return true;
    };
    ReadSummary s = read_log(files_, v);
    if (decoded != n_ || !s.clean())
      state.SkipWithError("read back fewer events than written");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n_));
}
BENCHMARK_REGISTER_F(ReadFixture, ReadDecode)->Arg(500000)->Unit(benchmark::kMillisecond);

// Read + verify only (what `vigil log verify` does per record).
BENCHMARK_DEFINE_F(ReadFixture, ReadVerify)(benchmark::State &state)
{
  for (auto _ : state) {
    uint64_t records = 0;
    Visitor v;
    v.on_record = [&](const RecordView &r) {
      records += r.type == static_cast<uint16_t>(RecordType::event); // not the writer's NOTEs
      return true;
    };
    ReadSummary s = read_log(files_, v);
    if (records != n_ || !s.clean())
      state.SkipWithError("read back fewer events than written");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n_));
}
BENCHMARK_REGISTER_F(ReadFixture, ReadVerify)->Arg(500000)->Unit(benchmark::kMillisecond);

} // namespace
} // namespace vigil::eventlog

BENCHMARK_MAIN();
