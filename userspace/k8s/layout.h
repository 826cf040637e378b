// SPDX-License-Identifier: Apache-2.0
// The kubelet's cgroup v2 layout: which pod and container a cgroup path belongs to, and where
// the pod cgroups of a node are. Both cgroup drivers and the containerd, CRI-O and docker scope
// names:
//   systemd:  /kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid, - as _>.slice/
//             cri-containerd-<id>.scope | crio-<id>.scope | docker-<id>.scope
//             (guaranteed pods: /kubepods.slice/kubepods-pod<uid>.slice/...)
//   cgroupfs: /kubepods/<qos>/pod<uid>/<id>   (guaranteed: /kubepods/pod<uid>/<id>)
#pragma once

#include <optional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::k8s {

struct CgroupRef {
  std::string pod_uid;      // with dashes, as the API spells it
  std::string pod_path;     // the pod's cgroup, relative to the cgroup2 mount
  std::string container_id; // empty for the pod cgroup itself
};

// The pod uid a single path component names ("kubepods-burstable-pod1a2b_....slice",
// "pod1a2b-..."), or "" when it names none.
std::string pod_uid_of(std::string_view component);
// The container id a component directly below a pod cgroup names ("cri-containerd-<id>.scope",
// "crio-<id>.scope", "<id>"), or "" when it names none.
std::string container_id_of(std::string_view component);
// The pod (and container) of a cgroup path relative to the cgroup2 mount; nullopt when no
// component is a pod cgroup. Paths below a container cgroup belong to that container.
std::optional<CgroupRef> parse_cgroup_path(std::string_view path);

struct PodCgroups {
  std::map<std::string, std::string> pods; // pod uid -> pod cgroup directory (absolute)
  std::vector<std::string> parents;        // directories pod cgroups appear in (to watch)
};
// The pod cgroups below dir (absolute; the kubelet's root, normally the cgroup2 mount): it
// descends into the directories named kubepods* / kubelet* there, through every level below them
// (QoS levels, nested kubelets) and stops at pod cgroups.
PodCgroups find_pod_cgroups(const std::string &dir);

} // namespace vigil::k8s
