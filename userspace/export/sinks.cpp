// SPDX-License-Identifier: Apache-2.0
// Alert serialisation and the stderr / JSON-lines sinks.
#include "export/sinks.h"

#include <cerrno>
#include <string>

namespace vigil::exporter {

nlohmann::json to_json(const detect::Alert &a)
{
  nlohmann::json j;
  j["time"] = detect::format_time(a.time_ns);
  j["hostname"] = a.hostname;
  j["profile"] = a.profile;
  j["rule"] = a.rule;
  j["severity"] = std::string(policy::to_string(a.severity));
  j["output"] = a.output;
  j["event"] = std::string(pipeline::to_string(a.event_type));
  j["verdict"] = std::string(pipeline::to_string(a.verdict));
  j["tier"] = std::string(pipeline::to_string(a.tier));
  j["pid"] = a.pid;
  j["ppid"] = a.ppid;
  j["uid"] = a.uid;
  j["comm"] = a.comm;
  j["exe"] = a.exe;
  j["argv"] = a.argv;
  nlohmann::json anc = nlohmann::json::array();
  for (const auto &p : a.ancestry)
    anc.push_back({{"pid", p.pid}, {"exe", p.exe}, {"argv", p.argv}});
  j["ancestry"] = std::move(anc);
  j["cgroup"] = a.cgroup;
  j["cgroup_id"] = a.cgroup_id;
  j["result"] = a.result;
  j["result_name"] = detect::describe_errno(a.result);
  if (!a.path.empty())
    j["path"] = a.path;
  if (a.target_pid)
    j["target_pid"] = a.target_pid;
  if (!a.dest_ip.empty())
    j["destination"] = {{"ip", a.dest_ip}, {"port", a.dest_port}, {"family", a.dest_family}};
  return j;
}

void StderrSink::write(const detect::Alert &a)
{
  std::string sev(policy::to_string(a.severity));
  for (auto &ch : sev)
    ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  std::fprintf(stderr, "vigil: %s %s [%s] %s\n", sev.c_str(), a.rule.c_str(), a.profile.c_str(),
               a.output.c_str());
}

Result<std::unique_ptr<JsonLinesSink>> JsonLinesSink::open(const std::string &path)
{
  FILE *f = std::fopen(path.c_str(), "a");
  if (!f)
    return fail_errno(errno, "open alerts file " + path);
  return std::unique_ptr<JsonLinesSink>(new JsonLinesSink(f));
}

JsonLinesSink::~JsonLinesSink()
{
  std::fclose(f_);
}

void JsonLinesSink::write(const detect::Alert &a)
{
  std::string line = to_json(a).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), f_);
  std::fflush(f_);
}

} // namespace vigil::exporter
