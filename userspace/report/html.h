// SPDX-License-Identifier: Apache-2.0
// The incident report: one self-contained HTML file (inline CSS and JS, no network, no external
// assets; it opens from a USB stick) rendered from a Session. Every string in a log is the
// agent's: each goes through html_text() (escape_text() for controls and invalid UTF-8, then the
// five HTML metacharacters) and is cut to a bound; a Content-Security-Policy with a per-report
// nonce keeps any script but the report's own from running even if an escape were missed.
#pragma once

#include <string>
#include <string_view>

#include "report/session.h"

namespace vigil::report {

// Bounds on the page (beyond the Session's own caps): what is cut is said on the page.
struct RenderCaps {
  size_t string_bytes = 400;     // each agent string, escaped
  size_t argv = 32;              // arguments shown per exec line
  size_t files_per_process = 60; // paths listed per process (the rest: "N more")
  size_t detail_processes = 400; // processes with a detail section (alert-bearing first)
  size_t rows = 200;             // rows of each summary table
};

// s as HTML text (element content or a quoted attribute value): controls, invalid UTF-8 and
// bidirectional overrides as \xNN (escape_text), & < > " ' as entities, cut to max_bytes of
// escaped text before the entities are applied.
std::string html_text(std::string_view s, size_t max_bytes = 400);

struct ReportMeta {
  std::string title = "vigil incident report";
  std::string generated; // RFC 3339 time of rendering
  std::string command;   // how it was made ("vigil report LOG -o FILE")
};

// The whole page.
std::string render_html(const Session &s, const ReportMeta &meta, const RenderCaps &caps = {});

} // namespace vigil::report
