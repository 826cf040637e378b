// SPDX-License-Identifier: Apache-2.0
// Progress over an event log read (common/progress.h): bytes of the segments before the one
// being read plus the offset of the block in it.
#pragma once

#include <string>
#include <vector>

#include "common/progress.h"
#include "eventlog/reader.h"

namespace vigil::cli {

class LogProgress {
public:
  LogProgress(std::string what, const std::vector<std::string> &files)
      : files_(files), before_(offsets(files)),
        progress_(std::move(what), before_.back(), files.size())
  {
  }
  void segment(const std::string &path)
  {
    for (size_t i = 0; i < files_.size(); ++i)
      if (files_[i] == path)
        seg_ = i;
  }
  void record(const eventlog::RecordView &r)
  {
    if ((++n_ & 1023) == 0)
      progress_.update(before_[seg_] + r.block_offset, seg_ + 1);
  }
  void update(uint64_t done, uint64_t segment) { progress_.update(done, segment); }
  // Clears the line before something is printed to the same terminal.
  void clear() { progress_.finish(); }

private:
  static std::vector<uint64_t> offsets(const std::vector<std::string> &files)
  {
    std::vector<uint64_t> before(files.size() + 1, 0);
    for (size_t i = 0; i < files.size(); ++i)
      before[i + 1] = before[i] + total_size({files[i]});
    return before;
  }

  const std::vector<std::string> &files_;
  std::vector<uint64_t> before_;
  Progress progress_;
  size_t seg_ = 0;
  uint64_t n_ = 0;
};

} // namespace vigil::cli
