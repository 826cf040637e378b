// SPDX-License-Identifier: Apache-2.0
// Kubelet cgroup names -> pod uid and container id.
#include "k8s/layout.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

namespace vigil::k8s {

namespace {

bool is_uid(std::string_view s)
{
  if (s.size() != 36)
    return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i])))
      return false;
  }
  return true;
}

bool is_hex_id(std::string_view s)
{
  return s.size() >= 12 && s.size() <= 128 && std::all_of(s.begin(), s.end(), [](char c) {
           return std::isxdigit(static_cast<unsigned char>(c)) != 0;
         });
}

bool ends_with(std::string_view s, std::string_view suffix)
{
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

} // namespace

std::string pod_uid_of(std::string_view c)
{
  std::string uid;
  if (ends_with(c, ".slice")) { // systemd: ...-pod<uid with _>.slice
    c.remove_suffix(6);
    const auto at = c.rfind("-pod");
    if (at == std::string_view::npos)
      return "";
    uid = std::string(c.substr(at + 4));
    std::replace(uid.begin(), uid.end(), '_', '-');
  } else if (c.substr(0, 3) == "pod") { // cgroupfs: pod<uid>
    uid = std::string(c.substr(3));
  }
  return is_uid(uid) ? uid : "";
}

std::string container_id_of(std::string_view c)
{
  if (ends_with(c, ".scope"))
    c.remove_suffix(6);
  // The runtime's prefix ends at the last '-' (cri-containerd-, crio-, crio-conmon-, docker-).
  if (const auto dash = c.rfind('-'); dash != std::string_view::npos)
    c = c.substr(dash + 1);
  return is_hex_id(c) ? std::string(c) : "";
}

std::optional<CgroupRef> parse_cgroup_path(std::string_view path)
{
  size_t start = 0;
  while (start < path.size()) {
    if (path[start] == '/') {
      ++start;
      continue;
    }
    size_t end = path.find('/', start);
    if (end == std::string_view::npos)
      end = path.size();
    std::string uid = pod_uid_of(path.substr(start, end - start));
    if (!uid.empty()) {
      CgroupRef ref;
      ref.pod_uid = std::move(uid);
      ref.pod_path = std::string(path.substr(0, end));
      if (end < path.size()) {
        size_t cstart = end + 1;
        size_t cend = path.find('/', cstart);
        if (cend == std::string_view::npos)
          cend = path.size();
        ref.container_id = container_id_of(path.substr(cstart, cend - cstart));
      }
      return ref;
    }
    start = end;
  }
  return std::nullopt;
}

PodCgroups find_pod_cgroups(const std::string &dir)
{
  namespace fs = std::filesystem;
  PodCgroups out;
  std::vector<std::pair<std::string, int>> todo{{dir, 0}};
  while (!todo.empty()) {
    auto [d, depth] = todo.back();
    todo.pop_back();
    out.parents.push_back(d);
    std::error_code ec;
    for (fs::directory_iterator it(d, ec), end; !ec && it != end; it.increment(ec)) {
      if (!it->is_directory(ec))
        continue;
      const std::string name = it->path().filename().string();
      if (std::string uid = pod_uid_of(name); !uid.empty())
        out.pods[uid] = it->path().string();
      // Below the root only the kubelet's own trees; inside them every level (the cgroupfs
      // driver's QoS levels are plain "burstable" and "besteffort").
      else if (depth < 4 &&
               (depth > 0 || name.rfind("kubepods", 0) == 0 || name.rfind("kubelet", 0) == 0))
        todo.emplace_back(it->path().string(), depth + 1);
    }
  }
  return out;
}

} // namespace vigil::k8s
