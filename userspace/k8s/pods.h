// SPDX-License-Identifier: Apache-2.0
// Pods as the daemon needs them (identity, labels, containers), parsed from the Kubernetes API's
// JSON: a PodList, and the lines of a watch stream (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace vigil::k8s {

struct Container {
  std::string name;
  std::string id;      // runtime's id without the scheme ("containerd://" stripped); may be empty
  std::string runtime; // the scheme: containerd, cri-o, docker; empty when no id yet
  std::string image;   // spec image ("registry/repo:tag"), else the status image
};

struct Pod {
  std::string uid;
  std::string ns;
  std::string name;
  std::string node;
  std::string resource_version;
  std::map<std::string, std::string> labels;
  std::vector<Container> containers; // init, regular and ephemeral containers
};

// One decoded line of a watch stream. type is ADDED, MODIFIED, DELETED, BOOKMARK or ERROR;
// resource_version is the object's (for ERROR: empty); code is the Status code of an ERROR
// (410 when the resourceVersion expired), 0 otherwise.
struct WatchEvent {
  std::string type;
  std::string resource_version;
  int code = 0;
  std::string message; // ERROR: the Status message
  Pod pod;             // ADDED, MODIFIED, DELETED
};

// A Pod object. Error when it has no metadata.uid.
Result<Pod> parse_pod(std::string_view json);
// A PodList: its pods and the list's resourceVersion (where a watch starts).
Result<std::pair<std::vector<Pod>, std::string>> parse_pod_list(std::string_view json);
// One line of a watch stream.
Result<WatchEvent> parse_watch_event(std::string_view line);

} // namespace vigil::k8s
