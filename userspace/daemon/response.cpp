// SPDX-License-Identifier: Apache-2.0
// Responder: the response actions an alert asks for, carried out on its agent cgroup.

#include "daemon/response.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include <spdlog/spdlog.h>

#include "cgroup/cgroup.h"
#include "detect/enrich.h"
#include "export/sinks.h"

namespace vigil::daemon {

using policy::Action;
using Clock = std::chrono::steady_clock;

namespace {

std::string plural(size_t n, std::string_view one)
{
  return std::to_string(n) + " " + std::string(one) + (n == 1 ? "" : "es");
}

uint64_t realtime_now_ns()
{
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

std::string seconds_text(uint64_t ns)
{
  if (ns % 1'000'000'000ull == 0)
    return std::to_string(ns / 1'000'000'000ull) + "s";
  return std::to_string(ns / 1'000'000ull) + "ms";
}

} // namespace

std::optional<AgentCgroup>
agent_cgroup_of(const std::vector<std::pair<std::string, uint64_t>> &confined,
                const std::string &mount, const std::string &path)
{
  std::optional<AgentCgroup> best;
  for (const auto &[dir, id] : confined) {
    if (dir.size() < mount.size())
      continue;
    const std::string rel = dir.substr(mount.size());
    const bool holds =
        path == rel || (path.size() > rel.size() && path.compare(0, rel.size(), rel) == 0 &&
                        path[rel.size()] == '/');
    if (holds && (!best || dir.size() > best->dir.size()))
      best = AgentCgroup{dir, id};
  }
  return best;
}

Responder::Responder(ResponderHooks hooks) : hooks_(std::move(hooks))
{
  timer_ = std::thread([this] { timer_loop(); });
}

Responder::~Responder() { stop(); }

void Responder::stop()
{
  std::unique_lock lock(mu_);
  if (!stopping_) {
    stopping_ = true;
    cv_.notify_all();
  }
  idle_cv_.wait(lock, [&] { return running_ == 0; });
  lock.unlock();
  if (timer_.joinable())
    timer_.join();
}

void Responder::set_rules(const policy::RuleSet &rules)
{
  std::lock_guard lock(mu_);
  rule_actions_.clear();
  for (const auto &r : rules.rules)
    if (!r.response.empty())
      rule_actions_[r.id] = r.response;
}

void Responder::forget(uint64_t cgroup_id)
{
  std::lock_guard lock(mu_);
  isolated_.erase(cgroup_id);
  killed_at_.erase(cgroup_id);
  std::erase_if(ran_at_, [&](const auto &e) { return e.first.second == cgroup_id; });
  std::erase_if(thaws_, [&](const auto &e) { return e.second.cgroup_id == cgroup_id; });
}

bool Responder::restored(uint64_t cgroup_id)
{
  std::lock_guard lock(mu_);
  std::erase_if(thaws_, [&](const auto &e) { return e.second.cgroup_id == cgroup_id; });
  return isolated_.erase(cgroup_id) != 0;
}

void Responder::adopt_isolated(uint64_t cgroup_id)
{
  std::lock_guard lock(mu_);
  isolated_.insert(cgroup_id);
}

void Responder::count(std::string_view action, std::string_view result,
                      const std::string &profile)
{
  if (result == "done")
    ++stats_.done;
  else if (result == "suppressed")
    ++stats_.suppressed;
  else
    ++stats_.failed;
  if (hooks_.count)
    hooks_.count(action, result, profile);
}

Responder::Stats Responder::stats() const
{
  std::lock_guard lock(mu_);
  return stats_;
}

std::vector<detect::Alert> Responder::on_alert(const detect::Alert &alert,
                                               const policy::Profile &profile,
                                               const AgentCgroup &agent)
{
  std::vector<Action> acts = profile.response.actions_for(alert.rule);
  {
    std::lock_guard lock(mu_);
    if (auto it = rule_actions_.find(alert.rule); it != rule_actions_.end())
      for (Action a : it->second)
        if (std::find(acts.begin(), acts.end(), a) == acts.end())
          acts.push_back(a);
  }
  // Cut the network first, then stop the processes, then revoke: each step narrows what the
  // next one races with.
  std::sort(acts.begin(), acts.end(), [](Action a, Action b) {
    auto rank = [](Action x) {
      return x == Action::isolate ? 0 : x == Action::freeze ? 1 : x == Action::kill ? 2 : 3;
    };
    return rank(a) < rank(b);
  });
  std::vector<detect::Alert> out;
  for (Action a : acts) {
    std::optional<detect::Alert> rec;
    switch (a) {
    case Action::freeze:
      rec = freeze(alert, profile, agent);
      break;
    case Action::kill:
      rec = kill(alert, agent);
      break;
    case Action::isolate:
      rec = isolate(alert, agent);
      break;
    case Action::run:
      rec = run(alert, profile, agent);
      break;
    }
    if (rec)
      out.push_back(std::move(*rec));
  }
  return out;
}

detect::Alert Responder::record(const detect::Alert &cause, std::string_view action,
                                std::string_view result, const std::string &target,
                                const std::string &output) const
{
  detect::Alert r;
  r.time_ns = realtime_now_ns();
  r.hostname = cause.hostname;
  r.profile = cause.profile;
  r.rule = "response-" + std::string(action);
  r.rule_description = "vigil's response action on an agent's alert";
  r.tags = {"vigil", "response"};
  r.severity = result == "failed" ? policy::Severity::error : cause.severity;
  r.response = {std::string(action), std::string(result), target};
  r.output = output;
  r.pid = cause.pid;
  r.uid = cause.uid;
  r.comm = cause.comm;
  r.exe = cause.exe;
  r.cgroup_id = cause.cgroup_id;
  r.cgroup = cause.cgroup;
  r.workload = cause.workload;
  r.detail = "after alert " + cause.rule + ": " + cause.output;
  return r;
}

std::optional<detect::Alert> Responder::freeze(const detect::Alert &cause, const policy::Profile &p,
                                               const AgentCgroup &agent)
{
  std::lock_guard lock(mu_);
  // The kernel's own state decides idempotence: a cgroup already asked to freeze (by us, or
  // by an operator) is left alone, so a flood of alerts freezes once; after `vigil resume` the
  // next alert freezes again.
  if (auto req = cgroup::freeze_requested(agent.dir); req && *req) {
    count("freeze", "suppressed", cause.profile);
    return std::nullopt;
  }
  if (auto r = cgroup::set_frozen(agent.dir, true); !r) {
    count("freeze", "failed", cause.profile);
    return record(cause, "freeze", "failed", agent.dir,
                  "could not freeze agent cgroup " + agent.dir + ": " + r.error().message());
  }
  count("freeze", "done", cause.profile);
  const size_t n = cgroup::subtree_procs(agent.dir).size();
  std::erase_if(thaws_, [&](const auto &e) { return e.second.cgroup_id == agent.id; });
  std::string until = "until `vigil resume " + agent.dir + "`";
  if (p.response.freeze_timeout_ns) {
    thaws_.emplace(Clock::now() + std::chrono::nanoseconds(p.response.freeze_timeout_ns),
                   Thaw{agent.dir, agent.id, cause});
    cv_.notify_all();
    until += " or for " + seconds_text(p.response.freeze_timeout_ns);
  }
  return record(cause, "freeze", "done", agent.dir,
                "froze agent cgroup " + agent.dir + " (" + plural(n, "process") + ") after " +
                    cause.rule + ", " + until);
}

std::optional<detect::Alert> Responder::kill(const detect::Alert &cause, const AgentCgroup &agent)
{
  std::lock_guard lock(mu_);
  const auto now = Clock::now();
  const size_t n = cgroup::subtree_procs(agent.dir).size();
  if (auto it = killed_at_.find(agent.id);
      n == 0 || (it != killed_at_.end() && now - it->second < kKillRepeat)) {
    count("kill", "suppressed", cause.profile);
    return std::nullopt;
  }
  if (auto r = cgroup::kill_all(agent.dir); !r) {
    count("kill", "failed", cause.profile);
    return record(cause, "kill", "failed", agent.dir,
                  "could not kill agent cgroup " + agent.dir + ": " + r.error().message());
  }
  killed_at_[agent.id] = now;
  count("kill", "done", cause.profile);
  return record(cause, "kill", "done", agent.dir,
                "killed every process of agent cgroup " + agent.dir + " (" + plural(n, "process") +
                    ") after " + cause.rule);
}

std::optional<detect::Alert> Responder::isolate(const detect::Alert &cause,
                                                const AgentCgroup &agent)
{
  std::lock_guard lock(mu_);
  if (isolated_.count(agent.id)) {
    count("isolate", "suppressed", cause.profile);
    return std::nullopt;
  }
  Result<> r = hooks_.isolate ? hooks_.isolate(agent.id, true)
                              : tl::unexpected(Error{std::make_error_code(std::errc::not_supported),
                                                     "no kernel network hooks"});
  if (!r) {
    count("isolate", "failed", cause.profile);
    isolated_.insert(agent.id); // one failure record, not one per alert
    return record(cause, "isolate", "failed", agent.dir,
                  "could not isolate agent cgroup " + agent.dir + ": " + r.error().message());
  }
  isolated_.insert(agent.id);
  count("isolate", "done", cause.profile);
  // New connects are refused from here on; then what was open before is ended.
  std::string cut;
  if (hooks_.cut_connections) {
    if (auto n = hooks_.cut_connections(agent.dir); n)
      cut = ", " + std::to_string(*n) + " open connection(s) cut";
    else
      cut = ", but its open connections could not be cut (" + n.error().message() + ")";
  }
  return record(cause, "isolate", "done", agent.dir,
                "isolated agent cgroup " + agent.dir + " after " + cause.rule +
                    ": every IP connect and send of the agent is now denied in the kernel" + cut +
                    " (its allowlist is kept for restoration)");
}

std::optional<detect::Alert> Responder::run(const detect::Alert &cause, const policy::Profile &p,
                                            const AgentCgroup &agent)
{
  std::lock_guard lock(mu_);
  const auto now = Clock::now();
  const auto key = std::make_pair(cause.rule, agent.id);
  if (auto it = ran_at_.find(key); it != ran_at_.end() && now - it->second < kRunCooldown) {
    count("run", "suppressed", cause.profile);
    return std::nullopt;
  }
  ran_at_[key] = now;
  const policy::RunCommand &cmd = p.response.run;
  if (cmd.argv.empty()) {
    count("run", "failed", cause.profile);
    return record(cause, "run", "failed", agent.dir,
                  "no command to run after " + cause.rule + ": profile '" + p.name +
                      "' has no response.run");
  }
  if (stopping_ || running_ >= cmd.max_concurrent) {
    count("run", "failed", cause.profile);
    return record(cause, "run", "failed", agent.dir,
                  "did not run " + cmd.argv[0] + " after " + cause.rule + ": " +
                      std::to_string(running_) + " command(s) still running (max_concurrent " +
                      std::to_string(cmd.max_concurrent) + ")");
  }
  ++running_; // counted when the command ends
  std::string input =
      exporter::to_json(cause).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  input += '\n';
  std::thread([this, cause, cmd, input = std::move(input), dir = agent.dir]() mutable {
    run_command(std::move(cause), std::move(cmd), std::move(input), std::move(dir));
  }).detach();
  return record(cause, "run", "started", agent.dir,
                "ran " + cmd.argv[0] + " after " + cause.rule + " in agent cgroup " + agent.dir +
                    " (the alert as JSON on its stdin)");
}

// One command: its stdin is a sealed memfd holding the alert JSON (no pipe to block on, no
// SIGPIPE when it does not read), its stdout goes to /dev/null, its stderr is vigil's.
void Responder::run_command(detect::Alert cause, policy::RunCommand cmd, std::string input,
                            std::string target) noexcept
{
  std::string outcome;
  bool ok = false;
  const auto start = Clock::now();
  int in = ::memfd_create("vigil-alert", MFD_CLOEXEC);
  if (in < 0 || ::write(in, input.data(), input.size()) != static_cast<ssize_t>(input.size()) ||
      ::lseek(in, 0, SEEK_SET) != 0) {
    outcome = std::string("could not prepare its input: ") + std::strerror(errno);
  } else {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSID);
    std::vector<char *> argv;
    for (auto &a : cmd.argv)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string path_env = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    char *envp[] = {path_env.data(), nullptr};
    pid_t pid = -1;
    const int err = posix_spawn(&pid, cmd.argv[0].c_str(), &fa, &attr, argv.data(), envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (err != 0) {
      outcome = std::string("could not start: ") + std::strerror(err);
    } else {
      const auto deadline = start + std::chrono::nanoseconds(cmd.timeout_ns);
      int status = 0;
      bool timed_out = false;
      for (;;) {
        const pid_t w = ::waitpid(pid, &status, WNOHANG);
        if (w == pid || (w < 0 && errno != EINTR))
          break;
        if (Clock::now() >= deadline) {
          ::kill(-pid, SIGKILL); // its session (POSIX_SPAWN_SETSID): children too
          ::kill(pid, SIGKILL);
          ::waitpid(pid, &status, 0);
          timed_out = true;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
      if (timed_out) {
        outcome = "killed after its timeout of " + seconds_text(cmd.timeout_ns);
      } else if (WIFEXITED(status)) {
        ok = WEXITSTATUS(status) == 0;
        outcome = "exited " + std::to_string(WEXITSTATUS(status)) + " after " +
                  std::to_string(ms.count()) + " ms";
      } else {
        outcome = "died of signal " + std::to_string(WTERMSIG(status));
      }
    }
  }
  if (in >= 0)
    ::close(in);
  detect::Alert r = record(cause, "run", ok ? "done" : "failed", target,
                           cmd.argv[0] + " " + outcome + " (after " + cause.rule + ")");
  r.rule = "response-run-result";
  if (hooks_.report_later)
    hooks_.report_later(std::move(r));
  std::lock_guard lock(mu_);
  count("run", ok ? "done" : "failed", cause.profile);
  --running_;
  idle_cv_.notify_all();
}

void Responder::timer_loop() noexcept
{
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (thaws_.empty()) {
      cv_.wait(lock);
      continue;
    }
    const auto when = thaws_.begin()->first;
    if (Clock::now() < when) {
      cv_.wait_until(lock, when);
      continue;
    }
    Thaw t = std::move(thaws_.begin()->second);
    thaws_.erase(thaws_.begin());
    auto r = cgroup::set_frozen(t.dir, false);
    count("thaw", r ? "done" : "failed", t.cause.profile);
    detect::Alert rec =
        record(t.cause, "thaw", r ? "done" : "failed", t.dir,
               r ? "thawed agent cgroup " + t.dir + ": its freeze_timeout ran out"
                 : "could not thaw agent cgroup " + t.dir + ": " + r.error().message());
    lock.unlock();
    if (hooks_.report_later)
      hooks_.report_later(std::move(rec));
    lock.lock();
  }
}

} // namespace vigil::daemon
