// SPDX-License-Identifier: Apache-2.0
// Renders a Session as one self-contained HTML page (html.h). Server-side rendering: the page is
// complete without its script (the script only filters), so a responder can read it with
// scripts off, and the filters act on data-* attributes the renderer wrote (time in ms since the
// epoch, pid, the pids of the process and its ancestors, rule, severity).
#include "report/html.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "common/text.h"
#include "detect/alert.h"

namespace vigil::report {

namespace {

std::string nonce()
{
  unsigned char b[16] = {};
  int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    (void)!::read(fd, b, sizeof(b));
    ::close(fd);
  }
  static constexpr char hex[] = "0123456789abcdef";
  std::string s;
  for (unsigned char c : b) {
    s.push_back(hex[c >> 4]);
    s.push_back(hex[c & 15]);
  }
  return s;
}

std::string num(uint64_t n)
{
  return std::to_string(n);
}

std::string ms(uint64_t ns)
{
  return std::to_string(ns / 1'000'000);
}

// "05:10:48.293" for the page, the full RFC 3339 time in the title.
std::string time_cell(uint64_t ns)
{
  if (!ns)
    return "<time>-</time>";
  const std::string full = detect::format_time(ns);
  const std::string shown = full.size() > 23 ? full.substr(11, 12) : full;
  return "<time title=\"" + html_text(full) + "\">" + html_text(shown) + "</time>";
}

std::string duration(uint64_t ns)
{
  char buf[48];
  const double s = static_cast<double>(ns) / 1e9;
  if (s < 1)
    std::snprintf(buf, sizeof(buf), "%.0f ms", s * 1000);
  else if (s < 120)
    std::snprintf(buf, sizeof(buf), "%.1f s", s);
  else if (s < 7200)
    std::snprintf(buf, sizeof(buf), "%.1f min", s / 60);
  else
    std::snprintf(buf, sizeof(buf), "%.1f h", s / 3600);
  return buf;
}

std::string human_bytes(uint64_t b)
{
  char buf[32];
  if (b < 1024)
    std::snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(b));
  else if (b < (1u << 20))
    std::snprintf(buf, sizeof(buf), "%.1f KiB", static_cast<double>(b) / 1024);
  else
    std::snprintf(buf, sizeof(buf), "%.1f MiB", static_cast<double>(b) / (1 << 20));
  return buf;
}

class Page {
public:
  Page(const Session &s, const ReportMeta &meta, const RenderCaps &caps)
      : s_(s), meta_(meta), caps_(caps), nonce_(nonce())
  {
    // Branches that hold an alert or a denial are open and marked. Parent links come from the
    // log (the agent's to shape), so the walk stops at a loop.
    for (const auto &[pid, p] : s_.procs) {
      if (!p.alerts && !p.denials)
        continue;
      std::unordered_set<uint32_t> seen;
      for (uint32_t q = pid; seen.insert(q).second && seen.size() < 512;) {
        ++subtree_alerts_[q];
        auto it = s_.procs.find(q);
        if (it == s_.procs.end())
          break;
        q = it->second.ppid;
      }
    }
  }

  std::string render()
  {
    out_.reserve(1 << 20);
    head();
    summary();
    filters();
    actions();
    alerts();
    tree();
    timeline();
    details();
    footer();
    return std::move(out_);
  }

private:
  std::string h(std::string_view s) const { return html_text(s, caps_.string_bytes); }

  // "12 34 56": the pid and its recorded ancestors, for the process filter.
  std::string ancestry(uint32_t pid) const
  {
    std::string a = num(pid);
    std::unordered_set<uint32_t> seen{pid};
    auto it = s_.procs.find(pid);
    while (it != s_.procs.end() && seen.insert(it->second.ppid).second && seen.size() < 256) {
      a += " " + num(it->second.ppid);
      it = s_.procs.find(it->second.ppid);
    }
    return a;
  }

  std::string exec_line(const Process &p) const
  {
    std::string args;
    size_t i = 0;
    for (const auto &a : p.argv) {
      if (i++ == caps_.argv) {
        args += " <span class=cut>(" + num(p.argv.size() - caps_.argv) + " more arguments)</span>";
        break;
      }
      args += (i > 1 ? " " : "") + h(a);
    }
    return "<code>" + h(p.exe) + "</code> <span class=argv>" + args + "</span>";
  }

  std::string proc_name(uint32_t pid, std::string_view comm) const
  {
    return "<a href=\"#p-" + num(pid) + "\">" + num(pid) + "</a> <b>" + h(comm) + "</b>";
  }

  void head()
  {
    out_ +=
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>\n"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'nonce-" +
        nonce_ + "'; script-src 'nonce-" + nonce_ +
        "'\">\n"
        "<meta name=viewport content=\"width=device-width\">\n<title>" +
        h(meta_.title) + "</title>\n<style nonce=\"" + nonce_ +
        "\">\n"
        R"CSS(
body{font:14px/1.4 system-ui,sans-serif;margin:0 1.5em 3em;color:#1d1d1f;background:#fbfbfd}
body{overflow-wrap:anywhere}h1{font-size:1.5em;margin:.6em 0 .2em}
h2{font-size:1.2em;margin:1.4em 0 .4em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.3em 0}
td,th{padding:2px 8px;text-align:left;vertical-align:top;border-bottom:1px solid #eee}
th{background:#f0f0f4}code,.argv,time,.mono{font-family:ui-monospace,monospace;font-size:12.5px}
.grid{display:flex;flex-wrap:wrap;gap:1em}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.5em 1em;min-width:16em}
.big{font-size:1.6em;font-weight:600}
.sev-critical,.sev-emergency,.sev-alert{color:#fff;background:#b00020}
.sev-error{color:#fff;background:#d9480f}.sev-warning{background:#ffd43b}
.sev-notice,.sev-informational,.sev-debug{background:#dbe4ff}
.sev{padding:0 5px;border-radius:3px;font-size:12px;font-weight:600}
.denied{color:#b00020;font-weight:600}tr.alert{background:#fff0f0}tr.denied td{color:#8a0010}
.hot>summary{background:#fff0f0}.hot>summary::after{content:" \26a0";color:#b00020}
ul.tree{list-style:none;padding-left:1.2em;margin:0}ul.tree li{margin:1px 0}
summary{cursor:pointer}.cut{color:#666;font-style:italic}
.act-failed{color:#b00020;font-weight:600}.act-done{color:#2b8a3e}
.badge{background:#eee;border-radius:8px;padding:0 6px;font-size:12px;margin-left:3px}
.badge.a{background:#b00020;color:#fff}
#filters{position:sticky;top:0;background:#fbfbfd;padding:.4em 0;border-bottom:1px solid #ccc;
z-index:1}
#filters label{margin-right:.8em}.ok{color:#2b8a3e;font-weight:600}
.bad{color:#b00020;font-weight:600}.ctx{margin:.2em 0 .4em 1.5em;color:#444}
.ctx td{border:0;padding:0 6px}.proc{margin:.3em 0;border-left:3px solid #ddd;padding-left:.6em}
.proc.hot{border-left-color:#b00020}[hidden]{display:none!important}
)CSS"
        "</style></head>\n<body>\n";
    out_ += "<h1>" + h(meta_.title) + "</h1>\n<p class=mono>host <b>" + h(s_.host) +
            "</b> &middot; " + num(s_.files.size()) + " segment(s), " + human_bytes(s_.bytes) +
            " &middot; generated " + h(meta_.generated) + " by <code>" + h(meta_.command) +
            "</code></p>\n";
  }

  void summary()
  {
    size_t procs_agent = 0;
    for (const auto &[pid, p] : s_.procs)
      procs_agent += p.in_agent;
    out_ += "<h2 id=summary>Summary</h2>\n<div class=grid>\n";
    out_ += "<div class=card><div>Time span</div><div class=big>" +
            duration(s_.last_ns >= s_.first_ns ? s_.last_ns - s_.first_ns : 0) + "</div>" +
            time_cell(s_.first_ns) + " &ndash; " + time_cell(s_.last_ns) + "</div>\n";
    out_ += "<div class=card><div>Events</div><div class=big id=n-events data-count=" +
            num(s_.kept_events) + ">" + num(s_.kept_events) + "</div>of " + num(s_.events) +
            " recorded; " + num(s_.undecodable) + " undecodable</div>\n";
    out_ += "<div class=card><div>Processes</div><div class=big id=n-procs data-count=" +
            num(s_.procs.size()) + ">" + num(s_.procs.size()) + "</div>" + num(procs_agent) +
            " under a profile" +
            (s_.procs_cut ? "; <span class=cut>" + num(s_.procs_cut) +
                                " more events of processes past the cap of " +
                                num(s_.procs.size()) + " not itemised</span>"
                          : "") +
            "</div>\n";
    out_ += "<div class=card><div>Alerts</div><div class=big id=n-alerts data-count=" +
            num(s_.alerts_total) + ">" + num(s_.alerts_total) + "</div>";
    for (const auto &[sev, n] : s_.by_severity)
      out_ += "<span class=\"sev sev-" + h(sev) + "\" data-sev=\"" + h(sev) +
              "\" data-count=" + num(n) + ">" + h(sev) + " " + num(n) + "</span> ";
    out_ += "</div>\n";
    out_ += "<div class=card><div>Denials</div><div class=\"big denied\" id=n-denials "
            "data-count=" +
            num(s_.denials) + ">" + num(s_.denials) +
            "</div>refused by the kernel or vigil</div>\n";
    const bool clean = s_.read.clean();
    size_t damage = 0;
    for (const auto &p : s_.read.problems)
      damage += p.damage();
    out_ += "<div class=card id=integrity data-ok=" + std::string(clean ? "1" : "0") +
            "><div>Log integrity (<code>vigil log verify</code>)</div><div class=\"big " +
            (clean ? "ok\">ok" : "bad\">" + num(damage) + " problem(s)") + "</div>" +
            num(s_.read.segments) + " segment(s), " + num(s_.read.records) + " record(s) read, " +
            num(s_.read.records_skipped) + " skipped</div>\n</div>\n";
    if (!s_.read.problems.empty()) {
      out_ += "<ul id=problems>";
      size_t i = 0;
      for (const auto &p : s_.read.problems) {
        if (i++ == caps_.rows) {
          out_ += "<li class=cut>" + num(s_.read.problems.size() - caps_.rows) +
                  " more problems (run vigil log verify)</li>";
          break;
        }
        out_ += "<li" + std::string(p.damage() ? " class=bad" : "") + ">" +
                h(eventlog::describe(p)) + "</li>";
      }
      out_ += "</ul>\n";
    }
    agents();
    rules_table();
    dests_table();
    creds_table();
    folded_summary();
    if (!s_.notes.empty()) {
      out_ += "<h3>Recorder notes</h3><ul>";
      for (const auto &n : s_.notes)
        out_ += "<li>" + h(n) + "</li>";
      out_ += "</ul>\n";
    }
  }

  void agents()
  {
    out_ += "<h3>Agents</h3><table id=agents><tr><th>cgroup</th><th>profile</th></tr>";
    for (const auto &[id, a] : s_.agents)
      out_ += "<tr><td><code>" + h(a.first) + "</code></td><td>" + h(a.second) + "</td></tr>";
    if (s_.agents.empty())
      out_ += "<tr><td colspan=2 class=cut>no agent cgroup recorded</td></tr>";
    out_ += "</table>\n";
  }

  void rules_table()
  {
    std::vector<std::pair<uint64_t, std::string>> rules;
    for (const auto &[r, n] : s_.by_rule)
      rules.emplace_back(n, r);
    std::sort(rules.rbegin(), rules.rend());
    out_ += "<h3>Alerts by rule</h3><table id=rules><tr><th>rule</th><th>alerts</th></tr>";
    size_t i = 0;
    for (const auto &[n, r] : rules) {
      if (i++ == caps_.rows) {
        out_ += "<tr><td colspan=2 class=cut>" + num(rules.size() - caps_.rows) +
                " more rules</td></tr>";
        break;
      }
      out_ += "<tr data-rule=\"" + h(r) + "\"><td>" + h(r) + "</td><td>" + num(n) + "</td></tr>";
    }
    out_ += "</table>\n";
  }

  void dests_table()
  {
    std::vector<const Destination *> d;
    for (const auto &[k, v] : s_.dests)
      d.push_back(&v);
    std::sort(d.begin(), d.end(),
              [](auto *a, auto *b) { return a->count.first_ns < b->count.first_ns; });
    out_ += "<h3>Destinations <span class=badge id=n-dests data-count=" + num(d.size()) + ">" +
            num(d.size()) +
            "</span></h3><table id=dests><tr><th>destination</th><th>connects</th><th>denied</th>"
            "<th>first</th><th>by</th></tr>";
    size_t i = 0;
    for (const auto *x : d) {
      if (i++ == caps_.rows) {
        out_ += "<tr><td colspan=5 class=cut>" + num(d.size() - caps_.rows) +
                " more destinations</td></tr>";
        break;
      }
      // The names DNS answers the agent received gave the address for (what it asked for).
      std::string names;
      if (auto it = s_.names.find(x->ip); !x->unix_socket && it != s_.names.end())
        for (const auto &[name, rn] : it->second)
          names += (names.empty() ? "" : ", ") + h(name);
      out_ += "<tr" + std::string(x->count.denied ? " class=denied" : "") + "><td><code>" +
              (x->unix_socket ? "unix " : "") + h(x->addr) + "</code>" +
              (names.empty() ? "" : " <span class=dns title=\"from DNS answers\">" + names +
                                        "</span>") +
              "</td><td>" + num(x->count.n) +
              "</td><td>" + num(x->count.denied) + "</td><td>" + time_cell(x->count.first_ns) +
              "</td><td>" + proc_name(x->count.first_pid, x->count.first_comm) + "</td></tr>";
    }
    out_ += "</table>\n";
  }

  void creds_table()
  {
    out_ += "<h3>Credential files touched <span class=badge id=n-creds data-count=" +
            num(s_.credentials.size()) + ">" + num(s_.credentials.size()) +
            "</span></h3><table id=creds><tr><th>path</th><th>opens</th><th>denied</th>"
            "<th>first</th><th>by</th></tr>";
    size_t i = 0;
    for (const auto &[path, c] : s_.credentials) {
      if (i++ == caps_.rows) {
        out_ += "<tr><td colspan=5 class=cut>" + num(s_.credentials.size() - caps_.rows) +
                " more files</td></tr>";
        break;
      }
      out_ += "<tr" + std::string(c.denied ? " class=denied" : "") + "><td><code>" + h(path) +
              "</code></td><td>" + num(c.n) + "</td><td>" + num(c.denied) + "</td><td>" +
              time_cell(c.first_ns) + "</td><td>" + proc_name(c.first_pid, c.first_comm) +
              "</td></tr>";
    }
    out_ += "</table>\n";
  }

  void folded_summary()
  {
    out_ += "<h3>Noise folded</h3><p id=folded>";
    uint64_t total = 0;
    for (size_t k = 1; k < kNoiseKinds; ++k) {
      total += s_.folded[k];
      out_ += to_string(static_cast<Noise>(k)).data() + std::string(": ") + num(s_.folded[k]) +
              (k + 1 < kNoiseKinds ? " &middot; " : "");
    }
    out_ += " (" + num(total) + " opens every program makes; per process below, expandable)</p>\n";
  }

  void filters()
  {
    std::set<std::string> sevs;
    for (const auto &[sev, n] : s_.by_severity)
      sevs.insert(sev);
    out_ += "<div id=filters><b>Filter</b> "
            "<label>from <input id=f-since size=24 placeholder=\"2026-01-01T00:00:00Z\"></label>"
            "<label>to <input id=f-until size=24 placeholder=\"2026-01-01T00:00:00Z\"></label>"
            "<label>process <select id=f-pid><option value=\"\">all</option>";
    size_t i = 0;
    for (const auto &[pid, p] : s_.procs) {
      if (i++ == 2000)
        break;
      out_ += "<option value=" + num(pid) + ">" + num(pid) + " " + h(p.comm) + "</option>";
    }
    out_ += "</select></label><label>rule <select id=f-rule><option value=\"\">all</option>";
    for (const auto &[r, n] : s_.by_rule)
      out_ += "<option value=\"" + h(r) + "\">" + h(r) + "</option>";
    out_ += "</select></label><label>severity <select id=f-sev><option value=\"\">all</option>";
    for (const auto &sev : sevs)
      out_ += "<option value=\"" + h(sev) + "\">" + h(sev) + "</option>";
    out_ += "</select></label><label>text <input id=f-q size=16></label>"
            "<button id=f-clear type=button>clear</button> <span id=shown></span></div>\n";
  }

  std::string line_row(const Line &l, bool with_class = true) const
  {
    std::string cls = l.alert ? "alert" : "";
    if (l.denied)
      cls += cls.empty() ? "denied" : " denied";
    std::string r = "<tr";
    if (with_class)
      r += " class=\"f tl " + cls + "\" data-t=" + ms(l.time_ns) + " data-pid=" + num(l.pid) +
           " data-anc=\"" + ancestry(l.pid) + "\"" +
           (l.alert ? " data-rule=\"" + h(l.rule) + "\" data-sev=\"" + h(l.severity) + "\"" : "");
    else if (!cls.empty())
      r += " class=\"" + cls + "\"";
    r += "><td>" + time_cell(l.time_ns) + "</td><td>" + proc_name(l.pid, l.comm) + "</td><td>" +
         (l.alert ? "<span class=\"sev sev-" + h(l.severity) + "\">" + h(l.severity) +
                        "</span> <b>" + h(l.rule) + "</b> "
                  : "") +
         "<code>" + h(l.text) + "</code></td></tr>\n";
    return r;
  }

  // What vigil did about the alerts: each response action with its result and its cause.
  void actions()
  {
    out_ += "<h2 id=actions>Actions taken</h2>\n";
    if (s_.actions.empty()) {
      out_ += "<p id=no-actions>No response action was recorded (by default vigil only "
              "alerts).</p>\n";
      return;
    }
    out_ += "<p id=actions-summary data-count=" + num(s_.actions_total) + ">" +
            num(s_.actions_total) + " action(s):";
    for (const auto &[result, n] : s_.actions_by_result)
      out_ += " <span class=\"act act-" + h(result) + "\" data-result=\"" + h(result) +
              "\" data-count=" + num(n) + ">" + h(result) + " " + num(n) + "</span>";
    out_ += "</p>\n<table id=actions-table><tr><th>time</th><th>action</th><th>result</th>"
            "<th>agent cgroup</th><th>what</th></tr>";
    for (const Action &a : s_.actions)
      out_ += "<tr class=act data-action=\"" + h(a.action) + "\" data-result=\"" + h(a.result) +
              "\" data-target=\"" + h(a.target) + "\" data-t=" + ms(a.time_ns) + "><td>" +
              time_cell(a.time_ns) + "</td><td><b>" + h(a.action) + "</b></td><td class=\"act-" +
              h(a.result) + "\">" + h(a.result) + "</td><td><code>" + h(a.target) +
              "</code></td><td>" + h(a.output) +
              (a.cause.empty() ? "" : "<br><small>" + h(a.cause) + "</small>") + "</td></tr>\n";
    out_ += "</table>\n";
    if (s_.actions_total > s_.actions.size())
      out_ += "<p class=cut>" + num(s_.actions_total - s_.actions.size()) +
              " more actions are counted above but not listed (the cap of " +
              num(s_.actions.size()) + ")</p>\n";
  }

  void alerts()
  {
    out_ += "<h2 id=alerts>Alerts</h2>\n";
    if (s_.alerts.empty())
      out_ += "<p>No alert was recorded.</p>\n";
    for (const Alert &a : s_.alerts) {
      out_ += "<details class=\"f al\" data-t=" + ms(a.time_ns) + " data-pid=" + num(a.pid) +
              " data-anc=\"" + ancestry(a.pid) + "\" data-rule=\"" + h(a.rule) + "\" data-sev=\"" +
              h(a.severity) + "\"><summary>" + time_cell(a.time_ns) + " <span class=\"sev sev-" +
              h(a.severity) + "\">" + h(a.severity) + "</span> <b>" + h(a.rule) + "</b> " +
              proc_name(a.pid, a.comm) + " " + h(a.output) + " <i>(" + h(a.verdict) +
              (a.tier.empty() || a.tier == "none" ? "" : " by " + h(a.tier)) +
              ")</i></summary>\n<table class=ctx><tr><th colspan=3>right before</th></tr>";
      for (const Line &l : a.before)
        out_ += line_row(l, false);
      out_ += "<tr><th colspan=3>right after</th></tr>";
      for (const Line &l : a.after)
        out_ += line_row(l, false);
      out_ += "</table></details>\n";
    }
    if (s_.alerts_total > s_.alerts.size())
      out_ += "<p class=cut>" + num(s_.alerts_total - s_.alerts.size()) +
              " more alerts are counted above but not listed (the cap of " + num(s_.alerts.size()) +
              ")</p>\n";
  }

  std::string counts(const Process &p) const
  {
    uint64_t folded = 0;
    for (uint64_t n : p.folded)
      folded += n;
    std::string s;
    auto badge = [&](uint64_t n, const char *what, const char *cls = "") {
      if (n)
        s += "<span class=\"badge " + std::string(cls) + "\">" + num(n) + " " + what + "</span>";
    };
    badge(p.execs, "exec");
    badge(p.opens, folded ? ("opens (" + num(folded) + " folded)").c_str() : "opens");
    badge(p.connects, "connects");
    badge(p.forks, "forks");
    badge(p.denials, "denied", "a");
    badge(p.alerts, "alerts", "a");
    return s;
  }

  std::string lifetime(const Process &p) const
  {
    std::string s = time_cell(p.start_ns);
    if (p.end_ns >= p.start_ns && p.start_ns)
      s += " +" + duration(p.end_ns - p.start_ns);
    if (p.exit_code)
      s += " exit " + std::to_string(*p.exit_code);
    return s;
  }

  void tree_node(const Process &p, size_t depth, std::unordered_set<uint32_t> &seen)
  {
    auto it = subtree_alerts_.find(p.pid);
    const bool hot = it != subtree_alerts_.end();
    out_ += "<li class=\"f tn\" data-pid=" + num(p.pid) + " data-anc=\"" + ancestry(p.pid) +
            "\"><details" + std::string(hot ? " open class=hot" : "") + "><summary>" +
            proc_name(p.pid, p.comm) + " " + exec_line(p) + " " + lifetime(p) + " " + counts(p) +
            "</summary>";
    std::vector<const Process *> kids;
    for (uint32_t c : p.children)
      if (auto k = s_.procs.find(c); k != s_.procs.end() && !seen.count(c))
        kids.push_back(&k->second);
    std::sort(kids.begin(), kids.end(), [](auto *a, auto *b) { return a->start_ns < b->start_ns; });
    if (!kids.empty() && depth < 200) {
      out_ += "<ul class=tree>";
      for (const Process *k : kids) {
        seen.insert(k->pid);
        tree_node(*k, depth + 1, seen);
      }
      out_ += "</ul>";
    }
    out_ += "</details></li>\n";
  }

  void tree()
  {
    out_ += "<h2 id=tree>Process tree</h2>\n<ul class=tree id=ptree>";
    std::unordered_set<uint32_t> seen;
    std::vector<const Process *> roots;
    for (const auto &[pid, p] : s_.procs)
      if (p.ppid == pid || !s_.procs.count(p.ppid))
        roots.push_back(&p);
    std::sort(roots.begin(), roots.end(),
              [](auto *a, auto *b) { return a->start_ns < b->start_ns; });
    for (const Process *r : roots) {
      seen.insert(r->pid);
      tree_node(*r, 0, seen);
    }
    // Parent links that loop (the log is the agent's to shape) leave processes no root reaches.
    for (const auto &[pid, p] : s_.procs)
      if (seen.insert(pid).second)
        tree_node(p, 0, seen);
    out_ += "</ul>\n";
  }

  void timeline()
  {
    out_ += "<h2 id=timeline>Timeline</h2>\n<p>Execs, exits, the first open of each file and the "
            "first connect to each destination per process, every denial and alert. Library, "
            "locale, terminal and cache opens are folded (per process below).</p>\n"
            "<table id=tl><tr><th>time</th><th>process</th><th>what</th></tr>\n";
    for (const Line &l : s_.timeline)
      out_ += line_row(l);
    out_ += "</table>\n";
    if (s_.timeline_cut)
      out_ += "<p class=cut id=tl-cut>" + num(s_.timeline_cut) +
              " more lines not shown (the timeline keeps its first " + num(s_.timeline.size()) +
              " lines; alerts and denials past that are kept; per-process counts below cover "
              "everything)</p>\n";
  }

  void files_of(const Process &p)
  {
    std::map<std::string, std::vector<std::pair<std::string, const Count *>>> by_dir;
    for (const auto &[path, c] : p.files) {
      const size_t slash = path.rfind('/');
      by_dir[slash == std::string::npos ? "" : path.substr(0, slash + 1)].emplace_back(
          slash == std::string::npos ? path : path.substr(slash + 1), &c);
    }
    out_ += "<div>Files (" + num(p.files.size()) + " paths)</div><ul class=tree>";
    size_t shown = 0;
    for (const auto &[dir, names] : by_dir) {
      if (shown >= caps_.files_per_process)
        break;
      uint64_t n = 0, denied = 0;
      for (const auto &[name, c] : names) {
        n += c->n;
        denied += c->denied;
      }
      out_ += "<li><details" + std::string(denied ? " open" : "") + "><summary><code>" + h(dir) +
              "</code> <span class=badge>" + num(names.size()) + " files, " + num(n) +
              " opens</span>" +
              (denied ? "<span class=\"badge a\">" + num(denied) + " denied</span>" : "") +
              "</summary><ul class=tree>";
      for (const auto &[name, c] : names) {
        if (shown++ >= caps_.files_per_process)
          break;
        out_ += "<li" + std::string(c->denied ? " class=denied" : "") + "><code>" + h(name) +
                "</code> &times;" + num(c->n) + "</li>";
      }
      out_ += "</ul></details></li>";
    }
    out_ += "</ul>";
    if (p.files.size() > caps_.files_per_process || p.files_cut)
      out_ +=
          "<p class=cut>" +
          num(p.files.size() > caps_.files_per_process ? p.files.size() - caps_.files_per_process
                                                       : 0) +
          " more paths not listed" +
          (p.files_cut ? ", and " + num(p.files_cut) + " opens of paths past the record cap"
                       : std::string()) +
          "</p>";
    for (size_t k = 1; k < kNoiseKinds; ++k) {
      if (!p.folded[k])
        continue;
      out_ += "<details class=noise><summary>" + std::string(to_string(static_cast<Noise>(k))) +
              ": " + num(p.folded[k]) + " opens (folded)</summary><ul>";
      for (const auto &path : p.folded_paths[k])
        out_ += "<li><code>" + h(path) + "</code></li>";
      if (p.folded[k] > p.folded_paths[k].size())
        out_ += "<li class=cut>distinct paths past the first " + num(p.folded_paths[k].size()) +
                " are only counted</li>";
      out_ += "</ul></details>";
    }
  }

  void detail(const Process &p)
  {
    const bool hot = p.alerts || p.denials;
    out_ += "<details class=\"f proc" + std::string(hot ? " hot" : "") + "\" id=p-" + num(p.pid) +
            " data-pid=" + num(p.pid) + " data-anc=\"" + ancestry(p.pid) + "\"" +
            (hot ? " open" : "") + "><summary>" + num(p.pid) + " <b>" + h(p.comm) + "</b> " +
            exec_line(p) + " " + counts(p) + "</summary>\n";
    out_ += "<div>parent " + num(p.ppid) + ", uid " + num(p.uid) + ", " + lifetime(p) + "</div>";
    if (!p.env.empty()) {
      out_ += "<div>Watched environment at exec: ";
      for (const auto &e : p.env)
        out_ += "<code class=denied>" + h(e) + "</code> ";
      out_ += "</div>";
    }
    files_of(p);
    if (!p.dests.empty()) {
      out_ += "<div>Connects</div><ul>";
      for (const auto &[d, c] : p.dests)
        out_ += "<li" + std::string(c.denied ? " class=denied" : "") + "><code>" + h(d) +
                "</code> &times;" + num(c.n) + (c.denied ? " (" + num(c.denied) + " denied)" : "") +
                "</li>";
      if (p.dests_cut)
        out_ += "<li class=cut>" + num(p.dests_cut) + " more connects to other destinations</li>";
      out_ += "</ul>";
    }
    out_ += "</details>\n";
  }

  void details()
  {
    out_ += "<h2 id=procs>Processes</h2>\n";
    std::vector<const Process *> order;
    for (const auto &[pid, p] : s_.procs)
      if (p.opens || p.connects || p.alerts || p.execs || !p.env.empty())
        order.push_back(&p);
    std::stable_sort(order.begin(), order.end(), [](auto *a, auto *b) {
      return (a->alerts + a->denials > 0) > (b->alerts + b->denials > 0);
    });
    size_t i = 0;
    for (const Process *p : order) {
      if (i++ == caps_.detail_processes) {
        out_ += "<p class=cut>" + num(order.size() - caps_.detail_processes) +
                " more processes without a detail section (the cap of " +
                num(caps_.detail_processes) + "; they are in the tree above)</p>\n";
        break;
      }
      detail(*p);
    }
  }

  void footer()
  {
    out_ += "<p class=cut>Every name on this page was written by the agent: shown as text, "
            "control characters and invalid UTF-8 as \\xNN, strings past " +
            num(caps_.string_bytes) + " bytes cut with \"...\".</p>\n<script nonce=\"" + nonce_ +
            "\">\n"
            R"JS((function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var rows = Array.prototype.slice.call(document.querySelectorAll('.f'));
  var keys = ['since', 'until', 'pid', 'rule', 'sev', 'q'];
  function when(v) { if (!v) return null; var t = Date.parse(v); return isNaN(t) ? null : t; }
  function apply(save) {
    var since = when($('f-since').value), until = when($('f-until').value);
    var pid = $('f-pid').value.replace(/[^0-9]/g, '');
    var rule = $('f-rule').value, sev = $('f-sev').value;
    var q = $('f-q').value.toLowerCase();
    var shown = 0, total = 0, alerts = 0;
    // The tree keeps the chosen process's ancestors too: they hold its branch.
    var chosen = pid ? document.querySelector('[data-pid="' + pid + '"]') : null;
    var above = ' ' + (chosen ? chosen.dataset.anc : pid) + ' ';
    rows.forEach(function (r) {
      var d = r.dataset, ok = true;
      var timed = r.classList.contains('tl') || r.classList.contains('al');
      if (timed && since !== null && +d.t < since) ok = false;
      if (timed && until !== null && +d.t > until) ok = false;
      if (pid && (' ' + (d.anc || d.pid) + ' ').indexOf(' ' + pid + ' ') < 0 &&
          !(r.classList.contains('tn') && above.indexOf(' ' + d.pid + ' ') >= 0)) ok = false;
      if (timed && rule && d.rule !== rule) ok = false;
      if (timed && sev && d.sev !== sev) ok = false;
      if (q && r.textContent.toLowerCase().indexOf(q) < 0) ok = false;
      r.hidden = !ok;
      if (r.classList.contains('tl')) { total++; if (ok) shown++; }
      if (ok && r.classList.contains('al')) alerts++;
    });
    $('shown').textContent =
        shown + ' of ' + total + ' timeline lines, ' + alerts + ' alerts shown';
    document.body.setAttribute('data-shown', shown);
    document.body.setAttribute('data-alerts-shown', alerts);
    if (save) {
      var h = [];
      keys.forEach(function (k) {
        var v = $('f-' + k).value;
        if (v) h.push(k + '=' + encodeURIComponent(v));
      });
      try {
        history.replaceState(null, '', '#' + h.join('&'));
      } catch (e) { /* file: URLs may refuse */ }
    }
  }
  // A filter can be given in the address (#rule=egress-not-allowed&pid=123): links to a view.
  location.hash.replace(/^#/, '').split('&').forEach(function (kv) {
    var i = kv.indexOf('='); if (i < 0) return;
    var k = kv.slice(0, i), v;
    try { v = decodeURIComponent(kv.slice(i + 1)); } catch (e) { return; } // a broken link
    if (keys.indexOf(k) >= 0) $('f-' + k).value = v;
  });
  keys.forEach(function (k) {
    $('f-' + k).addEventListener(k === 'q' || k === 'since' || k === 'until' ? 'input' : 'change',
                                 function () { apply(true); });
  });
  $('f-clear').addEventListener('click', function () {
    keys.forEach(function (k) { $('f-' + k).value = ''; }); apply(true);
  });
  apply(false);
  document.body.setAttribute('data-ready', '1');
  document.body.setAttribute('data-load-ms', Math.round(performance.now()));
})();
)JS"
            "</script>\n</body></html>\n";
  }

  const Session &s_;
  const ReportMeta &meta_;
  const RenderCaps &caps_;
  std::string nonce_;
  std::string out_;
  std::unordered_map<uint32_t, uint64_t> subtree_alerts_;
};

} // namespace

std::string html_text(std::string_view s, size_t max_bytes)
{
  const std::string text = escape_bounded(s, max_bytes);
  std::string out;
  out.reserve(text.size() + 16);
  for (char c : text) {
    switch (c) {
    case '&': out += "&amp;"; break;
    case '<': out += "&lt;"; break;
    case '>': out += "&gt;"; break;
    case '"': out += "&quot;"; break;
    case '\'': out += "&#39;"; break;
    default: out.push_back(c);
    }
  }
  return out;
}

std::string render_html(const Session &s, const ReportMeta &meta, const RenderCaps &caps)
{
  return Page(s, meta, caps).render();
}

} // namespace vigil::report
