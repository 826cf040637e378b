// SPDX-License-Identifier: Apache-2.0
// The learned egress baseline of one profile for new_destination rules: which (executable,
// destination, port) tuples its agents used while learning. Kept in a JSON file so a restart
// neither relearns nor forgets; written atomically (temporary file, then rename).
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <tuple>

namespace vigil::detect {

class Baseline {
public:
  // Bound on the tuples kept. The agent chooses executable names and destinations, so at the
  // bound the oldest tuple first seen after learning goes (then, with none of those left, the
  // oldest learned one), counted in evictions(): a tuple forgotten alerts again when it comes
  // back, so a flood costs alerts, never silence.
  static constexpr size_t kMaxEntries = 16384;
  // Executable names are up to 4 KiB each: the tuples' bytes are bounded as well.
  static constexpr size_t kMaxBytes = 16u << 20;

  Baseline() = default;
  // Loads file when it exists; an unreadable or corrupt file is reported (spdlog) and replaced.
  explicit Baseline(std::string file, size_t max_entries = kMaxEntries,
                    size_t max_bytes = kMaxBytes);
  // Movable (a moved std::map keeps its nodes, so the order queues stay valid), not copyable.
  Baseline(Baseline &&) = default;
  Baseline &operator=(Baseline &&) = default;
  Baseline(const Baseline &) = delete;
  Baseline &operator=(const Baseline &) = delete;

  enum class Seen { learning, known, fresh };
  // Records the tuple. Learning lasts learning_ns from the first observation (wall clock).
  // fresh: first seen after learning ended (an alert); it is remembered, so it alerts once.
  // exe is bytes: it need not be UTF-8.
  Seen observe(const std::string &exe, const std::array<uint8_t, 16> &ip, uint16_t port,
               uint64_t realtime_ns, uint64_t learning_ns);
  size_t size() const { return entries_.size(); }
  bool full() const { return entries_.size() >= max_entries_; }
  uint64_t evictions() const { return evictions_; }
  uint64_t save_errors() const { return save_errors_; }
  // Writes the file if anything changed since the last save. Never throws: an executable name
  // that is not UTF-8 is stored as hex ("exe_hex"), so the file round-trips every byte; a
  // write that fails is logged and retried at the next save.
  void save();

private:
  using Key = std::tuple<std::string, std::array<uint8_t, 16>, uint16_t>;
  using Entries = std::map<Key, bool>; // value: first seen after learning
  void insert(Key key, bool fresh);
  void save_failed(const std::string &what);

  std::string file_;
  size_t max_entries_ = kMaxEntries;
  size_t max_bytes_ = kMaxBytes;
  size_t bytes_ = 0; // the entries' heap bytes, roughly
  uint64_t learning_started_ns_ = 0;
  Entries entries_;
  // Insertion order of each kind, for eviction and for a stable file.
  std::deque<Entries::iterator> learned_order_;
  std::deque<Entries::iterator> fresh_order_;
  uint64_t evictions_ = 0;
  uint64_t save_errors_ = 0;
  bool save_failing_ = false;
  bool dirty_ = false;
};

} // namespace vigil::detect
