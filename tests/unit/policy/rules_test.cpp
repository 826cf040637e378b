// SPDX-License-Identifier: Apache-2.0
// Rule files: every kind parsed to its IR, every mistake reported with file:line:col and field
// (and only the faulty rule left out), whole-set checks across files, the small text helpers,
// and the shipped rule packs.

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <string>

#include "pipeline/event.h"
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/profile.h"
#include "policy/rules.h"

namespace vigil::policy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

// ---------------------------------------------------------------------------------------------
// Helpers

struct Parsed {
  RuleSet set;
  std::vector<std::string> errors;
};

Parsed parse(std::string_view yaml, const std::string &source = "t.yaml")
{
  Parsed p;
  parse_rules(yaml, source, p.set, p.errors);
  return p;
}

// Parses text that must be valid and returns its rules.
RuleSet parse_ok(std::string_view yaml)
{
  Parsed p = parse(yaml);
  std::string all;
  for (const auto &e : p.errors)
    all += e + "\n";
  EXPECT_THAT(p.errors, IsEmpty()) << all;
  return std::move(p.set);
}

// "t.yaml:12:7: rules[0](x).field: what" split into its parts.
struct ErrorAt {
  std::string source;
  int line = 0;
  int column = 0;
  std::string field;
  std::string what;
};

ErrorAt split_error(const std::string &e)
{
  ErrorAt out;
  const std::regex re(R"(^([^:]+):([0-9]+):([0-9]+): ([^ ]+): (.*)$)");
  std::smatch m;
  if (!std::regex_match(e, m, re)) {
    ADD_FAILURE() << "not a 'file:line:col: field: what' error: " << e;
    return out;
  }
  out.source = m[1];
  out.line = std::stoi(m[2]);
  out.column = std::stoi(m[3]);
  out.field = m[4];
  out.what = m[5];
  return out;
}

// The 1-based line of the first occurrence of needle in text.
int line_of(std::string_view text, std::string_view needle)
{
  const size_t pos = text.find(needle);
  if (pos == std::string_view::npos) {
    ADD_FAILURE() << "test text has no '" << needle << "'";
    return -1;
  }
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(pos), '\n'));
}

// Exactly one error; returns it split.
ErrorAt one_error(std::string_view yaml)
{
  Parsed p = parse(yaml);
  std::string all;
  for (const auto &e : p.errors)
    all += e + "\n";
  EXPECT_EQ(p.errors.size(), 1u) << all << "for:\n" << yaml;
  EXPECT_THAT(p.set.rules, IsEmpty()) << "a rule with a mistake must be left out";
  return p.errors.empty() ? ErrorAt{} : split_error(p.errors.front());
}

std::vector<std::string> ids(const RuleSet &s)
{
  std::vector<std::string> out;
  for (const auto &r : s.rules)
    out.push_back(r.id);
  return out;
}

const Rule *by_id(const RuleSet &s, std::string_view id)
{
  for (const auto &r : s.rules)
    if (r.id == id)
      return &r;
  ADD_FAILURE() << "no rule " << id;
  return nullptr;
}

std::array<uint8_t, 16> ip(std::string_view text)
{
  auto a = parse_ip(text);
  EXPECT_TRUE(a) << text;
  return a.value_or(std::array<uint8_t, 16>{});
}

class TempDir {
public:
  TempDir()
  {
    std::string tmpl = (std::filesystem::temp_directory_path() / "vg-rules-XXXXXX").string();
    char *p = ::mkdtemp(tmpl.data());
    EXPECT_NE(p, nullptr);
    path_ = tmpl;
  }
  ~TempDir()
  {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  const std::string &path() const { return path_; }
  std::string write(const std::string &name, std::string_view text) const
  {
    const std::string file = path_ + "/" + name;
    std::ofstream out(file, std::ios::trunc);
    out << text;
    EXPECT_TRUE(out.good()) << file;
    return file;
  }

private:
  std::string path_;
};

// ---------------------------------------------------------------------------------------------
// Valid files: the IR of every kind

constexpr std::string_view kAllKinds = R"(rules:
  - id: cred-aws
    description: AWS credentials read
    kind: credential_read
    severity: critical
    tags: [T1552.001, cloud]
    profiles: [agent, ci]
    paths: [~/.aws/credentials, "*.key", /etc/shadow]
    exceptions:
      - exe: [aws]
        args: ["*/bin/aws *"]
      - ancestor: {exe: [make], args: ["make deploy*"]}
        paths: [~/.aws/config]
  - id: cred-profile
    description: a file the profile protects
    kind: credential_read
    severity: error
    tags: T1552
    profile_paths: true
    fallback: true
    enabled: false
  - id: eg-meta
    description: metadata endpoint
    kind: egress
    severity: critical
    tags: [T1552.005]
    match: destinations
    destinations:
      - 169.254.169.254/32
      - {cidr: 10.0.0.0/8, ports: [443, 8000-8080]}
      - "fd00:ec2::254/128"
    exceptions:
      - destinations: [{cidr: 0.0.0.0/0, ports: [53]}]
  - id: eg-outside
    description: outside the allowlist
    kind: egress
    severity: error
    tags: [T1041]
    match: outside_allowlist
    fallback: true
  - id: eg-new
    description: new destination
    kind: egress
    severity: notice
    tags: [T1071]
    match: new_destination
    learning: 24h
  - id: eg-volume
    description: big upload
    kind: egress
    severity: warning
    tags: [T1030]
    match: volume
    bytes: 50MiB
    window: 90s
  - id: seq
    description: read then send
    kind: sequence
    severity: critical
    tags: [T1041, T1552]
    first: {kinds: [credential_read, egress], tags: [T1552]}
    then: {rules: [eg-outside, eg-meta]}
    within: 2m
    scope: process
  - id: git-env
    description: git env
    kind: exec_context
    severity: critical
    tags: [T1059.004]
    exe: [git, "git-*"]
    args: ["* fetch*"]
    env: [GIT_SSH_COMMAND, "GIT_CONFIG_*"]
    inherited: true
    env_truncated: true
    exceptions:
      - env: ["GIT_CONFIG_NOSYSTEM=*", "GIT_SSH_COMMAND=ssh -i *"]
  - id: shell-in-npm
    description: shell under npm install
    kind: process
    severity: notice
    tags: [T1195.002]
    exe: [sh, bash]
    parent: {exe: [node]}
    ancestor: {args: ["*npm* install*"]}
    exceptions:
      - args: ["*node-gyp*"]
  - id: ptrace
    description: foreign process
    kind: process_access
    severity: critical
    tags: [T1055.008]
    exceptions:
      - exe: [ps, top]
  - id: ipc
    description: side channel
    kind: ipc
    severity: error
    tags: [T1559]
    exceptions:
      - paths: [/dev/log]
  - id: raw
    description: raw socket
    kind: raw_socket
    severity: error
    tags: [T1040]
    exceptions:
      - exe: ping
)";

TEST(RuleParse, every_kind_parses_in_file_order)
{
  RuleSet s = parse_ok(kAllKinds);
  EXPECT_THAT(ids(s), ElementsAre("cred-aws", "cred-profile", "eg-meta", "eg-outside", "eg-new",
                                  "eg-volume", "seq", "git-env", "shell-in-npm", "ptrace", "ipc",
                                  "raw"));
  std::vector<RuleKind> kinds;
  for (const auto &r : s.rules)
    kinds.push_back(r.kind);
  EXPECT_THAT(kinds, ElementsAre(RuleKind::credential_read, RuleKind::credential_read,
                                 RuleKind::egress, RuleKind::egress, RuleKind::egress,
                                 RuleKind::egress, RuleKind::sequence, RuleKind::exec_context,
                                 RuleKind::process, RuleKind::process_access, RuleKind::ipc,
                                 RuleKind::raw_socket));
  for (const auto &r : s.rules) {
    EXPECT_EQ(r.source, "t.yaml") << r.id;
    EXPECT_EQ(r.line, line_of(kAllKinds, "- id: " + r.id + "\n")) << r.id;
    EXPECT_FALSE(r.description.empty()) << r.id;
  }
}

TEST(RuleParse, credential_read_rule_ir)
{
  RuleSet s = parse_ok(kAllKinds);
  const Rule *r = by_id(s, "cred-aws");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->description, "AWS credentials read");
  EXPECT_EQ(r->severity, Severity::critical);
  EXPECT_THAT(r->tags, ElementsAre("T1552.001", "cloud"));
  EXPECT_THAT(r->profiles, ElementsAre("agent", "ci"));
  EXPECT_TRUE(r->enabled);
  EXPECT_FALSE(r->fallback);
  EXPECT_FALSE(r->profile_paths);
  EXPECT_THAT(r->paths, ElementsAre("~/.aws/credentials", "*.key", "/etc/shadow"));
  ASSERT_EQ(r->exceptions.size(), 2u);
  const RuleException &by_exe = r->exceptions[0];
  EXPECT_THAT(by_exe.proc.exe, ElementsAre("aws"));
  EXPECT_THAT(by_exe.proc.args, ElementsAre("*/bin/aws *"));
  EXPECT_TRUE(by_exe.ancestor.empty());
  EXPECT_TRUE(by_exe.paths.empty());
  EXPECT_EQ(by_exe.line, line_of(kAllKinds, "- exe: [aws]"));
  const RuleException &by_ancestor = r->exceptions[1];
  EXPECT_TRUE(by_ancestor.proc.empty());
  EXPECT_THAT(by_ancestor.ancestor.exe, ElementsAre("make"));
  EXPECT_THAT(by_ancestor.ancestor.args, ElementsAre("make deploy*"));
  EXPECT_THAT(by_ancestor.paths, ElementsAre("~/.aws/config"));
  EXPECT_EQ(by_ancestor.line, line_of(kAllKinds, "- ancestor: {exe: [make]"));

  const Rule *p = by_id(s, "cred-profile");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->severity, Severity::error);
  EXPECT_THAT(p->tags, ElementsAre("T1552")) << "a single tag may be written without brackets";
  EXPECT_TRUE(p->profile_paths);
  EXPECT_TRUE(p->fallback);
  EXPECT_FALSE(p->enabled);
  EXPECT_TRUE(p->paths.empty());
  EXPECT_TRUE(p->profiles.empty());
  EXPECT_TRUE(p->applies_to("anything"));
}

TEST(RuleParse, egress_rules_ir)
{
  RuleSet s = parse_ok(kAllKinds);
  const Rule *meta = by_id(s, "eg-meta");
  ASSERT_NE(meta, nullptr);
  EXPECT_EQ(meta->egress, EgressMatch::destinations);
  ASSERT_EQ(meta->destinations.size(), 3u);
  EXPECT_TRUE(meta->destinations[0].cidr.is_v4);
  EXPECT_EQ(meta->destinations[0].cidr.prefix_len, 128) << "IPv4 /32 lives at /128 in v6 space";
  EXPECT_TRUE(meta->destinations[0].cidr.contains(ip("169.254.169.254")));
  EXPECT_FALSE(meta->destinations[0].cidr.contains(ip("169.254.169.253")));
  EXPECT_TRUE(meta->destinations[0].ports.empty());
  EXPECT_TRUE(meta->destinations[1].cidr.contains(ip("10.20.30.40")));
  ASSERT_EQ(meta->destinations[1].ports.size(), 2u);
  EXPECT_EQ(meta->destinations[1].ports[0].lo, 443);
  EXPECT_EQ(meta->destinations[1].ports[0].hi, 443);
  EXPECT_EQ(meta->destinations[1].ports[1].lo, 8000);
  EXPECT_EQ(meta->destinations[1].ports[1].hi, 8080);
  EXPECT_FALSE(meta->destinations[2].cidr.is_v4);
  EXPECT_TRUE(meta->destinations[2].cidr.contains(ip("fd00:ec2::254")));
  ASSERT_EQ(meta->exceptions.size(), 1u);
  ASSERT_EQ(meta->exceptions[0].destinations.size(), 1u);
  EXPECT_EQ(meta->exceptions[0].destinations[0].cidr.prefix_len, 96);
  ASSERT_EQ(meta->exceptions[0].destinations[0].ports.size(), 1u);
  EXPECT_EQ(meta->exceptions[0].destinations[0].ports[0].lo, 53);

  const Rule *outside = by_id(s, "eg-outside");
  ASSERT_NE(outside, nullptr);
  EXPECT_EQ(outside->egress, EgressMatch::outside_allowlist);
  EXPECT_TRUE(outside->fallback);
  EXPECT_TRUE(outside->destinations.empty());

  const Rule *fresh = by_id(s, "eg-new");
  ASSERT_NE(fresh, nullptr);
  EXPECT_EQ(fresh->egress, EgressMatch::new_destination);
  EXPECT_EQ(fresh->learning_ns, 24ull * 3600 * 1'000'000'000ull);

  const Rule *volume = by_id(s, "eg-volume");
  ASSERT_NE(volume, nullptr);
  EXPECT_EQ(volume->egress, EgressMatch::volume);
  EXPECT_EQ(volume->volume_bytes, 50ull << 20);
  EXPECT_EQ(volume->window_ns, 90ull * 1'000'000'000ull);
  EXPECT_EQ(volume->severity, Severity::warning);
}

TEST(RuleParse, sequence_rule_ir)
{
  RuleSet s = parse_ok(kAllKinds);
  const Rule *r = by_id(s, "seq");
  ASSERT_NE(r, nullptr);
  EXPECT_THAT(r->first.kinds, ElementsAre(RuleKind::credential_read, RuleKind::egress));
  EXPECT_THAT(r->first.tags, ElementsAre("T1552"));
  EXPECT_TRUE(r->first.rules.empty());
  EXPECT_THAT(r->then.rules, ElementsAre("eg-outside", "eg-meta"));
  EXPECT_TRUE(r->then.kinds.empty());
  EXPECT_EQ(r->within_ns, 120ull * 1'000'000'000ull);
  EXPECT_EQ(r->scope, SequenceScope::process);

  RuleSet d = parse_ok(R"(rules:
  - id: s
    description: d
    kind: sequence
    severity: warning
    first: {rules: [a]}
    then: {tags: [x]}
    within: 500ms
)");
  ASSERT_EQ(d.rules.size(), 1u);
  EXPECT_EQ(d.rules[0].scope, SequenceScope::process_tree) << "the default scope";
  EXPECT_EQ(d.rules[0].within_ns, 500'000'000ull);
  for (std::string_view scope : {"process", "process_tree", "profile"}) {
    RuleSet one = parse_ok(std::string(R"(rules:
  - id: s
    description: d
    kind: sequence
    severity: warning
    first: {rules: [a]}
    then: {rules: [b]}
    within: 1s
    scope: )") + std::string(scope) + "\n");
    ASSERT_EQ(one.rules.size(), 1u) << scope;
    const SequenceScope want = scope == "process"        ? SequenceScope::process
                               : scope == "process_tree" ? SequenceScope::process_tree
                                                         : SequenceScope::profile;
    EXPECT_EQ(one.rules[0].scope, want) << scope;
  }
}

TEST(RuleParse, exec_context_rule_ir)
{
  RuleSet s = parse_ok(kAllKinds);
  const Rule *r = by_id(s, "git-env");
  ASSERT_NE(r, nullptr);
  EXPECT_THAT(r->proc.exe, ElementsAre("git", "git-*"));
  EXPECT_THAT(r->proc.args, ElementsAre("* fetch*"));
  EXPECT_THAT(r->env, ElementsAre("GIT_SSH_COMMAND", "GIT_CONFIG_*"));
  EXPECT_TRUE(r->inherited);
  EXPECT_TRUE(r->env_truncated);
  ASSERT_EQ(r->exceptions.size(), 1u);
  EXPECT_THAT(r->exceptions[0].env, ElementsAre("GIT_CONFIG_NOSYSTEM=*", "GIT_SSH_COMMAND=ssh -i *"));

  // env_truncated alone needs no env list; defaults are off.
  RuleSet t = parse_ok(R"(rules:
  - id: big-env
    description: d
    kind: exec_context
    severity: warning
    env_truncated: true
  - id: plain
    description: d
    kind: exec_context
    severity: warning
    env: LD_PRELOAD
)");
  ASSERT_EQ(t.rules.size(), 2u);
  EXPECT_TRUE(t.rules[0].env_truncated);
  EXPECT_TRUE(t.rules[0].env.empty());
  EXPECT_FALSE(t.rules[1].inherited);
  EXPECT_FALSE(t.rules[1].env_truncated);
  EXPECT_THAT(t.rules[1].env, ElementsAre("LD_PRELOAD"));
  EXPECT_TRUE(t.rules[1].proc.empty());
}

TEST(RuleParse, process_rule_ir)
{
  RuleSet s = parse_ok(kAllKinds);
  const Rule *r = by_id(s, "shell-in-npm");
  ASSERT_NE(r, nullptr);
  EXPECT_THAT(r->proc.exe, ElementsAre("sh", "bash"));
  EXPECT_TRUE(r->proc.args.empty());
  EXPECT_THAT(r->parent.exe, ElementsAre("node"));
  EXPECT_TRUE(r->parent.args.empty());
  EXPECT_TRUE(r->ancestor.exe.empty());
  EXPECT_THAT(r->ancestor.args, ElementsAre("*npm* install*"));
  ASSERT_EQ(r->exceptions.size(), 1u);
  EXPECT_THAT(r->exceptions[0].proc.args, ElementsAre("*node-gyp*"));
}

TEST(RuleParse, kernel_decision_kinds_ir)
{
  RuleSet s = parse_ok(kAllKinds);
  const Rule *ptrace = by_id(s, "ptrace");
  const Rule *ipc = by_id(s, "ipc");
  const Rule *raw = by_id(s, "raw");
  ASSERT_TRUE(ptrace && ipc && raw);
  ASSERT_EQ(ptrace->exceptions.size(), 1u);
  EXPECT_THAT(ptrace->exceptions[0].proc.exe, ElementsAre("ps", "top"));
  ASSERT_EQ(ipc->exceptions.size(), 1u);
  EXPECT_THAT(ipc->exceptions[0].paths, ElementsAre("/dev/log"));
  ASSERT_EQ(raw->exceptions.size(), 1u);
  EXPECT_THAT(raw->exceptions[0].proc.exe, ElementsAre("ping"));
  EXPECT_EQ(raw->severity, Severity::error);
}

TEST(RuleParse, rules_append_to_an_existing_set)
{
  RuleSet s;
  std::vector<std::string> errors;
  parse_rules("rules:\n  - {id: a, description: d, kind: ipc, severity: error}\n", "a.yaml", s,
              errors);
  parse_rules("rules:\n  - {id: b, description: d, kind: ipc, severity: error}\n", "b.yaml", s,
              errors);
  EXPECT_THAT(errors, IsEmpty());
  EXPECT_THAT(ids(s), ElementsAre("a", "b"));
  EXPECT_EQ(s.rules[0].source, "a.yaml");
  EXPECT_EQ(s.rules[1].source, "b.yaml");
}

// ---------------------------------------------------------------------------------------------
// Mistakes: all of them, each with its place, and only the faulty rules left out

constexpr std::string_view kThreeMistakes = R"(rules:
  - id: bad-severity
    description: d
    kind: credential_read
    severity: catastrophic
    paths: [~/.x]
  - id: bad-kind
    description: d
    kind: credential_reed
    severity: warning
    paths: [~/.x]
  - id: good-one
    description: d
    kind: raw_socket
    severity: notice
  - id: bad-cidr
    description: d
    kind: egress
    severity: warning
    match: destinations
    destinations:
      - 10.0.0.0/8
      - 10.0.0.0/33
  - id: good-two
    description: d
    kind: ipc
    severity: error
)";

TEST(RuleParse, three_mistakes_in_three_rules_give_three_located_errors)
{
  Parsed p = parse(kThreeMistakes);
  ASSERT_EQ(p.errors.size(), 3u) << ::testing::PrintToString(p.errors);
  ErrorAt sev = split_error(p.errors[0]);
  ErrorAt kind = split_error(p.errors[1]);
  ErrorAt cidr = split_error(p.errors[2]);

  EXPECT_EQ(sev.source, "t.yaml");
  EXPECT_EQ(sev.line, line_of(kThreeMistakes, "catastrophic"));
  EXPECT_EQ(sev.column, 15);
  EXPECT_EQ(sev.field, "rules[0](bad-severity).severity");
  EXPECT_THAT(sev.what, HasSubstr("'catastrophic' is not a severity"));

  EXPECT_EQ(kind.line, line_of(kThreeMistakes, "credential_reed"));
  EXPECT_EQ(kind.field, "rules[1](bad-kind).kind");
  EXPECT_THAT(kind.what, HasSubstr("'credential_reed' is not a rule kind"));
  EXPECT_THAT(kind.what, HasSubstr("credential_read, egress, sequence"));

  EXPECT_EQ(cidr.line, line_of(kThreeMistakes, "10.0.0.0/33"));
  EXPECT_EQ(cidr.field, "rules[3](bad-cidr).destinations[1]");
  EXPECT_THAT(cidr.what, HasSubstr("33"));

  EXPECT_THAT(ids(p.set), ElementsAre("good-one", "good-two"));
}

TEST(RuleParse, several_mistakes_in_one_rule_are_all_reported)
{
  constexpr std::string_view yaml = R"(rules:
  - id: r
    description: d
    kind: egress
    severity: loud
    enabled: maybe
    match: volume
)";
  Parsed p = parse(yaml);
  std::vector<std::string> fields;
  for (const auto &e : p.errors)
    fields.push_back(split_error(e).field);
  EXPECT_THAT(fields, UnorderedElementsAre("rules[0](r).severity", "rules[0](r).enabled",
                                           "rules[0](r).bytes", "rules[0](r).window"));
  EXPECT_THAT(p.set.rules, IsEmpty());
}

TEST(RuleParse, unknown_key_is_an_error_at_the_key)
{
  constexpr std::string_view yaml = R"(rules:
  - id: r
    description: d
    kind: credential_read
    severity: warning
    pathz: [~/.x]
)";
  ErrorAt e = one_error(yaml);
  EXPECT_EQ(e.line, line_of(yaml, "pathz"));
  EXPECT_EQ(e.column, 5);
  EXPECT_EQ(e.field, "rules[0].pathz");
  EXPECT_THAT(e.what, HasSubstr("unknown key"));

  constexpr std::string_view in_exception = R"(rules:
  - id: r
    description: d
    kind: credential_read
    severity: warning
    paths: [~/.x]
    exceptions:
      - exe: [a]
        exes: [b]
)";
  ErrorAt x = one_error(in_exception);
  EXPECT_EQ(x.line, line_of(in_exception, "exes"));
  EXPECT_EQ(x.field, "rules[0](r).exceptions[0].exes");
  EXPECT_THAT(x.what, HasSubstr("unknown key"));

  constexpr std::string_view duplicate = R"(rules:
  - id: r
    description: d
    kind: ipc
    severity: warning
    severity: error
)";
  ErrorAt d = one_error(duplicate);
  EXPECT_EQ(d.line, line_of(duplicate, "severity: error"));
  EXPECT_THAT(d.what, HasSubstr("duplicate key"));
}

TEST(RuleParse, key_of_another_kind_is_an_error)
{
  struct Case {
    std::string kind_and_keys;
    std::string wrong_key;
    std::string kind;
  };
  const std::vector<Case> cases = {
      {"kind: egress\n    match: outside_allowlist\n    paths: [~/.ssh/id_rsa]\n", "paths",
       "egress"},
      {"kind: credential_read\n    paths: [~/.x]\n    match: destinations\n", "match",
       "credential_read"},
      {"kind: process\n    exe: [sh]\n    env: [LD_PRELOAD]\n", "env", "process"},
      {"kind: process\n    exe: [sh]\n    inherited: true\n", "inherited", "process"},
      {"kind: raw_socket\n    exe: [ping]\n", "exe", "raw_socket"},
      {"kind: credential_read\n    paths: [~/.x]\n    within: 10s\n", "within", "credential_read"},
      {"kind: sequence\n    first: {rules: [a]}\n    then: {rules: [b]}\n    within: 1s\n"
       "    fallback: true\n",
       "fallback", "sequence"},
  };
  for (const auto &c : cases) {
    const std::string yaml =
        "rules:\n  - id: r\n    description: d\n    severity: warning\n    " + c.kind_and_keys;
    ErrorAt e = one_error(yaml);
    EXPECT_EQ(e.field, "rules[0](r)." + c.wrong_key) << yaml;
    EXPECT_EQ(e.line, line_of(yaml, c.wrong_key + ":")) << yaml;
    EXPECT_THAT(e.what, HasSubstr("not a field of kind " + c.kind)) << yaml;
  }
}

TEST(RuleParse, missing_common_fields)
{
  constexpr std::string_view yaml = R"(rules:
  - tags: [x]
)";
  Parsed p = parse(yaml);
  std::vector<std::string> fields;
  for (const auto &e : p.errors) {
    ErrorAt a = split_error(e);
    fields.push_back(a.field);
    EXPECT_EQ(a.line, 2) << e;
    EXPECT_THAT(a.what, StartsWith("missing")) << e;
  }
  EXPECT_THAT(fields, UnorderedElementsAre("rules[0].id", "rules[0].description", "rules[0].kind",
                                           "rules[0].severity"));
  EXPECT_THAT(p.set.rules, IsEmpty());
}

TEST(RuleParse, missing_required_fields_per_kind)
{
  struct Case {
    std::string body;
    std::vector<std::string> fields; // after "rules[0](r)"
  };
  const std::vector<Case> cases = {
      {"kind: credential_read\n", {".paths"}},
      {"kind: credential_read\n    profile_paths: false\n", {".paths"}},
      {"kind: egress\n", {".match"}},
      {"kind: egress\n    match: destinations\n", {".destinations"}},
      {"kind: egress\n    match: new_destination\n", {".learning"}},
      {"kind: egress\n    match: volume\n", {".bytes", ".window"}},
      {"kind: egress\n    match: volume\n    bytes: 1MiB\n", {".window"}},
      {"kind: sequence\n", {".first", ".then", ".within"}},
      {"kind: sequence\n    first: {rules: [a]}\n    then: {rules: [b]}\n", {".within"}},
      {"kind: exec_context\n", {".env"}},
      {"kind: exec_context\n    exe: [git]\n    env_truncated: false\n", {".env"}},
      {"kind: process\n", {""}},
  };
  for (const auto &c : cases) {
    const std::string yaml =
        "rules:\n  - id: r\n    description: d\n    severity: warning\n    " + c.body;
    Parsed p = parse(yaml);
    std::vector<std::string> fields;
    for (const auto &e : p.errors) {
      ErrorAt a = split_error(e);
      fields.push_back(a.field);
      EXPECT_EQ(a.line, 2) << "a missing field is reported at its rule: " << e;
    }
    std::vector<std::string> want;
    for (const auto &f : c.fields)
      want.push_back("rules[0](r)" + f);
    EXPECT_EQ(fields, want) << yaml << ::testing::PrintToString(p.errors);
    EXPECT_THAT(p.set.rules, IsEmpty()) << yaml;
  }
  // The process rule's error says what would do.
  Parsed proc = parse("rules:\n  - id: r\n    description: d\n    severity: warning\n"
                      "    kind: process\n");
  ASSERT_EQ(proc.errors.size(), 1u);
  EXPECT_THAT(proc.errors[0], HasSubstr("needs exe, args, parent or ancestor"));
}

TEST(RuleParse, empty_matchers_and_steps_are_errors)
{
  constexpr std::string_view parent = R"(rules:
  - id: r
    description: d
    kind: process
    severity: warning
    exe: [sh]
    parent: {}
)";
  ErrorAt p = one_error(parent);
  EXPECT_EQ(p.field, "rules[0](r).parent");
  EXPECT_EQ(p.line, line_of(parent, "{}"));
  EXPECT_THAT(p.what, HasSubstr("needs exe or args"));

  constexpr std::string_view step = R"(rules:
  - id: r
    description: d
    kind: sequence
    severity: warning
    first: {}
    then: {rules: [b]}
    within: 1s
)";
  ErrorAt s = one_error(step);
  EXPECT_EQ(s.field, "rules[0](r).first");
  EXPECT_THAT(s.what, HasSubstr("needs rules, kinds or tags"));

  constexpr std::string_view kinds = R"(rules:
  - id: r
    description: d
    kind: sequence
    severity: warning
    first: {kinds: [credential_read, sequence]}
    then: {rules: [b]}
    within: 1s
)";
  ErrorAt k = one_error(kinds);
  EXPECT_EQ(k.field, "rules[0](r).first.kinds[1]");
  EXPECT_THAT(k.what, HasSubstr("'sequence' is not a rule kind a sequence can follow"));

  constexpr std::string_view tags = R"(rules:
  - id: r
    description: d
    kind: ipc
    severity: warning
    tags: []
)";
  ErrorAt t = one_error(tags);
  EXPECT_EQ(t.field, "rules[0](r).tags");
  EXPECT_THAT(t.what, HasSubstr("empty list"));
}

TEST(RuleParse, empty_exception_is_an_error)
{
  constexpr std::string_view empty_map = R"(rules:
  - id: r
    description: d
    kind: credential_read
    severity: warning
    paths: [~/.x]
    exceptions:
      - {}
)";
  ErrorAt e = one_error(empty_map);
  EXPECT_EQ(e.field, "rules[0](r).exceptions[0]");
  EXPECT_EQ(e.line, line_of(empty_map, "{}"));
  EXPECT_THAT(e.what, HasSubstr("suppress every alert"));

  constexpr std::string_view bare_dash = R"(rules:
  - id: r
    description: d
    kind: credential_read
    severity: warning
    paths: [~/.x]
    exceptions:
      -
  - id: fine
    description: d
    kind: ipc
    severity: warning
)";
  Parsed p = parse(bare_dash);
  ASSERT_EQ(p.errors.size(), 1u) << ::testing::PrintToString(p.errors);
  ErrorAt b = split_error(p.errors[0]);
  EXPECT_EQ(b.field, "rules[0](r).exceptions[0]");
  EXPECT_EQ(b.line, line_of(bare_dash, "      -\n")) << "at the dash, not the next rule";
  EXPECT_THAT(ids(p.set), ElementsAre("fine"));

  constexpr std::string_view env = R"(rules:
  - id: r
    description: d
    kind: exec_context
    severity: warning
    env: [LD_PRELOAD]
    exceptions:
      - env: [LD_PRELOAD]
)";
  ErrorAt n = one_error(env);
  EXPECT_EQ(n.field, "rules[0](r).exceptions[0].env[0]");
  EXPECT_THAT(n.what, HasSubstr("must be NAME=VALUE"));
}

TEST(RuleParse, bad_durations_and_sizes)
{
  struct Case {
    std::string body;
    std::string field;
    std::string what;
  };
  const std::vector<Case> cases = {
      {"kind: egress\n    match: new_destination\n    learning: 0s\n", "learning",
       "not a positive duration"},
      {"kind: egress\n    match: new_destination\n    learning: 10\n", "learning",
       "not a positive duration"},
      {"kind: egress\n    match: new_destination\n    learning: 1.5h\n", "learning",
       "not a positive duration"},
      {"kind: egress\n    match: new_destination\n    learning: [1h]\n", "learning",
       "expected a string"},
      {"kind: egress\n    match: volume\n    bytes: 1MiB\n    window: -5s\n", "window",
       "not a positive duration"},
      {"kind: egress\n    match: volume\n    bytes: 0\n    window: 5s\n", "bytes",
       "not a positive size"},
      {"kind: egress\n    match: volume\n    bytes: 1TB\n    window: 5s\n", "bytes",
       "not a positive size"},
      {"kind: egress\n    match: volume\n    bytes: 10 MB\n    window: 5s\n", "bytes",
       "not a positive size"},
      {"kind: sequence\n    first: {rules: [a]}\n    then: {rules: [b]}\n    within: soon\n",
       "within", "not a positive duration"},
  };
  for (const auto &c : cases) {
    const std::string yaml =
        "rules:\n  - id: r\n    description: d\n    severity: warning\n    " + c.body;
    ErrorAt e = one_error(yaml);
    EXPECT_EQ(e.field, "rules[0](r)." + c.field) << yaml;
    EXPECT_EQ(e.line, line_of(yaml, c.field + ":")) << yaml;
    EXPECT_THAT(e.what, HasSubstr(c.what)) << yaml;
  }
}

TEST(RuleParse, env_names_must_be_short_variable_names)
{
  const std::string ok27(27, 'A');
  const std::string long28(28, 'A');
  RuleSet good = parse_ok("rules:\n  - id: r\n    description: d\n    kind: exec_context\n"
                          "    severity: warning\n    env: [" +
                          ok27 + ", \"" + ok27 + "*\", GIT_CONFIG_*, _x9]\n");
  ASSERT_EQ(good.rules.size(), 1u);
  EXPECT_THAT(good.rules[0].env, ElementsAre(ok27, ok27 + "*", "GIT_CONFIG_*", "_x9"));

  for (const std::string &bad : {long28, long28 + "*", std::string("LD-PRELOAD"),
                                std::string("\"*\""), std::string("\"A*B\""),
                                std::string("\"X=1\""), std::string("\"A B\"")}) {
    const std::string yaml = "rules:\n  - id: r\n    description: d\n    kind: exec_context\n"
                             "    severity: warning\n    env: [LD_PRELOAD, " +
                             bad + "]\n";
    ErrorAt e = one_error(yaml);
    EXPECT_EQ(e.field, "rules[0](r).env[1]") << bad;
    EXPECT_EQ(e.line, 6) << bad;
    EXPECT_EQ(e.column, static_cast<int>(std::string("    env: [LD_PRELOAD, ").size()) + 1) << bad;
    EXPECT_THAT(e.what, HasSubstr("is not a variable name")) << bad;
  }
}

TEST(RuleParse, other_field_values_are_checked)
{
  struct Case {
    std::string body;
    std::string field;
    std::string what;
  };
  const std::vector<Case> cases = {
      {"kind: ipc\n    enabled: yes\n", "enabled", "is not true or false"},
      {"kind: egress\n    match: anywhere\n", "match", "is not an egress match"},
      {"kind: sequence\n    first: {rules: [a]}\n    then: {rules: [b]}\n    within: 1s\n"
       "    scope: host\n",
       "scope", "is not a scope"},
      // (profile_paths: true: see invalid_paths_are_not_also_missing)
      {"kind: credential_read\n    profile_paths: true\n    paths: [.ssh/id_rsa]\n", "paths[0]",
       "must be absolute"},
      {"kind: credential_read\n    profile_paths: true\n    paths: [/etc/../etc/shadow]\n",
       "paths[0]", "not a normalised path"},
      {"kind: credential_read\n    profile_paths: true\n    paths: [\"~root/.ssh/id_rsa\"]\n",
       "paths[0]", "only '~/' is expanded"},
      {"kind: credential_read\n    profile_paths: 1\n    paths: [~/.x]\n", "profile_paths",
       "is not true or false"},
      {"kind: egress\n    match: destinations\n    destinations: [{host: example.com}]\n",
       "destinations[0]", "rule destinations are CIDRs"},
      {"kind: egress\n    match: destinations\n    destinations: [{cidr: 10.0.0.0/8, ports: "
       "[443-80]}]\n",
       "destinations[0].ports[0]", "reversed"},
      {"kind: egress\n    match: destinations\n    destinations: []\n", "destinations",
       "empty list"},
      {"kind: process\n    exe: [\"\"]\n    args: [x]\n", "exe[0]", "expected a string"},
  };
  for (const auto &c : cases) {
    const std::string yaml =
        "rules:\n  - id: r\n    description: d\n    severity: warning\n    " + c.body;
    ErrorAt e = one_error(yaml);
    EXPECT_EQ(e.field, "rules[0](r)." + c.field) << yaml;
    EXPECT_THAT(e.what, HasSubstr(c.what)) << yaml;
  }
}

TEST(RuleParse, invalid_paths_are_not_also_missing)
{
  // One mistake, one error: the key is there, its value is wrong.
  ErrorAt p = one_error("rules:\n  - id: r\n    description: d\n    severity: warning\n"
                        "    kind: credential_read\n    paths: [.ssh/id_rsa]\n");
  EXPECT_EQ(p.field, "rules[0](r).paths[0]");
  ErrorAt e = one_error("rules:\n  - id: r\n    description: d\n    severity: warning\n"
                        "    kind: process\n    exe: [\"\"]\n");
  EXPECT_EQ(e.field, "rules[0](r).exe[0]");
}

TEST(RuleParse, rule_ids_are_checked)
{
  for (const std::string &bad : {std::string("Cred"), std::string("a b"), std::string("x/y"),
                                std::string(65, 'a')}) {
    const std::string yaml = "rules:\n  - id: \"" + bad +
                             "\"\n    description: d\n    kind: ipc\n    severity: warning\n";
    ErrorAt e = one_error(yaml);
    EXPECT_EQ(e.field, "rules[0].id") << bad;
    EXPECT_EQ(e.line, 2) << bad;
    EXPECT_THAT(e.what, HasSubstr("is not a rule id")) << bad;
  }
  RuleSet ok = parse_ok("rules:\n  - id: \"" + std::string(64, 'a') +
                        "\"\n    description: d\n    kind: ipc\n    severity: warning\n"
                        "  - id: a-b_c.9\n    description: d\n    kind: ipc\n    severity: warning\n");
  EXPECT_EQ(ok.rules.size(), 2u);
}

TEST(RuleParse, file_shape_errors)
{
  {
    Parsed p = parse("profile: x\n");
    ASSERT_EQ(p.errors.size(), 1u);
    ErrorAt e = split_error(p.errors[0]);
    EXPECT_EQ(e.field, "profile");
    EXPECT_THAT(e.what, HasSubstr("unknown key"));
  }
  {
    Parsed p = parse("rules: {}\n");
    ASSERT_EQ(p.errors.size(), 1u);
    EXPECT_THAT(p.errors[0], HasSubstr("rules: expected a list"));
  }
  {
    Parsed p = parse("{}\n");
    ASSERT_EQ(p.errors.size(), 1u);
    EXPECT_THAT(p.errors[0], HasSubstr("rules: missing"));
  }
  {
    Parsed p = parse("rules:\n  - just a string\n");
    ASSERT_EQ(p.errors.size(), 1u);
    ErrorAt e = split_error(p.errors[0]);
    EXPECT_EQ(e.field, "rules[0]");
    EXPECT_EQ(e.line, 2);
    EXPECT_THAT(e.what, HasSubstr("expected a map"));
  }
  {
    Parsed p = parse("rules: []\n");
    EXPECT_THAT(p.errors, IsEmpty()) << "an empty rule file is valid";
    EXPECT_THAT(p.set.rules, IsEmpty());
  }
}

TEST(RuleParse, yaml_syntax_error_reports_its_position)
{
  constexpr std::string_view unclosed = R"(rules:
  - id: r
    description: d
    kind: credential_read
    severity: warning
    paths: [~/.x, ~/.y
  - id: s
)";
  Parsed p = parse(unclosed, "broken.yaml");
  ASSERT_EQ(p.errors.size(), 1u) << ::testing::PrintToString(p.errors);
  ErrorAt e = split_error(p.errors[0]);
  EXPECT_EQ(e.source, "broken.yaml");
  EXPECT_EQ(e.field, "syntax");
  EXPECT_GE(e.line, line_of(unclosed, "paths: [")) << p.errors[0];
  EXPECT_LE(e.line, line_of(unclosed, "- id: s")) << p.errors[0];
  EXPECT_THAT(p.set.rules, IsEmpty());

  constexpr std::string_view bad_indent = R"(rules:
  - id: r
    description: d
   kind: ipc
)";
  Parsed q = parse(bad_indent);
  ASSERT_EQ(q.errors.size(), 1u) << ::testing::PrintToString(q.errors);
  ErrorAt b = split_error(q.errors[0]);
  EXPECT_EQ(b.field, "syntax");
  EXPECT_EQ(b.line, line_of(bad_indent, "kind: ipc")) << q.errors[0];
}

// ---------------------------------------------------------------------------------------------
// Whole sets: load_rules over files and directories

TEST(RuleLoad, duplicate_ids_across_files_name_both_places)
{
  TempDir d;
  const std::string a = d.write("a.yaml", "rules:\n  - id: same\n    description: d\n"
                                          "    kind: ipc\n    severity: warning\n");
  const std::string b = d.write("b.yaml", "rules:\n  - id: other\n    description: d\n"
                                          "    kind: ipc\n    severity: warning\n"
                                          "  - id: same\n    description: d\n"
                                          "    kind: raw_socket\n    severity: warning\n");
  std::vector<std::string> errors;
  RuleSet s = load_rules({a, b}, errors);
  ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
  EXPECT_THAT(errors[0], StartsWith(b + ":6:1: rules(same).id: duplicate rule id"));
  EXPECT_THAT(errors[0], HasSubstr("first in " + a + ":2"));
  EXPECT_THAT(s.files, ElementsAre(a, b));

  auto r = load_rules({a, b});
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("duplicate rule id"));
}

TEST(RuleLoad, sequences_must_name_known_non_sequence_rules)
{
  TempDir d;
  const std::string f = d.write("s.yaml", R"(rules:
  - id: base
    description: d
    kind: raw_socket
    severity: warning
  - id: seq-one
    description: d
    kind: sequence
    severity: warning
    first: {rules: [base]}
    then: {rules: [nowhere]}
    within: 1s
  - id: seq-two
    description: d
    kind: sequence
    severity: warning
    first: {rules: [seq-one]}
    then: {kinds: [raw_socket]}
    within: 1s
)");
  std::vector<std::string> errors;
  RuleSet s = load_rules({f}, errors);
  ASSERT_EQ(errors.size(), 2u) << ::testing::PrintToString(errors);
  EXPECT_EQ(errors[0], f + ":6:1: rules(seq-one): sequence names rule 'nowhere', which no file "
                           "defines");
  EXPECT_EQ(errors[1], f + ":13:1: rules(seq-two): a sequence cannot follow another sequence "
                           "('seq-one')");
  // load_rules(paths, errors) keeps going: what parsed is there.
  EXPECT_THAT(ids(s), ElementsAre("base", "seq-one", "seq-two"));

  // A sequence naming a rule of another file is fine.
  const std::string g = d.write("t.yaml", R"(rules:
  - id: seq-three
    description: d
    kind: sequence
    severity: warning
    first: {rules: [base]}
    then: {tags: [T1]}
    within: 1s
)");
  const std::string base_only = d.write("u.yaml", "rules:\n  - id: base\n    description: d\n"
                                                  "    kind: raw_socket\n    severity: warning\n");
  auto ok = load_rules({base_only, g});
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_THAT(ids(*ok), ElementsAre("base", "seq-three"));
}

TEST(RuleLoad, directory_loads_its_yaml_files_sorted)
{
  TempDir d;
  d.write("20-b.yaml", "rules:\n  - {id: b, description: d, kind: ipc, severity: warning}\n");
  d.write("10-a.yaml", "rules:\n  - {id: a, description: d, kind: ipc, severity: warning}\n");
  d.write("30-c.yaml", "rules:\n  - {id: c, description: d, kind: ipc, severity: warning}\n");
  d.write("00-notes.txt", "not yaml at all: [\n");
  d.write("README.md", "# rules\n");
  std::filesystem::create_directory(d.path() + "/sub.yaml"); // a directory, not a file
  auto r = load_rules({d.path()});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_THAT(ids(*r), ElementsAre("a", "b", "c"));
  EXPECT_THAT(r->files, ElementsAre(d.path() + "/10-a.yaml", d.path() + "/20-b.yaml",
                                    d.path() + "/30-c.yaml"));
}

TEST(RuleLoad, every_file_error_is_reported_and_the_rest_loads)
{
  TempDir d;
  const std::string good = d.write("good.yaml", "rules:\n  - {id: a, description: d, kind: ipc, "
                                                "severity: warning}\n");
  const std::string bad = d.write("bad.yaml", "rules:\n  - {id: b, description: d, kind: ipc, "
                                              "severity: high}\n");
  const std::string missing = d.path() + "/missing.yaml";
  std::vector<std::string> errors;
  RuleSet s = load_rules({missing, bad, good}, errors);
  ASSERT_EQ(errors.size(), 2u) << ::testing::PrintToString(errors);
  EXPECT_THAT(errors[0], HasSubstr("missing.yaml"));
  EXPECT_THAT(errors[1], StartsWith(bad + ":2:"));
  EXPECT_THAT(ids(s), ElementsAre("a"));
  EXPECT_THAT(s.files, ElementsAre(bad, good));

  auto r = load_rules({missing, bad, good});
  ASSERT_FALSE(r);
  const std::string msg = r.error().message();
  EXPECT_EQ(std::count(msg.begin(), msg.end(), '\n'), 1) << "one error per line: " << msg;
  EXPECT_THAT(msg, HasSubstr("'high' is not a severity"));
}

TEST(RuleLoad, too_many_watched_variables)
{
  std::string yaml = "rules:\n  - id: many\n    description: d\n    kind: exec_context\n"
                     "    severity: warning\n    env:\n";
  for (int i = 0; i < 257; ++i)
    yaml += "      - VAR_" + std::to_string(i) + "\n";
  TempDir d;
  const std::string f = d.write("many.yaml", yaml);
  std::vector<std::string> errors;
  load_rules({f}, errors);
  ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
  EXPECT_THAT(errors[0], HasSubstr("more than 256"));

  // Exactly 256 (names and prefixes together) fits.
  std::string fits = "rules:\n  - id: fits\n    description: d\n    kind: exec_context\n"
                     "    severity: warning\n    env:\n";
  for (int i = 0; i < 255; ++i)
    fits += "      - VAR_" + std::to_string(i) + "\n";
  fits += "      - \"PREFIX_*\"\n";
  auto r = load_rules({d.write("fits.yaml", fits)});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->env_names().size(), 255u);
  EXPECT_EQ(r->env_prefixes().size(), 1u);
}

TEST(RuleSetEnv, names_and_prefixes_only_from_enabled_exec_context_rules)
{
  RuleSet s = parse_ok(R"(rules:
  - id: a
    description: d
    kind: exec_context
    severity: warning
    env: [LD_PRELOAD, "GIT_CONFIG_*", NODE_OPTIONS]
  - id: b
    description: d
    kind: exec_context
    severity: warning
    env: [LD_PRELOAD, "BASH_FUNC_*", "GIT_CONFIG_*"]
  - id: off
    description: d
    kind: exec_context
    severity: warning
    enabled: false
    env: [DISABLED_VAR, "DISABLED_PREFIX_*"]
  - id: proc
    description: d
    kind: process
    severity: warning
    exe: [LD_AUDIT]
)");
  EXPECT_THAT(s.env_names(), ElementsAre("LD_PRELOAD", "NODE_OPTIONS"));
  EXPECT_THAT(s.env_prefixes(), ElementsAre("BASH_FUNC_", "GIT_CONFIG_"));
}

// ---------------------------------------------------------------------------------------------
// Text helpers

TEST(RuleText, parse_duration)
{
  EXPECT_EQ(parse_duration("250ms"), 250'000'000ull);
  EXPECT_EQ(parse_duration("30s"), 30'000'000'000ull);
  EXPECT_EQ(parse_duration("10m"), 600'000'000'000ull);
  EXPECT_EQ(parse_duration("1h"), 3'600'000'000'000ull);
  EXPECT_EQ(parse_duration("2d"), 172'800'000'000'000ull);
  EXPECT_EQ(parse_duration("0s"), 0ull) << "zero parses; the rule reader refuses it";
  EXPECT_EQ(parse_duration("5124095h"), 5124095ull * 3'600'000'000'000ull);
  for (std::string_view bad : {"", "s", "10", "1.5s", "-1s", "+1s", " 1s", "1s ", "1 s", "10S",
                               "1sec", "1us", "1ns", "5124096h", "99999999999999999999s", "1m1s"})
    EXPECT_EQ(parse_duration(bad), std::nullopt) << "'" << bad << "'";
}

TEST(RuleText, parse_bytes)
{
  EXPECT_EQ(parse_bytes("4096"), 4096ull);
  EXPECT_EQ(parse_bytes("7B"), 7ull);
  EXPECT_EQ(parse_bytes("2KB"), 2000ull);
  EXPECT_EQ(parse_bytes("1MB"), 1'000'000ull);
  EXPECT_EQ(parse_bytes("3GB"), 3'000'000'000ull);
  EXPECT_EQ(parse_bytes("2KiB"), 2048ull);
  EXPECT_EQ(parse_bytes("10MiB"), 10ull << 20);
  EXPECT_EQ(parse_bytes("1GiB"), 1ull << 30);
  EXPECT_EQ(parse_bytes("0"), 0ull);
  EXPECT_EQ(parse_bytes("17179869183GiB"), 17179869183ull << 30) << "the largest that fits";
  for (std::string_view bad : {"", "MB", "1kb", "1K", "1TB", "1 MB", "-1", "1.5MB", "0x10",
                               "17179869184GiB", "18446744073709551616", "1MiBs"})
    EXPECT_EQ(parse_bytes(bad), std::nullopt) << "'" << bad << "'";
}

TEST(RuleText, text_glob_crosses_slashes)
{
  EXPECT_TRUE(text_glob("*", ""));
  EXPECT_TRUE(text_glob("*/bin/aws *", "/usr/local/bin/aws s3 cp x y"));
  EXPECT_FALSE(text_glob("*/bin/aws *", "/usr/local/bin/aws"));
  EXPECT_TRUE(text_glob("*npm* install*", "node /usr/lib/node_modules/npm/bin/npm-cli.js install"));
  EXPECT_TRUE(text_glob("LD_PRELOAD=*libfakeroot*", "LD_PRELOAD=/usr/lib/x86_64/libfakeroot-sysv.so"));
  EXPECT_FALSE(text_glob("LD_PRELOAD=*libfakeroot*", "LD_PRELOAD=/tmp/evil.so"));
  EXPECT_TRUE(text_glob("a?c", "a/c"));
  EXPECT_TRUE(text_glob("[ab]x", "bx"));
  EXPECT_FALSE(text_glob("abc", "abcd")) << "the whole string";
  EXPECT_TRUE(text_glob("*.hidden", ".x.hidden")) << "no special leading dot";
}

// A pattern without wildcards is compared as text, not run through glob_match: the answers are
// glob_match's for names and paths, odd ones included.
TEST(RuleText, exe_glob_of_a_literal_pattern_answers_as_glob_match)
{
  const std::vector<std::string> texts = {"",        "/",          "git",          "gitk",
                                          "/usr/bin/git", "/usr/bin//git", "/usr/bin/git/",
                                          "usr/bin/git", "./git",      "/usr/bin/./git", "a/",
                                          "/a",      "//",         "git "};
  for (const auto &pattern : texts)
    for (const auto &exe : texts) {
      std::string_view target = exe;
      if (pattern.find('/') == std::string::npos && target.rfind('/') != std::string_view::npos)
        target = target.substr(target.rfind('/') + 1);
      EXPECT_EQ(exe_glob(pattern, exe), glob_match(pattern, target))
          << "pattern '" << pattern << "', exe '" << exe << "'";
    }
}

TEST(RuleText, exe_glob_matches_basename_without_slash)
{
  EXPECT_TRUE(exe_glob("git", "/usr/bin/git"));
  EXPECT_TRUE(exe_glob("git-*", "/usr/lib/git-core/git-remote-https"));
  EXPECT_FALSE(exe_glob("git", "/usr/bin/gitk"));
  EXPECT_FALSE(exe_glob("git", "/usr/bin/git/x")) << "basename is x";
  EXPECT_TRUE(exe_glob("git", "git")) << "an exe without a directory";
  EXPECT_TRUE(exe_glob("/usr/bin/*", "/usr/bin/curl"));
  EXPECT_FALSE(exe_glob("/usr/bin/*", "/usr/bin/x/curl")) << "a path glob's '*' stops at '/'";
  EXPECT_FALSE(exe_glob("/usr/bin/curl", "/usr/local/bin/curl"));
  EXPECT_TRUE(exe_glob("/usr/**/curl", "/usr/local/bin/curl"));
  EXPECT_TRUE(exe_glob("docker-credential-*", "/usr/bin/docker-credential-pass"));
}

TEST(RuleText, proc_matches_needs_every_given_list)
{
  const std::vector<std::string> argv = {"node", "/usr/bin/npm", "install", "left-pad"};
  EXPECT_TRUE(proc_matches(ProcMatch{}, "/usr/bin/node", argv)) << "empty matches all";
  EXPECT_TRUE(proc_matches(ProcMatch{{"node"}, {}}, "/usr/bin/node", argv));
  EXPECT_FALSE(proc_matches(ProcMatch{{"npm"}, {}}, "/usr/bin/node", argv));
  EXPECT_TRUE(proc_matches(ProcMatch{{}, {"node /usr/bin/npm install *"}}, "/x", argv))
      << "args are joined with single spaces";
  EXPECT_TRUE(proc_matches(ProcMatch{{"python", "node"}, {"nomatch", "*npm* install*"}},
                           "/usr/bin/node", argv))
      << "any pattern of a list";
  EXPECT_FALSE(proc_matches(ProcMatch{{"node"}, {"*pip install*"}}, "/usr/bin/node", argv))
      << "exe matches, args do not";
  EXPECT_FALSE(proc_matches(ProcMatch{{"python"}, {"*npm*"}}, "/usr/bin/node", argv))
      << "args match, exe does not";
  EXPECT_TRUE(proc_matches(ProcMatch{{}, {""}}, "/usr/bin/true", {}));
  EXPECT_FALSE(proc_matches(ProcMatch{{}, {"?*"}}, "/usr/bin/true", {}));
}

TEST(RuleText, sequence_step_and_profiles)
{
  SequenceStep step;
  step.rules = {"egress-not-allowed"};
  step.kinds = {RuleKind::credential_read};
  step.tags = {"T1552"};
  EXPECT_TRUE(step.matches("egress-not-allowed", RuleKind::egress, {}));
  EXPECT_TRUE(step.matches("cred-aws", RuleKind::credential_read, {}));
  EXPECT_TRUE(step.matches("x", RuleKind::process, {"T1", "T1552"}));
  EXPECT_FALSE(step.matches("x", RuleKind::process, {"T1552.001"})) << "tags compare exactly";
  EXPECT_FALSE(step.matches("egress-volume", RuleKind::egress, {"T1048"}));

  Rule r;
  EXPECT_TRUE(r.applies_to("agent"));
  r.profiles = {"ci", "agent"};
  EXPECT_TRUE(r.applies_to("agent"));
  EXPECT_FALSE(r.applies_to("other"));
}

TEST(RuleText, kind_and_match_names)
{
  EXPECT_EQ(to_string(RuleKind::credential_read), "credential_read");
  EXPECT_EQ(to_string(RuleKind::exec_context), "exec_context");
  EXPECT_EQ(to_string(RuleKind::process_access), "process_access");
  EXPECT_EQ(to_string(RuleKind::raw_socket), "raw_socket");
  EXPECT_EQ(to_string(EgressMatch::outside_allowlist), "outside_allowlist");
  EXPECT_EQ(to_string(EgressMatch::new_destination), "new_destination");
  EXPECT_EQ(to_string(EgressMatch::volume), "volume");
}

// ---------------------------------------------------------------------------------------------
// The shipped rule packs

TEST(RulePacks, shipped_packs_load_without_errors)
{
  auto r = load_rules({VG_SOURCE_DIR "/rules"});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_GE(r->files.size(), 6u);
  EXPECT_GE(r->rules.size(), 20u);
  std::set<std::string> seen;
  for (const auto &rule : r->rules)
    EXPECT_TRUE(seen.insert(rule.id).second) << "duplicate id " << rule.id;
  // The rules the sequences and the engine rely on are there, with their kinds.
  for (auto [id, kind] : {std::pair{"credential-read", RuleKind::credential_read},
                          std::pair{"egress-not-allowed", RuleKind::egress},
                          std::pair{"foreign-process-access", RuleKind::process_access},
                          std::pair{"ipc-not-allowed", RuleKind::ipc},
                          std::pair{"raw-socket", RuleKind::raw_socket},
                          std::pair{"exfil-credential-then-egress", RuleKind::sequence}}) {
    const Rule *rule = by_id(*r, id);
    ASSERT_NE(rule, nullptr) << id;
    EXPECT_EQ(rule->kind, kind) << id;
  }
  EXPECT_TRUE(by_id(*r, "credential-read")->fallback);
  EXPECT_TRUE(by_id(*r, "credential-read")->profile_paths);
  EXPECT_TRUE(by_id(*r, "egress-not-allowed")->fallback);
}

TEST(RulePacks, every_shipped_rule_is_documented_and_tagged)
{
  auto r = load_rules({VG_SOURCE_DIR "/rules"});
  ASSERT_TRUE(r) << r.error().message();
  const std::regex attack(R"(^T[0-9]{4}(\.[0-9]{3})?$)");
  for (const auto &rule : r->rules) {
    EXPECT_GE(rule.description.size(), 10u) << rule.id;
    EXPECT_NE(rule.line, 0) << rule.id;
    EXPECT_TRUE(std::any_of(rule.tags.begin(), rule.tags.end(),
                            [&](const std::string &t) { return std::regex_match(t, attack); }))
        << rule.id << " has no ATT&CK technique tag";
    for (const auto &t : rule.tags) {
      if (t.size() > 1 && t[0] == 'T' && std::isdigit(static_cast<unsigned char>(t[1]))) {
        EXPECT_TRUE(std::regex_match(t, attack)) << rule.id << ": malformed technique " << t;
      }
    }
  }
}

TEST(RulePacks, shipped_packs_watch_the_expected_variables)
{
  auto r = load_rules({VG_SOURCE_DIR "/rules"});
  ASSERT_TRUE(r) << r.error().message();
  const auto names = r->env_names();
  const auto prefixes = r->env_prefixes();
  for (std::string_view n : {"LD_PRELOAD", "LD_AUDIT", "GIT_SSH_COMMAND", "NODE_OPTIONS", "BASH_ENV"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  EXPECT_NE(std::find(prefixes.begin(), prefixes.end(), "GIT_CONFIG_"), prefixes.end());
  EXPECT_NE(std::find(prefixes.begin(), prefixes.end(), "BASH_FUNC_"), prefixes.end());
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_LE(names.size() + prefixes.size(), 256u);
}

} // namespace
} // namespace vigil::policy

namespace vigil::policy {
namespace {

TEST(RuleParse, tamper_rules_name_their_actions)
{
  RuleSet set = parse_ok("rules:\n  - id: esc\n    description: d\n    severity: critical\n    kind: tamper\n"
                         "    actions: [cgroup_escape, bpf]\n  - id: all\n    description: d\n    severity: critical\n"
                         "    kind: tamper\n  - id: flood\n    description: d\n    severity: critical\n    kind: throttle\n");
  ASSERT_EQ(set.rules.size(), 3u);
  EXPECT_EQ(set.rules[0].kind, RuleKind::tamper);
  EXPECT_EQ(set.rules[0].actions,
            (std::vector<uint16_t>{static_cast<uint16_t>(pipeline::TamperKind::cgroup_escape),
                                   static_cast<uint16_t>(pipeline::TamperKind::bpf)}));
  EXPECT_TRUE(set.rules[1].actions.empty());
  EXPECT_EQ(set.rules[2].kind, RuleKind::throttle);
  Parsed bad = parse("rules:\n  - id: esc\n    description: d\n    severity: critical\n    kind: tamper\n"
                     "    actions: [bpf, unplug]\n");
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_THAT(bad.errors[0], StartsWith("t.yaml:6:20: rules[0](esc).actions[1]: 'unplug' is not a "
                                        "self-protection action"));
  EXPECT_TRUE(bad.set.rules.empty());
}

} // namespace
} // namespace vigil::policy

namespace vigil::policy {
namespace {

TEST(RuleResponse, parses_response_and_recommended_action)
{
  RuleSet s = parse_ok("rules:\n  - {id: a, description: d, kind: ipc, severity: error, "
                       "response: [freeze, run], recommended_action: isolate}\n"
                       "  - {id: b, description: d, kind: ipc, severity: error}\n");
  ASSERT_EQ(s.rules.size(), 2u);
  EXPECT_EQ(s.rules[0].response, (std::vector<Action>{Action::freeze, Action::run}));
  EXPECT_EQ(s.rules[0].recommended_action, Action::isolate);
  EXPECT_TRUE(s.rules[1].response.empty()) << "alerts only unless asked";
  EXPECT_FALSE(s.rules[1].recommended_action);
}

TEST(RuleResponse, rejects_unknown_actions)
{
  Parsed p = parse("rules:\n  - {id: a, description: d, kind: ipc, severity: error, "
                   "response: [nuke]}\n");
  ASSERT_EQ(p.errors.size(), 1u);
  EXPECT_THAT(p.errors[0], HasSubstr("'nuke' is not a response action (one of: freeze, kill, "
                                     "isolate, run)"));
  EXPECT_TRUE(p.set.rules.empty());
}

TEST(RuleResponse, every_shipped_rule_recommends_an_action)
{
  auto set = load_rules({VG_SOURCE_DIR "/rules"});
  ASSERT_TRUE(set) << set.error().message();
  for (const auto &r : set->rules) {
    EXPECT_TRUE(r.recommended_action) << r.id << " (" << r.source << ") recommends no action";
    EXPECT_TRUE(r.response.empty()) << r.id << ": shipped packs alert only";
  }
}

} // namespace
} // namespace vigil::policy
