// SPDX-License-Identifier: Apache-2.0
// Liveness and readiness checks.
#include "export/health.h"

namespace vigil::exporter {

namespace {

int64_t steady_ns()
{
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

} // namespace

size_t Health::add_thread(const std::string &name)
{
  std::lock_guard lock(mu_);
  Beat &b = beats_.emplace_back();
  b.name = name;
  b.last_ns = steady_ns();
  return beats_.size() - 1;
}

void Health::beat(size_t id)
{
  const int64_t now = steady_ns();
  std::lock_guard lock(mu_);
  if (id < beats_.size())
    beats_[id].last_ns = now;
}

void Health::retire(size_t id)
{
  std::lock_guard lock(mu_);
  if (id < beats_.size())
    beats_[id].retired = true;
}

Health::Report Health::live() const
{
  const int64_t now = steady_ns();
  const int64_t stall = std::chrono::duration_cast<std::chrono::nanoseconds>(kStall).count();
  Report r{true, "ok process\n"};
  std::lock_guard lock(mu_);
  for (const Beat &b : beats_) {
    if (b.retired)
      continue;
    const int64_t age_ms = (now - b.last_ns) / 1'000'000;
    if (now - b.last_ns > stall) {
      r.ok = false;
      r.text += "FAIL thread " + b.name + ": no progress for " + std::to_string(age_ms) + " ms\n";
    } else {
      r.text += "ok thread " + b.name + "\n";
    }
  }
  return r;
}

Health::Report Health::ready() const
{
  Report r = live();
  if (attached_.load()) {
    r.text += "ok programs attached\n";
  } else {
    r.ok = false;
    r.text += "FAIL programs attached: not yet\n";
  }
  if (size_t n = profiles_.load(); n > 0) {
    r.text += "ok profiles loaded: " + std::to_string(n) + "\n";
  } else {
    r.ok = false;
    r.text += "FAIL profiles loaded: none yet\n";
  }
  if (const int pods = pods_.load(); pods == kListed) {
    r.text += "ok kubernetes pods listed\n";
  } else if (pods == kExpected) {
    r.ok = false;
    r.text += "FAIL kubernetes pods listed: not yet\n";
  }
  return r;
}

} // namespace vigil::exporter
