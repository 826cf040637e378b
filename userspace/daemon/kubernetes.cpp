// SPDX-License-Identifier: Apache-2.0
// Pods -> profiles -> pod cgroups, and cgroup -> pod/container for enrichment.
#include "daemon/kubernetes.h"

#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cstdlib>

#include <spdlog/spdlog.h>

#include "k8s/layout.h"

namespace vigil::daemon {

namespace {

std::string env(const char *name)
{
  const char *v = std::getenv(name);
  return v ? v : "";
}

} // namespace

Result<std::unique_ptr<Kubernetes>> Kubernetes::start(KubernetesConfig cfg, std::string mount)
{
  if (cfg.api_server.empty() && !env("KUBERNETES_SERVICE_HOST").empty()) {
    std::string host = env("KUBERNETES_SERVICE_HOST");
    if (host.find(':') != std::string::npos) // an IPv6 service address
      host = "[" + host + "]";
    const std::string port = env("KUBERNETES_SERVICE_PORT");
    cfg.api_server = "https://" + host + ":" + (port.empty() ? "443" : port);
  }
  if (cfg.node.empty())
    cfg.node = env("NODE_NAME");
  std::unique_ptr<Kubernetes> k(new Kubernetes());
  k->mount_ = std::move(mount);
  k->root_ = cfg.cgroup_root == "/" ? k->mount_ : k->mount_ + cfg.cgroup_root;
  k->wake_ = UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!k->wake_)
    return fail_errno(errno, "kubernetes: eventfd");
  k->inotify_ = UniqueFd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!k->inotify_)
    return fail_errno(errno, "kubernetes: inotify_init1");
  k->cfg_ = cfg;
  k8s::ClientOptions co;
  co.api_server = cfg.api_server;
  co.token_file = cfg.token_file;
  co.ca_file = cfg.ca_file;
  co.node = cfg.node;
  const int wake = k->wake_.get();
  auto w = k8s::PodWatcher::start(co, [wake] {
    const uint64_t one = 1;
    (void)!::write(wake, &one, sizeof(one));
  });
  if (!w)
    return tl::unexpected(w.error());
  k->watcher_ = std::move(*w);
  k->watch_dir(k->root_);
  spdlog::info("kubernetes: watching pods on node {} at {} (profile label {}, cgroups under {})",
               cfg.node, cfg.api_server, cfg.label, k->root_);
  return k;
}

Kubernetes::~Kubernetes()
{
  if (watcher_)
    watcher_->stop();
}

void Kubernetes::drain()
{
  uint64_t n;
  (void)!::read(wake_.get(), &n, sizeof(n));
  alignas(inotify_event) char buf[4096];
  while (::read(inotify_.get(), buf, sizeof(buf)) > 0) {
  }
}

void Kubernetes::watch_dir(const std::string &dir)
{
  if (watched_.count(dir))
    return;
  // A pod cgroup or QoS level created here wakes the daemon at once, so a labelled pod the API
  // already reported is confined before its containers' cgroups (and processes) exist.
  if (::inotify_add_watch(inotify_.get(), dir.c_str(), IN_CREATE | IN_DELETE | IN_ONLYDIR) >= 0)
    watched_.insert(dir);
}

std::map<std::string, std::string> Kubernetes::wanted(const std::set<std::string> &profiles)
{
  k8s::PodCgroups found = k8s::find_pod_cgroups(root_);
  for (const auto &dir : found.parents)
    watch_dir(dir);
  std::erase_if(watched_, [&](const std::string &d) { return ::access(d.c_str(), F_OK) != 0; });
  std::map<std::string, std::string> out;
  for (const auto &[uid, pod] : watcher_->pods()) {
    auto label = pod.labels.find(cfg_.label);
    if (label == pod.labels.end())
      continue;
    if (!profiles.count(label->second)) {
      if (warned_.insert(uid + "/" + label->second).second)
        spdlog::warn("kubernetes: pod {}/{} asks for profile '{}', which no profile file defines; "
                     "it is not confined",
                     pod.ns, pod.name, label->second);
      continue;
    }
    auto dir = found.pods.find(uid);
    if (dir != found.pods.end())
      out[dir->second] = label->second;
  }
  return out;
}

std::optional<detect::Workload> Kubernetes::workload(const std::string &cgroup) const
{
  auto ref = k8s::parse_cgroup_path(cgroup);
  if (!ref)
    return std::nullopt;
  auto pod = watcher_->pod(ref->pod_uid);
  if (!pod)
    return std::nullopt;
  detect::Workload w;
  w.ns = pod->ns;
  w.pod = pod->name;
  w.pod_uid = pod->uid;
  w.container_id = ref->container_id;
  for (const auto &c : pod->containers)
    if (!c.id.empty() && c.id == ref->container_id) {
      w.container = c.name;
      w.image = c.image;
    }
  return w;
}

} // namespace vigil::daemon
