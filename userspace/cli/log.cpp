// SPDX-License-Identifier: Apache-2.0
// `vigil log verify` and `vigil log export`: check and read an event log for incident response.
#include <cstdio>
#include <optional>

#include <nlohmann/json.hpp>

#include <unistd.h>

#include "cli/commands.h"
#include "cli/log_progress.h"
#include "eventlog/json.h"
#include "eventlog/reader.h"

namespace vigil::cli {

namespace {

// The files to read, or an exit status after saying why there are none.
std::optional<std::vector<std::string>> files_or_complain(const std::vector<std::string> &paths)
{
  auto files = eventlog::segment_files(paths);
  if (!files) {
    std::fprintf(stderr, "vigil log: %s\n", files.error().message().c_str());
    return std::nullopt;
  }
  if (files->empty()) {
    std::fprintf(stderr, "vigil log: no event log segments (seg-*.vglog) in the given paths\n");
    return std::nullopt;
  }
  return std::move(*files);
}

} // namespace

int log_verify_command(const std::vector<std::string> &paths)
{
  auto files = files_or_complain(paths);
  if (!files)
    return 1;
  LogProgress progress("vigil log verify", *files);
  eventlog::Visitor v;
  v.on_segment = [&](const eventlog::SegmentInfo &s) { progress.segment(s.path); };
  v.on_record = [&](const eventlog::RecordView &r) {
    progress.record(r);
    return true;
  };
  v.on_problem = [&](const eventlog::Problem &p) {
    progress.clear();
    std::printf("%s\n", eventlog::describe(p).c_str());
    std::fflush(stdout);
  };
  eventlog::ReadSummary sum = eventlog::read_log(*files, v);
  progress.clear();
  size_t damage = 0;
  for (const auto &p : sum.problems)
    damage += p.damage();
  std::printf("vigil log verify: %llu segment(s), %llu record(s) read, %llu skipped: %s\n",
              static_cast<unsigned long long>(sum.segments),
              static_cast<unsigned long long>(sum.records),
              static_cast<unsigned long long>(sum.records_skipped),
              damage ? (std::to_string(damage) + " problem(s)").c_str() : "ok");
  return damage ? 1 : 0;
}

int log_export_command(const std::vector<std::string> &paths, const std::string &format)
{
  if (format != "json") {
    std::fprintf(stderr, "vigil log export: unknown format '%s' (json)\n", format.c_str());
    return 2;
  }
  auto files = files_or_complain(paths);
  if (!files)
    return 1;
  // Progress only when the records go to a file or a pipe: on a terminal they are the output.
  std::optional<LogProgress> progress;
  if (::isatty(STDOUT_FILENO) != 1)
    progress.emplace("vigil log export", *files);
  eventlog::Visitor v;
  std::string line;
  v.on_segment = [&](const eventlog::SegmentInfo &s) {
    if (progress)
      progress->segment(s.path);
  };
  v.on_record = [&](const eventlog::RecordView &r) {
    if (progress)
      progress->record(r);
    // Kernel strings need not be UTF-8: invalid bytes become U+FFFD rather than an exception.
    line =
        eventlog::to_json(r).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), stdout);
    return true;
  };
  v.on_problem = [&](const eventlog::Problem &p) {
    if (progress)
      progress->clear();
    if (p.damage())
      std::fprintf(stderr, "vigil log export: %s\n", eventlog::describe(p).c_str());
  };
  eventlog::ReadSummary sum = eventlog::read_log(*files, v);
  if (progress)
    progress->clear();
  if (std::fflush(stdout) != 0)
    return 1;
  return sum.segments > 0 ? 0 : 1;
}

} // namespace vigil::cli
