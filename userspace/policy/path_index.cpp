// SPDX-License-Identifier: Apache-2.0
// The shared credential-path index; see path_index.h. Built when rules or profiles change (and
// per home), matched on every open an agent makes.
#include "policy/path_index.h"

#include <algorithm>
#include <unordered_map>

#include "policy/profile.h"

namespace vigil::policy {

namespace {

constexpr std::string_view kGlobMeta = "*?[";

} // namespace

uint32_t PathIndex::Trie::node_for(std::string_view key)
{
  uint32_t n = 0;
  for (const char c : key) {
    auto &edges = build_edges_[n];
    auto it = std::find_if(edges.begin(), edges.end(), [&](const Edge &e) { return e.c == c; });
    if (it != edges.end()) {
      n = it->to;
      continue;
    }
    const auto to = static_cast<uint32_t>(build_edges_.size());
    edges.push_back(Edge{c, to});
    build_edges_.emplace_back();
    build_globs_.emplace_back();
    build_refs_.emplace_back();
    n = to;
  }
  return n;
}

void PathIndex::Trie::add_glob(std::string_view key, uint32_t glob)
{
  build_globs_[node_for(key)].push_back(glob);
}

void PathIndex::Trie::add_literal(std::string_view key, Ref ref)
{
  build_refs_[node_for(key)].push_back(ref);
}

void PathIndex::Trie::seal(size_t words)
{
  words_ = words;
  nodes_.assign(build_edges_.size(), Node{});
  // Nodes are made after their parents (node_for), so a parent's bitset is complete before its
  // children copy it.
  std::vector<uint32_t> parent(build_edges_.size(), UINT32_MAX);
  for (uint32_t n = 0; n < build_edges_.size(); ++n)
    for (const Edge &e : build_edges_[n])
      parent[e.to] = n;
  for (size_t n = 0; n < build_edges_.size(); ++n) {
    Node &node = nodes_[n];
    auto &edges = build_edges_[n];
    // The commonest character first is not known; sorted keeps the layout deterministic.
    std::sort(edges.begin(), edges.end(), [](const Edge &a, const Edge &b) { return a.c < b.c; });
    node.edges = static_cast<uint32_t>(edges_.size());
    node.n_edges = static_cast<uint32_t>(edges.size());
    for (const Edge &e : edges) {
      Label l{e.c, static_cast<uint32_t>(labels_.size()), 1, e.to};
      labels_ += e.c;
      // Nodes on the chain have no globs or literals of their own, so a walk that stops inside
      // the label has the bitset of the node the label starts from, and no literal.
      while (build_edges_[l.to].size() == 1 && build_globs_[l.to].empty() &&
             build_refs_[l.to].empty()) {
        labels_ += build_edges_[l.to][0].c;
        ++l.len;
        l.to = build_edges_[l.to][0].to;
      }
      edges_.push_back(l);
    }
    const uint32_t inherited = parent[n] == UINT32_MAX ? UINT32_MAX : nodes_[parent[n]].globs;
    if (!build_globs_[n].empty()) {
      node.globs = static_cast<uint32_t>(masks_.size());
      masks_.resize(masks_.size() + words, 0);
      for (size_t w = 0; inherited != UINT32_MAX && w < words; ++w)
        masks_[node.globs + w] = masks_[inherited + w];
      for (const uint32_t g : build_globs_[n])
        masks_[node.globs + (g >> 6)] |= uint64_t{1} << (g & 63);
    } else {
      node.globs = inherited;
    }
    node.refs = static_cast<uint32_t>(refs_.size());
    node.n_refs = static_cast<uint32_t>(build_refs_[n].size());
    refs_.insert(refs_.end(), build_refs_[n].begin(), build_refs_[n].end());
  }
  build_edges_ = {};
  build_globs_ = {};
  build_refs_ = {};
}

template <bool kForward>
std::span<const PathIndex::Ref> PathIndex::Trie::walk(std::string_view text,
                                                      uint64_t *globs) const
{
  if (nodes_.empty())
    return {};
  const Node *node = nodes_.data();
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const char c = kForward ? text[i] : text[n - 1 - i];
    const Label *e = edges_.data() + node->edges;
    const Label *end = e + node->n_edges;
    while (e != end && e->c != c)
      ++e;
    if (e == end || e->len > n - i)
      break;
    const char *label = labels_.data() + e->text;
    size_t j = 1;
    if constexpr (kForward)
      while (j < e->len && label[j] == text[i + j])
        ++j;
    else
      while (j < e->len && label[j] == text[n - 1 - i - j])
        ++j;
    if (j != e->len)
      break;
    i += e->len;
    node = nodes_.data() + e->to;
  }
  if (node->globs != UINT32_MAX)
    for (size_t w = 0; w < words_; ++w)
      globs[w] |= masks_[node->globs + w];
  if (i < text.size())
    return {};
  return {refs_.data() + node->refs, node->n_refs};
}

PathIndex::PathIndex(std::span<const std::vector<std::string> *const> lists,
                     const std::string &home, std::span<const std::vector<uint32_t>> groups)
    : owner_globs_(lists.size())
{
  const std::string prefix_of_home = home_prefix(home);
  std::unordered_map<std::string, uint32_t> glob_at; // pattern -> its slot in globs_
  struct Fixes {
    std::string prefix; // literal text before the first wildcard
    std::string suffix; // literal text after the last '*' or '?'
  };
  std::vector<Fixes> fixes;
  for (uint32_t owner = 0; owner < lists.size(); ++owner) {
    if (!lists[owner])
      continue;
    const std::vector<std::string> &list = *lists[owner];
    for (uint32_t index = 0; index < list.size(); ++index) {
      std::string expanded = expand_pattern(list[index], home, prefix_of_home);
      const bool basename_only = expanded.find('/') == std::string::npos;
      const size_t first_meta = expanded.find_first_of(kGlobMeta);
      if (first_meta == std::string::npos) {
        (basename_only ? base_front_ : path_front_).add_literal(expanded, Ref{owner, index});
        continue;
      }
      auto [it, added] = glob_at.try_emplace(expanded, static_cast<uint32_t>(globs_.size()));
      if (added) {
        Glob g;
        Fixes f;
        f.prefix = expanded.substr(0, first_meta);
        // After a ']' the class may hide more meta characters: only take a suffix after '*'/'?'.
        const size_t last_meta = expanded.find_last_of(kGlobMeta);
        if (expanded[last_meta] != ']')
          f.suffix = expanded.substr(last_meta + 1);
        g.basename_only = basename_only;
        if (const size_t star2 = expanded.find("/**/"); star2 != std::string::npos) {
          const size_t from = star2 + 4;
          const size_t end = expanded.find('/', from);
          const std::string comp = expanded.substr(from, end == std::string::npos ? end : end - from);
          if (!comp.empty() && comp.find_first_of(kGlobMeta) == std::string::npos)
            g.needle = "/" + comp;
        }
        g.pattern = std::move(expanded);
        globs_.push_back(std::move(g));
        fixes.push_back(std::move(f));
      }
      owner_globs_[owner].emplace_back(index, it->second);
    }
  }
  words_ = std::max<size_t>(1, (globs_.size() + 63) / 64);
  owner_masks_.assign(lists.size() * words_, 0);
  for (size_t k = 0; k < lists.size(); ++k)
    for (const auto &[index, g] : owner_globs_[k])
      owner_masks_[k * words_ + (g >> 6)] |= uint64_t{1} << (g & 63);
  for (uint32_t g = 0; g < globs_.size(); ++g) {
    std::string back(fixes[g].suffix.rbegin(), fixes[g].suffix.rend());
    (globs_[g].basename_only ? base_front_ : path_front_).add_glob(fixes[g].prefix, g);
    back_.add_glob(back, g);
  }
  for (Trie *t : {&path_front_, &base_front_, &back_})
    t->seal(words_);
  for (const auto &owners : groups) {
    Group grp{std::vector<uint8_t>(lists.size(), 0), std::vector<uint64_t>(words_, 0)};
    for (const uint32_t k : owners) {
      if (k >= lists.size())
        continue;
      grp.owner[k] = 1;
      for (const auto &[index, g] : owner_globs_[k])
        grp.globs[g >> 6] |= uint64_t{1} << (g & 63);
    }
    groups_.push_back(std::move(grp));
  }
}

void PathIndex::start(Query &q, std::string_view abs_path) const
{
  q.path = abs_path;
  const size_t slash = abs_path.rfind('/');
  q.base = slash == std::string_view::npos ? abs_path : abs_path.substr(slash + 1);
  if (q.candidate.size() != words_)
    for (auto *bits : {&q.candidate, &q.ran, &q.matched, &q.suffixes})
      bits->resize(words_);
  for (size_t w = 0; w < words_; ++w)
    q.candidate[w] = q.ran[w] = q.matched[w] = q.suffixes[w] = 0;
  // A glob is a candidate when the path starts with its prefix and ends with its suffix: the
  // bits of both walks, ANDed (whole-path and basename globs are distinct bits).
  uint64_t *b = q.suffixes.data();
  q.literal[0] = path_front_.walk<true>(q.path, q.candidate.data());
  back_.walk<false>(q.path, b);
  q.literal[1] = base_front_.walk<true>(q.base, q.candidate.data());
  for (size_t w = 0; w < words_; ++w)
    q.candidate[w] &= b[w];
}

bool PathIndex::glob_matches(Query &q, uint32_t g) const
{
  const size_t w = g >> 6;
  const uint64_t bit = uint64_t{1} << (g & 63);
  if (!(q.candidate[w] & bit))
    return false;
  if (!(q.ran[w] & bit)) {
    q.ran[w] |= bit;
    const Glob &glob = globs_[g];
    const std::string_view target = glob.basename_only ? q.base : q.path;
    if ((glob.needle.empty() || target.find(glob.needle) != std::string_view::npos) &&
        glob_match(glob.pattern, target))
      q.matched[w] |= bit;
  }
  return q.matched[w] & bit;
}

uint32_t PathIndex::first(Query &q, size_t k) const
{
  uint32_t best = kNone;
  for (const auto &refs : q.literal)
    for (const Ref &r : refs)
      if (r.owner == k)
        best = std::min(best, r.index);
  bool candidates = false;
  for (size_t w = 0; w < words_; ++w)
    candidates |= (q.candidate[w] & owner_masks_[k * words_ + w]) != 0;
  if (!candidates)
    return best;
  // Globs in list order, only those before the literal that matched (PathMatcher's order).
  for (const auto &[index, g] : owner_globs_[k]) {
    if (index >= best)
      break;
    if (glob_matches(q, g))
      return index;
  }
  return best;
}

bool PathIndex::any(Query &q, size_t g) const
{
  if (g >= groups_.size()) // a group no list was given to (a detector with no rules yet)
    return false;
  const Group &grp = groups_[g];
  for (const auto &refs : q.literal)
    for (const Ref &r : refs)
      if (grp.owner[r.owner])
        return true;
  for (size_t w = 0; w < words_; ++w)
    for (uint64_t m = q.candidate[w] & grp.globs[w]; m; m &= m - 1)
      if (glob_matches(q, static_cast<uint32_t>(w * 64 + static_cast<size_t>(__builtin_ctzll(m)))))
        return true;
  return false;
}

void PathIndex::match(std::string_view abs_path, std::span<uint32_t> out) const
{
  Query q;
  start(q, abs_path);
  for (size_t k = 0; k < owners(); ++k)
    out[k] = first(q, k);
}

} // namespace vigil::policy
