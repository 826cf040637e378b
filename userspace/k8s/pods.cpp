// SPDX-License-Identifier: Apache-2.0
// Pod JSON -> k8s::Pod with nlohmann::json, without exceptions escaping (parse errors are values).
#include "k8s/pods.h"

#include <nlohmann/json.hpp>

namespace vigil::k8s {

namespace {

using nlohmann::json;

std::string str(const json &j, const char *key)
{
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const json &member(const json &j, const char *key)
{
  static const json empty = json::object();
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : empty;
}

const json &array(const json &j, const char *key)
{
  static const json empty = json::array();
  auto it = j.find(key);
  return it != j.end() && it->is_array() ? *it : empty;
}

// spec.<kind> gives names and images; status.<kind>Statuses gives the runtime's ids once the
// containers exist. Both are merged by name.
void containers_of(const json &spec, const json &status, const char *spec_key,
                   const char *status_key, std::vector<Container> &out)
{
  for (const auto &c : array(spec, spec_key)) {
    if (!c.is_object())
      continue;
    out.push_back(Container{str(c, "name"), "", "", str(c, "image")});
  }
  for (const auto &s : array(status, status_key)) {
    if (!s.is_object())
      continue;
    const std::string name = str(s, "name");
    Container *c = nullptr;
    for (auto &have : out)
      if (have.name == name)
        c = &have;
    if (!c) {
      out.push_back(Container{name, "", "", ""});
      c = &out.back();
    }
    const std::string full = str(s, "containerID");
    if (auto sep = full.find("://"); sep != std::string::npos) {
      c->runtime = full.substr(0, sep);
      c->id = full.substr(sep + 3);
    }
    if (c->image.empty())
      c->image = str(s, "image");
  }
}

Pod pod_of(const json &j)
{
  Pod p;
  const json &meta = member(j, "metadata");
  p.uid = str(meta, "uid");
  p.ns = str(meta, "namespace");
  p.name = str(meta, "name");
  p.resource_version = str(meta, "resourceVersion");
  for (const auto &[k, v] : member(meta, "labels").items())
    if (v.is_string())
      p.labels[k] = v.get<std::string>();
  const json &spec = member(j, "spec");
  const json &status = member(j, "status");
  p.node = str(spec, "nodeName");
  containers_of(spec, status, "initContainers", "initContainerStatuses", p.containers);
  containers_of(spec, status, "containers", "containerStatuses", p.containers);
  containers_of(spec, status, "ephemeralContainers", "ephemeralContainerStatuses", p.containers);
  return p;
}

Result<json> parse_json(std::string_view text)
{
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return fail("Kubernetes API: not a JSON object: " + std::string(text.substr(0, 120)));
  return j;
}

} // namespace

Result<Pod> parse_pod(std::string_view text)
{
  auto j = parse_json(text);
  if (!j)
    return tl::unexpected(j.error());
  Pod p = pod_of(*j);
  if (p.uid.empty())
    return fail("Kubernetes API: pod without metadata.uid");
  return p;
}

Result<std::pair<std::vector<Pod>, std::string>> parse_pod_list(std::string_view text)
{
  auto j = parse_json(text);
  if (!j)
    return tl::unexpected(j.error());
  if (str(*j, "kind") != "PodList")
    return fail("Kubernetes API: expected a PodList, got '" + str(*j, "kind") + "'");
  std::vector<Pod> pods;
  for (const auto &item : array(*j, "items"))
    if (item.is_object()) {
      Pod p = pod_of(item);
      if (!p.uid.empty())
        pods.push_back(std::move(p));
    }
  return std::make_pair(std::move(pods), str(member(*j, "metadata"), "resourceVersion"));
}

Result<WatchEvent> parse_watch_event(std::string_view line)
{
  auto j = parse_json(line);
  if (!j)
    return tl::unexpected(j.error());
  WatchEvent ev;
  ev.type = str(*j, "type");
  const json &obj = member(*j, "object");
  if (ev.type == "ERROR") {
    auto code = obj.find("code");
    ev.code = code != obj.end() && code->is_number_integer() ? code->get<int>() : 0;
    ev.message = str(obj, "message");
    return ev;
  }
  if (ev.type != "ADDED" && ev.type != "MODIFIED" && ev.type != "DELETED" && ev.type != "BOOKMARK")
    return fail("Kubernetes API: unknown watch event type '" + ev.type + "'");
  ev.resource_version = str(member(obj, "metadata"), "resourceVersion");
  if (ev.type == "BOOKMARK")
    return ev;
  ev.pod = pod_of(obj);
  if (ev.pod.uid.empty())
    return fail("Kubernetes API: " + ev.type + " of a pod without metadata.uid");
  return ev;
}

} // namespace vigil::k8s
