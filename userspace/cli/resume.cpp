// SPDX-License-Identifier: Apache-2.0
// `vigil resume [CGROUP]`: thaws an agent cgroup a `freeze` response action froze and lifts an
// `isolate`. Without an argument, every `vigil run` cgroup (<cgroup2 mount>/vigil/run-*); a
// daemon's agent cgroup is named by its path (absolute, or relative to the cgroup2 mount), and
// the daemon, reached on its control socket, lifts the isolation (only it holds the maps).

#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "cgroup/cgroup.h"
#include "cli/commands.h"
#include "daemon/control.h"

namespace vigil::cli {

namespace {

int thaw(const std::string &dir)
{
  auto req = cgroup::freeze_requested(dir);
  if (!req) {
    spdlog::error("{}: not a cgroup with a freezer ({})", dir, req.error().message());
    return 1;
  }
  if (!*req) {
    std::printf("vigil: %s is not frozen\n", dir.c_str());
    return 0;
  }
  if (auto r = cgroup::set_frozen(dir, false); !r) {
    spdlog::error("thaw {}: {}", dir, r.error().message());
    return 1;
  }
  std::printf("vigil: thawed %s (%zu processes)\n", dir.c_str(), cgroup::subtree_procs(dir).size());
  return 0;
}

} // namespace

// A `vigil run` cgroup is named after the run's pid: that vigil (checked by its executable)
// is asked to lift an isolate response too, which only it can (its maps are its own). False when
// dir is not a live vigil run's cgroup.
bool restore_network(const std::string &dir)
{
  const std::string name = std::filesystem::path(dir).filename().string();
  if (name.rfind("run-", 0) != 0)
    return false;
  const pid_t pid = static_cast<pid_t>(std::atoi(name.c_str() + 4));
  std::error_code e1, e2;
  if (pid <= 0 || std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/exe", e1) !=
                      std::filesystem::read_symlink("/proc/self/exe", e2) ||
      e1 || e2)
    return false;
  if (::kill(pid, SIGUSR1) == 0)
    std::printf("vigil: asked vigil run (pid %d) to restore the egress of %s\n", pid,
                dir.c_str());
  return true;
}

// A daemon's agent cgroup: the daemon lifts the isolation (and records response-restore).
int restore_through_daemon(const std::string &dir, const std::string &socket)
{
  auto answer = daemon::control_request(socket, "resume " + dir, std::chrono::seconds(10));
  if (!answer) {
    spdlog::error("{}: an isolation of {} stays until a daemon lifts it (--socket names the "
                  "daemon's control_socket)",
                  answer.error().message(), dir);
    return 1;
  }
  if (answer->starts_with("restored ")) {
    std::printf("vigil: the daemon restored the egress of %s\n", dir.c_str());
    return 0;
  }
  if (answer->starts_with("not-isolated ")) {
    std::printf("vigil: %s is not isolated\n", dir.c_str());
    return 0;
  }
  spdlog::error("the vigil daemon at {}: {}", socket, *answer);
  return 1;
}

int resume_command(const std::optional<std::string> &target, const std::string &socket)
{
  auto mount = cgroup::find_cgroup2_mount();
  if (!mount) {
    spdlog::error("{}", mount.error().message());
    return 1;
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  if (target) {
    std::string dir = *target;
    while (dir.size() > 1 && dir.back() == '/')
      dir.pop_back();
    if (dir.rfind(*mount + "/", 0) != 0)
      dir = *mount + (dir.starts_with("/") ? "" : "/") + dir;
    if (!fs::is_directory(dir, ec)) {
      spdlog::error("{}: no such cgroup", dir);
      return 1;
    }
    const int status = thaw(dir);
    if (restore_network(dir))
      return status;
    return status | restore_through_daemon(dir, socket);
  }
  int status = 0;
  size_t frozen = 0;
  for (const auto &dir : cgroup::glob_dirs(*mount, "/vigil/run-*")) {
    restore_network(dir);
    auto req = cgroup::freeze_requested(dir);
    if (!req || !*req)
      continue;
    ++frozen;
    status |= thaw(dir);
  }
  if (frozen == 0)
    std::printf("vigil: no frozen vigil run cgroup (name a daemon's agent cgroup to thaw it)\n");
  return status;
}

} // namespace vigil::cli
