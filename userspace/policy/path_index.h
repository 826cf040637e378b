// SPDX-License-Identifier: Apache-2.0
// One index over the credential and persistence path patterns of every rule and profile, for one
// home: a path is hashed once (and its basename once) whatever the number of pattern lists, and
// each distinct glob runs at most once. It answers, for every list at once, what PathMatcher
// answers for that list alone: the index of its first pattern that matches.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace vigil::policy {

class PathIndex {
public:
  static constexpr uint32_t kNone = UINT32_MAX;

  // One path's lookup: the literal answers of every list (two hash lookups), and the globs
  // evaluated so far, each at most once. Kept by the caller and reused, so a lookup allocates
  // nothing once warm. Lists are answered on demand: a list nobody asks about costs nothing.
  struct Query {
    std::string_view path, base;
    std::vector<uint32_t> literal; // per list: the first literal pattern that matched
    std::vector<uint32_t> answer;  // per list: kUnknown until asked
    std::vector<int8_t> glob;      // per distinct glob: -1 not yet run, 0 no, 1 yes
  };

  PathIndex() = default;
  // lists[k] is the pattern list of owner k (a rule's paths, a profile's credential paths), in
  // its own order; "~/" is expanded against home as PathMatcher does. The lists are copied.
  PathIndex(std::span<const std::vector<std::string> *const> lists, const std::string &home);

  size_t owners() const { return owner_globs_.size(); }
  // Starts q on abs_path (which must outlive q's use): the literal lookups.
  void start(Query &q, std::string_view abs_path) const;
  // The index in list k of the first pattern that q's path matches, or kNone: what
  // PathMatcher(list k, home).match(path) answers.
  uint32_t first(Query &q, size_t k) const
  {
    return q.answer[k] != kUnknown ? q.answer[k] : first_uncached(q, k);
  }
  // Every list at once (out.size() == owners()).
  void match(std::string_view abs_path, std::span<uint32_t> out) const;

private:
  static constexpr uint32_t kUnknown = UINT32_MAX - 1;
  struct Ref {
    uint32_t owner;
    uint32_t index; // in the owner's list
  };
  struct Glob {
    std::string pattern;
    std::string prefix; // literal text before the first wildcard
    std::string suffix; // literal text after the last '*' or '?'
    // "/<component>" of the first literal component after a "**/": text every match contains
    // ("/**/.git/hooks/*" -> "/.git"), which most paths lack; "" when there is none.
    std::string needle;
    bool basename_only;
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Literals = std::unordered_map<std::string, std::vector<Ref>, Hash, std::equal_to<>>;
  bool glob_matches(Query &q, uint32_t g) const;
  uint32_t first_uncached(Query &q, size_t k) const;

  Literals exact_;      // whole-path literals
  Literals base_exact_; // basename literals (patterns without '/')
  std::vector<Glob> globs_; // distinct wildcard patterns
  // Per list: (index in the list, distinct glob) of its wildcard patterns, in list order.
  std::vector<std::vector<std::pair<uint32_t, uint32_t>>> owner_globs_;
};

} // namespace vigil::policy
