// SPDX-License-Identifier: Apache-2.0
// Node mode on Kubernetes: which pod cgroups of this node get which profile (the pod's profile
// label), woken by the API watch and by inotify on the kubelet's cgroup directories, and the
// pod and container behind a cgroup for alerts.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"
#include "daemon/config.h"
#include "detect/alert.h"
#include "k8s/watcher.h"

namespace vigil::daemon {

class Kubernetes {
public:
  // Starts the API watch. cfg's empty fields take their in-cluster defaults
  // (KUBERNETES_SERVICE_HOST/PORT, NODE_NAME).
  static Result<std::unique_ptr<Kubernetes>> start(KubernetesConfig cfg, std::string mount);
  ~Kubernetes();

  // Readable when something may have changed: an API event (eventfd) or a cgroup directory
  // created or removed (inotify). drain() empties both.
  int api_fd() const { return wake_.get(); }
  int cgroup_fd() const { return inotify_.get(); }
  void drain();

  // Pod cgroups (absolute) to confine -> profile name, for the pods of this node whose label
  // names one of `profiles`. Watches the directories pod cgroups appear in.
  std::map<std::string, std::string> wanted(const std::set<std::string> &profiles);

  // The workload of a cgroup path relative to the cgroup2 mount; nullopt when no known pod's
  // cgroup holds it. The container fields stay empty until the API reports its id.
  std::optional<detect::Workload> workload(const std::string &cgroup) const;
  bool synced() const { return watcher_->synced(); }
  size_t pods() const { return watcher_->size(); }
  const k8s::WatcherStats &stats() const { return watcher_->stats(); }
  const KubernetesConfig &config() const { return cfg_; }

private:
  Kubernetes() = default;
  void watch_dir(const std::string &dir);

  KubernetesConfig cfg_;
  std::string mount_;
  std::string root_; // the kubelet's cgroup root, absolute
  UniqueFd wake_;
  UniqueFd inotify_;
  std::set<std::string> watched_;
  std::set<std::string> warned_; // pods whose label names no loaded profile, already logged
  std::unique_ptr<k8s::PodWatcher> watcher_;
};

} // namespace vigil::daemon
