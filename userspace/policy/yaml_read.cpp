// SPDX-License-Identifier: Apache-2.0
// Strict YAML reading shared by the profile, allowlist and rule parsers.
#include "policy/yaml_read.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <memory>
#include <sstream>

#include <yaml-cpp/eventhandler.h>

namespace vigil::policy::yaml {

std::string quoted(std::string_view s)
{
  return "'" + std::string(s) + "'";
}

std::string join_field(const std::string &prefix, std::string_view key)
{
  return prefix.empty() ? std::string(key) : prefix + "." + std::string(key);
}

std::string index_field(const std::string &prefix, size_t i)
{
  return prefix + "[" + std::to_string(i) + "]";
}

tl::unexpected<Error> fail_at(const Ctx &ctx, const YAML::Mark &mark, const std::string &field,
                              const std::string &what)
{
  int line = mark.is_null() ? 1 : mark.line + 1;
  int column = mark.is_null() ? 1 : mark.column + 1;
  return fail(ctx.source + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " +
              field + ": " + what);
}

// yaml-cpp marks an implicit null (a bare "-") at the token after it, often on a later line.
// Walking back over blanks and comments finds the indicator that introduced it.
YAML::Mark null_item_mark(std::string_view text, const YAML::Mark &mark)
{
  if (mark.is_null())
    return mark;
  size_t i = std::min(static_cast<size_t>(mark.pos), text.size());
  while (i > 0) {
    --i;
    if (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')
      continue;
    size_t line_start = text.rfind('\n', i);
    line_start = line_start == std::string_view::npos ? 0 : line_start + 1;
    size_t hash = line_start;
    while (hash <= i && !(text[hash] == '#' &&
                          (hash == line_start || text[hash - 1] == ' ' || text[hash - 1] == '\t')))
      ++hash;
    if (hash <= i) {
      i = hash;
      continue;
    }
    YAML::Mark found;
    found.pos = static_cast<int>(i);
    found.line = static_cast<int>(std::count(text.begin(), text.begin() + i, '\n'));
    found.column = static_cast<int>(i - line_start);
    return found;
  }
  return mark;
}

std::string describe(const YAML::Node &node)
{
  switch (node.Type()) {
  case YAML::NodeType::Map:
    return "a map";
  case YAML::NodeType::Sequence:
    return "a list";
  case YAML::NodeType::Scalar:
    return quoted(node.Scalar());
  default:
    return "nothing";
  }
}

// Checks that node is a map whose keys are all in `allowed`, each at most once.
Result<Fields> read_map(const Ctx &ctx, const YAML::Node &node, const YAML::Mark &mark,
                        const std::string &field, std::initializer_list<std::string_view> allowed)
{
  if (!node.IsMap())
    return fail_at(ctx, mark, field.empty() ? "(top level)" : field,
                   "expected a map, got " + describe(node));
  Fields fields;
  // By value: yaml-cpp's iterator yields a temporary pair, so a reference to it->first dangles.
  for (const auto &pair : node) {
    const YAML::Node key = pair.first;
    if (!key.IsScalar())
      return fail_at(ctx, key.Mark(), field.empty() ? "(top level)" : field,
                     "keys must be plain names, got " + describe(key));
    const std::string &name = key.Scalar();
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      std::string expected;
      for (std::string_view a : allowed)
        expected += (expected.empty() ? "" : ", ") + std::string(a);
      return fail_at(ctx, key.Mark(), join_field(field, name),
                     "unknown key (expected one of: " + expected + ")");
    }
    auto [prev, inserted] = fields.emplace(name, KeyValue{key, pair.second});
    if (!inserted)
      return fail_at(ctx, key.Mark(), join_field(field, name),
                     "duplicate key (first at line " +
                         std::to_string(prev->second.key.Mark().line + 1) + ")");
  }
  return fields;
}

const KeyValue *find(const Fields &fields, std::string_view name)
{
  auto it = fields.find(name);
  return it == fields.end() ? nullptr : &it->second;
}

// A null value is reported at its key: yaml-cpp's mark for it points past the line.
YAML::Mark value_mark(const KeyValue &kv)
{
  return kv.value.IsNull() ? kv.key.Mark() : kv.value.Mark();
}

Result<std::string> read_string(const Ctx &ctx, const KeyValue &kv, const std::string &field)
{
  if (!kv.value.IsScalar())
    return fail_at(ctx, value_mark(kv), field, "expected a string, got " + describe(kv.value));
  return kv.value.Scalar();
}

Result<Severity> read_severity(const Ctx &ctx, const KeyValue &kv, const std::string &field)
{
  auto text = read_string(ctx, kv, field);
  if (!text)
    return tl::unexpected(text.error());
  auto severity = severity_from_string(*text);
  if (!severity) {
    std::string names;
    for (std::string_view n : kSeverityNames)
      names += (names.empty() ? "" : ", ") + std::string(n);
    return fail_at(ctx, kv.value.Mark(), field,
                   quoted(*text) + " is not a severity (one of: " + names + ")");
  }
  return *severity;
}

Result<YAML::Node> read_list(const Ctx &ctx, const KeyValue &kv, const std::string &field)
{
  if (!kv.value.IsSequence())
    return fail_at(ctx, value_mark(kv), field, "expected a list, got " + describe(kv.value));
  return kv.value;
}

YAML::Mark item_mark(const Ctx &ctx, const YAML::Node &item)
{
  return item.IsNull() ? null_item_mark(ctx.text, item.Mark()) : item.Mark();
}

// Returns what is wrong with a credential pattern, or nothing. Patterns are matched against
// normalised paths, so a pattern that is not itself normalised could never match.
std::optional<std::string> check_path_pattern(const std::string &pat)
{
  if (pat.empty())
    return "empty pattern";
  if (pat.front() == '~' && !pat.starts_with("~/"))
    return quoted(pat) + ": only '~/' is expanded (to the agent's home)";
  bool rooted = pat.front() == '/' || pat.starts_with("~/");
  if (!rooted && pat.find('/') != std::string::npos)
    return quoted(pat) +
           " must be absolute (/...), home-relative (~/...) or a basename pattern without '/'";
  if (!rooted)
    return std::nullopt;
  std::string_view rest = std::string_view(pat).substr(pat.front() == '/' ? 1 : 2);
  size_t pos = 0;
  while (true) {
    size_t end = rest.find('/', pos);
    std::string_view comp = rest.substr(pos, end == std::string_view::npos ? end : end - pos);
    if (comp.empty() || comp == "." || comp == "..")
      return quoted(pat) + " is not a normalised path (empty, '.' or '..' component)";
    if (end == std::string_view::npos)
      return std::nullopt;
    pos = end + 1;
  }
}

Result<Mode> read_mode(const Ctx &ctx, const KeyValue &kv, const std::string &field)
{
  auto mode = read_string(ctx, kv, field);
  if (!mode)
    return tl::unexpected(mode.error());
  if (*mode == "enforce")
    return Mode::enforce;
  if (*mode == "audit")
    return Mode::audit;
  return fail_at(ctx, value_mark(kv), field,
                 quoted(*mode) + " is not a mode (one of: enforce, audit)");
}

Result<bool> read_choice(const Ctx &ctx, const KeyValue &kv, const std::string &field,
                         std::string_view yes, std::string_view no)
{
  auto s = read_string(ctx, kv, field);
  if (!s)
    return tl::unexpected(s.error());
  if (*s == yes)
    return true;
  if (*s == no)
    return false;
  return fail_at(ctx, value_mark(kv), field,
                 quoted(*s) + " is not one of: " + std::string(yes) + ", " + std::string(no));
}


// Digits only: yaml-cpp would also take "0x35" or "+53", which nobody means as a port.
std::optional<uint32_t> parse_number(std::string_view s)
{
  uint32_t value = 0;
  if (s.empty() || s.size() > 5)
    return std::nullopt;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || ptr != s.data() + s.size())
    return std::nullopt;
  return value;
}

Result<PortRange> parse_port(const Ctx &ctx, const YAML::Node &item, const std::string &field)
{
  if (!item.IsScalar())
    return fail_at(ctx, item_mark(ctx, item), field,
                   "expected a port or a range lo-hi, got " + describe(item));
  const std::string &text = item.Scalar();
  size_t dash = text.find('-');
  auto lo = parse_number(std::string_view(text).substr(0, dash));
  auto hi = dash == std::string::npos ? lo : parse_number(std::string_view(text).substr(dash + 1));
  if (!lo || !hi)
    return fail_at(ctx, item.Mark(), field, quoted(text) + " is not a port or a range lo-hi");
  for (uint32_t port : {*lo, *hi})
    if (port == 0 || port > 65535)
      return fail_at(ctx, item.Mark(), field,
                     "port " + std::to_string(port) + " is out of range 1..65535");
  if (*lo > *hi)
    return fail_at(ctx, item.Mark(), field, "range " + quoted(text) + " is reversed (lo > hi)");
  return PortRange{static_cast<uint16_t>(*lo), static_cast<uint16_t>(*hi)};
}

Result<Cidr> read_cidr(const Ctx &ctx, const YAML::Node &node, const YAML::Mark &mark,
                       const std::string &field)
{
  if (!node.IsScalar())
    return fail_at(ctx, mark, field, "expected a CIDR, got " + describe(node));
  auto cidr = parse_cidr(node.Scalar());
  if (!cidr)
    return fail_at(ctx, mark, field, cidr.error().context);
  return *cidr;
}

Result<EgressAllow> parse_allow_item(const Ctx &ctx, const YAML::Node &item,
                                     const std::string &field)
{
  YAML::Mark mark = item_mark(ctx, item);
  EgressAllow allow;
  allow.line = mark.line + 1;
  if (!item.IsMap()) {
    auto cidr = read_cidr(ctx, item, mark, field);
    if (!cidr)
      return tl::unexpected(cidr.error());
    allow.cidr = *cidr;
    return allow;
  }
  auto fields = read_map(ctx, item, mark, field, {"cidr", "host", "ports"});
  if (!fields)
    return tl::unexpected(fields.error());
  const KeyValue *cidr_kv = find(*fields, "cidr");
  const KeyValue *host_kv = find(*fields, "host");
  if (cidr_kv && host_kv)
    return fail_at(ctx, host_kv->key.Mark(), field + ".host", "an entry has a cidr or a host, not both");
  if (host_kv) {
    auto host = read_string(ctx, *host_kv, field + ".host");
    if (!host)
      return tl::unexpected(host.error());
    const bool valid = !host->empty() && host->size() <= 253 &&
                       host->find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                               "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") ==
                           std::string::npos;
    if (!valid)
      return fail_at(ctx, value_mark(*host_kv), field + ".host",
                     quoted(*host) + " is not a host name");
    allow.host = *host;
  } else {
    if (!cidr_kv)
      return fail_at(ctx, mark, field + ".cidr",
                     "missing (an entry with ports needs a cidr or a host)");
    auto cidr = read_cidr(ctx, cidr_kv->value, value_mark(*cidr_kv), field + ".cidr");
    if (!cidr)
      return tl::unexpected(cidr.error());
    allow.cidr = *cidr;
  }
  if (const KeyValue *ports_kv = find(*fields, "ports")) {
    auto ports = read_list(ctx, *ports_kv, field + ".ports");
    if (!ports)
      return tl::unexpected(ports.error());
    // Empty means "any port", so an accidental "ports: []" would widen the rule.
    if (ports->size() == 0)
      return fail_at(ctx, ports_kv->value.Mark(), field + ".ports",
                     "empty list (omit ports to allow any port)");
    size_t i = 0;
    for (const auto &port : *ports) {
      auto range = parse_port(ctx, port, index_field(field + ".ports", i++));
      if (!range)
        return tl::unexpected(range.error());
      allow.ports.push_back(*range);
    }
  }
  return allow;
}


Result<std::string> read_text_file(const std::string &path, const std::string &what)
{
  std::unique_ptr<std::FILE, int (*)(std::FILE *)> file(std::fopen(path.c_str(), "rb"),
                                                        &std::fclose);
  if (!file)
    return fail_errno(errno, "cannot open " + what + " " + path);
  std::string text;
  char buf[8192];
  size_t n = 0;
  errno = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), file.get())) > 0)
    text.append(buf, n);
  // fopen succeeds on a directory; the read then fails with EISDIR.
  if (std::ferror(file.get()))
    return fail_errno(errno != 0 ? errno : EIO, "cannot read " + what + " " + path);
  return text;
}

namespace {

// Records where each document and its first node start; builds nothing.
class DocumentMarks : public YAML::EventHandler {
public:
  std::vector<YAML::Mark> docs;  // OnDocumentStart, in order
  std::vector<YAML::Mark> first; // the first node of each document (docs' mark if it had none)

  void OnDocumentStart(const YAML::Mark &mark) override
  {
    docs.push_back(mark);
    want_node_ = true;
  }
  void OnDocumentEnd() override
  {
    if (want_node_)
      first.push_back(docs.back());
    want_node_ = false;
  }
  void OnNull(const YAML::Mark &mark, YAML::anchor_t) override { node(mark); }
  void OnAlias(const YAML::Mark &mark, YAML::anchor_t) override { node(mark); }
  void OnScalar(const YAML::Mark &mark, const std::string &, YAML::anchor_t,
                const std::string &) override
  {
    node(mark);
  }
  void OnSequenceStart(const YAML::Mark &mark, const std::string &, YAML::anchor_t,
                       YAML::EmitterStyle::value) override
  {
    node(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark &mark, const std::string &, YAML::anchor_t,
                  YAML::EmitterStyle::value) override
  {
    node(mark);
  }
  void OnMapEnd() override {}

private:
  void node(const YAML::Mark &mark)
  {
    if (want_node_)
      first.push_back(mark);
    want_node_ = false;
  }
  bool want_node_ = false;
};

} // namespace

DocumentScan scan_documents(std::string_view text, size_t max)
{
  std::istringstream in{std::string(text)};
  YAML::Parser parser(in);
  DocumentMarks marks;
  DocumentScan out;
  while (marks.first.size() < max && parser.HandleNextDocument(marks)) {
    const size_t n = marks.docs.size();
    if (n >= 2 && marks.docs[n - 1].pos == marks.docs[n - 2].pos) {
      // A second document at the same offset: the parser did not move (see the header).
      out.stuck = true;
      out.stuck_at = marks.docs[n - 1];
      break;
    }
  }
  out.starts = std::move(marks.first);
  if (out.starts.size() > max)
    out.starts.resize(max);
  return out;
}

} // namespace vigil::policy::yaml
