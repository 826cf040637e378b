// SPDX-License-Identifier: Apache-2.0
// Strict YAML reading shared by the profile, allowlist and rule parsers: every error names the
// file, line and column and the dotted field, unknown and duplicate keys are errors.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "common/result.h"
#include "policy/profile.h"

namespace vigil::policy::yaml {

inline constexpr std::array<std::string_view, 8> kSeverityNames = {
    "emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug",
};

// The file being read; every helper formats its errors with it.
struct Ctx {
  std::string_view text;
  const std::string &source;
};

using Status = Result<void>;

struct KeyValue {
  YAML::Node key;
  YAML::Node value;
};
using Fields = std::map<std::string, KeyValue, std::less<>>;

std::string quoted(std::string_view s);
std::string join_field(const std::string &prefix, std::string_view key);
std::string index_field(const std::string &prefix, size_t i);
// "file:line:col: field: what"
tl::unexpected<Error> fail_at(const Ctx &ctx, const YAML::Mark &mark, const std::string &field,
                              const std::string &what);
// yaml-cpp marks an implicit null (a bare "-") at the token after it; this finds the indicator.
YAML::Mark null_item_mark(std::string_view text, const YAML::Mark &mark);
std::string describe(const YAML::Node &node);
// Checks that node is a map whose keys are all in `allowed`, each at most once.
Result<Fields> read_map(const Ctx &ctx, const YAML::Node &node, const YAML::Mark &mark,
                        const std::string &field, std::initializer_list<std::string_view> allowed);
const KeyValue *find(const Fields &fields, std::string_view name);
// A null value is reported at its key: yaml-cpp's mark for it points past the line.
YAML::Mark value_mark(const KeyValue &kv);
YAML::Mark item_mark(const Ctx &ctx, const YAML::Node &item);
Result<std::string> read_string(const Ctx &ctx, const KeyValue &kv, const std::string &field);
Result<Severity> read_severity(const Ctx &ctx, const KeyValue &kv, const std::string &field);
Result<YAML::Node> read_list(const Ctx &ctx, const KeyValue &kv, const std::string &field);
Result<Mode> read_mode(const Ctx &ctx, const KeyValue &kv, const std::string &field);
// One of two words: true for yes, false for no; anything else is an error naming both.
Result<bool> read_choice(const Ctx &ctx, const KeyValue &kv, const std::string &field,
                         std::string_view yes, std::string_view no);
// What is wrong with a path pattern (absolute, ~/ or a basename glob), or nothing.
std::optional<std::string> check_path_pattern(const std::string &pat);
std::optional<uint32_t> parse_number(std::string_view s);
Result<PortRange> parse_port(const Ctx &ctx, const YAML::Node &item, const std::string &field);
Result<Cidr> read_cidr(const Ctx &ctx, const YAML::Node &node, const YAML::Mark &mark,
                       const std::string &field);
// An egress allowlist entry: a CIDR, or {cidr|host, ports}.
Result<EgressAllow> parse_allow_item(const Ctx &ctx, const YAML::Node &item,
                                     const std::string &field);
Result<std::string> read_text_file(const std::string &path, const std::string &what);

// Where the YAML documents of text start (each one's first node), counting at most `max`.
// yaml-cpp's LoadAll must never see untrusted text: at a ',' where a document may start, its
// parser makes no progress and LoadAll appends an empty document per turn until memory runs out
// (yaml-cpp 0.7). This scan stops there instead: `stuck` is set, with the mark of the character
// the parser cannot start a document with. Throws YAML::Exception on a syntax error, as Load does.
struct DocumentScan {
  std::vector<YAML::Mark> starts;
  bool stuck = false;
  YAML::Mark stuck_at;
};
DocumentScan scan_documents(std::string_view text, size_t max);

} // namespace vigil::policy::yaml
