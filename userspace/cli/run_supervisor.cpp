// SPDX-License-Identifier: Apache-2.0
#include "cli/run_supervisor.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cerrno>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "common/kernel_ids.h"
#include "vigil/abi.h"

namespace vigil::cli {

namespace {

std::string read_comm(pid_t pid)
{
  std::string comm = "?";
  if (std::FILE *f = std::fopen(("/proc/" + std::to_string(pid) + "/comm").c_str(), "r")) {
    char buf[32] = {};
    if (std::fgets(buf, sizeof(buf), f))
      comm.assign(buf, strcspn(buf, "\n"));
    std::fclose(f);
  }
  return comm;
}

// One alert per attempt the filter handed to the supervisor and did not let run: the agent tried
// to signal, trace or limit vigil, to load kernel code or BPF, to reach into a process outside
// it, to mount or make namespaces, to open a raw socket, to use a 32-bit entry point or io_uring.
void report_attempt(daemon::Engine &engine, const enforce::TamperAttempt &a,
                    const enforce::AttemptVerdict &v)
{
  using enforce::AttemptClass;
  const policy::Severity severity =
      v.cls == AttemptClass::vigil || v.cls == AttemptClass::process ? policy::Severity::critical
      : v.ordinary                                                     ? policy::Severity::warning
                                                                       : policy::Severity::error;
  engine.raise_internal(v.rule, severity,
                        "pid " + std::to_string(a.pid) + " (" + read_comm(a.pid) + ") " + v.text);
}

struct Status {
  pid_t tgid = 0;
  pid_t ns_pid = 0; // last of NSpid: the pid in the task's own namespace
  uint32_t uid = 0;
  uint32_t gid = 0;
};

// Tgid, NSpid, Uid and Gid (real) of /proc/<tid>/status.
Status read_status(pid_t tid)
{
  Status out;
  std::FILE *f = std::fopen(("/proc/" + std::to_string(tid) + "/status").c_str(), "r");
  if (!f)
    return out;
  char line[256];
  while (std::fgets(line, sizeof(line), f)) {
    if (std::strncmp(line, "Tgid:", 5) == 0) {
      out.tgid = static_cast<pid_t>(std::atoi(line + 5));
    } else if (std::strncmp(line, "Uid:", 4) == 0) {
      out.uid = static_cast<uint32_t>(std::strtoul(line + 4, nullptr, 10));
    } else if (std::strncmp(line, "Gid:", 4) == 0) {
      out.gid = static_cast<uint32_t>(std::strtoul(line + 4, nullptr, 10));
    } else if (std::strncmp(line, "NSpid:", 6) == 0) {
      char *save = nullptr;
      for (char *tok = ::strtok_r(line + 6, " \t\n", &save); tok;
           tok = ::strtok_r(nullptr, " \t\n", &save))
        out.ns_pid = static_cast<pid_t>(std::atoi(tok));
    }
  }
  std::fclose(f);
  return out;
}

// The host tids of the agent cgroup (its cgroup tree is read-only to it: no sub-cgroups).
std::vector<pid_t> agent_threads(const std::string &cg)
{
  std::vector<pid_t> out;
  if (std::FILE *f = std::fopen((cg + "/cgroup.threads").c_str(), "r")) {
    for (int tid = 0; std::fscanf(f, "%d", &tid) == 1;)
      out.push_back(tid);
    std::fclose(f);
  }
  return out;
}

// The pid a pidfd of task caller refers to, as vigil sees it ("Pid:" of its fdinfo); 0: none.
pid_t pidfd_target(pid_t caller, int fd)
{
  std::FILE *f = std::fopen(
      ("/proc/" + std::to_string(caller) + "/fdinfo/" + std::to_string(fd)).c_str(), "r");
  if (!f)
    return 0;
  char line[128];
  pid_t out = 0;
  while (std::fgets(line, sizeof(line), f))
    if (std::strncmp(line, "Pid:", 4) == 0)
      out = static_cast<pid_t>(std::atoi(line + 4));
  std::fclose(f);
  return out;
}

} // namespace

RunSupervisor::RunSupervisor(int sock, daemon::Engine &engine, RunSupervisorOptions opts)
    : engine_(engine), opts_(std::move(opts))
{
  actx_.pid_namespace = opts_.pid_namespace;
  actx_.vigil_ids = opts_.vigil_ids;
  actx_.agent_process = [this](pid_t, pid_t target) {
    for (pid_t tid : agent_threads(opts_.cgroup_dir))
      if (read_status(tid).ns_pid == target)
        return tid == init_pid_.load() ? 0 : 1;
    return 0;
  };
  actx_.agent_pidfd = [this](pid_t caller, int fd) {
    const pid_t target = pidfd_target(caller, fd);
    if (target <= 0 || target == init_pid_.load())
      return 0;
    const auto tids = agent_threads(opts_.cgroup_dir);
    return std::find(tids.begin(), tids.end(), target) != tids.end() ? 1 : 0;
  };
  binds_ = std::thread([this] { bind_loop(); });
  supervisor_ = std::make_unique<enforce::SeccompSupervisor>(
      sock, [this](const enforce::TamperAttempt &a) { return on_attempt(a); });
}

RunSupervisor::~RunSupervisor()
{
  stop();
}

void RunSupervisor::stop()
{
  if (supervisor_)
    supervisor_->stop();
  {
    std::lock_guard lock(binds_mu_);
    binds_stop_ = true;
  }
  binds_cv_.notify_all();
  if (binds_.joinable())
    binds_.join();
}

int RunSupervisor::on_attempt(const enforce::TamperAttempt &a)
{
  if (opts_.gate && a.arch == 0xc000003eu && enforce::is_name_call(a.nr))
    return on_name_call(a);
  if (a.arch == 0xc000003eu && a.nr == SYS_bind)
    return on_bind(a);
  if (a.arch == 0xc000003eu && a.nr == SYS_listen) {
    // The socket is bound by now (a unix socket cannot listen before bind): its name is
    // recorded before any client of it can connect. Only for a named unix socket of the
    // agent's: a scan walks every unix socket of the machine, and a TCP server needs none.
    UniqueFd sock = agent_socket(a, static_cast<int>(a.args[0]));
    sockaddr_un sun{};
    socklen_t n = sizeof(sun);
    if (sock && ::getsockname(sock.get(), reinterpret_cast<sockaddr *>(&sun), &n) == 0 &&
        sun.sun_family == AF_UNIX && n > sizeof(sa_family_t))
      engine_.rescan_unix_bound();
    return 0;
  }
  const enforce::AttemptVerdict v = enforce::judge_attempt(a, actx_);
  if (v.run)
    return 0;
  // A 32-bit program fails at its first call and may make a few more; a runtime tries io_uring
  // once per process and falls back: one alert each.
  if (v.cls == enforce::AttemptClass::entry_32bit || v.cls == enforce::AttemptClass::io_uring) {
    if (once_reported_.size() > 4096)
      once_reported_.clear();
    if (!once_reported_.insert(a.pid).second)
      return v.error;
  }
  report_attempt(engine_, a, v);
  return v.error;
}

// bind(2) in the agent: a unix name is recorded for the tier-2 unix programs, so the agent
// reaches its own servers (datagram ones too, which never listen). Anything else runs as is.
// The agent's descriptor fd of the task waiting in a, or none: the pidfd is taken first, then
// the kernel confirms the notification's task still waits (its pid was not reused meanwhile by
// a process vigil must not touch).
UniqueFd RunSupervisor::agent_socket(const enforce::TamperAttempt &a, int fd)
{
  // a.pid is the calling thread: PIDFD_THREAD (O_EXCL, 6.9+) names a thread that leads no
  // process; before 6.9 only the leader has a pidfd (descriptors are shared: its will do).
  constexpr unsigned kPidfdThread = O_EXCL;
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, a.pid, kPidfdThread)));
  if (!pidfd && errno == EINVAL) {
    const pid_t tgid = read_status(a.pid).tgid;
    pidfd.reset(static_cast<int>(::syscall(SYS_pidfd_open, tgid > 0 ? tgid : a.pid, 0)));
  }
  if (!pidfd || !enforce::still_waiting(a))
    return UniqueFd();
  return UniqueFd(static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd.get(), fd, 0)));
}

int RunSupervisor::on_bind(const enforce::TamperAttempt &a)
{
  sockaddr_un sun{};
  const uint64_t len = a.args[2];
  if (len <= sizeof(sa_family_t) || len > sizeof(sun))
    return 0; // the kernel answers it (EINVAL), or an autobind: nothing named to record
  struct iovec local{&sun, static_cast<size_t>(len)};
  struct iovec remote{reinterpret_cast<void *>(a.args[1]), static_cast<size_t>(len)};
  if (::process_vm_readv(a.pid, &local, 1, &remote, 1, 0) != static_cast<ssize_t>(len) ||
      sun.sun_family != AF_UNIX)
    return 0;
  UniqueFd sock = agent_socket(a, static_cast<int>(a.args[0]));
  int domain = 0;
  socklen_t dlen = sizeof(domain);
  if (!sock || ::getsockopt(sock.get(), SOL_SOCKET, SO_DOMAIN, &domain, &dlen) != 0 ||
      domain != AF_UNIX)
    return 0; // not a unix socket of the agent's (EBADF, ENOTSOCK: the kernel answers)
  if (sun.sun_path[0] == '\0') {
    // An abstract name: no file, no credentials, the socket's own network namespace. Bound
    // here, from vigil's copy of the address (the agent's memory is not read again), and
    // recorded before the agent's call returns.
    if (::bind(sock.get(), reinterpret_cast<const sockaddr *>(&sun),
               static_cast<socklen_t>(len)) != 0)
      return errno;
    engine_.rescan_unix_bound();
    return enforce::kDoneForTask;
  }
  // A path: the kernel resolves it as the agent (its root, working directory, credentials), so
  // the agent's own call makes it; recorded as soon as the socket has its name. At most
  // kMaxWatchedBinds at a time (an agent binding in a loop must not run vigil out of
  // descriptors): past that, its server is found after its first refused client instead.
  if (binds_watched_.load() >= kMaxWatchedBinds)
    return 0;
  binds_watched_.fetch_add(1);
  std::lock_guard lock(binds_mu_);
  pending_binds_.push_back(std::move(sock));
  binds_cv_.notify_one();
  return 0;
}

void RunSupervisor::bind_loop() noexcept
{
  using Clock = std::chrono::steady_clock;
  // socket, when given up (the bind failed); the kernel names a socket microseconds after the
  // call goes on, so the first 50 ms are looked at every millisecond, the rest every 20
  std::vector<std::pair<UniqueFd, Clock::time_point>> waiting;
  constexpr std::chrono::milliseconds kGiveUp(2000), kFast(50);
  std::unique_lock lock(binds_mu_);
  while (!binds_stop_) {
    for (auto &s : pending_binds_)
      waiting.emplace_back(std::move(s), Clock::now() + kGiveUp);
    pending_binds_.clear();
    if (waiting.empty()) {
      binds_cv_.wait(lock);
      continue;
    }
    lock.unlock();
    bool named = false;
    std::erase_if(waiting, [&](auto &w) {
      sockaddr_un sun{};
      socklen_t n = sizeof(sun);
      const bool bound = ::getsockname(w.first.get(), reinterpret_cast<sockaddr *>(&sun), &n) == 0 &&
                         n > sizeof(sa_family_t);
      named |= bound;
      const bool done = bound || Clock::now() > w.second; // failed: given up
      if (done)
        binds_watched_.fetch_sub(1);
      return done;
    });
    if (named)
      engine_.rescan_unix_bound();
    lock.lock();
    bool fresh = false;
    for (const auto &w : waiting)
      fresh |= w.second - Clock::now() > kGiveUp - kFast;
    if (!waiting.empty())
      binds_cv_.wait_for(lock, std::chrono::milliseconds(fresh ? 1 : 20));
  }
}

// An open event of the agent's task waiting in a, its header filled (verdict, tier and body are
// the caller's).
pipeline::Event RunSupervisor::open_event(const enforce::TamperAttempt &a) const
{
  const Status st = read_status(a.pid);
  pipeline::Event ev;
  ev.hdr.type = pipeline::EventType::open;
  ev.hdr.ts_ns = boottime_ns();
  ev.hdr.cgroup_id = opts_.cgroup_id;
  ev.hdr.tgid = static_cast<uint32_t>(st.tgid > 0 ? st.tgid : a.pid);
  ev.hdr.tid = static_cast<uint32_t>(a.pid);
  ev.hdr.uid = st.uid;
  ev.hdr.gid = st.gid;
  ev.hdr.profile_id = opts_.profile_id;
  ev.hdr.comm = read_comm(a.pid);
  return ev;
}

bool RunSupervisor::own_fifo(const enforce::NameVerdict::Fifo &f)
{
  const auto inode = std::make_pair(f.dev, f.ino);
  if (fifo_inodes_.count(inode))
    return true;
  // Made by the agent at this name: the FIFO there now is that one if it was born after the
  // call (a second of slack for clocks of file systems that round).
  auto it = fifo_names_.find(f.path);
  if (it == fifo_names_.end() || f.birth_ns < it->second - 1000000000LL ||
      f.birth_ns > it->second + 2000000000LL) // made by the call, not one made there later
    return false;
  if (fifo_inodes_.size() >= kMaxFifos)
    fifo_inodes_.clear(); // forgotten FIFOs are judged by their names again
  fifo_inodes_.insert(inode);
  return true;
}

// A FIFO the agent did not make, opened for writing: its reader may be outside the agent (the
// same side channel as a unix socket served from outside). One alert, as the kernel tiers
// report a foreign FIFO: an open refused by the launch filter, marked as IPC.
int RunSupervisor::on_foreign_fifo(const enforce::TamperAttempt &a, const enforce::NameVerdict &v)
{
  const bool deny = opts_.fifo_enforce;
  pipeline::Event ev = open_event(a);
  ev.hdr.verdict = deny ? pipeline::Verdict::deny : pipeline::Verdict::audit;
  ev.hdr.tier = pipeline::Tier::launch;
  pipeline::OpenBody o;
  o.ret = deny ? -EPERM : 0;
  o.flags = v.fifo.flags;
  o.call = v.fifo.call;
  o.resolved = true;
  o.ipc = true;
  o.dev = kernel_dev(static_cast<dev_t>(v.fifo.dev));
  o.ino = v.fifo.ino;
  o.path = v.fifo.path;
  ev.body = std::move(o);
  (void)engine_.report(std::move(ev));
  return deny ? EPERM : 0;
}

// A name call: the gate decides; a protected name becomes an open event with the launch filter
// as its tier, so that the persistence rules (and the exfiltration sequence) see it as they see
// the kernel's.
int RunSupervisor::on_name_call(const enforce::TamperAttempt &a)
{
  // Most calls name nothing protected: /proc/PID/status is read only for those that do.
  const enforce::AgentView view{a.pid, 0};
  const enforce::NameVerdict v = enforce::judge_name_call(a, view, *opts_.gate);
  if (v.fifo.made) {
    if (fifo_names_.size() >= kMaxFifos)
      fifo_names_.erase(std::min_element(fifo_names_.begin(), fifo_names_.end(),
                                         [](const auto &x, const auto &y) {
                                           return x.second < y.second;
                                         }));
    fifo_names_[v.fifo.path] = static_cast<int64_t>(clock_ns(CLOCK_REALTIME));
  }
  // The profile's own refusal comes first.
  if (!v.protected_path)
    for (const std::string &rule_file : v.rule_files) {
      struct stat st{};
      if (::stat(("/proc/" + std::to_string(a.pid) + "/root" + rule_file).c_str(), &st) == 0 &&
          !engine_.learn_rule_file(st.st_dev, st.st_ino, rule_file)) {
        // Under its new name nothing would tie the file to its rule any more: its reads would be
        // reported by a name no rule knows. Refused rather than followed blindly.
        engine_.raise_internal("credential-untracked", policy::Severity::error,
                               "pid " + std::to_string(a.pid) + " (" + read_comm(a.pid) +
                                   ") tried " +
                                   (a.nr == SYS_link || a.nr == SYS_linkat ? "a hard link"
                                                                           : "a rename") +
                                   " of " + rule_file +
                                   ", a file the credential rules name, while vigil already "
                                   "follows as many such files by identity as it keeps: denied "
                                   "by the launch filter");
        return EPERM;
      }
    }
  if (v.too_many_entries && !v.protected_path)
    engine_.raise_internal("persist-unjudgeable", policy::Severity::error,
                           "pid " + std::to_string(a.pid) + " (" + read_comm(a.pid) +
                               ") moved a directory of more entries than vigil looks at to " +
                               v.change.path +
                               ": what it puts there was not judged against the persistence "
                               "rules (allowed)");
  if (v.fifo.opened && !v.protected_path && !own_fifo(v.fifo))
    return on_foreign_fifo(a, v);
  if (!v.protected_path && !v.observed)
    return 0;
  // The change as an open event of the calling task (verdict and tier set below).
  pipeline::Event ev = open_event(a);
  pipeline::OpenBody o;
  o.flags = v.change.flags;
  o.call = v.change.call;
  o.resolved = true;
  o.path = v.change.path;
  if (!v.protected_path) {
    // A change of a path the rules name and the profile does not protect: let through, and
    // reported as what it is (the rules alert on it), since no tracepoint sees the call; before
    // it runs, so its result is not known.
    ev.hdr.verdict = pipeline::Verdict::none;
    ev.hdr.flags |= VG_F_BEFORE;
    ev.body = std::move(o);
    (void)engine_.report(std::move(ev));
    return 0;
  }
  name_decisions_.fetch_add(1);
  if (!v.entry && !v.credential) { // a path the kernel resolves but cannot name within PATH_MAX
    engine_.raise_internal("persist-unjudgeable", policy::Severity::error,
                           "pid " + std::to_string(a.pid) + " (" + ev.hdr.comm + ") tried " +
                               std::string(pipeline::to_string(v.change.call)) +
                               " on a path deeper than PATH_MAX, which vigil cannot match "
                               "against the persistence patterns: denied by the launch filter");
    return v.error;
  }
  ev.hdr.verdict = v.run ? pipeline::Verdict::audit : pipeline::Verdict::deny;
  ev.hdr.tier = pipeline::Tier::launch;
  o.ret = v.run ? 0 : -v.error;
  o.persist = v.credential == nullptr; // a credential moved is the credential rules' business
  o.pattern = v.entry ? v.entry->pattern : v.credential ? *v.credential : std::string();
  ev.body = std::move(o);
  // The call waits until its event is queued: the alert of a denial is not dropped, and an agent
  // that floods the pipeline with denied calls slows itself down.
  (void)engine_.report(std::move(ev));
  return v.run ? 0 : v.error;
}

} // namespace vigil::cli
