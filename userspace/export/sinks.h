// SPDX-License-Identifier: Apache-2.0
// Alert sinks: a readable line on stderr, and JSON lines to a file.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "detect/alert.h"

namespace vigil::exporter {

nlohmann::json to_json(const detect::Alert &a);

class AlertSink {
public:
  virtual ~AlertSink() = default;
  virtual void write(const detect::Alert &a) = 0;
};

// "vigil: CRITICAL credential-read [coding-agent] credential file ... opened by cat (pid ...)"
class StderrSink : public AlertSink {
public:
  void write(const detect::Alert &a) override;
};

// One JSON object per line, flushed per alert so a reader (tail -f, a shipper) sees it at once.
class JsonLinesSink : public AlertSink {
public:
  static Result<std::unique_ptr<JsonLinesSink>> open(const std::string &path);
  ~JsonLinesSink() override;
  void write(const detect::Alert &a) override;

private:
  explicit JsonLinesSink(FILE *f) : f_(f) {}
  FILE *f_;
};

} // namespace vigil::exporter
