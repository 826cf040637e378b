// SPDX-License-Identifier: Apache-2.0
// `vigil run -- CMD...`: confine one command in a fresh agent cgroup for its lifetime.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "cgroup/cgroup.h"
#include "cli/commands.h"
#include "daemon/engine.h"
#include "enforce/launch.h"
#include "policy/profile.h"
#include "policy/rules.h"

namespace vigil::cli {

namespace {

constexpr uint32_t kRunProfileId = 1;

// The child: waits until the parent has put it in the agent cgroup, then execs. Only
// async-signal-safe calls between fork and exec.
[[noreturn]] void child_exec(int gate_fd, const sigset_t &orig_mask, char **argv, char **envp,
                             const sock_fprog &filter)
{
  char go = 0;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL); // an agent must not outlive its leash
  if (::read(gate_fd, &go, 1) != 1 || go != 'g')
    ::_exit(127);
  ::close(gate_fd);
  ::sigprocmask(SIG_SETMASK, &orig_mask, nullptr);
  if (enforce::apply_launch_filter(filter) != 0) {
    const char *msg = "vigil: cannot install the launch seccomp filter\n";
    (void)!::write(2, msg, std::strlen(msg));
    ::_exit(126);
  }
  ::environ = envp;
  ::execvp(argv[0], argv);
  const char *msg = "vigil: exec failed: ";
  (void)!::write(2, msg, std::strlen(msg));
  (void)!::write(2, argv[0], std::strlen(argv[0]));
  (void)!::write(2, "\n", 1);
  ::_exit(errno == ENOENT ? 127 : 126);
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

int run_command(const RunArgs &args)
{
  if (args.command.empty()) {
    spdlog::error("nothing to run: vigil run [options] -- CMD [ARGS...]");
    return 2;
  }
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

  // Block the signals we handle before any thread exists, so every thread inherits the mask
  // and they are only ever taken by sigtimedwait below.
  sigset_t handled, orig;
  sigemptyset(&handled);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD})
    sigaddset(&handled, s);
  ::sigprocmask(SIG_BLOCK, &handled, &orig);

  daemon::EngineOptions eo;
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
  eo.max_tier = args.max_tier == "monitor"    ? loader::Tier::monitor
                : args.max_tier == "fallback" ? loader::Tier::fallback
                                              : loader::Tier::lsm;
  eo.state_dir = args.state_dir;
  if (const char *home = std::getenv("HOME"))
    eo.home = home;
  auto engine = daemon::Engine::start(eo);
  if (!engine) {
    spdlog::error("{}", engine.error().message());
    return 1;
  }
  if (auto r = (*engine)->set_rules(std::move(*rules)); !r) {
    spdlog::error("{}", r.error().message());
    return 2;
  }
  if (auto r = (*engine)->set_profile(kRunProfileId, *profile); !r) {
    spdlog::error("{}", r.error().message());
    return r.error().code == std::errc::not_supported ? kExitTierUnavailable : 2;
  }
  const std::string cg = (*engine)->cgroup_mount() + "/vigil/run-" + std::to_string(::getpid());
  if (auto r = cgroup::create(cg); !r) {
    spdlog::error("{}", r.error().message());
    return 1;
  }
  if (auto r = (*engine)->confine(cg, kRunProfileId); !r) {
    spdlog::error("{}", r.error().message());
    (void)cgroup::destroy(cg);
    return 1;
  }
  spdlog::info("profile '{}' ({}) confines cgroup {}", profile->name, profile_path, cg);

  int gate[2];
  if (::pipe2(gate, O_CLOEXEC) != 0) {
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
                 env.removed.size(), names);
  }
  // Where BPF LSM decides socket creation it denies and alerts; elsewhere seccomp denies.
  const bool block_raw = !profile->raw_sockets && (*engine)->net_tier() != loader::Tier::lsm;
  const std::vector<sock_filter> filter_code = enforce::launch_filter(block_raw);
  const sock_fprog filter{static_cast<unsigned short>(filter_code.size()),
                          const_cast<sock_filter *>(filter_code.data())};
  pid_t child = ::fork();
  if (child < 0) {
    spdlog::error("fork: {}", std::strerror(errno));
    return 1;
  }
  if (child == 0) {
    ::close(gate[1]);
    child_exec(gate[0], orig, argv.data(), envp.data(), filter);
  }
  ::close(gate[0]);
  int status = 1;
  if (auto r = cgroup::attach(cg, child); !r) {
    spdlog::error("{}", r.error().message());
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
  } else {
    (void)!::write(gate[1], "g", 1);
    ::close(gate[1]);
    int wstatus = 0;
    bool done = false;
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
      pid_t w = ::waitpid(child, &wstatus, WNOHANG);
      if (w == child) {
        done = true;
        status = exit_status(wstatus);
      }
    }
  }
  // Leftover descendants die with the cgroup; their last events are drained before exit.
  if (auto r = cgroup::destroy(cg); !r)
    spdlog::warn("{}", r.error().message());
  (void)(*engine)->release(cg);
  (*engine)->stop();
  return status;
}

} // namespace vigil::cli
