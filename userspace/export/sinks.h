// SPDX-License-Identifier: Apache-2.0
// Alert sinks: a readable line on stderr; JSON lines (vigil's shape or Falco's) to a file or
// stdout; an HTTP webhook and Alertmanager, each on its own thread behind a bounded queue.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "detect/alert.h"
#include "export/metrics.h"

namespace vigil::exporter {

// The alert as vigil's JSON object. Strings are the bytes the kernel reported (a dump must use
// error_handler_t::replace: they need not be UTF-8), except "output", the readable sentence,
// which is escaped (common/text.h).
nlohmann::json to_json(const detect::Alert &a);

// Heap bytes an alert holds, roughly (its strings): what a queued alert costs.
size_t footprint(const detect::Alert &a);

// The StderrSink's line: "vigil: SEVERITY rule [profile] sentence\n", every part escaped
// (common/text.h), so the line is exactly one line of printable UTF-8.
std::string stderr_line(const detect::Alert &a);

class AlertSink {
public:
  virtual ~AlertSink() = default;
  // Called on the pipeline's worker thread: must not block on the network.
  virtual void write(const detect::Alert &a) = 0;
  // Delivers what is still queued, waiting at most `budget`; then gives the rest up (counted
  // as dropped). Sinks that write synchronously have nothing to do.
  virtual void drain(std::chrono::milliseconds budget) { (void)budget; }
};

// "vigil: CRITICAL credential-read [coding-agent] credential file ... opened by cat (pid ...)"
class StderrSink : public AlertSink {
public:
  void write(const detect::Alert &a) override;
};

// One JSON object per line, each written with one write(2) so a reader (tail -f, a shipper) sees
// it at once and never half of it.
class JsonLinesSink : public AlertSink {
public:
  enum class Shape { vigil, falco };
  // path "-" writes to stdout.
  static Result<std::unique_ptr<JsonLinesSink>> open(const std::string &path,
                                                     Shape shape = Shape::vigil);
  ~JsonLinesSink() override;
  void write(const detect::Alert &a) override;

private:
  JsonLinesSink(int fd, bool owned, Shape shape) : fd_(fd), owned_(owned), shape_(shape) {}
  int fd_;
  bool owned_;
  bool warned_ = false; // a failed write is logged once, not once per alert
  Shape shape_;
};

struct HttpSinkOptions {
  enum class Kind { webhook, alertmanager };
  Kind kind = Kind::webhook;
  // webhook: the URL alerts are POSTed to, one JSON object per request. alertmanager: its base
  // URL ("http://host:9093"); alerts go to <url>/api/v2/alerts, batched.
  std::string url;
  JsonLinesSink::Shape shape = JsonLinesSink::Shape::vigil; // webhook body
  size_t queue_capacity = 1024;
  // and the queued alerts' bytes: an alert names up to 32 ancestors with their paths and argv.
  size_t queue_max_bytes = 64u << 20;
  size_t batch = 64; // alerts per Alertmanager request
  std::chrono::milliseconds timeout{5000};
  std::chrono::milliseconds backoff_initial{250};
  std::chrono::milliseconds backoff_max{30000};
  // Attempts per request before its alerts are dropped; 0 retries for ever.
  unsigned max_attempts = 10;
  std::chrono::seconds alertmanager_hold{3600}; // endsAt = time + hold
};

// POSTs alerts to an HTTP endpoint from its own thread. write() only queues: a full queue drops
// the alert and counts it. A failed request (connection error, timeout, non-2xx answer) is
// retried with exponential backoff up to backoff_max.
class HttpSink : public AlertSink {
public:
  // Error when the URL is not http:// or https://.
  static Result<std::unique_ptr<HttpSink>> start(HttpSinkOptions opts, SinkCounters counters);
  ~HttpSink() override;
  void write(const detect::Alert &a) override;
  void drain(std::chrono::milliseconds budget) override;

  // The request body for a batch of alerts (exposed for tests).
  static std::string body(const HttpSinkOptions &opts, const std::vector<detect::Alert> &batch);

private:
  HttpSink(HttpSinkOptions opts, SinkCounters counters);
  void run() noexcept;
  // One POST; true on a 2xx answer. why: the failure, for the log.
  bool post(const std::string &body, std::string &why);
  bool wait_for(std::chrono::milliseconds d); // false once stopping

  HttpSinkOptions opts_;
  std::string endpoint_;
  SinkCounters counters_;
  std::mutex mu_; // guards the five below and last_log_
  std::condition_variable cv_;
  std::deque<detect::Alert> queue_;
  size_t queued_bytes_ = 0;
  bool stopping_ = false;
  bool abandon_ = false; // drain's budget ran out: give up retrying
  bool done_ = false;    // the thread has finished
  std::thread thread_;
  void *curl_ = nullptr; // CURL *, used by the sink's thread only
  std::chrono::steady_clock::time_point last_log_{};
};

} // namespace vigil::exporter
