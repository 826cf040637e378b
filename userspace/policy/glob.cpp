// SPDX-License-Identifier: Apache-2.0
// Credential path patterns: a component-aware glob (fnmatch with FNM_PATHNAME plus '**') and the
// per-home matcher built from a profile's patterns. Matching allocates nothing.

#include <algorithm>

#include "policy/profile.h"

namespace vigil::policy {

namespace {

constexpr std::string_view kGlobMeta = "*?[";

// Components are addressed by their start offset. A string with n slashes has n + 1 components
// (possibly empty), so "/a" is {"", "a"}; an offset past size() means "no more components".
std::string_view component_at(std::string_view s, size_t pos)
{
  size_t end = s.find('/', pos);
  return s.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
}

size_t next_component(std::string_view s, size_t pos)
{
  size_t end = s.find('/', pos);
  return end == std::string_view::npos ? s.size() + 1 : end + 1;
}

enum class ClassResult { match, no_match, malformed };

// Matches c against the bracket expression at pat[open]. On success *after is the offset just
// past the closing ']'. An unterminated '[' is malformed and the caller takes it literally, as
// fnmatch does.
ClassResult match_class(std::string_view pat, size_t open, unsigned char c, size_t *after)
{
  size_t i = open + 1;
  bool negate = i < pat.size() && (pat[i] == '!' || pat[i] == '^');
  if (negate)
    ++i;
  bool found = false;
  bool first = true;
  while (i < pat.size()) {
    if (pat[i] == ']' && !first) {
      *after = i + 1;
      return found != negate ? ClassResult::match : ClassResult::no_match;
    }
    auto lo = static_cast<unsigned char>(pat[i]);
    auto hi = lo;
    if (i + 2 < pat.size() && pat[i + 1] == '-' && pat[i + 2] != ']') {
      hi = static_cast<unsigned char>(pat[i + 2]);
      i += 3;
    } else {
      i += 1;
    }
    found = found || (lo <= c && c <= hi);
    first = false;
  }
  return ClassResult::malformed;
}

// One component against one component; neither contains '/'. Classic single-backtrack wildcard
// matching: linear in practice because every token except '*' consumes exactly one character.
bool component_match(std::string_view pat, std::string_view str)
{
  size_t p = 0;
  size_t s = 0;
  size_t star_p = std::string_view::npos;
  size_t star_s = 0;
  while (s < str.size()) {
    if (p < pat.size()) {
      char pc = pat[p];
      if (pc == '*') {
        star_p = ++p;
        star_s = s;
        continue;
      }
      size_t after = p + 1;
      bool ok = false;
      if (pc == '?') {
        ok = true;
      } else if (pc == '[') {
        ClassResult r = match_class(pat, p, static_cast<unsigned char>(str[s]), &after);
        ok = r == ClassResult::match || (r == ClassResult::malformed && str[s] == '[');
      } else {
        ok = pc == str[s];
      }
      if (ok) {
        p = after;
        ++s;
        continue;
      }
    }
    if (star_p == std::string_view::npos)
      return false;
    p = star_p;
    s = ++star_s;
  }
  while (p < pat.size() && pat[p] == '*')
    ++p;
  return p == pat.size();
}

} // namespace

// The same single-backtrack scheme one level up: '**' is the star, every other pattern component
// consumes exactly one path component.
bool glob_match(std::string_view pattern, std::string_view path)
{
  size_t p = 0;
  size_t s = 0;
  size_t star_p = std::string_view::npos;
  size_t star_s = 0;
  while (s <= path.size()) {
    if (p <= pattern.size()) {
      std::string_view pc = component_at(pattern, p);
      if (pc == "**") {
        star_p = p = next_component(pattern, p);
        star_s = s;
        continue;
      }
      if (component_match(pc, component_at(path, s))) {
        p = next_component(pattern, p);
        s = next_component(path, s);
        continue;
      }
    }
    if (star_p == std::string_view::npos)
      return false;
    p = star_p;
    s = star_s = next_component(path, star_s);
  }
  while (p <= pattern.size() && component_at(pattern, p) == "**")
    p = next_component(pattern, p);
  return p > pattern.size();
}

std::string home_prefix(const std::string &home)
{
  // An empty home leaves "~/" patterns unexpanded: they then never match an absolute path, which
  // is the right outcome for a user without a home directory.
  std::string prefix = home.empty() ? std::string() : normalize_path(home);
  if (prefix == "/")
    prefix.clear();
  return prefix;
}

std::string expand_pattern(const std::string &pattern, const std::string &home,
                           const std::string &prefix)
{
  if (!home.empty() && pattern.starts_with("~/"))
    return prefix + pattern.substr(1);
  return pattern;
}

PathMatcher::PathMatcher(const std::vector<std::string> &patterns, const std::string &home)
{
  const std::string prefix_of_home = home_prefix(home);
  entries_.reserve(patterns.size());
  expanded_.reserve(patterns.size());
  for (const std::string &pat : patterns) {
    std::string expanded = expand_pattern(pat, home, prefix_of_home);
    bool basename_only = expanded.find('/') == std::string::npos;
    const size_t first_meta = expanded.find_first_of(kGlobMeta);
    bool literal = first_meta == std::string::npos;
    // Literal text before the first and after the last wildcard: most paths fail one of these
    // comparisons, so the glob itself runs only for near-matches.
    std::string prefix = literal ? expanded : expanded.substr(0, first_meta);
    std::string suffix;
    if (!literal) {
      const size_t last_meta = expanded.find_last_of(kGlobMeta);
      // After a ']' the class may hide more meta characters: only take a suffix after '*'/'?'.
      if (expanded[last_meta] != ']')
        suffix = expanded.substr(last_meta + 1);
    }
    const size_t index = entries_.size();
    if (!literal)
      globs_.push_back(index);
    else
      (basename_only ? base_exact_ : exact_).try_emplace(expanded, index);
    entries_.push_back(Entry{expanded, std::move(prefix), std::move(suffix), basename_only, literal});
    expanded_.push_back(std::move(expanded));
  }
}

std::optional<size_t> PathMatcher::match(std::string_view abs_path) const
{
  size_t slash = abs_path.rfind('/');
  std::string_view base = slash == std::string_view::npos ? abs_path : abs_path.substr(slash + 1);
  size_t best = SIZE_MAX;
  if (auto it = exact_.find(abs_path); it != exact_.end())
    best = it->second;
  if (auto it = base_exact_.find(base); it != base_exact_.end())
    best = std::min(best, it->second);
  for (size_t i : globs_) {
    if (i >= best)
      break;
    const Entry &e = entries_[i];
    std::string_view target = e.basename_only ? base : abs_path;
    if (!target.starts_with(e.prefix) || !target.ends_with(e.suffix))
      continue;
    if (glob_match(e.pattern, target)) {
      best = i;
      break;
    }
  }
  if (best == SIZE_MAX)
    return std::nullopt;
  return best;
}

std::string normalize_path(std::string_view path, std::string_view cwd)
{
  std::string joined;
  if (path.empty() || path.front() != '/') {
    joined.reserve(cwd.size() + 1 + path.size());
    joined.append(cwd).append("/").append(path);
    path = joined;
  }
  // A relative cwd is taken as rooted, so the result is always absolute.
  std::string out;
  out.reserve(path.size());
  for (size_t pos = 0; pos <= path.size(); pos = next_component(path, pos)) {
    std::string_view comp = component_at(path, pos);
    if (comp.empty() || comp == ".")
      continue;
    if (comp == "..") {
      // ".." at the root stays at the root, as the kernel resolves it.
      out.resize(std::min(out.size(), out.rfind('/')));
      continue;
    }
    out.append("/").append(comp);
  }
  return out.empty() ? "/" : out;
}

bool is_normal_path(std::string_view path)
{
  if (path == "/")
    return true;
  if (path.empty() || path.front() != '/' || path.back() == '/')
    return false;
  for (size_t pos = 1; pos <= path.size(); pos = next_component(path, pos)) {
    std::string_view comp = component_at(path, pos);
    if (comp.empty() || comp == "." || comp == "..")
      return false;
  }
  return true;
}

std::vector<std::string> unix_allow_paths(const Profile &p, const std::vector<std::string> &homes)
{
  std::vector<std::string> out(std::begin(kSystemUnixSockets), std::end(kSystemUnixSockets));
  for (const auto &pat : p.ipc_allow)
    for (auto &path : expand_home(pat, homes))
      out.push_back(std::move(path));
  return out;
}

std::vector<std::string> expand_home(const std::string &pattern,
                                     const std::vector<std::string> &homes)
{
  if (!pattern.starts_with("~/"))
    return {pattern};
  std::vector<std::string> out;
  for (const auto &home : homes)
    out.push_back((home.ends_with("/") ? home.substr(0, home.size() - 1) : home) +
                  pattern.substr(1));
  return out;
}

} // namespace vigil::policy
