// SPDX-License-Identifier: Apache-2.0
// Progress line on a terminal (progress.h).
#include "common/progress.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iterator>

namespace vigil {

namespace {

std::string human_bytes(double b)
{
  static constexpr const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  size_t u = 0;
  while (b >= 1024 && u + 1 < std::size(units)) {
    b /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
  return buf;
}

} // namespace

Progress::Progress(std::string what, uint64_t total_bytes, uint64_t segments, int fd)
    : what_(std::move(what)), total_(total_bytes), segments_(segments), fd_(fd),
      enabled_(::isatty(fd) == 1), start_(std::chrono::steady_clock::now()),
      last_(start_ - std::chrono::seconds(1)) // the first update draws
{
}

Progress::~Progress()
{
  finish();
}

void Progress::update(uint64_t done, uint64_t segment)
{
  if (!enabled_)
    return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_ < std::chrono::milliseconds(200))
    return;
  last_ = now;
  draw(done, segment);
}

void Progress::draw(uint64_t done, uint64_t segment)
{
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
  std::string left = "?";
  if (rate > 0 && total_ >= done) {
    const auto s = static_cast<unsigned long long>(static_cast<double>(total_ - done) / rate);
    char buf[32];
    if (s >= 3600)
      std::snprintf(buf, sizeof(buf), "%lluh%02llum", s / 3600, s / 60 % 60);
    else if (s >= 60)
      std::snprintf(buf, sizeof(buf), "%llum%02llus", s / 60, s % 60);
    else
      std::snprintf(buf, sizeof(buf), "%llus", s);
    left = buf;
  }
  const unsigned pct =
      total_
          ? static_cast<unsigned>(100.0 * static_cast<double>(done) / static_cast<double>(total_))
          : 0;
  char line[256];
  const int n = std::snprintf(
      line, sizeof(line), "\r\033[K%s: %s of %s (%u%%), segment %llu/%llu, %s/s, %s left",
      what_.c_str(), human_bytes(static_cast<double>(done)).c_str(),
      human_bytes(static_cast<double>(total_)).c_str(), pct,
      static_cast<unsigned long long>(segment), static_cast<unsigned long long>(segments_),
      human_bytes(rate).c_str(), left.c_str());
  if (n > 0)
    (void)!::write(fd_, line, std::min(static_cast<size_t>(n), sizeof(line) - 1));
  drawn_ = true;
}

void Progress::finish()
{
  if (!enabled_ || !drawn_)
    return;
  static constexpr char clear[] = "\r\033[K";
  (void)!::write(fd_, clear, sizeof(clear) - 1);
  drawn_ = false;
}

uint64_t total_size(const std::vector<std::string> &files)
{
  uint64_t sum = 0;
  for (const auto &f : files) {
    struct stat st {};
    if (::stat(f.c_str(), &st) == 0)
      sum += static_cast<uint64_t>(st.st_size);
  }
  return sum;
}

} // namespace vigil
