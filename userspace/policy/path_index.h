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

  PathIndex() = default;
  // lists[k] is the pattern list of owner k (a rule's paths, a profile's credential paths), in
  // its own order; "~/" is expanded against home as PathMatcher does. The lists are copied.
  PathIndex(std::span<const std::vector<std::string> *const> lists, const std::string &home);

  size_t owners() const { return owners_; }
  // out[k] (out.size() == owners()) receives the index in list k of the first pattern that
  // abs_path matches, or kNone. Allocates nothing.
  void match(std::string_view abs_path, std::span<uint32_t> out) const;

private:
  struct Ref {
    uint32_t owner;
    uint32_t index; // in the owner's list
  };
  struct Glob {
    std::string pattern;
    std::string prefix; // literal text before the first wildcard
    std::string suffix; // literal text after the last '*' or '?'
    bool basename_only;
    std::vector<Ref> refs; // every (owner, index) that names this pattern, by owner then index
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Literals = std::unordered_map<std::string, std::vector<Ref>, Hash, std::equal_to<>>;
  static void take(const std::vector<Ref> &refs, std::span<uint32_t> out);

  size_t owners_ = 0;
  Literals exact_;      // whole-path literals
  Literals base_exact_; // basename literals (patterns without '/')
  std::vector<Glob> globs_; // distinct wildcard patterns
};

} // namespace vigil::policy
