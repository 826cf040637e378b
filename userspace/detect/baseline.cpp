// SPDX-License-Identifier: Apache-2.0
#include "detect/baseline.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "policy/profile.h"

namespace vigil::detect {

Baseline::Baseline(std::string file) : file_(std::move(file))
{
  std::ifstream in(file_);
  if (!in)
    return;
  try {
    nlohmann::json j = nlohmann::json::parse(in);
    learning_started_ns_ = j.at("learning_started_ns").get<uint64_t>();
    for (const auto &e : j.at("entries")) {
      auto ip = policy::parse_ip(e.at("ip").get<std::string>());
      if (!ip)
        continue;
      entries_.emplace(e.at("exe").get<std::string>(), *ip, e.at("port").get<uint16_t>());
    }
  } catch (const std::exception &e) {
    spdlog::warn("egress baseline {} is unreadable ({}): learning starts again", file_, e.what());
    learning_started_ns_ = 0;
    entries_.clear();
    dirty_ = true;
  }
}

Baseline::Seen Baseline::observe(const std::string &exe, const std::array<uint8_t, 16> &ip,
                                 uint16_t port, uint64_t realtime_ns, uint64_t learning_ns)
{
  if (learning_started_ns_ == 0) {
    learning_started_ns_ = realtime_ns;
    dirty_ = true;
  }
  auto key = std::make_tuple(exe, ip, port);
  if (entries_.count(key))
    return Seen::known;
  const bool learning = realtime_ns < learning_started_ns_ + learning_ns;
  if (!full()) {
    entries_.insert(std::move(key));
    dirty_ = true;
  }
  return learning ? Seen::learning : Seen::fresh;
}

void Baseline::save()
{
  if (!dirty_ || file_.empty())
    return;
  nlohmann::json j;
  j["learning_started_ns"] = learning_started_ns_;
  nlohmann::json entries = nlohmann::json::array();
  for (const auto &[exe, ip, port] : entries_)
    entries.push_back({{"exe", exe}, {"ip", policy::ip_to_string(ip)}, {"port", port}});
  j["entries"] = std::move(entries);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(file_).parent_path(), ec);
  const std::string tmp = file_ + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump(1) << '\n';
    if (!out) {
      spdlog::warn("cannot write egress baseline {}", tmp);
      return;
    }
  }
  if (std::rename(tmp.c_str(), file_.c_str()) != 0) {
    spdlog::warn("cannot replace egress baseline {}", file_);
    return;
  }
  dirty_ = false;
}

} // namespace vigil::detect
