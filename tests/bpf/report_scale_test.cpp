// SPDX-License-Identifier: Apache-2.0
// The report of a long session: a synthetic log of a million events (written by the real
// writer) renders to a bounded page that headless Chromium loads. Prints the figures
// docs/BENCHMARKS.md records (ctest label bench: ~1 min).
#include <chrono>
#include <cstdio>
#include <filesystem>

#include <gtest/gtest.h>

#include "browser.h"
#include "harness.h"

namespace fs = std::filesystem;
using namespace vigil::test;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t)
{
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

TEST(ReportScale, million_event_log_renders_a_bounded_page_that_chromium_loads)
{
  const size_t events = std::strtoull(env_or("VIGIL_REPORT_EVENTS", "1000000"), nullptr, 10);
  TempDir tmp;
  const std::string log = tmp / "log", html = tmp / "incident.html";
  ProcResult gen =
      run({VG_SYNTHLOG, log, std::to_string(events), "--hostile"}, {}, std::chrono::seconds(600));
  ASSERT_EQ(gen.status, 0) << gen.err;
  uint64_t log_bytes = 0;
  for (const auto &e : fs::directory_iterator(log))
    log_bytes += e.is_regular_file() ? e.file_size() : 0;

  auto t0 = std::chrono::steady_clock::now();
  ProcResult rep = run({vigil_bin(), "report", log, "-o", html}, {}, std::chrono::seconds(600));
  const double render_s = seconds_since(t0);
  ASSERT_EQ(rep.status, 0) << rep.err;
  const uint64_t html_bytes = fs::file_size(html);
  EXPECT_LT(html_bytes, 16u << 20) << "the page is bounded whatever the log's length";
  const std::string page = read_file(html);
  EXPECT_NE(page.find("more lines not shown"), std::string::npos) << "cuts are said";
  EXPECT_EQ(page.find("<img"), std::string::npos);

  if (chromium_bin().empty())
    GTEST_SKIP() << "chromium is not installed (deploy/install-deps.sh --test installs it)";
  Browser b;
  // A blank page first: what Chromium itself takes to start and dump.
  const std::string blank = tmp / "blank.html";
  write_file(blank, "<!DOCTYPE html><title>x</title>");
  t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(b.dump_dom(blank).status, 0);
  const double blank_s = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  ProcResult dom = b.dump_dom(html, "", std::chrono::seconds(300));
  const double load_s = seconds_since(t0);
  ASSERT_EQ(dom.status, 0) << dom.err;
  EXPECT_FALSE(page_errors(dom.err)) << dom.err;
  EXPECT_EQ(body_attr(dom.out, "data-ready"), "1");
  EXPECT_EQ(attr_of(dom.out, "n-events", "data-count"),
            std::to_string(events + 2 * (events / 500 - 1)))
      << "every event counted (synthlog adds a fork and an exit per tool after the first)";
  EXPECT_EQ(attr_of(dom.out, "n-alerts", "data-count"), std::to_string(2 * (events / 10000)));
  EXPECT_NE(dom.out.find("<title>vigil incident report</title>"), std::string::npos);
  ProcResult filtered = b.dump_dom(html, "#rule=cred-aws", std::chrono::seconds(300));
  ASSERT_EQ(filtered.status, 0);
  EXPECT_EQ(body_attr(filtered.out, "data-alerts-shown"), std::to_string(events / 10000));
  ProcResult shot = b.screenshot(html, test_output_dir() + "/report-million.png");
  EXPECT_EQ(shot.status, 0) << shot.err;
  std::printf("report-scale: %zu events, log %.1f MiB, report %.2f s, html %.2f MiB, "
              "chromium load %.2f s (blank page %.2f s), script %s ms after navigation\n",
              events, static_cast<double>(log_bytes) / (1 << 20), render_s,
              static_cast<double>(html_bytes) / (1 << 20), load_s, blank_s,
              body_attr(dom.out, "data-load-ms").c_str());
}

} // namespace
