// SPDX-License-Identifier: Apache-2.0
// The learned egress baseline of one profile for new_destination rules: which (executable,
// destination, port) tuples its agents used while learning. Kept in a JSON file so a restart
// neither relearns nor forgets; written atomically (temporary file, then rename).
#pragma once

#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <tuple>

namespace vigil::detect {

class Baseline {
public:
  static constexpr size_t kMaxEntries = 16384;

  Baseline() = default;
  // Loads file when it exists; an unreadable or corrupt file is reported (spdlog) and replaced.
  explicit Baseline(std::string file);

  enum class Seen { learning, known, fresh };
  // Records the tuple. Learning lasts learning_ns from the first observation (wall clock).
  // fresh: first seen after learning ended (an alert); it is remembered, so it alerts once.
  Seen observe(const std::string &exe, const std::array<uint8_t, 16> &ip, uint16_t port,
               uint64_t realtime_ns, uint64_t learning_ns);
  size_t size() const { return entries_.size(); }
  bool full() const { return entries_.size() >= kMaxEntries; }
  // Writes the file if anything changed since the last save.
  void save();

private:
  std::string file_;
  uint64_t learning_started_ns_ = 0;
  std::set<std::tuple<std::string, std::array<uint8_t, 16>, uint16_t>> entries_;
  bool dirty_ = false;
};

} // namespace vigil::detect
