// SPDX-License-Identifier: Apache-2.0
// `vigil run -- CMD...`: confine one command in a fresh agent cgroup for its lifetime.
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <future>
#include <set>

#include <spdlog/spdlog.h>

#include "cgroup/cgroup.h"
#include "cli/commands.h"
#include "cli/run_supervisor.h"
#include "common/kernel_ids.h"
#include "common/text.h"
#include "daemon/engine.h"
#include "daemon/startup_log.h"
#include "enforce/launch.h"
#include "enforce/persistence.h"
#include "enforce/plant_watch.h"
#include "enforce/watchdog.h"
#include "policy/capability.h"
#include "policy/profile.h"
#include "policy/rules.h"

namespace vigil::cli {

namespace {

constexpr uint32_t kRunProfileId = 1;

// What the child does to itself before exec, decided by the parent.
struct Launch {
  const sock_fprog *filter;
  uint64_t keep_caps;
  int last_cap;
  bool isolate;
  const char *const *read_only; // null-terminated
  const char *const *hidden;    // null-terminated
  const char *const *pinned;    // persistence guard: null-terminated, or null
  const char *const *guarded;   // persistence guard: null-terminated, or null
  const char *cwd;              // re-entered after the guard's binds
  int notify_sock;              // where the filter's listener goes (to the supervisor)
  const char *fifo_stand_in;    // bound over each of fifos (null-terminated); null: none
  const char *const *fifos;
  bool pid_namespace;           // the child is the first process of a new pid namespace
};

[[noreturn]] void child_fail(const char *what, const char *detail, int err)
{
  const char *msg = "vigil: cannot harden the launch: ";
  (void)!::write(2, msg, std::strlen(msg));
  (void)!::write(2, what, std::strlen(what));
  if (detail && *detail) {
    (void)!::write(2, ": ", 2);
    (void)!::write(2, detail, std::strlen(detail));
  }
  const char *e = strerrorname_np(err);
  if (e) {
    (void)!::write(2, ": ", 2);
    (void)!::write(2, e, std::strlen(e));
  }
  (void)!::write(2, "\n", 1);
  ::_exit(126);
}

// Exit status of the init for the agent's wait status: the same number vigil reports (128 + the
// signal for a killed agent; an init cannot be killed by its own signal to pass it on as such).
int init_status(int wstatus)
{
  if (WIFEXITED(wstatus))
    return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus))
    return 128 + WTERMSIG(wstatus);
  return 1;
}

// pid 1 of the agent's pid namespace: vigil's code, not the agent's (the agent as pid 1 would
// ignore every signal it has no handler for, vigil's forwarded SIGTERM included, and would have
// to reap the orphans of the whole namespace, which a shell or an agent runtime does not do).
// It reaps every child, passes to the agent what reaches it from outside the namespace (vigil
// forwarding a signal it was sent: si_pid reads 0 there) and ignores signals from inside, and
// exits with the agent's status when the agent exits, which ends the namespace (the kernel
// kills what is left). It is not dumpable (a fork of vigil), so the agent cannot trace it or
// read its memory, and its /proc directory is an empty mount in the agent's /proc.
[[noreturn]] void run_init(pid_t agent, int last_cap)
{
  ::syscall(SYS_close_range, 3, ~0u, 0); // vigil's descriptors: the init needs none of them
  // CAP_KILL only: the agent may change its uid (setpriv), and signals must still reach it.
  (void)enforce::drop_capabilities(uint64_t{1} << CAP_KILL, last_cap);
  sigset_t all;
  sigfillset(&all);
  for (;;) {
    siginfo_t si{};
    const int sig = ::sigwaitinfo(&all, &si);
    if (sig < 0)
      continue;
    if (sig == SIGCHLD) {
      int ws = 0;
      pid_t w;
      while ((w = ::waitpid(-1, &ws, WNOHANG)) > 0)
        if (w == agent)
          ::_exit(init_status(ws));
      continue;
    }
    if (si.si_pid == 0 && (si.si_code == SI_USER || si.si_code == SI_QUEUE))
      ::kill(agent, sig);
  }
}

// The child: makes its mount namespace while it is not yet an agent (inside the agent cgroup
// the kernel refuses such mounts), tells the parent, waits until the parent has put it in the
// agent cgroup, then takes its cgroup namespace there, drops capabilities, and applies the
// seccomp filter last (it refuses calls the earlier steps make), then execs. With a pid
// namespace the child is its pid 1: it forks the agent (pid 2) after the cgroup steps and stays
// as the namespace's init (run_init). Only async-signal-safe calls between fork and exec.
[[noreturn]] void child_exec(int gate_fd, int ready_fd, const sigset_t &orig_mask, char **argv,
                             char **envp, const Launch &launch)
{
  char go = 0;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL); // an agent must not outlive its leash
  if (launch.isolate) {
    const char *step = "";
    if (int err = enforce::isolate_mounts(launch.read_only, launch.hidden, launch.pid_namespace,
                                          &step);
        err != 0)
      child_fail("namespaces", step, -err);
    if (int err = enforce::guard_persistence(launch.pinned, launch.guarded, launch.cwd, &step);
        err != 0)
      child_fail("persistence guard", step, -err);
    if (launch.fifo_stand_in)
      if (int err = enforce::cover_fifos(launch.fifo_stand_in, launch.fifos, &step); err != 0)
        child_fail("FIFOs", step, -err);
  }
  (void)!::write(ready_fd, "r", 1);
  ::close(ready_fd);
  if (::read(gate_fd, &go, 1) != 1 || go != 'g')
    ::_exit(127);
  ::close(gate_fd);
  if (launch.isolate) {
    if (int err = enforce::isolate_cgroup_namespace(); err != 0)
      child_fail("namespaces", "unshare(CLONE_NEWCGROUP)", -err);
  }
  if (launch.pid_namespace) {
    sigset_t all;
    sigfillset(&all);
    ::sigprocmask(SIG_SETMASK, &all, nullptr); // the init takes every signal by sigwaitinfo
    const pid_t agent = ::_Fork();
    if (agent < 0)
      child_fail("pid namespace", "fork", errno);
    if (agent > 0)
      run_init(agent, launch.last_cap);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  }
  if (int err = enforce::drop_capabilities(launch.keep_caps, launch.last_cap); err != 0)
    child_fail("capabilities", "", -err);
  ::sigprocmask(SIG_SETMASK, &orig_mask, nullptr);
  int listener = -1;
  if (int err = enforce::apply_launch_filter(*launch.filter, &listener); err != 0)
    child_fail("seccomp filter", "", -err);
  if (int err = enforce::send_fd(launch.notify_sock, listener); err != 0)
    child_fail("seccomp listener", "", -err);
  // vigil's own descriptors (BPF objects, the fanotify group, cgroup directories) stay behind,
  // whether or not they were opened close-on-exec.
  ::syscall(SYS_close_range, 3, ~0u, 0);
  ::environ = envp;
  ::execvp(argv[0], argv);
  const char *msg = "vigil: exec failed: ";
  (void)!::write(2, msg, std::strlen(msg));
  (void)!::write(2, argv[0], std::strlen(argv[0]));
  (void)!::write(2, "\n", 1);
  ::_exit(errno == ENOENT ? 127 : 126);
}

// The persistence guard of this launch: the profile's persistence paths for this agent (its HOME,
// the project at cwd and the repositories git finds there). Where no BPF LSM decides (gate), the
// launch filter hands the agent's name calls to the gate, and the existing paths are also bound
// read-only in the agent's mount namespace (what the gate cannot see, a path changed in memory
// after it was read, the read-only mount still refuses).
struct PersistencePlan {
  enforce::GuardMounts mounts;
  std::shared_ptr<enforce::PersistenceGate> gate; // null: no gate
  std::vector<std::string> watch_dirs; // where protected names absent now would appear
};
PersistencePlan plan_persistence_guard(const policy::Profile &profile, const std::string &home,
                                       const std::string &cwd, bool gate, bool watched)
{
  // watched: the rules name persistence paths, whose changes the gate reports where it decides
  if (profile.persistence_paths.empty() && profile.credential_paths.empty() && !watched)
    return {};
  const enforce::GitLayout layout = enforce::discover_git(cwd);
  if (layout.truncated)
    spdlog::warn("persistence: the walk of {} for repositories stopped at its bound; nested "
                 "repositories deeper down are not protected",
                 cwd);
  for (const auto &made : enforce::create_missing_hook_dirs(layout))
    spdlog::info("persistence: created the missing hooks directory {} so that it can be "
                 "protected",
                 made);
  const auto targets = enforce::resolve_guard_targets(profile, home, cwd, layout);
  size_t audit = 0;
  for (const auto &t : targets)
    audit += t.mode == policy::Mode::audit;
  PersistencePlan plan;
  plan.mounts = enforce::guard_mounts(targets);
  if (gate) {
    plan.gate = std::make_shared<enforce::PersistenceGate>(profile, home, cwd, layout);
    std::vector<std::string> trees = layout.work_trees;
    trees.push_back(cwd);
    plan.watch_dirs = enforce::PlantWatch::watched_dirs(*plan.gate, trees);
  }
  spdlog::info("persistence: {} git directories; {} paths read-only for the agent{}{}",
               layout.git_dirs.size(), plan.mounts.read_only.size(),
               audit ? fmt::format(" ({} in audit mode stay writable)", audit) : std::string(),
               plan.gate ? fmt::format("; the launch filter's gate decides {} patterns, names "
                                       "that do not exist yet included",
                                       plan.gate->entries().size())
                         : std::string());
  for (const auto &p : plan.mounts.read_only)
    spdlog::debug("persistence: read-only {}", p);
  return plan;
}

// The launch's walks of the file system: the project's repositories (persistence guard) and the
// FIFOs made outside the agent. They run on their own thread while the engine probes the kernel
// and loads its programs, and are taken before the fork.
struct LaunchScan {
  PersistencePlan guard;
  std::vector<std::string> fifos; // used where the file tier covers FIFOs (fanotify)
};

LaunchScan scan_for_launch(const policy::Profile &profile, const std::string &home,
                           const std::string &cwd, bool watched)
{
  LaunchScan out;
  if (!profile.isolate)
    return out;
  // The gate is planned before the tier is known (the programs load meanwhile); where BPF
  // LSM's hooks decide names (Engine::persistence_in_kernel), run_command drops it.
  out.guard = plan_persistence_guard(profile, home, cwd, true, watched);
  std::vector<std::string> roots = {"/run", "/tmp", "/var/tmp", "/dev/shm"};
  if (!home.empty())
    roots.push_back(home);
  roots.push_back(cwd);
  bool truncated = false;
  out.fifos = enforce::find_fifos(roots, 8, 100000, &truncated);
  if (truncated)
    spdlog::warn("launch: the walk for FIFOs stopped at 100,000 directory entries (breadth "
                 "first, so the shallow ones were seen); FIFOs deeper in /run, /tmp, /var/tmp, "
                 "/dev/shm, the home or the project are not covered");
  return out;
}

// Tier 1 of the persistence guard: the same paths, decided by BPF LSM hooks in the kernel (by
// inode, and by directory and name for what does not exist yet), which refuse and report every
// attempt where it is decided; a read-only bind would refuse in the VFS first, silently.
Result<> guard_persistence_in_kernel(daemon::Engine &engine, const policy::Profile &profile,
                                     const std::string &home, const std::string &cwd)
{
  const enforce::GitLayout layout = enforce::discover_git(cwd);
  if (layout.truncated)
    spdlog::warn("persistence: the walk of {} for repositories stopped at its bound; nested "
                 "repositories deeper down are not protected",
                 cwd);
  return engine.set_persistence(kRunProfileId, profile,
                                enforce::resolve_guard_targets(profile, home, cwd, layout),
                                enforce::resolve_absent_targets(profile, home, cwd, layout));
}

std::vector<const char *> c_list(const std::vector<std::string> &v)
{
  std::vector<const char *> out;
  for (const auto &s : v)
    out.push_back(s.c_str());
  out.push_back(nullptr);
  return out;
}

// One line per hardening step at start, so an operator (and the agent's own log) sees what the
// agent was given and what it was not.
void report_launch(const Launch &launch, const enforce::LaunchFilterOptions &fo)
{
  const uint64_t all =
      launch.last_cap >= 63 ? ~uint64_t{0} : (uint64_t{1} << (launch.last_cap + 1)) - 1;
  const uint64_t have = enforce::own_capabilities("CapBnd") & all;
  spdlog::warn("launch: dropped capabilities {}; the agent keeps {}",
               policy::capability_names(have & ~launch.keep_caps),
               policy::capability_names(have & launch.keep_caps));
  if (launch.isolate) {
    std::string ro;
    for (const char *const *p = launch.read_only; *p; ++p)
      ro += (ro.empty() ? "" : ", ") + std::string(*p);
    if (launch.pid_namespace)
      spdlog::info("launch: own cgroup, mount and pid namespaces (its /proc lists only its own "
                   "processes; pid 1 is vigil's init); read-only: {}",
                   ro);
    else
      spdlog::info("launch: own cgroup and mount namespaces; read-only: {}; vigil's /proc "
                   "entries are empty (launch.pid_namespace is false: the agent sees every "
                   "process of the machine)",
                   ro);
  } else {
    spdlog::warn("launch: launch.isolate is false: the agent shares vigil's cgroup and mount "
                 "namespaces, and a root agent can leave its cgroup through a writable cgroupfs");
  }
  spdlog::info("launch: no_new_privs; seccomp denies bpf, module and kexec loading, clone3, "
               "32-bit entry points{}{}, signals aimed at vigil (pid {}, {} threads), and "
               "ptrace, process_vm_* and pidfds aimed outside the agent; each attempt raises an "
               "alert",
               fo.block_raw_sockets ? ", raw and packet sockets" : "",
               fo.nested_namespaces ? "" : ", mounts and new namespaces", fo.launcher,
               fo.launcher_threads.size());
  if (fo.nested_namespaces)
    spdlog::warn("launch: launch.nested_namespaces is allow: the agent may create user and mount "
                 "namespaces, whose copies of its mounts the file tier's mount marks do not "
                 "follow");
}

// A protected name appeared in a watched directory while the agent ran (enforce/plant_watch.h).
// Made by the agent, or by a process gone before it could be asked (a racing agent exits at
// once): moved aside, so that the developer's shell or git never runs it, and alerted.
void report_plant(daemon::Engine &engine, const std::string &cg, const std::string &path,
                  pid_t pid, bool moved)
{
  const Result<std::string> in = pid > 0 ? cgroup::cgroup_of_pid(pid)
                                          : Result<std::string>(tl::unexpected(Error{}));
  const bool agent = in && *in == cg.substr(engine.cgroup_mount().size());
  if (in && !agent)
    return; // the developer's own process, outside the agent
  const std::string aside = path + ".vigil-planted." + std::to_string(clock_ns(CLOCK_REALTIME));
  const bool set_aside = ::rename(path.c_str(), aside.c_str()) == 0;
  engine.raise_internal(
      "persist-past-gate", policy::Severity::critical,
      std::string(moved ? "moved into place: " : "created: ") + escape_text(path) + " by " +
          (agent ? "pid " + std::to_string(pid) + " of the agent"
                 : "pid " + std::to_string(pid) + ", gone before vigil could ask its cgroup") +
          ", past the persistence gate (its path changed while the launch filter's gate judged "
          "it); " +
          (set_aside ? "moved aside to " + escape_text(aside)
                     : std::string("could not be moved aside: ") + std::strerror(errno)));
}

int exit_status(int wstatus)
{
  if (WIFEXITED(wstatus))
    return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus))
    return 128 + WTERMSIG(wstatus);
  return 1;
}

} // namespace

std::string default_rules_dir()
{
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  std::vector<fs::path> candidates;
  if (!ec) {
    candidates.push_back(exe.parent_path() / "../share/vigil/rules");
    candidates.push_back(exe.parent_path() / "../rules");
  }
  candidates.push_back(fs::path(VIGIL_SOURCE_DIR) / "rules");
  for (const auto &c : candidates)
    if (fs::exists(c / "profiles/default.yaml", ec))
      return fs::weakly_canonical(c, ec).string();
  return (fs::path(VIGIL_SOURCE_DIR) / "rules").string();
}

std::string default_profile_path()
{
  return default_rules_dir() + "/profiles/default.yaml";
}

// The start-up summary: at most three lines (the tier per kind; the profile and its cgroup; what
// this kernel leaves unenforced, with pointers to `vigil doctor` and -v), none with --quiet;
// --verbose printed everything as it came.
static void summarize_start(const RunArgs &args, const daemon::Engine &engine,
                            const std::string &name, const std::string &path,
                            const std::string &cg)
{
  const size_t held = daemon::release_startup_log(false);
  if (args.quiet)
    return;
  const loader::Tier file = engine.file_tier(), net = engine.net_tier();
  const std::string files = file == loader::Tier::monitor
                                ? "NOTHING IS ENFORCED FOR FILES (monitor only)"
                                : "enforcing files by " + std::string(loader::tier_name(file, true));
  const std::string network =
      net == loader::Tier::monitor
          ? "NOTHING IS ENFORCED FOR THE NETWORK (monitor only)"
          : "network by " + std::string(loader::tier_name(net, false));
  const bool lsm = file == loader::Tier::lsm || net == loader::Tier::lsm;
  spdlog::log(file == loader::Tier::monitor || net == loader::Tier::monitor ? spdlog::level::warn
                                                                            : spdlog::level::info,
              "{}, {}{}", files, network, lsm ? "" : " (no BPF LSM on this kernel)");
  spdlog::info("profile '{}' ({}) confines cgroup {}", name, path, cg);
  const std::string more =
      held > 0 && !args.verbose
          ? fmt::format("; `vigil run -v` prints the {} notes held back", held)
          : "";
  if (const std::string gaps = daemon::kernel_gaps_line(lsm); !gaps.empty())
    spdlog::warn("{}{}", gaps, more);
  else if (!more.empty())
    spdlog::info("{}", more.substr(2));
}

int run_command(const RunArgs &args)
{
  if (args.command.empty()) {
    spdlog::error("nothing to run: vigil run [options] -- CMD [ARGS...]");
    return 2;
  }
  if (!args.verbose)
    daemon::hold_startup_log();
  const std::string profile_path = args.profile.empty() ? default_profile_path() : args.profile;
  auto profile = policy::load_profile(profile_path);
  if (!profile) {
    spdlog::error("{}", profile.error().message());
    return 2;
  }
  const std::vector<std::string> rule_paths =
      args.rules.empty() ? std::vector<std::string>{default_rules_dir()} : args.rules;
  auto rules = policy::load_rules(rule_paths);
  if (!rules) {
    spdlog::error("{}", rules.error().message());
    return 2;
  }
  // What the persistence rules name: where the launch filter's gate decides names (tier 2),
  // changes of those the profile does not protect are reported to the rules as observed.
  std::vector<enforce::PersistenceGate::WatchedRule> persistence_rule_paths;
  std::vector<std::string> credential_rule_paths;
  for (const auto &r : rules->rules) {
    if (r.enabled && !r.fallback && r.kind == policy::RuleKind::persistence_write) {
      enforce::PersistenceGate::WatchedRule w{r.paths, {}};
      for (const auto &x : r.exceptions) // exceptions by path alone
        if (x.proc.empty() && x.ancestor.empty() && x.destinations.empty() && x.env.empty())
          w.except.insert(w.except.end(), x.paths.begin(), x.paths.end());
      persistence_rule_paths.push_back(std::move(w));
    }
    if (r.enabled && !r.fallback && r.kind == policy::RuleKind::credential_read)
      credential_rule_paths.insert(credential_rule_paths.end(), r.paths.begin(), r.paths.end());
  }
  daemon::startup_step("profile and rules read");
  if (args.inventory) {
    InventoryArgs ia;
    ia.profile = profile_path;
    ia.rules = rule_paths;
    ia.to_stderr = true;
    (void)inventory_command(ia);
  }

  // The agent may run as root: without the dumpable flag, /proc/<vigil>/mem, /proc/<vigil>/environ
  // and ptrace need CAP_SYS_PTRACE, which the agent does not keep.
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  // Block the signals we handle before any thread exists, so every thread inherits the mask
  // and they are only ever taken by sigtimedwait below.
  sigset_t handled, orig;
  sigemptyset(&handled);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1})
    sigaddset(&handled, s);
  ::sigprocmask(SIG_BLOCK, &handled, &orig);
  // vigil never reads the terminal, and its alerts must reach it even when the agent has taken
  // the terminal's foreground and set TOSTOP: blocked, SIGTTOU cannot stop vigil. The child gets
  // orig back before exec.
  sigset_t tty;
  sigemptyset(&tty);
  sigaddset(&tty, SIGTTOU);
  sigaddset(&tty, SIGTTIN);
  ::sigprocmask(SIG_BLOCK, &tty, nullptr);

  daemon::EngineOptions eo;
  eo.verbose_start = args.verbose;
  daemon::Outputs outputs;
  outputs.json = args.alerts_json;
  outputs.falco = args.alerts_falco;
  if (args.webhook)
    outputs.webhook = daemon::HttpOutput{*args.webhook, args.webhook_format, args.webhook_queue};
  if (args.alertmanager)
    outputs.alertmanager = daemon::HttpOutput{*args.alertmanager};
  daemon::apply_outputs(outputs, eo);
  eo.metrics_address = args.metrics_address;
  eo.log_dir = args.log_dir;
  eo.lsm_attach = args.lsm_attach;
  eo.syscall_tracepoints = args.syscall_tracepoints;
  if (args.ring_buffer)
    eo.ring_bytes = *daemon::parse_ring_size(*args.ring_buffer); // checked by the parser
  eo.max_tier = args.max_tier == "monitor"    ? loader::Tier::monitor
                : args.max_tier == "fallback" ? loader::Tier::fallback
                                              : loader::Tier::lsm;
  eo.state_dir = args.state_dir;
  if (const char *home = std::getenv("HOME"))
    eo.home = home;
  std::error_code cwd_ec;
  const std::string cwd = std::filesystem::current_path(cwd_ec).string();
  std::future<LaunchScan> launch_scan =
      std::async(std::launch::async, scan_for_launch, std::cref(*profile), eo.home.value_or(""),
                 cwd, !persistence_rule_paths.empty());
  eo.agent_mounts = profile->isolate;
  auto engine = daemon::Engine::start(eo);
  if (!engine) {
    spdlog::error("{}", engine.error().message());
    return 1;
  }
  daemon::startup_step("engine started");
  if (auto r = (*engine)->set_rules(std::move(*rules)); !r) {
    spdlog::error("{}", r.error().message());
    return 2;
  }
  if (auto r = (*engine)->set_profile(kRunProfileId, *profile); !r) {
    spdlog::error("{}", r.error().message());
    return r.error().code == std::errc::not_supported ? kExitTierUnavailable : 2;
  }
  daemon::startup_step("rules and profile installed (host names resolve in the background)");
  (*engine)->policy_ready();
  const std::string cg = (*engine)->cgroup_mount() + "/vigil/run-" + std::to_string(::getpid());
  if (auto r = cgroup::create(cg); !r) {
    spdlog::error("{}", r.error().message());
    return 1;
  }
  // From here on the agent does not outlive vigil, however vigil ends: a crash or a SIGKILL
  // leaves the watchdog (enforce/watchdog.h says why a process of its own) to kill and remove
  // the cgroup. It is forked before the agent, so it also covers a vigil killed between the
  // agent's fork and its exec (the agent's first process also has PR_SET_PDEATHSIG and exits on
  // the gate pipe's EOF, before it joins the cgroup). Holding the fanotify group makes the file
  // tier fail closed meanwhile: the agent's opens of guarded files wait, and die with it.
  enforce::WatchdogOptions wo;
  wo.cgroup_dir = cg;
  wo.hold_fd = (*engine)->file_group_fd();
  auto watchdog = enforce::Watchdog::start(wo);
  if (!watchdog) {
    spdlog::error("{}", watchdog.error().message());
    (void)cgroup::destroy(cg);
    return 1;
  }
  spdlog::info("launch: watchdog pid {} kills cgroup {} if vigil dies{}", watchdog->pid(), cg,
               wo.hold_fd >= 0 ? "; it holds the fanotify group, so guarded opens wait meanwhile"
                               : "");
  const Result<uint64_t> confined = (*engine)->confine(cg, kRunProfileId);
  if (!confined) {
    spdlog::error("{}", confined.error().message());
    (void)cgroup::destroy(cg);
    return 1;
  }
  daemon::startup_step("watchdog started, agent cgroup confined");

  int gate[2], ready[2];
  if (::pipe2(gate, O_CLOEXEC) != 0 || ::pipe2(ready, O_CLOEXEC) != 0) {
    spdlog::error("pipe: {}", std::strerror(errno));
    return 1;
  }
  std::vector<char *> argv;
  for (const auto &a : args.command)
    argv.push_back(const_cast<char *>(a.c_str()));
  argv.push_back(nullptr);
  // The agent's environment without the caller's secrets: no file policy sees a secret that
  // arrives in the environment. Names only are reported, never values.
  const enforce::ScrubbedEnv env = enforce::scrub_environment(::environ, profile->env_allow);
  std::vector<char *> envp;
  for (const auto &v : env.kept)
    envp.push_back(const_cast<char *>(v.c_str()));
  envp.push_back(nullptr);
  if (!env.removed.empty()) {
    std::string names;
    for (const auto &n : env.removed)
      names += (names.empty() ? "" : ", ") + n;
    spdlog::warn("removed {} secret-looking variable(s) from the agent's environment: {} (a "
                 "profile's launch.env_allow passes one through)",
                 env.removed.size(), escape_text(names));
  }
  // Attempts on vigil, and the rare calls the launch stops for other reasons, are suspended by
  // the filter and answered by this thread, which raises an alert for each it does not let run;
  // it starts before the fork so that its id is among the launcher's.
  int notify[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, notify) != 0) {
    spdlog::error("socketpair: {}", std::strerror(errno));
    return 1;
  }
  // With a pid namespace the agent sees none of vigil's processes; its pid 1 is vigil's init.
  const bool pid_ns = profile->isolate && profile->pid_namespace;
  const std::vector<pid_t> vigil_threads = enforce::own_threads();
  enforce::LaunchFilterOptions fo;
  fo.notify = true;
  fo.nested_namespaces = profile->nested_namespaces;
  // Where BPF LSM decides socket creation it denies and alerts; elsewhere seccomp denies.
  fo.block_raw_sockets = !profile->raw_sockets && (*engine)->net_tier() != loader::Tier::lsm;
  if (pid_ns) {
    // vigil's pids mean nothing (or another of the agent's processes) in the agent's namespace:
    // the rules name its init, pid 1, and kill(0), which reaches the process group the agent
    // shares with vigil across the namespace.
    fo.launcher = 1;
  } else {
    fo.launcher = ::getpid();
    fo.launcher_pgid = ::getpgrp();
    fo.launcher_threads = vigil_threads; // every thread vigil runs is started by now
    fo.guardians = {watchdog->pid()};
  }
  std::vector<pid_t> vigil_ids = fo.launcher_threads;
  vigil_ids.push_back(fo.launcher);
  vigil_ids.insert(vigil_ids.end(), fo.guardians.begin(), fo.guardians.end());
  daemon::Engine *eng = engine->get();
  LaunchScan scanned = launch_scan.get();
  // Tier 1: BPF LSM hooks decide names in the kernel and report each attempt where they decide;
  // elsewhere the launch filter's gate decides them (read-only binds behind it).
  const bool persist_lsm = !profile->persistence_paths.empty() && eng->persistence_in_kernel();
  if (persist_lsm)
    if (auto r = guard_persistence_in_kernel(*eng, *profile, eo.home.value_or(""), cwd); !r) {
      spdlog::error("{}", r.error().message());
      return 1;
    }
  const PersistencePlan guard = persist_lsm ? PersistencePlan{} : std::move(scanned.guard);
  // Where no BPF LSM decides files, the gate also refuses renaming or linking a credential away
  // from the name that protects it (BPF LSM's path_rename and path_link do it in the kernel).
  if (guard.gate && eng->file_tier() != loader::Tier::lsm)
    guard.gate->set_credentials(*profile, eo.home.value_or(""));
  // The paths only the persistence rules name: where BPF LSM decides files, its file_open
  // observes their writes, and a gate of their own (no profile entries) sees the renames, links,
  // chmods and removals no hook reports; elsewhere the launch's gate sees both.
  const bool lsm_files = eng->file_tier() == loader::Tier::lsm;
  std::shared_ptr<enforce::PersistenceGate> name_gate = guard.gate;
  if (!name_gate && lsm_files && profile->isolate && !persistence_rule_paths.empty()) {
    // The profile's entries (the launch's plan, if any) only keep these reports off the paths
    // BPF LSM decides and reports itself.
    name_gate = persist_lsm && scanned.guard.gate ? scanned.guard.gate
                                                  : std::make_shared<enforce::PersistenceGate>();
    name_gate->set_decides(false);
    // credentials moved away: refused and reported by BPF LSM, not reported here
    name_gate->set_credentials(*profile, eo.home.value_or(""));
  }
  if (name_gate) {
    name_gate->set_watched(persistence_rule_paths, eo.home.value_or(""),
                           static_cast<int64_t>(clock_ns(CLOCK_REALTIME)));
    if (!lsm_files) // tier 1 names rule files by inode itself
      name_gate->set_rule_credentials(credential_rule_paths, eo.home.value_or(""));
  }
  if (!profile->isolate && !persist_lsm && !profile->persistence_paths.empty())
    spdlog::warn("persistence: launch.isolate is false: neither read-only binds nor the launch "
                 "filter protect the profile's persistence paths");
  fo.name_calls = name_gate != nullptr;
  // Opens for writing wait for the gate only where it decides them (tier 1's file_open does).
  fo.name_call_opens =
      name_gate && name_gate->decides() && (!lsm_files || !name_gate->entries().empty());
  // A gate that only reports (tier 1) has no use for the calls on a descriptor (fchmod,
  // fchown: the file was opened, file_open saw it), which unpacking an archive makes per file.
  fo.name_call_fds = name_gate && name_gate->decides();
  // Tier 2's unix programs know the agent's own servers by the names vigil recorded: listen(2)
  // tells it when (datagram servers are found after their first refusal, see Engine).
  fo.listen_calls = eng->net_tier() == loader::Tier::fallback;
  // The gate's second line for names that do not exist yet (enforce/plant_watch.h): one that
  // appears anyway, made past the gate by a race, is alerted and moved aside.
  std::unique_ptr<enforce::PlantWatch> plant_watch;
  if (guard.gate && !guard.watch_dirs.empty()) {
    auto w = enforce::PlantWatch::start(
        *guard.gate, guard.watch_dirs,
        [eng, cg](const std::string &path, pid_t pid, bool moved) {
          report_plant(*eng, cg, path, pid, moved);
        });
    if (!w) {
      spdlog::error("persistence: {}", w.error().message());
      return 1;
    }
    plant_watch = std::move(*w);
    spdlog::info("persistence: {} directories watched for protected names that do not exist yet",
                 plant_watch->watched());
  }
  RunSupervisor supervisor(notify[0], *eng,
                           RunSupervisorOptions{cg, *confined, kRunProfileId, pid_ns,
                                                std::move(vigil_ids), name_gate,
                                                profile->file_mode() == policy::Mode::enforce});
  const std::vector<sock_filter> filter_code = enforce::launch_filter(fo);
  const sock_fprog filter{static_cast<unsigned short>(filter_code.size()),
                          const_cast<sock_filter *>(filter_code.data())};
  const std::vector<std::string> read_only = enforce::read_only_mounts();
  std::vector<const char *> read_only_c;
  for (const auto &p : read_only)
    read_only_c.push_back(p.c_str());
  read_only_c.push_back(nullptr);
  std::vector<std::string> hidden;
  if (pid_ns) {
    hidden.push_back("/proc/1"); // the init: vigil's memory image, vigil's environment
  } else {
    for (pid_t t : fo.launcher_threads)
      hidden.push_back("/proc/" + std::to_string(t));
    for (pid_t g : fo.guardians)
      hidden.push_back("/proc/" + std::to_string(g));
  }
  std::vector<const char *> hidden_c;
  for (const auto &p : hidden)
    hidden_c.push_back(p.c_str());
  hidden_c.push_back(nullptr);
  const std::vector<const char *> pinned_c = c_list(guard.mounts.pinned);
  const std::vector<const char *> guarded_c = c_list(guard.mounts.read_only);
  // FIFOs made outside the agent before it starts: the kernel gives fanotify no event for a
  // FIFO's open, so each is covered with a regular stand-in whose opens the file guard refuses
  // (BPF LSM decides FIFOs in file_open itself). Where agents and developers leave them: /run,
  // /tmp, /var/tmp, /dev/shm, the home and the project.
  std::vector<std::string> fifos;
  std::string stand_in;
  if (profile->isolate) {
    auto s = eng->fifo_stand_in();
    if (!s) {
      spdlog::error("{}", s.error().message());
      return 1;
    }
    stand_in = *s;
  }
  if (!stand_in.empty()) {
    fifos = std::move(scanned.fifos);
    spdlog::info("launch: {} FIFO(s) made outside the agent are refused to it (a stand-in file "
                 "covers each in its mount namespace)",
                 fifos.size());
  }
  const std::vector<const char *> fifos_c = c_list(fifos);
  const Launch launch{&filter,
                      policy::kept_capabilities(*profile),
                      enforce::kernel_last_cap(),
                      profile->isolate,
                      read_only_c.data(),
                      hidden_c.data(),
                      pinned_c.data(),
                      guarded_c.data(),
                      cwd.c_str(),
                      notify[1],
                      stand_in.empty() ? nullptr : stand_in.c_str(),
                      fifos_c.data(),
                      pid_ns};
  daemon::startup_step("launch planned (persistence guard, FIFOs, seccomp filter)");
  report_launch(launch, fo);
  summarize_start(args, **engine, profile->name, profile_path, cg);
  // With a pid namespace the child is its pid 1 (clone(CLONE_NEWPID), which fork() cannot do);
  // until exec it runs only system calls, as after fork().
  pid_t child = pid_ns ? static_cast<pid_t>(::syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0))
                       : ::fork();
  if (child < 0) {
    spdlog::error("fork: {}", std::strerror(errno));
    return 1;
  }
  if (child == 0) {
    ::close(gate[1]);
    ::close(ready[0]);
    child_exec(gate[0], ready[1], orig, argv.data(), envp.data(), launch);
  }
  supervisor.set_init(pid_ns ? child : 0);
  ::close(gate[0]);
  ::close(ready[1]);
  char ready_byte = 0;
  // The child's mounts are made before it joins the agent cgroup; a child that failed there has
  // exited, and the read sees EOF.
  while (::read(ready[0], &ready_byte, 1) < 0 && errno == EINTR) {
  }
  ::close(ready[0]);
  ::close(notify[1]); // the child's end: the supervisor sees EOF if the child dies first
  int status = 1;
  Result<> placed = cgroup::attach(cg, child);
  // Every open the agent makes is decided from its first exec on: its namespace's mounts are
  // marked while it waits at the gate. A guard that cannot see them fails the launch.
  if (placed && profile->isolate)
    if (auto m = eng->guard_agent_mounts(child); !m)
      placed = tl::unexpected(with_context(m.error(), "mark the agent's mounts"));
  if (!placed) {
    spdlog::error("{}", placed.error().message());
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
  } else {
    (void)!::write(gate[1], "g", 1);
    ::close(gate[1]);
    daemon::startup_step("agent released (mounts marked, in its cgroup)");
    int wstatus = 0;
    bool done = false;
    bool watchdog_lost = false;
    while (!done) {
      siginfo_t si{};
      timespec tick{0, 200 * 1000 * 1000};
      int sig = ::sigtimedwait(&handled, &si, &tick);
      if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT) {
        // A terminal's ^C already reached the child (same process group); forward only
        // signals sent to vigil itself.
        if (si.si_code == SI_USER || si.si_code == SI_QUEUE || sig == SIGTERM)
          ::kill(child, sig);
      }
      // `vigil resume` (root) asks for the agent's egress back after an isolate response; the
      // agent itself cannot reach vigil with a signal.
      if (sig == SIGUSR1 && si.si_code == SI_USER && si.si_uid == 0)
        if (auto r = eng->lift_isolation(cg); !r)
          spdlog::warn("lift isolation of {}: {}", cg, r.error().message());
      pid_t w = ::waitpid(child, &wstatus, WNOHANG);
      if (w == child) {
        done = true;
        status = exit_status(wstatus);
      }
      // The agent cannot signal it; someone outside can. vigil still confines the agent, but
      // its own death would now leave the agent running.
      if (!done && !watchdog_lost && !watchdog->alive()) {
        watchdog_lost = true;
        eng->raise_internal(
            "vigil-watchdog-lost", policy::Severity::critical,
            "the watchdog (pid " + std::to_string(watchdog->pid()) +
                ") is gone: if vigil dies now, its agent in " + cg + " runs on unconfined");
      }
    }
  }
  daemon::startup_step("agent exited");
  // Leftover descendants die with the cgroup; their last events are drained before exit.
  if (auto r = cgroup::destroy(cg); !r)
    spdlog::warn("{}", r.error().message());
  daemon::startup_step("agent cgroup removed");
  // The agent is gone: the watchdog lets go of the fanotify group before the engine closes it
  // (while the watchdog holds it, closing ours would not answer what is still queued).
  watchdog->finish();
  supervisor.stop();
  ::close(notify[0]);
  daemon::startup_step("watchdog and seccomp supervisor stopped");
  (void)(*engine)->release(cg);
  (*engine)->stop();
  daemon::startup_step("engine stopped");
  // The agent is gone and its alerts are out: the kernel's wait to detach the programs (the
  // exit's longest step, docs/BENCHMARKS.md) is left to a process of their own.
  (*engine)->detach_in_background();
  engine->reset();
  daemon::startup_step("engine closed");
  return status;
}

} // namespace vigil::cli
