// SPDX-License-Identifier: Apache-2.0
// File tier 2: fanotify decisions by cgroup, re-guarding on inotify, decision reports.
#include "daemon/file_enforcer.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

#include "cgroup/cgroup.h"
#include "common/kernel_ids.h"
#include "common/text.h"
#include "vigil/abi.h"

namespace vigil::daemon {

namespace {

int64_t realtime_ns()
{
  struct timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

} // namespace

std::vector<std::string> login_homes(const std::string &passwd_file)
{
  std::vector<std::string> homes;
  std::ifstream in(passwd_file);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string part; std::getline(ss, part, ':');)
      f.push_back(part);
    if (f.size() < 6)
      continue;
    const unsigned long uid = std::strtoul(f[2].c_str(), nullptr, 10);
    std::error_code ec;
    if ((uid == 0 || (uid >= 1000 && uid < 65534)) && !f[5].empty() &&
        std::filesystem::is_directory(f[5], ec))
      homes.push_back(f[5]);
  }
  return homes;
}

Result<std::unique_ptr<FileEnforcer>> FileEnforcer::start(std::string cgroup_mount, Report report,
                                                          bool agent_mounts)
{
  std::unique_ptr<FileEnforcer> e(new FileEnforcer());
  e->cgroup_mount_ = std::move(cgroup_mount);
  e->agent_mounts_ = agent_mounts;
  // One descriptor per guarded file (directories are not held); the rest of the limit stays for
  // the daemon itself.
  const size_t limit = enforce::raise_fd_limit();
  e->file_budget_ = std::min(enforce::ProtectedSet::kMaxFiles, limit > 2048 ? limit - 1024 : 512);
  e->report_ = std::move(report);
  FileEnforcer *self = e.get();
  auto guard =
      enforce::FanotifyGuard::start([self](const enforce::Request &r) { return self->decide(r); });
  if (!guard)
    return tl::unexpected(guard.error());
  e->guard_ = std::move(*guard);
  if (agent_mounts)
    e->guard_->set_observer([self](const enforce::Request &r) { self->observe(r); },
                            [self](const enforce::Request &r) { return self->keep_seeing(r); });
  auto set = enforce::ProtectedSet::create({}, "");
  if (!set)
    return tl::unexpected(set.error());
  e->set_.emplace(std::move(*set));
  e->stop_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  e->wake_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!e->stop_fd_ || !e->wake_fd_)
    return fail_errno(errno, "eventfd");
  e->watcher_ = std::thread([self] { self->watch_loop(); });
  return e;
}

FileEnforcer::~FileEnforcer()
{
  if (watcher_.joinable()) {
    uint64_t one = 1;
    (void)!::write(stop_fd_.get(), &one, sizeof(one));
    watcher_.join();
  }
  guard_.reset(); // closes the group: the kernel answers anything pending with allow
  if (!stand_in_.empty())
    ::unlink(stand_in_.c_str());
}

Result<std::string> FileEnforcer::fifo_stand_in()
{
  if (!stand_in_.empty())
    return stand_in_;
  std::error_code ec;
  std::filesystem::create_directories("/run/vigil", ec);
  const std::string path = "/run/vigil/fifo-stand-in-" + std::to_string(::getpid());
  // Writable by everyone like the FIFOs it covers: an open that file permissions refused would
  // never reach the guard, so it would be refused silently. Nothing ever reads it.
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  struct stat st{};
  if (!fd || ::fchmod(fd.get(), 0666) != 0 || ::fstat(fd.get(), &st) != 0)
    return fail_errno(errno, "create " + path);
  guard_->set_fifo_stand_in(static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino));
  stand_in_ = path;
  return stand_in_;
}

std::shared_ptr<const FileEnforcer::Snapshot> FileEnforcer::snapshot() const
{
  std::lock_guard lock(snap_mu_);
  return snap_;
}

void FileEnforcer::publish(std::shared_ptr<const Snapshot> s)
{
  std::lock_guard lock(snap_mu_);
  snap_ = std::move(s);
}

Result<std::vector<std::string>> FileEnforcer::set_profile(uint32_t id, const policy::Profile &p,
                                                           const std::vector<std::string> &homes)
{
  std::vector<std::string> expanded;
  for (const auto &pat : p.credential_paths)
    for (auto &path : policy::expand_home(pat, homes))
      expanded.push_back(std::move(path));
  std::lock_guard lock(set_mu_);
  patterns_[id] = std::move(expanded);
  modes_[id] = p.file_mode();
  if (auto r = rebuild(); !r)
    return tl::unexpected(r.error());
  std::vector<std::string> unguarded;
  const auto &base = set_->basenames();
  for (const auto &u : set_->unguarded())
    if (std::find(patterns_[id].begin(), patterns_[id].end(), u) != patterns_[id].end() &&
        !(agent_mounts_ && std::find(base.begin(), base.end(), u) != base.end()))
      unguarded.push_back(u);
  return unguarded;
}

// With set_mu_ held: one ProtectedSet over every profile's patterns, guarded, and a new snapshot
// naming which profiles own each pattern.
Result<> FileEnforcer::rebuild()
{
  auto next = std::make_shared<Snapshot>(*snapshot());
  next->owners.clear();
  std::vector<std::string> all;
  // The profiles' patterns first, the rules' last: an inode both match is keyed by a profile's
  // pattern, so it is decided (denied), not only observed.
  for (const bool rules : {false, true})
    for (const auto &[id, pats] : patterns_) {
      if ((id == kRulesOwner) != rules)
        continue;
      for (const auto &pat : pats) {
        if (next->owners[pat].empty())
          all.push_back(pat);
        next->owners[pat].insert(id);
      }
    }
  next->modes = modes_;
  // Inodes the old set keyed stay keyed: a credential moved out of its directory is found by no
  // walk, and a rebuild (a profile reinstalled because an allowlist host moved) must not free it.
  auto set = enforce::ProtectedSet::create(all, "", enforce::ProtectedSet::kMaxDirs, file_budget_,
                                           set_ ? &*set_ : nullptr);
  if (!set)
    return tl::unexpected(set.error());
  publish(next);
  set_.emplace(std::move(*set));
  uint64_t one = 1;
  (void)!::write(wake_fd_.get(), &one, sizeof(one));
  for (const auto &n : set_->notes())
    spdlog::debug("file guard: {}", escape_text(n));
  for (const auto &t : set_->truncated())
    spdlog::warn("file guard: pattern {} matches more than the guard's budget ({} files, {} "
                 "directories): the rest are guarded by their directory's mark only",
                 escape_text(t), file_budget_, enforce::ProtectedSet::kMaxDirs);
  return guard_current();
}

Result<> FileEnforcer::guard_current()
{
  // The snapshot goes live before the marks, so no event meets a mark it cannot name.
  auto next = std::make_shared<Snapshot>(*snapshot());
  next->files.clear();
  for (const auto &f : set_->files())
    next->files[{f.dev, f.ino}] = f.path;
  publish(next);
  std::vector<std::pair<uint64_t, uint64_t>> unlinked;
  auto r = guard_->guard(*set_, &unlinked);
  set_->forget(unlinked);
  return r;
}

void FileEnforcer::set_agents(const std::map<std::string, uint32_t> &agents)
{
  auto next = std::make_shared<Snapshot>(*snapshot());
  next->agents = agents;
  std::map<std::string, int64_t> since;
  for (const auto &[cg, id] : agents) {
    auto old = next->since.find(cg);
    since[cg] = old != next->since.end() ? old->second : realtime_ns();
  }
  next->since = std::move(since);
  publish(next);
}

Result<size_t> FileEnforcer::watch_agent_mounts(pid_t pid)
{
  // Opened before the marks are made: a mount that appears in between is reported by poll.
  UniqueFd fd(::open(("/proc/" + std::to_string(pid) + "/mountinfo").c_str(),
                     O_RDONLY | O_CLOEXEC));
  if (!fd)
    return fail_errno(errno, "open /proc/" + std::to_string(pid) + "/mountinfo");
  std::vector<std::string> refused;
  auto marked = guard_->mark_mounts(pid, &refused);
  if (!marked)
    return marked;
  for (const auto &r : refused)
    spdlog::debug("file guard: agent mount {} not marked", escape_text(r));
  {
    std::lock_guard lock(mounts_mu_);
    mountinfo_[pid] = std::move(fd);
  }
  uint64_t one = 1;
  (void)!::write(wake_fd_.get(), &one, sizeof(one));
  return marked;
}

Result<> FileEnforcer::set_rule_paths(const std::vector<std::string> &patterns,
                                      const std::vector<std::string> &homes,
                                      const std::vector<enforce::ProtectedFile> &named)
{
  if (agent_mounts_) {
    // Every open of the agent reaches the guard through its mounts: files matching the rule
    // paths by the name they are opened by stay uncached (keep_seeing()), and so do the inodes
    // of the files they match now, whatever name the agent gives them before it opens them.
    const std::vector<std::string> *lists[] = {&patterns};
    auto index =
        std::make_shared<const policy::PathIndex>(lists, homes.empty() ? "" : homes.front());
    std::set<std::pair<uint64_t, uint64_t>> inodes;
    for (const auto &f : named)
      if (inodes.size() < kMaxRuleInodes)
        inodes.emplace(f.dev, f.ino);
    {
      std::lock_guard lock(rule_inodes_mu_);
      rule_inodes_ = std::move(inodes);
    }
    std::lock_guard lock(rule_paths_mu_);
    rule_paths_ = std::move(index);
    return {};
  }
  // A host cgroup (daemon mode): its opens reach the guard only through inode marks, so the
  // files the credential rules name are marked too, under no profile: observed, never denied.
  std::vector<std::string> expanded;
  for (const auto &pat : patterns)
    for (auto &path : policy::expand_home(pat, homes))
      expanded.push_back(std::move(path));
  std::lock_guard lock(set_mu_);
  if (patterns_[kRulesOwner] == expanded)
    return {};
  patterns_[kRulesOwner] = std::move(expanded);
  return rebuild();
}

std::vector<enforce::ProtectedFile>
FileEnforcer::files_named(const std::vector<std::string> &patterns,
                          const std::vector<std::string> &homes, size_t max)
{
  std::vector<std::string> expanded;
  for (const auto &pat : patterns)
    for (auto &path : policy::expand_home(pat, homes))
      expanded.push_back(std::move(path));
  auto now = enforce::ProtectedSet::create(expanded, "", enforce::ProtectedSet::kMaxDirs, max);
  if (!now) {
    spdlog::warn("the files the rules name were not resolved ({}): they are known by their "
                 "names only",
                 now.error().message());
    return {};
  }
  return now->files();
}

bool FileEnforcer::keep_seeing(const enforce::Request &req) const
{
  std::shared_ptr<const policy::PathIndex> index;
  {
    std::lock_guard lock(rule_paths_mu_);
    index = rule_paths_;
  }
  if (!index || index->owners() == 0)
    return false;
  uint32_t first = policy::PathIndex::kNone;
  index->match(req.path, std::span<uint32_t>(&first, 1));
  if (first != policy::PathIndex::kNone)
    return true;
  std::lock_guard lock(rule_inodes_mu_);
  return rule_inodes_.count({req.dev, req.ino}) != 0;
}

bool FileEnforcer::learn_rule_file(uint64_t dev, uint64_t ino)
{
  std::lock_guard lock(rule_inodes_mu_);
  if (rule_inodes_.count({dev, ino}))
    return true;
  if (rule_inodes_.size() >= kMaxRuleInodes)
    return false;
  rule_inodes_.emplace(dev, ino);
  return true;
}

FileEnforcer::Agent FileEnforcer::agent_of(const Snapshot &snap, pid_t pid) const
{
  Agent a;
  auto cg = cgroup::cgroup_of_pid(pid);
  if (!cg)
    return a; // gone, or not visible
  a.profile = cgroup::nearest_agent(snap.agents, *cg);
  if (a.profile == 0)
    return a;
  if (auto id = cgroup::cgroup_id(cgroup_mount_ + *cg))
    a.cgroup_id = *id;
  a.cgroup = std::move(*cg);
  return a;
}

void FileEnforcer::observe(const enforce::Request &req)
{
  auto snap = snapshot();
  const Agent agent = agent_of(*snap, req.pid);
  // (a file the rules name, opened by another name, is renamed by the engine: name_rule_file)
  if (agent.profile != 0)
    report_observed(req, agent.profile, agent.cgroup_id);
}

void FileEnforcer::report_observed(const enforce::Request &req, uint32_t profile,
                                   uint64_t cgroup_id)
{
  pipeline::Event ev;
  ev.hdr.type = pipeline::EventType::open;
  ev.hdr.ts_ns = boottime_ns();
  ev.hdr.tgid = static_cast<uint32_t>(req.pid);
  ev.hdr.tid = static_cast<uint32_t>(req.tid_or_pid);
  ev.hdr.profile_id = profile;
  ev.hdr.verdict = pipeline::Verdict::none; // observed: nothing protects it, nothing decided
  ev.hdr.flags = VG_F_GUARD;                // ...but ordered like the guard's decisions
  ev.hdr.cgroup_id = cgroup_id;
  pipeline::OpenBody body;
  body.call = pipeline::OpenCall::hook; // whatever the syscall; fanotify does not say which
  body.dev = kernel_dev(req.dev);
  body.ino = req.ino;
  body.resolved = true;
  body.path = req.path;
  ev.body = std::move(body);
  report_(std::move(ev));
}

enforce::Decision FileEnforcer::decide(const enforce::Request &req)
{
  auto snap = snapshot();
  auto cg = cgroup::cgroup_of_pid(req.pid);
  if (!cg)
    return {false}; // gone, or not visible: nothing to decide for
  const uint32_t profile = cgroup::nearest_agent(snap->agents, *cg);
  if (profile == 0)
    return {false};
  if (req.fifo) {
    // A FIFO that existed before the agent was confined was made by someone outside it, who
    // may hold the other end: the same side channel as a unix socket served from outside.
    int64_t since = INT64_MAX;
    for (const auto &[root, t] : snap->since)
      if (*cg == root || (cg->starts_with(root) && (*cg)[root.size()] == '/') || root == "/")
        since = std::min(since, t);
    if (req.birth_ns >= since)
      return {false};
  } else {
    auto owners = snap->owners.find(req.pattern);
    if (owners == snap->owners.end() || !owners->second.count(profile)) {
      // Another profile's credential, or one only the rules name: observed, allowed.
      uint64_t id = 0;
      if (auto cid = cgroup::cgroup_id(cgroup_mount_ + *cg))
        id = *cid;
      // by the file's own name, not the one it was opened by (a hard link, a renamed file)
      auto known = snap->files.find({req.dev, req.ino});
      if (known != snap->files.end() && known->second != req.path) {
        enforce::Request named = req;
        named.path = known->second;
        report_observed(named, profile, id);
      } else {
        report_observed(req, profile, id);
      }
      return {false};
    }
  }
  auto mode = snap->modes.find(profile);
  const bool enforce = mode == snap->modes.end() || mode->second == policy::Mode::enforce;

  pipeline::Event ev;
  ev.hdr.type = pipeline::EventType::open;
  ev.hdr.ts_ns = boottime_ns();
  ev.hdr.tgid = static_cast<uint32_t>(req.pid);
  ev.hdr.tid = static_cast<uint32_t>(req.tid_or_pid);
  ev.hdr.profile_id = profile;
  ev.hdr.verdict = enforce ? pipeline::Verdict::deny : pipeline::Verdict::audit;
  ev.hdr.tier = pipeline::Tier::fanotify;
  if (auto id = cgroup::cgroup_id(cgroup_mount_ + *cg))
    ev.hdr.cgroup_id = *id;
  pipeline::OpenBody body;
  body.ret = enforce ? -EPERM : 0;
  body.dev = kernel_dev(req.dev);
  body.ino = req.ino;
  body.resolved = true;
  // The protected file's own name, not the one it was opened by (a hardlink, a bind mount).
  auto known = snap->files.find({req.dev, req.ino});
  body.path = known != snap->files.end() ? known->second : req.path;
  body.pattern = req.pattern;
  body.ipc = req.fifo;
  ev.body = std::move(body);
  report_(std::move(ev)); // before the answer: the report precedes the syscall's own exit event
  return {enforce};
}

void FileEnforcer::watch_loop() noexcept
{
  while (true) {
    int wfd;
    {
      std::lock_guard lock(set_mu_);
      wfd = set_->watch_fd();
    }
    std::vector<pollfd> fds = {
        {stop_fd_.get(), POLLIN, 0}, {wake_fd_.get(), POLLIN, 0}, {wfd, POLLIN, 0}};
    std::vector<pid_t> pids;
    {
      // mountinfo signals a change of the namespace's mounts with POLLPRI (and POLLERR).
      std::lock_guard lock(mounts_mu_);
      for (const auto &[pid, fd] : mountinfo_) {
        fds.push_back({fd.get(), POLLPRI, 0});
        pids.push_back(pid);
      }
    }
    if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR)
      return;
    if (fds[0].revents & POLLIN)
      return;
    if (fds[1].revents & POLLIN) {
      uint64_t n;
      (void)!::read(wake_fd_.get(), &n, sizeof(n));
      continue; // poll the new set's inotify fd
    }
    for (size_t i = 0; i < pids.size(); ++i) {
      if (!fds[3 + i].revents)
        continue;
      // New mounts (propagated from the host, or the agent's /proc) are marked now; a namespace
      // whose process is gone is dropped (its mounts and their marks die with it).
      auto marked = guard_->mark_mounts(pids[i]);
      if (!marked || (fds[3 + i].revents & (POLLNVAL | POLLHUP))) {
        guard_->forget_mounts(pids[i]);
        std::lock_guard lock(mounts_mu_);
        mountinfo_.erase(pids[i]);
        continue;
      }
      // poll() itself re-arms: the next change is reported once more.
      if (*marked > 0)
        spdlog::debug("file guard: {} new mount(s) of agent pid {} marked", *marked, pids[i]);
    }
    if (!(fds[2].revents & POLLIN))
      continue;
    std::lock_guard lock(set_mu_);
    auto changed = set_->handle_watch();
    if (!changed || !*changed)
      continue;
    if (auto r = set_->refresh(); !r) {
      spdlog::warn("file guard refresh: {}", escape_text(r.error().message()));
      continue;
    }
    if (auto r = guard_current(); !r)
      spdlog::warn("file guard re-mark: {}", escape_text(r.error().message()));
    else
      spdlog::debug("file guard: protected files changed on disk, marks refreshed");
  }
}

} // namespace vigil::daemon
