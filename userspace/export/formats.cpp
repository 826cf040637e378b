// SPDX-License-Identifier: Apache-2.0
// Falco-shaped and Alertmanager-shaped alert encodings.
#include "export/formats.h"

#include <time.h>

#include <cstdio>
#include <set>

#include "common/text.h"

namespace vigil::exporter {

namespace {

// Falco's evt.time: time of day with nanoseconds. Falco prints local time; vigil prints UTC so
// that the line agrees with the "time" field whatever the host's zone.
std::string time_of_day(uint64_t realtime_ns)
{
  time_t secs = static_cast<time_t>(realtime_ns / 1000000000ull);
  tm t{};
  ::gmtime_r(&secs, &t);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%02d:%02d:%02d.%09llu", t.tm_hour, t.tm_min, t.tm_sec,
                static_cast<unsigned long long>(realtime_ns % 1000000000ull));
  return buf;
}

// Falco's evt.type names for the operations vigil reports.
std::string_view falco_event_type(pipeline::EventType t)
{
  switch (t) {
  case pipeline::EventType::exec:
    return "execve";
  case pipeline::EventType::fork:
    return "clone";
  case pipeline::EventType::exit:
    return "procexit";
  case pipeline::EventType::open:
    return "open";
  case pipeline::EventType::connect:
    return "connect";
  case pipeline::EventType::ptrace:
    return "ptrace";
  case pipeline::EventType::socket:
    return "socket";
  case pipeline::EventType::egress_volume:
    return "sendto"; // bytes counted on the way out
  case pipeline::EventType::tamper:
    return "tamper"; // a vigil-specific event: Falco has no single syscall for it
  case pipeline::EventType::throttle:
    return "throttle";
  case pipeline::EventType::dns:
    return "recvfrom"; // an answer received from a resolver
  }
  return "unknown";
}

std::string basename_of(const std::string &path)
{
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string join_args(const std::vector<std::string> &argv)
{
  std::string out;
  for (size_t i = 1; i < argv.size(); ++i)
    out += (i > 1 ? " " : "") + argv[i];
  return out;
}

// Falco's evt.res: "SUCCESS", or the errno's name.
std::string falco_result(int64_t ret)
{
  return ret >= 0 ? "SUCCESS" : detect::describe_errno(ret);
}

std::string object_of(const detect::Alert &a)
{
  if (!a.path.empty())
    return a.path;
  if (!a.dest_ip.empty())
    return a.dest_family == "ipv6" ? "[" + a.dest_ip + "]:" + std::to_string(a.dest_port)
                                   : a.dest_ip + ":" + std::to_string(a.dest_port);
  if (a.target_pid)
    return "pid " + std::to_string(a.target_pid);
  return "";
}

// "registry:5000/team/app:1.2@sha256:..." -> ("registry:5000/team/app", "1.2"); no tag: "".
std::pair<std::string, std::string> split_image(const std::string &image)
{
  const std::string ref = image.substr(0, image.find('@'));
  const auto slash = ref.rfind('/');
  const auto colon = ref.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash))
    return {ref.substr(0, colon), ref.substr(colon + 1)};
  return {ref, ""};
}

// Falco's k8s.* and container.* fields. Falco's container.id is the id's first 12 characters;
// container.full_id the whole.
void workload_fields(const detect::Workload &w, nlohmann::json &f)
{
  if (w.pod.empty())
    return;
  f["k8s.ns.name"] = w.ns;
  f["k8s.pod.name"] = w.pod;
  f["k8s.pod.uid"] = w.pod_uid;
  f["container.id"] = w.container_id.substr(0, 12);
  f["container.full_id"] = w.container_id;
  f["container.name"] = w.container;
  f["container.image"] = w.image;
  auto [repo, tag] = split_image(w.image);
  f["container.image.repository"] = repo;
  f["container.image.tag"] = tag;
}

} // namespace

std::string_view falco_priority(policy::Severity s)
{
  switch (s) {
  case policy::Severity::emergency:
    return "Emergency";
  case policy::Severity::alert:
    return "Alert";
  case policy::Severity::critical:
    return "Critical";
  case policy::Severity::error:
    return "Error";
  case policy::Severity::warning:
    return "Warning";
  case policy::Severity::notice:
    return "Notice";
  case policy::Severity::informational:
    return "Informational";
  case policy::Severity::debug:
    return "Debug";
  }
  return "Warning";
}

nlohmann::json to_falco_json(const detect::Alert &a)
{
  using nlohmann::json;
  const std::string priority(falco_priority(a.severity));
  json f = json::object();
  f["evt.time"] = a.time_ns;
  f["evt.type"] = std::string(falco_event_type(a.event_type));
  f["evt.res"] = falco_result(a.result);
  f["evt.hostname"] = a.hostname;
  f["proc.name"] = a.comm;
  f["proc.pid"] = a.pid;
  f["proc.ppid"] = a.ppid;
  f["proc.exepath"] = a.exe;
  if (!a.argv.empty())
    f["proc.exe"] = a.argv.front();
  f["proc.args"] = join_args(a.argv);
  // Falco's proc.cmdline is the process name followed by its arguments.
  f["proc.cmdline"] = a.comm + (a.argv.size() > 1 ? " " + join_args(a.argv) : "");
  f["user.uid"] = a.uid;
  // proc.apid[1] and proc.aname[1] are the parent (proc.ppid, proc.pname), [2] its parent...
  for (size_t i = 0; i < a.ancestry.size(); ++i) {
    const std::string n = std::to_string(i + 1);
    f["proc.apid[" + n + "]"] = a.ancestry[i].pid;
    f["proc.aname[" + n + "]"] = basename_of(a.ancestry[i].exe);
  }
  if (!a.ancestry.empty())
    f["proc.pname"] = basename_of(a.ancestry.front().exe);
  if (!a.path.empty()) {
    f["fd.name"] = a.path;
    f["fd.type"] = "file";
  } else if (a.dest_family == "unix") {
    f["fd.name"] = a.dest_ip;
    f["fd.type"] = "unix";
  } else if (!a.dest_ip.empty()) {
    f["fd.sip"] = a.dest_ip;
    f["fd.sport"] = a.dest_port;
    f["fd.type"] = a.dest_family;
  }
  f["vigil.profile"] = a.profile;
  f["vigil.verdict"] = std::string(pipeline::to_string(a.verdict));
  f["vigil.tier"] = std::string(pipeline::to_string(a.tier));
  f["vigil.cgroup"] = a.cgroup;
  f["vigil.cgroup_id"] = a.cgroup_id;
  f["vigil.result"] = a.result;
  workload_fields(a.workload, f);
  if (a.target_pid)
    f["vigil.target_pid"] = a.target_pid;
  if (!a.rule_description.empty())
    f["vigil.rule_description"] = a.rule_description;
  if (!a.env.empty())
    f["vigil.env"] = a.env;
  if (!a.detail.empty())
    f["vigil.detail"] = a.detail;
  if (a.bytes)
    f["vigil.bytes"] = a.bytes;

  const std::set<std::string> tags(a.tags.begin(), a.tags.end());
  json j = json::object();
  j["time"] = detect::format_time(a.time_ns);
  j["rule"] = a.rule;
  j["priority"] = priority;
  j["source"] = "syscall";
  j["hostname"] = a.hostname;
  // Falco consumers show "output" to people (Slack, a terminal): the sentence is escaped; the
  // output_fields keep the bytes the kernel reported.
  j["output"] = time_of_day(a.time_ns) + ": " + priority + " " + escape_text(a.output);
  j["tags"] = json(std::vector<std::string>(tags.begin(), tags.end()));
  j["output_fields"] = std::move(f);
  return j;
}

nlohmann::json to_alertmanager_alert(const detect::Alert &a, std::chrono::seconds hold)
{
  using nlohmann::json;
  json labels = json::object();
  // Labels identify an alert (and group, route, silence): short printable values only. The
  // process name is the agent's choice.
  auto label = [](const std::string &v) { return escape_bounded(v, kMaxAlertmanagerLabelBytes); };
  labels["alertname"] = label(a.rule);
  labels["rule"] = label(a.rule);
  labels["severity"] = std::string(policy::to_string(a.severity));
  labels["priority"] = std::string(falco_priority(a.severity));
  labels["profile"] = label(a.profile);
  labels["hostname"] = label(a.hostname);
  labels["verdict"] = std::string(pipeline::to_string(a.verdict));
  labels["process"] = label(a.comm);
  labels["namespace"] = label(a.workload.ns);
  labels["source"] = "vigil";
  // Alertmanager drops labels with empty values; leave them out rather than send "".
  for (auto it = labels.begin(); it != labels.end();)
    it = it->get<std::string>().empty() ? labels.erase(it) : std::next(it);

  json ann = json::object();
  ann["summary"] = a.output;
  ann["description"] = a.rule_description.empty() ? a.output : a.rule_description;
  ann["pid"] = std::to_string(a.pid);
  ann["ppid"] = std::to_string(a.ppid);
  ann["uid"] = std::to_string(a.uid);
  ann["exe"] = a.exe;
  std::string cmdline;
  for (const auto &arg : a.argv)
    cmdline += (cmdline.empty() ? "" : " ") + arg;
  ann["cmdline"] = cmdline;
  ann["cgroup"] = a.cgroup;
  ann["pod"] = a.workload.pod;
  ann["container"] = a.workload.container;
  ann["container_id"] = a.workload.container_id;
  ann["image"] = a.workload.image;
  ann["tier"] = std::string(pipeline::to_string(a.tier));
  ann["result"] = detect::describe_errno(a.result);
  if (std::string obj = object_of(a); !obj.empty())
    ann["object"] = obj;
  if (!a.tags.empty()) {
    const std::set<std::string> tags(a.tags.begin(), a.tags.end());
    std::string t;
    for (const auto &tag : tags)
      t += (t.empty() ? "" : ",") + tag;
    ann["tags"] = t;
  }
  // Annotations are what a person reads in Alertmanager and its receivers' messages.
  for (auto it = ann.begin(); it != ann.end();) {
    if (it->get<std::string>().empty()) {
      it = ann.erase(it);
      continue;
    }
    *it = escape_text(it->get<std::string>());
    ++it;
  }

  const uint64_t hold_ns = static_cast<uint64_t>(hold.count()) * 1000000000ull;
  json j = json::object();
  j["labels"] = std::move(labels);
  j["annotations"] = std::move(ann);
  j["startsAt"] = detect::format_time(a.time_ns);
  j["endsAt"] = detect::format_time(a.time_ns + hold_ns);
  return j;
}

} // namespace vigil::exporter
