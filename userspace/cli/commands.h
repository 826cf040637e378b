// SPDX-License-Identifier: Apache-2.0
// The subcommands of the vigil binary. Each returns the process exit status.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vigil::cli {

// Exit codes of run and daemon (run otherwise passes the command's status through):
// 1 setup failed, 2 bad profile or config, 3 a profile's required tier is unavailable here.
inline constexpr int kExitTierUnavailable = 3;

struct RunArgs {
  std::string profile;                 // empty: the shipped default
  std::optional<std::string> alerts_json;  // file or "-"
  std::optional<std::string> alerts_falco; // file or "-"
  std::optional<std::string> webhook;      // URL
  std::string webhook_format = "json";     // json | falco
  int webhook_queue = 1024;                // alerts held while the webhook is unreachable
  std::optional<std::string> alertmanager; // base URL
  std::optional<std::string> metrics_address;
  std::optional<std::string> log_dir;
  std::vector<std::string> rules; // rule files or directories; empty: the shipped packs
  std::string state_dir;          // learned baselines; empty: memory only
  std::string max_tier = "lsm"; // lsm (no cap) | fallback | monitor
  std::string lsm_attach = "auto"; // auto | cgroup | global
  bool syscall_tracepoints = false; // also observe through syscall tracepoints (costs everyone)
  std::optional<std::string> ring_buffer; // the event ring's size (daemon::parse_ring_size)
  bool verbose = false;            // every start-up note as it comes
  bool quiet = false;              // no start-up summary either: alerts and errors only
  bool inventory = false;          // print `vigil inventory` for the agent before starting it
  std::vector<std::string> command;
};
int run_command(const RunArgs &args);

struct ReplayArgs {
  std::vector<std::string> paths;  // log directories or segment files
  std::vector<std::string> rules;  // empty: the rules recorded in the log
  std::optional<std::string> since, until; // RFC 3339 UTC
  std::optional<uint32_t> pid;     // the process or its descendants
  std::optional<std::string> cgroup; // path prefix, relative to the cgroup2 mount
  std::optional<std::string> profile;
  std::optional<std::string> home; // "~/" for the replayed profiles and rules
  std::string format = "table";    // table | json | timeline
  bool all = false;                // timeline: no noise folding (library, locale, ... opens)
};
// `vigil replay`: detection re-run over an event log; prints the alerts (or a timeline).
int replay_command(const ReplayArgs &args);

// What part of a log to look at: replay's options, for report and profile suggest.
struct LogFilterArgs {
  std::vector<std::string> paths;
  std::optional<std::string> since, until; // RFC 3339 UTC
  std::optional<uint32_t> pid;
  std::optional<std::string> cgroup;
  std::optional<std::string> profile;
};

// `vigil report LOG... -o FILE`: one self-contained HTML incident report. 0 written, 1 no log or
// the file could not be written, 2 bad options.
int report_command(const LogFilterArgs &args, const std::string &output);

// `vigil profile suggest LOG... [--base PROFILE] [-o FILE]`: a profile allowing what the
// recorded agent did (report/suggest.h). 0 written, 1 no log or unwritable, 2 bad options or
// base profile.
int profile_suggest_command(const LogFilterArgs &args, const std::string &base,
                            const std::string &output);

struct DaemonArgs {
  std::string config;
  bool verbose = false; // start-up notes one per item (each gap, each host), not one per fact
};
int daemon_command(const DaemonArgs &args);

// `vigil doctor [--json]`: probes the kernel and prints what each enforcement tier needs and
// which tier files and the network get. 0 after a probe run, 1 without the privileges to probe.
int doctor_command(bool json);
// `vigil resume [CGROUP] [--socket PATH]`: thaws an agent cgroup frozen by the freeze response
// action and lifts an isolate (without CGROUP: every vigil run cgroup). A daemon's cgroup is
// lifted by the daemon listening on socket. 0 done (or nothing to do), 1 error (the daemon
// could not be reached or refused).
int resume_command(const std::optional<std::string> &target, const std::string &socket);

struct InventoryArgs {
  std::string profile;                // empty: the shipped default
  std::vector<std::string> rules;     // empty: the shipped packs
  std::optional<uint32_t> uid;        // default: the caller
  std::optional<std::string> home;    // default: $HOME for the caller, else the uid's passwd home
  std::optional<std::string> project; // default: the current directory
  bool json = false;
  bool to_stderr = false; // vigil run --inventory: stdout belongs to the agent
};
// `vigil inventory`: what the uid could reach under the profile. 0 printed, 2 bad profile/rules.
int inventory_command(const InventoryArgs &args);

// `vigil log verify PATH...`: every CRC and the hash chain of an event log (directories or
// seg-*.vglog files). Prints each problem as "seg-...vglog: offset N: kind: what" and a summary;
// 0 when clean, 1 on any problem (a segment still being written is not one).
int log_verify_command(const std::vector<std::string> &paths);
// `vigil log export PATH... --format json`: one JSON object per record on stdout; damage is
// reported on stderr and skipped. 0 when the paths could be read, 1 when not, 2 on a bad format.
int log_export_command(const std::vector<std::string> &paths, const std::string &format);

// Finds the shipped default profile and rule packs: next to the installed binary or in the
// source tree.
std::string default_profile_path();
std::string default_rules_dir();

// `vigil rules check PATH...`: validates rule, profile and allowlist files (directories are
// searched for *.yaml) and prints every mistake with file, line and column. 0 clean, 1 not.
int rules_check_command(const std::vector<std::string> &paths);

} // namespace vigil::cli
