// SPDX-License-Identifier: Apache-2.0
// A progress line on stderr for long reads (replay, log verify/export, report, profile suggest):
// bytes done of the total, segments, rate and time left, redrawn at most every 200 ms. Only when
// stderr is a terminal: a pipe or a file gets nothing, so scripts and logs stay clean.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace vigil {

class Progress {
public:
  // what: "vigil replay"; total_bytes: the sum of the input's sizes; segments: how many files.
  // Draws only when fd is a terminal (isatty).
  Progress(std::string what, uint64_t total_bytes, uint64_t segments, int fd = 2);
  ~Progress(); // finish()
  Progress(const Progress &) = delete;
  Progress &operator=(const Progress &) = delete;

  bool enabled() const { return enabled_; }
  // done: bytes of the input read so far; segment: 1-based index of the file being read.
  void update(uint64_t done, uint64_t segment);
  // Clears the line (the summary printed after it starts on a clean line).
  void finish();

private:
  void draw(uint64_t done, uint64_t segment);

  std::string what_;
  uint64_t total_ = 0;
  uint64_t segments_ = 0;
  int fd_ = 2;
  bool enabled_ = false;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

// The sum of the sizes of files (those that cannot be stat'ed count 0).
uint64_t total_size(const std::vector<std::string> &files);

} // namespace vigil
