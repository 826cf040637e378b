// SPDX-License-Identifier: Apache-2.0
// vigil: the one binary. Parses the command line and hands off to a subcommand.
#include <cstdlib>
#include <string>

#include <CLI/CLI.hpp>

#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "daemon/engine.h"
#include "loader/loader.h"
#include "policy/profile.h"
#include "vigil/abi.h"

int main(int argc, char **argv)
{
  CLI::App app{"vigil: eBPF runtime monitor and enforcement for AI coding agents"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("vigil ") + VIGIL_VERSION + " (event ABI " +
                                        std::to_string(VG_ABI_MAJOR) + "." +
                                        std::to_string(VG_ABI_MINOR) + ")");
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));

  vigil::cli::RunArgs run;
  if (const char *attach = std::getenv("VIGIL_LSM_ATTACH"); attach && *attach)
    run.lsm_attach = attach; // the default for --lsm-attach (validated like the flag)
  CLI::App *run_cmd = app.add_subcommand("run", "Run a command confined in a fresh agent cgroup");
  run_cmd->add_option("--profile", run.profile, "Profile YAML (default: the shipped default)");
  run_cmd->add_flag("--inventory", run.inventory,
                    "Print what the agent could reach (vigil inventory) before starting it");
  run_cmd->add_option("--alerts-json", run.alerts_json,
                      "Append alerts as JSON lines to FILE ('-': stdout)");
  run_cmd->add_option("--alerts-falco", run.alerts_falco,
                      "Append alerts in Falco's JSON output shape to FILE ('-': stdout)");
  run_cmd->add_option("--webhook", run.webhook, "POST each alert as JSON to URL");
  run_cmd
      ->add_option("--webhook-format", run.webhook_format,
                   "Webhook body: json (vigil's shape) or falco (for falcosidekick)")
      ->check(CLI::IsMember({"json", "falco"}))
      ->capture_default_str();
  run_cmd
      ->add_option("--webhook-queue", run.webhook_queue,
                   "Alerts held while the webhook is unreachable; more are dropped and counted")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  run_cmd->add_option("--alertmanager", run.alertmanager,
                      "Push alerts to the Alertmanager at URL (its v2 API)");
  run_cmd->add_option("--metrics-address", run.metrics_address,
                      "Serve Prometheus /metrics on HOST:PORT");
  run_cmd->add_option("--log-dir", run.log_dir, "Directory of the event log");
  run_cmd->add_option("--rules", run.rules,
                      "Rule file or directory (repeatable; default: the shipped packs)");
  run_cmd->add_option("--state-dir", run.state_dir,
                      "Directory for learned egress baselines (default: none, memory only)");
  run_cmd
      ->add_option("--max-tier", run.max_tier,
                   "Cap enforcement: lsm (no cap), fallback (fanotify/cgroup), monitor (observe)")
      ->check(CLI::IsMember({"lsm", "fallback", "monitor"}));
  run_cmd
      ->add_option("--lsm-attach", run.lsm_attach,
                   "BPF LSM attachment: auto, cgroup (lsm_cgroup per agent cgroup), global")
      ->check(CLI::IsMember({"auto", "cgroup", "global"}))
      ->capture_default_str();
  run_cmd->add_flag("--syscall-tracepoints", run.syscall_tracepoints,
                    "Also observe the agent's opens and connects through syscall tracepoints "
                    "(every process on the machine then takes the slow syscall path)");
  run_cmd
      ->add_option("--ring-buffer", run.ring_buffer,
                   "Size of the kernel-to-vigil event ring, a power of two (default 4MiB)")
      ->check([](const std::string &s) -> std::string {
        auto r = vigil::daemon::parse_ring_size(s);
        return r ? std::string() : r.error().message();
      });
  auto *verbose = run_cmd->add_flag("-v,--verbose", run.verbose,
                                    "Print every start-up note (by default: a three-line summary)");
  run_cmd->add_flag("-q,--quiet", run.quiet, "Print nothing but alerts and errors")
      ->excludes(verbose);
  run_cmd->add_option("command", run.command, "Command and arguments (after --)")->required();
  run_cmd->positionals_at_end();

  vigil::cli::DaemonArgs daemon;
  CLI::App *daemon_cmd = app.add_subcommand("daemon", "Node mode: confine cgroups by config");
  daemon_cmd->add_option("--config", daemon.config, "Daemon config YAML")->required();
  daemon_cmd->add_flag("-v,--verbose", daemon.verbose,
                       "Log every start-up note (by default: one line per fact)");

  std::vector<std::string> check_files;
  CLI::App *check_cmd = app.add_subcommand("check-profile", "Validate profile files");
  check_cmd->add_option("files", check_files, "Profile YAML files")->required();

  std::vector<std::string> rules_paths;
  CLI::App *rules_cmd = app.add_subcommand("rules", "Detection rules");
  rules_cmd->require_subcommand(1);
  CLI::App *rules_check = rules_cmd->add_subcommand(
      "check", "Validate rule, profile and allowlist files; report every mistake");
  rules_check->add_option("paths", rules_paths, "Files or directories")->required();

  vigil::cli::ReplayArgs replay;
  CLI::App *replay_cmd =
      app.add_subcommand("replay", "Run detection again over an event log and print the alerts");
  replay_cmd->add_option("paths", replay.paths, "Log directories or seg-*.vglog files")
      ->required();
  replay_cmd->add_option("--rules", replay.rules,
                         "Rule files or directories (default: the rules recorded in the log)");
  replay_cmd->add_option("--since", replay.since, "Only alerts at or after this RFC 3339 time");
  replay_cmd->add_option("--until", replay.until, "Only alerts at or before this RFC 3339 time");
  replay_cmd->add_option("--pid", replay.pid, "Only alerts of this process or its descendants");
  replay_cmd->add_option("--cgroup", replay.cgroup, "Only alerts from cgroups under this path");
  replay_cmd->add_option("--profile", replay.profile, "Only alerts of this profile");
  replay_cmd->add_option("--home", replay.home, "Home directory for ~/ patterns");
  replay_cmd->add_option("--format", replay.format, "table, json or timeline")
      ->check(CLI::IsMember({"table", "json", "timeline"}))
      ->capture_default_str();
  replay_cmd->add_flag("--all", replay.all,
                       "Timeline: show every open (library, locale, terminal and cache opens are "
                       "folded into counts by default)");

  // report and profile suggest take replay's filters.
  auto add_log_filters = [](CLI::App *cmd, vigil::cli::LogFilterArgs &a) {
    cmd->add_option("paths", a.paths, "Log directories or seg-*.vglog files")->required();
    cmd->add_option("--since", a.since, "Only what happened at or after this RFC 3339 time");
    cmd->add_option("--until", a.until, "Only what happened at or before this RFC 3339 time");
    cmd->add_option("--pid", a.pid, "Only this process and its descendants");
    cmd->add_option("--cgroup", a.cgroup, "Only cgroups under this path");
    cmd->add_option("--profile", a.profile, "Only this profile's agents");
  };
  vigil::cli::LogFilterArgs report;
  std::string report_out;
  CLI::App *report_cmd = app.add_subcommand(
      "report", "Write a self-contained HTML incident report of an event log");
  add_log_filters(report_cmd, report);
  report_cmd->add_option("-o,--output", report_out, "HTML file to write ('-': stdout)")
      ->required();

  vigil::cli::LogFilterArgs suggest;
  std::string suggest_base, suggest_out = "-";
  CLI::App *profile_cmd = app.add_subcommand("profile", "Profiles from recordings");
  profile_cmd->require_subcommand(1);
  CLI::App *suggest_cmd = profile_cmd->add_subcommand(
      "suggest", "Write a profile allowing what a recorded agent did (review comments for the "
                 "rest)");
  add_log_filters(suggest_cmd, suggest);
  suggest_cmd->add_option("--base", suggest_base,
                          "Profile to start from (default: the shipped default)");
  suggest_cmd->add_option("-o,--output", suggest_out, "Profile file to write ('-': stdout)")
      ->capture_default_str();

  bool doctor_json = false;
  CLI::App *doctor_cmd =
      app.add_subcommand("doctor", "Probe the kernel and report the enforcement tiers");
  doctor_cmd->add_flag("--json", doctor_json, "Print the report as one JSON object");

  vigil::cli::InventoryArgs inventory;
  CLI::App *inventory_cmd = app.add_subcommand(
      "inventory", "List what an agent could reach: credentials, secrets, sockets, egress");
  inventory_cmd->add_option("--profile", inventory.profile,
                            "Profile YAML (default: the shipped default)");
  inventory_cmd->add_option("--rules", inventory.rules, "Rule files or directories");
  inventory_cmd->add_option("--user", inventory.uid, "The uid the agent runs as (default: yours)");
  inventory_cmd->add_option("--home", inventory.home, "Its home (default: from passwd)");
  inventory_cmd->add_option("--project", inventory.project,
                            "The project directory (default: the current one)");
  inventory_cmd->add_flag("--json", inventory.json, "One JSON object (stable, version 1)");

  std::optional<std::string> resume_target;
  CLI::App *resume_cmd = app.add_subcommand(
      "resume", "Thaw an agent cgroup a freeze response froze and lift an isolate (default: every "
                "vigil run's)");
  resume_cmd->add_option("cgroup", resume_target,
                         "Agent cgroup (absolute, or relative to the cgroup2 mount)");
  std::string resume_socket = vigil::daemon::kDefaultControlSocket;
  resume_cmd->add_option("--socket", resume_socket,
                         "The daemon's control socket (daemon config control_socket)");

  std::string unload_dir = "/sys/fs/bpf/vigil";
  CLI::App *unload_cmd =
      app.add_subcommand("unload", "Remove the enforcement a daemon left pinned in the kernel");
  unload_cmd->add_option("--pin-dir", unload_dir, "Pin directory (daemon config pin_dir)");

  std::vector<std::string> log_paths;
  std::string log_format = "json";
  CLI::App *log_cmd = app.add_subcommand("log", "Check and read an event log (--log-dir)");
  log_cmd->require_subcommand(1);
  CLI::App *log_verify = log_cmd->add_subcommand(
      "verify", "Check every CRC and the hash chain; name the first bad segment and offset");
  log_verify->add_option("paths", log_paths, "Log directories or seg-*.vglog files")->required();
  CLI::App *log_export =
      log_cmd->add_subcommand("export", "Print every record as one JSON object per line");
  log_export->add_option("paths", log_paths, "Log directories or seg-*.vglog files")->required();
  log_export->add_option("--format", log_format, "Output format")
      ->check(CLI::IsMember({"json"}))
      ->capture_default_str();

  app.add_subcommand("version", "Print the version");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    if (e.get_exit_code() == 0) // --help, --version
      return app.exit(e);
    // "vigil bogus", "vigil rules bogus", "vigil daemon --bogus": CLI11 checks for the missing
    // subcommand or option before it looks at the words it could not place (at any level); name
    // those words, as for an unknown option.
    if (dynamic_cast<const CLI::RequiredError *>(&e) && !app.remaining(true).empty())
      (void)app.exit(CLI::ExtrasError(app.remaining(true)));
    else
      (void)app.exit(e);
    return 2; // bad usage, like a bad profile or config
  }
  vigil::daemon::setup_logging(log_level);

  if (*run_cmd)
    return vigil::cli::run_command(run);
  if (*daemon_cmd)
    return vigil::cli::daemon_command(daemon);
  if (*replay_cmd)
    return vigil::cli::replay_command(replay);
  if (*report_cmd)
    return vigil::cli::report_command(report, report_out);
  if (*suggest_cmd)
    return vigil::cli::profile_suggest_command(suggest, suggest_base, suggest_out);
  if (*rules_check)
    return vigil::cli::rules_check_command(rules_paths);
  if (*log_verify)
    return vigil::cli::log_verify_command(log_paths);
  if (*log_export)
    return vigil::cli::log_export_command(log_paths, log_format);
  if (*doctor_cmd)
    return vigil::cli::doctor_command(doctor_json);
  if (*inventory_cmd)
    return vigil::cli::inventory_command(inventory);
  if (*resume_cmd)
    return vigil::cli::resume_command(resume_target, resume_socket);
  if (*unload_cmd) {
    auto n = vigil::loader::unload_pinned(unload_dir);
    if (!n) {
      spdlog::error("{}", n.error().message());
      return 1;
    }
    std::printf("vigil: removed %zu pinned objects under %s; programs a running daemon still "
                "holds detach when it exits\n",
                *n, unload_dir.c_str());
    return 0;
  }
  if (*check_cmd) {
    int rc = 0;
    for (const auto &f : check_files) {
      auto p = vigil::policy::load_profile(f);
      if (!p) {
        std::fprintf(stderr, "%s\n", p.error().message().c_str());
        rc = 1;
      } else {
        std::printf("%s: ok (profile '%s', %zu credential patterns, %zu egress entries)\n",
                    f.c_str(), p->name.c_str(), p->credential_paths.size(),
                    p->egress_allow.size());
      }
    }
    return rc;
  }
  std::printf("vigil %s (event ABI %d.%d)\n", VIGIL_VERSION, VG_ABI_MAJOR, VG_ABI_MINOR);
  return 0;
}
