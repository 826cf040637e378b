// SPDX-License-Identifier: Apache-2.0
#include "detect/baseline.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/text.h"
#include "policy/profile.h"

namespace vigil::detect {

namespace {

size_t entry_bytes(const std::string &exe)
{
  return 96 + exe.size(); // map node, key, and the two order queues' share
}

} // namespace

Baseline::Baseline(std::string file, size_t max_entries, size_t max_bytes)
    : file_(std::move(file)), max_entries_(max_entries ? max_entries : 1), max_bytes_(max_bytes)
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
      std::string exe;
      if (e.contains("exe_hex")) {
        if (!from_hex(e.at("exe_hex").get<std::string>(), exe))
          continue;
      } else {
        exe = e.at("exe").get<std::string>();
      }
      insert(Key(std::move(exe), *ip, e.at("port").get<uint16_t>()), e.value("fresh", false));
    }
  } catch (const std::exception &e) {
    spdlog::warn("egress baseline {} is unreadable ({}): learning starts again", escape_text(file_),
                 escape_text(e.what()));
    learning_started_ns_ = 0;
    entries_.clear();
    learned_order_.clear();
    fresh_order_.clear();
    bytes_ = 0;
    dirty_ = true;
  }
}

void Baseline::insert(Key key, bool fresh)
{
  auto [it, added] = entries_.emplace(std::move(key), fresh);
  if (!added)
    return;
  (fresh ? fresh_order_ : learned_order_).push_back(it);
  bytes_ += entry_bytes(std::get<0>(it->first));
  while (entries_.size() > 1 && (entries_.size() > max_entries_ || bytes_ > max_bytes_)) {
    // Never the entry just added (the newest of its kind): with two or more there is another.
    auto &order = fresh_order_.size() > (fresh ? 1u : 0u) ? fresh_order_ : learned_order_;
    bytes_ -= entry_bytes(std::get<0>(order.front()->first));
    entries_.erase(order.front());
    order.pop_front();
    ++evictions_;
  }
  dirty_ = true;
}

Baseline::Seen Baseline::observe(const std::string &exe, const std::array<uint8_t, 16> &ip,
                                 uint16_t port, uint64_t realtime_ns, uint64_t learning_ns)
{
  if (learning_started_ns_ == 0) {
    learning_started_ns_ = realtime_ns;
    dirty_ = true;
  }
  Key key(exe, ip, port);
  if (entries_.count(key))
    return Seen::known;
  const bool learning = realtime_ns < learning_started_ns_ + learning_ns;
  insert(std::move(key), !learning);
  return learning ? Seen::learning : Seen::fresh;
}

// save() runs every second while something changed: a full disk is logged once, when it starts.
void Baseline::save_failed(const std::string &what)
{
  ++save_errors_;
  if (!save_failing_)
    spdlog::warn("cannot {} (egress baseline; retried every second, logged again after a "
                 "success)",
                 escape_text(what));
  save_failing_ = true;
}

void Baseline::save()
{
  if (!dirty_ || file_.empty())
    return;
  nlohmann::json j;
  j["learning_started_ns"] = learning_started_ns_;
  nlohmann::json entries = nlohmann::json::array();
  for (const auto *order : {&learned_order_, &fresh_order_})
    for (const auto &it : *order) {
      const auto &[exe, ip, port] = it->first;
      nlohmann::json e = {{"ip", policy::ip_to_string(ip)}, {"port", port}};
      if (valid_utf8(exe))
        e["exe"] = exe;
      else
        e["exe_hex"] = to_hex(exe);
      if (it->second)
        e["fresh"] = true;
      entries.push_back(std::move(e));
    }
  j["entries"] = std::move(entries);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(file_).parent_path(), ec);
  const std::string tmp = file_ + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    // Every string is UTF-8 by construction; replace is the belt to that brace (a throw here,
    // on the worker thread, would end the process).
    out << j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    if (!out) {
      save_failed("write " + tmp);
      return;
    }
  }
  if (std::rename(tmp.c_str(), file_.c_str()) != 0) {
    save_failed("replace " + file_);
    return;
  }
  dirty_ = false;
  save_failing_ = false;
}

} // namespace vigil::detect
