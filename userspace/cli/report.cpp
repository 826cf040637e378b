// SPDX-License-Identifier: Apache-2.0
// `vigil report` and `vigil profile suggest`: a recorded session for people (one HTML file) and
// for a profile. Both read the log once through report::load_session.
#include <cstdio>
#include <ctime>
#include <fstream>

#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/log_progress.h"
#include "detect/alert.h"
#include "policy/profile.h"
#include "report/html.h"
#include "report/session.h"
#include "report/suggest.h"

namespace vigil::cli {

namespace {

std::optional<report::Filter> make_filter(const LogFilterArgs &a, const char *who)
{
  report::Filter f;
  for (auto [text, out, name] :
       {std::tuple{&a.since, &f.since, "--since"}, std::tuple{&a.until, &f.until, "--until"}}) {
    if (!*text)
      continue;
    *out = report::parse_rfc3339(**text);
    if (!*out) {
      std::fprintf(stderr, "%s: %s '%s': expected RFC 3339 UTC, e.g. 2026-11-23T05:10:00Z\n", who,
                   name, (*text)->c_str());
      return std::nullopt;
    }
  }
  f.pid = a.pid;
  f.cgroup = a.cgroup;
  f.profile = a.profile;
  return f;
}

std::string command_line(const char *what, const LogFilterArgs &a, const std::string &extra)
{
  std::string s = what;
  for (const auto &p : a.paths)
    s += " " + p;
  return s + extra;
}

Result<report::Session> load(const LogFilterArgs &args, const report::Filter &filter,
                             const char *who)
{
  auto files = eventlog::segment_files(args.paths);
  if (!files)
    return tl::unexpected(files.error());
  LogProgress progress(who, *files);
  auto s = report::load_session(*files, filter, {},
                                [&](uint64_t done, uint64_t seg) { progress.update(done, seg); });
  progress.clear();
  return s;
}

bool write_out(const std::string &path, const std::string &text, const char *who)
{
  if (path == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return std::fflush(stdout) == 0;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  if (!out) {
    std::fprintf(stderr, "%s: cannot write %s\n", who, path.c_str());
    return false;
  }
  return true;
}

} // namespace

int report_command(const LogFilterArgs &args, const std::string &output)
{
  auto filter = make_filter(args, "vigil report");
  if (!filter)
    return 2;
  auto s = load(args, *filter, "vigil report");
  if (!s) {
    std::fprintf(stderr, "vigil report: %s\n", s.error().message().c_str());
    return 1;
  }
  report::ReportMeta meta;
  meta.generated =
      detect::format_time(static_cast<uint64_t>(std::time(nullptr)) * 1'000'000'000ull);
  meta.command = command_line("vigil report", args, " -o " + output);
  const std::string html = report::render_html(*s, meta);
  if (!write_out(output, html, "vigil report"))
    return 1;
  std::fprintf(stderr,
               "vigil report: %s: %zu bytes; %llu event(s), %zu process(es), %llu alert(s), "
               "%llu denial(s); log %s\n",
               output.c_str(), html.size(), static_cast<unsigned long long>(s->kept_events),
               s->procs.size(), static_cast<unsigned long long>(s->alerts_total),
               static_cast<unsigned long long>(s->denials),
               s->read.clean() ? "intact" : "DAMAGED (see the report)");
  return 0;
}

int profile_suggest_command(const LogFilterArgs &args, const std::string &base_path,
                            const std::string &output)
{
  auto filter = make_filter(args, "vigil profile suggest");
  if (!filter)
    return 2;
  const std::string path = base_path.empty() ? default_profile_path() : base_path;
  auto base = policy::load_profile(path);
  if (!base) {
    std::fprintf(stderr, "vigil profile suggest: %s\n", base.error().message().c_str());
    return 2;
  }
  auto s = load(args, *filter, "vigil profile suggest");
  if (!s) {
    std::fprintf(stderr, "vigil profile suggest: %s\n", s.error().message().c_str());
    return 1;
  }
  report::SuggestMeta meta;
  meta.base_path = path;
  meta.command = command_line("vigil profile suggest", args,
                              (base_path.empty() ? "" : " --base " + base_path) +
                                  (output == "-" ? "" : " -o " + output));
  const std::string yaml = report::suggest_profile(*s, *base, meta);
  // What is written must load: a suggestion `vigil run` refuses helps nobody.
  if (auto check = policy::parse_profile(yaml, output); !check) {
    std::fprintf(stderr,
                 "vigil profile suggest: internal error, the suggestion does not parse: %s\n",
                 check.error().message().c_str());
    return 1;
  }
  if (!write_out(output, yaml, "vigil profile suggest"))
    return 1;
  if (output != "-")
    std::fprintf(stderr, "vigil profile suggest: wrote %s (check it with vigil check-profile)\n",
                 output.c_str());
  return 0;
}

} // namespace vigil::cli
