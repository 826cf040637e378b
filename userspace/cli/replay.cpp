// SPDX-License-Identifier: Apache-2.0
// `vigil replay LOG_DIR|SEGMENT...`: runs detection again over a recorded event log, the way the
// live engine ran it: the process table starts from the log's snapshot, profiles are the recorded
// files with the egress allowlist as the kernel had it, rules are the recorded ones (or --rules),
// events go through the same de-duplication, process table and detector in recorded order, and
// kernel times become wall time with each segment's own clock pair. Damaged records are
// reported on stderr and skipped.
#include <cstdio>
#include <ctime>
#include <map>
#include <set>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/log_progress.h"
#include "common/text.h"
#include "daemon/dedup.h"
#include "detect/detector.h"
#include "detect/enrich.h"
#include "eventlog/codec.h"
#include "eventlog/reader.h"
#include "export/sinks.h"
#include "pipeline/process_table.h"
#include "policy/profile.h"
#include "policy/rules.h"
#include "report/noise.h"
#include "report/session.h"

namespace vigil::cli {

namespace {

using nlohmann::json;

struct Timeline {
  struct Line {
    uint64_t time_ns;
    uint32_t pid;
    std::string text;
  };
  std::map<uint64_t, std::vector<Line>> by_cgroup;
  std::map<uint64_t, std::string> names;
  // Noise folding (report/noise.h): opens of each process by category, not yet said.
  struct Folded {
    uint64_t cgroup = 0, last_ns = 0;
    std::array<uint64_t, report::kNoiseKinds> counts{};
  };
  std::map<uint32_t, Folded> folded;
};

// "folded: 41 shared libraries, 3 locale (--all shows them)", and the counts reset.
std::string fold_line(std::array<uint64_t, report::kNoiseKinds> &counts)
{
  std::string s;
  for (size_t k = 1; k < counts.size(); ++k)
    if (counts[k]) {
      s += (s.empty() ? "" : ", ") + std::to_string(counts[k]) + " " +
           std::string(report::to_string(static_cast<report::Noise>(k)));
      counts[k] = 0;
    }
  return s.empty() ? s : "folded opens: " + s + " (--all shows them)";
}

std::string describe_event(const pipeline::Event &ev)
{
  using namespace pipeline;
  if (const auto *x = std::get_if<ExecBody>(&ev.body)) {
    std::string args;
    for (const auto &a : x->argv)
      args += (args.empty() ? "" : " ") + a;
    std::string s = "exec " + x->exe + " [" + args + "]";
    for (const auto &e : x->env)
      s += " " + e;
    return s;
  }
  if (const auto *f = std::get_if<ForkBody>(&ev.body))
    return "fork -> " + std::to_string(f->child_tgid);
  if (const auto *e = std::get_if<ExitBody>(&ev.body))
    return "exit " + std::to_string(e->exit_code);
  if (const auto *o = std::get_if<OpenBody>(&ev.body))
    return o->repeats ? "open " + o->path + " again x" + std::to_string(o->repeats)
                      : "open " + o->path + " = " + detect::describe_errno(o->ret);
  if (const auto *c = std::get_if<ConnectBody>(&ev.body))
    return std::string(c->sendmsg ? "send " : "connect ") +
           (c->family == 1 ? c->unix_path
                           : policy::ip_to_string(c->addr) + ":" + std::to_string(c->port)) +
           " = " + detect::describe_errno(c->ret);
  if (const auto *v = std::get_if<VolumeBody>(&ev.body))
    return "sent " + std::to_string(v->bytes) + " bytes to " + policy::ip_to_string(v->addr) +
           ":" + std::to_string(v->port);
  if (const auto *p = std::get_if<PtraceBody>(&ev.body))
    return "access pid " + std::to_string(p->target_tgid) + " (" + p->target_comm + ")";
  if (const auto *k = std::get_if<SocketBody>(&ev.body))
    return "socket family " + std::to_string(k->family) + " type " + std::to_string(k->type);
  if (const auto *d = std::get_if<DnsBody>(&ev.body))
    return report::describe_dns(*d);
  return "?";
}

// A recorded response action (an alert record of rule response-*): the fields the filters look
// at, and one line saying what was done, to which cgroup, with what result. Logs written before
// records carried their "response" object give the result by severity (error: failed).
struct RecordedAction {
  detect::Alert alert;
  std::string line; // "[done] on /sys/fs/cgroup/agents/a1: froze agent cgroup ..."
};

RecordedAction recorded_action(const json &j)
{
  RecordedAction out;
  detect::Alert &a = out.alert;
  a.time_ns = report::parse_rfc3339(j.value("time", std::string())).value_or(0);
  a.rule = j.value("rule", std::string());
  a.profile = j.value("profile", std::string());
  a.severity =
      policy::severity_from_string(j.value("severity", std::string())).value_or(policy::Severity::notice);
  a.pid = j.value("pid", 0u);
  a.comm = j.value("comm", std::string());
  a.cgroup = j.value("cgroup", std::string());
  a.cgroup_id = j.value("cgroup_id", uint64_t{0});
  a.output = j.value("output", std::string());
  std::string result = a.severity == policy::Severity::error ? "failed" : "done";
  std::string target = a.cgroup;
  if (j.contains("response") && j["response"].is_object()) {
    result = j["response"].value("result", result);
    target = j["response"].value("target", target);
  }
  out.line = "[" + result + "] on " + target + ": " + a.output;
  return out;
}

} // namespace

int replay_command(const ReplayArgs &args)
{
  auto files = eventlog::segment_files(args.paths);
  if (!files) {
    spdlog::error("{}", files.error().message());
    return 1;
  }
  std::optional<uint64_t> since, until;
  if (args.since && !(since = report::parse_rfc3339(*args.since))) {
    spdlog::error("--since '{}': expected RFC 3339 UTC, e.g. 2026-11-23T05:10:00Z", *args.since);
    return 2;
  }
  if (args.until && !(until = report::parse_rfc3339(*args.until))) {
    spdlog::error("--until '{}': expected RFC 3339 UTC, e.g. 2026-11-23T05:10:00Z", *args.until);
    return 2;
  }
  std::optional<policy::RuleSet> given;
  if (!args.rules.empty()) {
    auto r = policy::load_rules(args.rules);
    if (!r) {
      spdlog::error("{}", r.error().message());
      return 2;
    }
    given = std::move(*r);
  }

  pipeline::ProcessTable procs(""); // the log's processes only, never this host's /proc
  std::map<uint64_t, std::string> cgroups;
  std::string host;
  detect::Detector::Options dopts;
  dopts.dirs = [](uint32_t, int32_t) { return std::string(); }; // recorded events are absolute
  // "~/" patterns: the home `vigil run` gave its agent (recorded), --home, or the passwd entry.
  std::string home = args.home.value_or("");
  dopts.homes = [&home](uint32_t uid) { return !home.empty() ? home : detect::passwd_home(uid); };
  detect::Detector detector(dopts);
  if (given)
    detector.set_rules(*given);
  detect::Enricher enricher(procs, "", [&](uint64_t id) {
    auto it = cgroups.find(id);
    return it == cgroups.end() ? std::string() : it->second;
  });
  daemon::OpenDedup dedup;
  std::vector<detect::Finding> findings;
  Timeline timeline;
  size_t alerts = 0, live_alerts = 0, events = 0, undecodable = 0, actions = 0;
  bool rules_seen = given.has_value();

  auto keep = [&](const detect::Alert &a) {
    if (since && a.time_ns < *since)
      return false;
    if (until && a.time_ns > *until)
      return false;
    if (args.pid) {
      bool in = a.pid == *args.pid;
      for (const auto &p : a.ancestry)
        in |= p.pid == *args.pid;
      if (!in)
        return false;
    }
    if (args.cgroup && !a.cgroup.starts_with(*args.cgroup))
      return false;
    if (args.profile && a.profile != *args.profile)
      return false;
    return true;
  };

  LogProgress progress("vigil replay", *files);
  eventlog::Visitor v;
  v.on_segment = [&](const eventlog::SegmentInfo &s) {
    progress.segment(s.path);
    if (!s.header_ok)
      return;
    host = s.header.host;
    enricher.set_hostname(host);
    enricher.set_clock_offset(static_cast<int64_t>(s.header.created_realtime_ns) -
                              static_cast<int64_t>(s.header.created_boottime_ns));
  };
  eventlog::Decoder decoder; // one event per type, reused: replay allocates nothing per event
  v.on_record = [&](const eventlog::RecordView &r) {
    progress.record(r);
    using eventlog::RecordType;
    const auto type = static_cast<RecordType>(r.type);
    if (type == RecordType::event) {
      auto decoded = decoder.decode(r.payload);
      if (!decoded) {
        ++undecodable;
        std::fprintf(stderr, "%s: record %llu: %s (skipped)\n", r.segment->path.c_str(),
                     static_cast<unsigned long long>(r.index), decoded.error().message().c_str());
        return true;
      }
      pipeline::Event *ev = *decoded;
      ++events;
      if (dedup.duplicate(*ev))
        return true;
      procs.apply(*ev);
      const policy::Profile *profile = detector.profile(ev->hdr.profile_id);
      if (args.format == "timeline" && ev->hdr.profile_id != 0) {
        const uint64_t t = enricher.realtime_of(ev->hdr.ts_ns);
        const auto *open = std::get_if<pipeline::OpenBody>(&ev->body);
        const bool decided = ev->hdr.verdict != pipeline::Verdict::none &&
                             ev->hdr.verdict != pipeline::Verdict::allow;
        const report::Noise noise = open && !decided && !args.all
                                        ? report::classify_open(open->path, ev->hdr.tgid)
                                        : report::Noise::none;
        auto &lines = timeline.by_cgroup[ev->hdr.cgroup_id];
        if (noise != report::Noise::none) {
          auto &f = timeline.folded[ev->hdr.tgid];
          f.cgroup = ev->hdr.cgroup_id;
          f.last_ns = t;
          ++f.counts[static_cast<size_t>(noise)];
        } else {
          // A process's folded opens are said where it execs anew or exits.
          if (std::holds_alternative<pipeline::ExecBody>(ev->body) ||
              std::holds_alternative<pipeline::ExitBody>(ev->body))
            if (auto f = timeline.folded.find(ev->hdr.tgid); f != timeline.folded.end()) {
              if (auto text = fold_line(f->second.counts); !text.empty())
                lines.push_back({t, ev->hdr.tgid, ev->hdr.comm + ": " + text});
              timeline.folded.erase(f);
            }
          lines.push_back({t, ev->hdr.tgid, ev->hdr.comm + ": " + describe_event(*ev)});
        }
      }
      findings.clear();
      detector.evaluate(*ev, procs, findings);
      for (const auto &f : findings) {
        if (!profile)
          continue;
        detect::Alert a = enricher.build(*ev, f, *profile);
        if (!keep(a))
          continue;
        ++alerts;
        if (args.format != "timeline")
          progress.clear(); // the alert starts on a clean line of the terminal
        if (args.format == "json") {
          std::printf("%s\n", exporter::to_json(a).dump(-1, ' ', false,
                                                         json::error_handler_t::replace).c_str());
        } else if (args.format == "table") {
          std::printf("%s  %-9s %-32s %7u %-15s %s\n", detect::format_time(a.time_ns).c_str(),
                      std::string(policy::to_string(a.severity)).c_str(),
                      escape_text(a.rule).c_str(), a.pid, escape_text(a.comm).c_str(),
                      escape_text(a.output).c_str());
        } else {
          timeline.by_cgroup[ev->hdr.cgroup_id].push_back(
              {a.time_ns, a.pid,
               "!! " + std::string(policy::to_string(a.severity)) + " " + a.rule + ": " +
                   a.output});
        }
      }
      return true;
    }
    json j;
    try {
      j = json::parse(std::string(reinterpret_cast<const char *>(r.payload.data()),
                                  r.payload.size()));
    } catch (const std::exception &e) {
      if (type == RecordType::alert)
        ++live_alerts;
      std::fprintf(stderr, "%s: record %llu: bad JSON (%s), skipped\n", r.segment->path.c_str(),
                   static_cast<unsigned long long>(r.index), e.what());
      return true;
    }
    try {
      if (type == RecordType::alert) {
        ++live_alerts;
        // Detection runs again, but what vigil did cannot: the response actions are shown as
        // recorded.
        if (!j.value("rule", std::string()).starts_with("response-"))
          return true;
        RecordedAction act = recorded_action(j);
        if (!keep(act.alert))
          return true;
        ++actions;
        if (args.format != "timeline")
          progress.clear();
        if (args.format == "json") {
          j["recorded"] = true; // not detected again: what the live vigil did
          std::printf("%s\n", j.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
        } else if (args.format == "table") {
          std::printf("%s  %-9s %-32s %7u %-15s %s\n",
                      detect::format_time(act.alert.time_ns).c_str(),
                      std::string(policy::to_string(act.alert.severity)).c_str(),
                      escape_text(act.alert.rule).c_str(), act.alert.pid,
                      escape_text(act.alert.comm).c_str(), escape_text(act.line).c_str());
        } else {
          timeline.by_cgroup[act.alert.cgroup_id].push_back(
              {act.alert.time_ns, act.alert.pid, "=> " + act.alert.rule + " " + act.line});
        }
      } else if (type == RecordType::process) {
        pipeline::ProcessInfo p;
        p.pid = j.at("pid");
        p.ppid = j.at("ppid");
        p.uid = j.at("uid");
        p.cgroup_id = j.at("cgroup_id");
        p.profile_id = j.at("profile_id");
        p.start_ns = j.at("start_ns");
        p.comm = j.at("comm");
        p.exe = j.at("exe");
        p.argv = j.at("argv").get<std::vector<std::string>>();
        procs.insert(std::move(p));
      } else if (type == RecordType::cgroup) {
        std::string path = j.at("path");
        // Alerts name cgroups relative to the cgroup2 mount, as the live engine does.
        for (const char *mount : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"})
          if (path.starts_with(mount)) {
            path = path.substr(std::string_view(mount).size());
            break;
          }
        cgroups[j.at("cgroup_id").get<uint64_t>()] = path;
      } else if (type == RecordType::policy && j.value("kind", "") == "rules") {
        if (given)
          return true; // --rules replaces what the log recorded
        policy::RuleSet set;
        std::vector<std::string> errors;
        for (const auto &f : j.at("files")) {
          set.files.push_back(f.at("source"));
          policy::parse_rules(f.at("text").get<std::string>(), f.at("source"), set, errors);
        }
        for (const auto &e : errors)
          std::fprintf(stderr, "recorded rules: %s\n", e.c_str());
        detector.set_rules(std::move(set));
        rules_seen = true;
      } else if (type == RecordType::policy) {
        auto p = policy::parse_profile(j.at("text").get<std::string>(), j.at("source"));
        if (!p) {
          std::fprintf(stderr, "recorded profile: %s\n", p.error().message().c_str());
          return true;
        }
        if (j.contains("egress_allow")) {
          p->egress_allow.clear();
          for (const auto &e : j.at("egress_allow")) {
            auto cidr = policy::parse_cidr(e.at("cidr").get<std::string>());
            if (!cidr)
              continue;
            policy::EgressAllow a;
            a.cidr = *cidr;
            for (const auto &port : e.at("ports")) {
              const std::string s = port;
              const size_t dash = s.find('-');
              a.ports.push_back({static_cast<uint16_t>(std::stoul(s.substr(0, dash))),
                                 static_cast<uint16_t>(std::stoul(
                                     dash == std::string::npos ? s : s.substr(dash + 1)))});
            }
            p->egress_allow.push_back(a);
          }
        }
        if (!args.home && j.contains("home"))
          home = j.at("home").get<std::string>();
        detector.set_profile(j.at("profile_id").get<uint32_t>(), std::move(*p));
      }
    } catch (const std::exception &e) {
      std::fprintf(stderr, "%s: record %llu: %s (skipped)\n", r.segment->path.c_str(),
                   static_cast<unsigned long long>(r.index), e.what());
    }
    return true;
  };
  v.on_problem = [](const eventlog::Problem &p) {
    if (p.damage())
      std::fprintf(stderr, "%s (skipped)\n", eventlog::describe(p).c_str());
  };
  auto summary = eventlog::read_log(*files, v);
  progress.clear();

  if (args.format == "timeline") {
    // Processes still running at the end of the log: their folded opens at their last one.
    for (auto &[pid, f] : timeline.folded)
      if (auto text = fold_line(f.counts); !text.empty())
        timeline.by_cgroup[f.cgroup].push_back({f.last_ns, pid, text});
    for (auto &[id, lines] : timeline.by_cgroup) {
      auto it = cgroups.find(id);
      std::printf("== cgroup %s (id %llu)\n",
                  it == cgroups.end() ? "(unknown)" : escape_text(it->second).c_str(),
                  static_cast<unsigned long long>(id));
      std::stable_sort(lines.begin(), lines.end(),
                       [](const auto &a, const auto &b) { return a.time_ns < b.time_ns; });
      for (const auto &l : lines) {
        if (since && l.time_ns < *since)
          continue;
        if (until && l.time_ns > *until)
          continue;
        // Depth in the process tree: how many recorded ancestors stay in the agent.
        size_t depth = 0;
        for (const auto *a : procs.ancestry(l.pid)) {
          if (a->profile_id == 0)
            break;
          ++depth;
        }
        // Lines hold what the agent named (paths, argv, environment): escaped, one per line.
        std::printf("%s %*s[%u] %s\n", detect::format_time(l.time_ns).c_str(),
                    static_cast<int>(2 * depth), "", l.pid, escape_text(l.text).c_str());
      }
    }
  }
  std::fprintf(stderr,
               "vigil replay: %zu segment(s), %zu event(s), %zu alert(s) (%zu raised live), "
               "%zu response action(s) recorded, %zu damaged record(s) skipped%s\n",
               static_cast<size_t>(summary.segments), events, alerts, live_alerts, actions,
               static_cast<size_t>(summary.records_skipped) + undecodable,
               rules_seen ? "" : "; no rules recorded and none given (--rules)");
  return 0;
}

} // namespace vigil::cli
