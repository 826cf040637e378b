// SPDX-License-Identifier: Apache-2.0
// A gate in front of the logger's sinks: while closed it keeps lines below `error`.
#include "daemon/startup_log.h"

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/sinks/sink.h>
#include <spdlog/spdlog.h>

#include "loader/probe.h"

namespace vigil::daemon {

namespace {

// Set while static objects are built, before main(): close enough to the exec.
const auto kProcessStart = std::chrono::steady_clock::now();

class GateSink final : public spdlog::sinks::sink {
public:
  explicit GateSink(std::vector<spdlog::sink_ptr> inner) : inner_(std::move(inner)) {}

  void log(const spdlog::details::log_msg &msg) override
  {
    std::lock_guard lock(mu_);
    if (holding_ && msg.level < spdlog::level::err) {
      held_.push_back(Held{msg.level, std::string(msg.payload.data(), msg.payload.size())});
      return;
    }
    for (auto &s : inner_)
      if (s->should_log(msg.level))
        s->log(msg);
  }
  void flush() override
  {
    for (auto &s : inner_)
      s->flush();
  }
  void set_pattern(const std::string &pattern) override
  {
    for (auto &s : inner_)
      s->set_pattern(pattern);
  }
  void set_formatter(std::unique_ptr<spdlog::formatter> f) override
  {
    for (auto &s : inner_)
      s->set_formatter(f->clone());
  }

  void hold()
  {
    std::lock_guard lock(mu_);
    holding_ = true;
  }
  size_t release(bool print, const std::string &logger)
  {
    std::vector<Held> held;
    {
      std::lock_guard lock(mu_);
      holding_ = false;
      held.swap(held_);
    }
    if (print)
      for (const Held &h : held) {
        spdlog::details::log_msg m(logger, h.level, h.text);
        log(m);
      }
    return held.size();
  }

private:
  struct Held {
    spdlog::level::level_enum level;
    std::string text;
  };
  std::mutex mu_;
  std::vector<spdlog::sink_ptr> inner_;
  std::vector<Held> held_;
  bool holding_ = false;
};

std::shared_ptr<GateSink> gate; // installed by the first hold_startup_log()

} // namespace

void hold_startup_log()
{
  auto logger = spdlog::default_logger();
  if (!gate) {
    gate = std::make_shared<GateSink>(logger->sinks());
    logger->sinks().assign({gate});
  }
  gate->hold();
}

size_t release_startup_log(bool print)
{
  return gate ? gate->release(print, spdlog::default_logger()->name()) : 0;
}

void startup_step(std::string_view step)
{
  const std::chrono::duration<double, std::milli> since =
      std::chrono::steady_clock::now() - kProcessStart;
  spdlog::debug("start-up: {:.1f} ms: {}", since.count(), step);
}

std::string kernel_gaps_line(bool lsm)
{
  std::string none, killed;
  for (const auto &p : loader::self_protection(lsm)) {
    std::string &list = std::string_view(p.by) == "none" ? none : killed;
    if (std::string_view(p.by) != "none" && std::string_view(p.by) != "killed")
      continue;
    list += list.empty() ? "" : ", ";
    list += p.attempt;
  }
  if (none.empty() && killed.empty())
    return "";
  std::string line = "without BPF LSM this kernel does not stop ";
  line += none.empty() ? "nothing" : none;
  if (!killed.empty())
    line += "; it kills instead of refusing " + killed;
  return line + " (`vigil doctor` explains each)";
}

} // namespace vigil::daemon
