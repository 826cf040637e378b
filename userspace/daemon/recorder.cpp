// SPDX-License-Identifier: Apache-2.0
// Engine state -> event-log records.
#include "daemon/recorder.h"

#include <ctime>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/kernel_ids.h"
#include "detect/enrich.h"
#include "eventlog/hash.h"
#include "export/sinks.h"

namespace vigil::daemon {

namespace {

std::optional<std::string> read_text(const std::string &path)
{
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Strings from the kernel or from files need not be UTF-8; the log keeps them, JSON replaces.
std::string dump(const nlohmann::json &j)
{
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace

Result<std::unique_ptr<Recorder>> Recorder::open(eventlog::WriterOptions opts)
{
  std::unique_ptr<Recorder> r(new Recorder());
  Recorder *self = r.get();
  opts.on_write_error = [self](const Error &e) {
    spdlog::error("{}; records are held in memory, then dropped and counted, until writing works "
                  "again",
                  e.message());
    detect::Alert a;
    a.time_ns = clock_ns(CLOCK_REALTIME);
    a.hostname = detect::local_hostname();
    a.rule = "eventlog-write-failed";
    a.severity = policy::Severity::error;
    a.output = "the event log cannot be written (" + e.message() +
               "): enforcement continues, recording is degraded";
    std::lock_guard lock(self->mu_);
    self->failure_ = std::move(a);
    self->failed_.store(true);
  };
  auto w = eventlog::Writer::open(std::move(opts));
  if (!w)
    return tl::unexpected(with_context(w.error(), "event log"));
  r->writer_ = std::move(*w);
  return r;
}

Recorder::~Recorder()
{
  if (writer_)
    writer_->close();
}

void Recorder::processes(const pipeline::ProcessTable &table)
{
  table.for_each([&](const pipeline::ProcessInfo &p) {
    nlohmann::json j{{"pid", p.pid},
                     {"ppid", p.ppid},
                     {"uid", p.uid},
                     {"cgroup_id", p.cgroup_id},
                     {"profile_id", p.profile_id},
                     {"start_ns", p.start_ns},
                     {"comm", p.comm},
                     {"exe", p.exe},
                     {"argv", p.argv}};
    writer_->append(eventlog::RecordType::process, dump(j));
  });
}

void Recorder::policy(uint32_t id, const policy::Profile &p)
{
  const auto text = read_text(p.source);
  const std::string file_hash = eventlog::to_hex(eventlog::sha256(text.value_or("")));
  std::string all;
  eventlog::Hash policy_hash;
  {
    std::lock_guard lock(mu_);
    files_[id] = p.name + " " + file_hash;
    for (const auto &[pid, line] : files_)
      all += std::to_string(pid) + " " + line + "\n";
    policy_hash = eventlog::sha256(all);
  }
  nlohmann::json j{{"profile_id", id},          {"name", p.name},
                   {"source", p.source},        {"sha256", file_hash},
                   {"text", text.value_or("")}, {"policy_sha256", eventlog::to_hex(policy_hash)}};
  if (!text)
    j["source_readable"] = false;
  // The allowlist as the kernel got it: host names resolved, allowlist files included. Replay
  // judges egress against this, not against what the names resolve to on the responder's desk.
  nlohmann::json egress = nlohmann::json::array();
  for (const auto &a : p.egress_allow) {
    if (!a.host.empty())
      continue;
    nlohmann::json ports = nlohmann::json::array();
    for (const auto &r : a.ports)
      ports.push_back(r.lo == r.hi ? std::to_string(r.lo)
                                   : std::to_string(r.lo) + "-" + std::to_string(r.hi));
    egress.push_back({{"cidr", a.cidr.to_string()}, {"ports", ports}});
  }
  j["egress_allow"] = std::move(egress);
  if (!home_.empty())
    j["home"] = home_;
  writer_->append_policy(dump(j), policy_hash);
}

void Recorder::rules(const policy::RuleSet &set)
{
  nlohmann::json files = nlohmann::json::array();
  for (const auto &f : set.files) {
    const auto text = read_text(f);
    files.push_back({{"source", f},
                     {"text", text.value_or("")},
                     {"sha256", eventlog::to_hex(eventlog::sha256(text.value_or("")))}});
  }
  nlohmann::json j{{"kind", "rules"}, {"files", std::move(files)}};
  std::string all;
  {
    std::lock_guard lock(mu_);
    for (const auto &[pid, line] : files_)
      all += std::to_string(pid) + " " + line + "\n";
  }
  writer_->append_policy(dump(j), eventlog::sha256(all + dump(j)));
}

void Recorder::cgroup(uint64_t id, const std::string &path, uint32_t profile_id,
                      const std::string &profile_name)
{
  nlohmann::json j{
      {"cgroup_id", id}, {"path", path}, {"profile_id", profile_id}, {"profile", profile_name}};
  writer_->append(eventlog::RecordType::cgroup, dump(j));
}

void Recorder::alert(const detect::Alert &a)
{
  writer_->append(eventlog::RecordType::alert, dump(exporter::to_json(a)));
}

std::optional<detect::Alert> Recorder::take_alert()
{
  if (!failed_.load(std::memory_order_relaxed))
    return std::nullopt;
  std::lock_guard lock(mu_);
  failed_.store(false);
  return std::exchange(failure_, std::nullopt);
}

} // namespace vigil::daemon
