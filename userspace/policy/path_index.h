// SPDX-License-Identifier: Apache-2.0
// One index over the credential and persistence path patterns of every rule and profile, for one
// home: a path is walked once through tries of the patterns' literal text, whatever the number
// of pattern lists, and each distinct glob runs at most once. It answers, for every list at once,
// what PathMatcher answers for that list alone: the index of its first pattern that matches.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::policy {

class PathIndex {
  struct Ref {
    uint32_t owner;
    uint32_t index; // in the owner's list
  };

public:
  static constexpr uint32_t kNone = UINT32_MAX;

  // One path's lookup: the literal patterns equal to the path or its basename, and per distinct
  // glob whether its literal prefix and suffix fit the path (a glob that fails that cannot
  // match), then whether it matched once run. Kept by the caller and reused, so a lookup
  // allocates nothing once warm. A list nobody asks about costs nothing beyond start().
  struct Query {
    std::string_view path, base;
    std::span<const Ref> literal[2];  // whole-path, basename
    std::vector<uint64_t> candidate;    // per glob, a bit: prefix and suffix fit
    std::vector<uint64_t> ran, matched; // per glob, a bit: glob_match ran, and what it said
    std::vector<uint64_t> suffixes;     // start()'s scratch: the globs whose suffix fits
  };

  PathIndex() = default;
  // lists[k] is the pattern list of owner k (a rule's paths, a profile's credential paths), in
  // its own order; "~/" is expanded against home as PathMatcher does. The lists are copied.
  // groups[g] names lists that are asked together (any() below).
  PathIndex(std::span<const std::vector<std::string> *const> lists, const std::string &home,
            std::span<const std::vector<uint32_t>> groups = {});

  size_t owners() const { return owner_globs_.size(); }
  // Starts q on abs_path (which must outlive q's use): one walk of the path and one of its
  // basename, forwards and backwards, through the tries of the patterns' literal text.
  void start(Query &q, std::string_view abs_path) const;
  // The index in list k of the first pattern that q's path matches, or kNone: what
  // PathMatcher(list k, home).match(path) answers.
  uint32_t first(Query &q, size_t k) const;
  // Whether some list of group g has a pattern that q's path matches: when not, first() answers
  // kNone for each of them, and a caller with many such lists asks once instead of per list.
  bool any(Query &q, size_t g) const;
  // Every list at once (out.size() == owners()).
  void match(std::string_view abs_path, std::span<uint32_t> out) const;

private:
  struct Glob {
    std::string pattern;
    // "/<component>" of the first literal component after a "**/": text every match contains
    // ("/**/.git/hooks/*" -> "/.git"), which most paths lack; "" when there is none.
    std::string needle;
    bool basename_only;
  };
  // Keys (a glob's literal prefix or reversed suffix, a literal pattern) in a trie; a walk of a
  // text ORs into a glob bitset the globs of every key that begins the text (or ends it, for a
  // trie of reversed keys), and finds the literal patterns equal to the whole text.
  class Trie {
  public:
    void add_glob(std::string_view key, uint32_t glob);
    void add_literal(std::string_view key, Ref ref);
    // Lays the nodes out flat for walking; words: uint64_t per glob bitset.
    void seal(size_t words);
    // The walk from the front (kForward) or the back of text.
    template <bool kForward>
    std::span<const Ref> walk(std::string_view text, uint64_t *globs) const;

  private:
    struct Edge {
      char c;
      uint32_t to;
    };
    // After seal(): a chain of nodes with one child and no key of their own is one edge, whose
    // label (its first character c, then the rest) a walk compares in one go: fewer dependent
    // loads per path ("/home/dev/" is two edges, not ten).
    struct Label {
      char c;
      uint32_t text, len; // in labels_
      uint32_t to;
    };
    struct Node {
      uint32_t edges = 0, n_edges = 0; // in edges_
      // The bitset (first word in masks_, or none) of the globs of its key and of every shorter
      // key on its way: a walk ORs only that of the last node it reaches.
      uint32_t globs = UINT32_MAX;
      uint32_t refs = 0, n_refs = 0; // in refs_
    };
    uint32_t node_for(std::string_view key);
    // While adding: children per node, the globs and literals of each key.
    std::vector<std::vector<Edge>> build_edges_{1};
    std::vector<std::vector<uint32_t>> build_globs_{1};
    std::vector<std::vector<Ref>> build_refs_{1};
    std::vector<Node> nodes_;
    std::vector<Label> edges_;
    std::string labels_;
    std::vector<uint64_t> masks_;
    std::vector<Ref> refs_;
    size_t words_ = 0;
  };
  struct Group {
    std::vector<uint8_t> owner; // per owner: in the group
    std::vector<uint64_t> globs; // the globs of its owners
  };
  bool glob_matches(Query &q, uint32_t g) const;

  std::vector<Glob> globs_; // distinct wildcard patterns
  size_t words_ = 1;        // uint64_t per glob bitset
  // Whole-path patterns: globs' prefixes and literals; basename patterns (those without '/')
  // the same. Every glob's suffix, reversed, in one trie: a basename glob's suffix has no '/',
  // so the walk back from the end of the path meets it only within the basename.
  Trie path_front_, base_front_, back_;
  // Per list: (index in the list, distinct glob) of its wildcard patterns, in list order; and
  // their bitset (words_ per list), so that a list no candidate belongs to answers at once.
  std::vector<std::vector<std::pair<uint32_t, uint32_t>>> owner_globs_;
  std::vector<uint64_t> owner_masks_;
  std::vector<Group> groups_;
};

} // namespace vigil::policy
