// SPDX-License-Identifier: Apache-2.0
// A recorded session read for investigation: the event log folded into what a responder asks
// first (which processes ran, what each read and where it connected, what was alerted and
// denied, and what happened around each alert), with noise folded into counts and every list
// capped so that a log of any length gives a model of bounded size. `vigil report` renders it,
// `vigil profile suggest` writes a profile from it. Everything in it is agent-controlled text:
// renderers escape it.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "eventlog/reader.h"
#include "pipeline/event.h"
#include "report/noise.h"

namespace vigil::report {

// Which part of the log to keep (the options replay takes). Times are CLOCK_REALTIME ns.
struct Filter {
  std::optional<uint64_t> since, until;
  std::optional<uint32_t> pid;       // the process and its descendants
  std::optional<std::string> cgroup; // cgroup path prefix (relative to the cgroup2 mount)
  std::optional<std::string> profile;
};

// The bounds that keep the model (and a report) small whatever the log's length. What a cap
// cuts is counted, and the renderers say so.
struct Caps {
  size_t files_per_process = 200; // distinct non-noise paths kept per process
  size_t dests_per_process = 100;
  size_t processes = 3000;     // processes kept with their detail (alert-bearing ones first)
  size_t timeline = 4000;      // timeline lines (alerts and denials are always kept)
  size_t alerts = 2000;        // alerts kept with their context
  size_t context = 3;          // lines of context before and after each alert
  size_t session_files = 2000; // distinct paths in the session-wide lists
  size_t folded_paths = 20;    // distinct noise paths kept per process and category
  size_t actions = 1000;       // response actions listed (all are counted)
};

struct Count {
  uint64_t n = 0;
  uint64_t denied = 0;   // refused (deny or kill verdict, or a failed call with EPERM/EACCES)
  uint64_t first_ns = 0; // realtime of the first
  uint32_t first_pid = 0;
  std::string first_comm;
};

struct Line {
  uint64_t time_ns = 0;
  uint32_t pid = 0;
  std::string comm;
  std::string text; // "open /etc/passwd = ok", "connect 1.2.3.4:443 = EPERM", ...
  bool denied = false;
  bool alert = false;         // an alert line of the timeline
  std::string rule, severity; // alert lines
};

struct Process {
  uint32_t pid = 0, ppid = 0, uid = 0;
  uint64_t cgroup_id = 0;
  uint32_t profile_id = 0;
  std::string comm, exe;
  std::vector<std::string> argv;
  std::vector<std::string> env; // watched environment at exec ("NAME=VALUE")
  uint64_t start_ns = 0, end_ns = 0;
  std::optional<int32_t> exit_code;
  uint64_t execs = 0, opens = 0, connects = 0, forks = 0, denials = 0, alerts = 0, other = 0;
  std::map<std::string, Count> files;          // non-noise opens by path (capped)
  uint64_t files_cut = 0, files_cut_opens = 0; // distinct paths, and their opens, past the cap
  std::array<uint64_t, kNoiseKinds> folded{};  // noise opens by category
  std::array<std::vector<std::string>, kNoiseKinds> folded_paths; // distinct ones (capped)
  std::map<std::string, Count> dests; // "ip:port" or a unix socket path (capped)
  uint64_t dests_cut = 0;
  std::vector<uint32_t> children;
  bool in_agent = false; // ran under a profile (an agent process), not the launcher or host
};

struct Alert {
  uint64_t time_ns = 0;
  std::string rule, severity, verdict, tier, output, comm, path, dest, event;
  uint32_t pid = 0;
  std::vector<Line> before, after; // what the process tree did right before and after
};

// A response action vigil took (an alert record of rule response-*): what, on which agent
// cgroup, with what result, and why.
struct Action {
  uint64_t time_ns = 0;
  std::string action; // freeze, kill, isolate, run, thaw, restore
  std::string result; // done, failed, started (a run command; its end is a later record)
  std::string target; // the agent cgroup
  std::string cause;  // "after alert <rule>: ..." (the record's detail)
  std::string output;
  uint32_t pid = 0; // the process whose alert asked for it (0 for a restore)
};

struct Destination {
  Count count;
  std::string addr; // "ip:port", "[v6]:port" or a unix path
  bool unix_socket = false;
  uint16_t port = 0;
  std::string ip;
};

// A name an address was given for in a DNS answer an agent received.
struct ResolvedName {
  Count count;        // answers that gave the address for the name (no process: tgid 0)
  std::string server; // "ip:port" of the first answer's sender
};

struct Session {
  std::vector<std::string> files;
  uint64_t bytes = 0;
  eventlog::ReadSummary read; // what `vigil log verify` reports about the same files
  uint64_t events = 0, kept_events = 0, undecodable = 0;
  uint64_t first_ns = 0, last_ns = 0; // realtime span of the kept events
  std::string host;
  std::map<uint64_t, std::pair<std::string, std::string>> agents; // cgroup id -> path, profile
  struct ProfileText {
    std::string name, source, text;
  };
  std::map<uint32_t, ProfileText> profiles;
  std::string home;                  // "~/" of the recorded profiles (vigil run)
  std::map<uint32_t, Process> procs; // by pid (a reused pid continues its entry)
  uint64_t procs_cut = 0;            // processes past Caps::processes (no detail kept)
  std::vector<Alert> alerts;
  uint64_t alerts_total = 0;
  std::vector<Action> actions; // in log order, capped at Caps::actions
  uint64_t actions_total = 0;
  std::map<std::string, uint64_t> actions_by_result; // done, failed, started
  std::map<std::string, uint64_t> by_severity, by_rule;
  uint64_t denials = 0;
  std::map<std::string, Destination> dests;
  // From DNS answers: address ("1.2.3.4", "2001:db8::1") -> the names (the question, lower case)
  // an answer gave it for (capped at Caps::session_files addresses, 8 names each).
  std::map<std::string, std::map<std::string, ResolvedName>> names;
  uint64_t names_cut = 0; // answers' (address, name) pairs past the caps
  uint64_t dns_answers = 0, dns_unparsed = 0;
  std::map<std::string, Count> credentials; // opens of paths the recorded profiles protect
  std::vector<Line> timeline;
  uint64_t timeline_cut = 0;
  std::array<uint64_t, kNoiseKinds> folded{};
  std::vector<std::string> notes; // the recorder's NOTE records (drops, recovery)
};

// Called with (bytes read so far, 1-based segment) as the read goes.
using ProgressFn = std::function<void(uint64_t, uint64_t)>;

// Reads the log at paths (directories or seg-*.vglog files). Damage is recorded in read (as log
// verify reports it) and skipped. Fails only when no segment can be found.
Result<Session> load_session(const std::vector<std::string> &paths, const Filter &filter,
                             const Caps &caps = {}, const ProgressFn &progress = {});

// RFC 3339 UTC ("2026-11-23T05:10:00Z", fractional seconds allowed) as realtime ns.
std::optional<uint64_t> parse_rfc3339(const std::string &text);

// The one-line description of an event the timeline shows ("open /etc/passwd = ok").
std::string describe(const pipeline::Event &ev);
// A DNS answer's ("dns answer from 127.0.0.53:53: example.com = 93.184.215.14").
std::string describe_dns(const pipeline::DnsBody &d);

} // namespace vigil::report
