// SPDX-License-Identifier: Apache-2.0
// The shared credential-path index; see path_index.h. Built when rules or profiles change (and
// per home), matched on every open an agent makes.
#include "policy/path_index.h"

#include <algorithm>

#include "policy/profile.h"

namespace vigil::policy {

namespace {

constexpr std::string_view kGlobMeta = "*?[";

} // namespace

PathIndex::PathIndex(std::span<const std::vector<std::string> *const> lists,
                     const std::string &home)
    : owner_globs_(lists.size())
{
  const std::string prefix_of_home = home_prefix(home);
  std::unordered_map<std::string, uint32_t> glob_at; // pattern -> its slot in globs_
  for (uint32_t owner = 0; owner < lists.size(); ++owner) {
    if (!lists[owner])
      continue;
    const std::vector<std::string> &list = *lists[owner];
    for (uint32_t index = 0; index < list.size(); ++index) {
      std::string expanded = expand_pattern(list[index], home, prefix_of_home);
      const bool basename_only = expanded.find('/') == std::string::npos;
      const size_t first_meta = expanded.find_first_of(kGlobMeta);
      if (first_meta == std::string::npos) {
        (basename_only ? base_exact_ : exact_)[expanded].push_back(Ref{owner, index});
        continue;
      }
      auto [it, added] = glob_at.try_emplace(expanded, static_cast<uint32_t>(globs_.size()));
      if (added) {
        Glob g;
        g.prefix = expanded.substr(0, first_meta);
        // After a ']' the class may hide more meta characters: only take a suffix after '*'/'?'.
        const size_t last_meta = expanded.find_last_of(kGlobMeta);
        if (expanded[last_meta] != ']')
          g.suffix = expanded.substr(last_meta + 1);
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
      }
      owner_globs_[owner].emplace_back(index, it->second);
    }
  }
}

void PathIndex::start(Query &q, std::string_view abs_path) const
{
  q.path = abs_path;
  const size_t slash = abs_path.rfind('/');
  q.base = slash == std::string_view::npos ? abs_path : abs_path.substr(slash + 1);
  q.literal.assign(owners(), kNone);
  q.answer.assign(owners(), kUnknown);
  q.glob.assign(globs_.size(), -1);
  for (const Literals *table : {&exact_, &base_exact_})
    if (auto it = table->find(table == &exact_ ? q.path : q.base); it != table->end())
      for (const Ref &r : it->second)
        q.literal[r.owner] = std::min(q.literal[r.owner], r.index);
}

bool PathIndex::glob_matches(Query &q, uint32_t g) const
{
  if (q.glob[g] < 0) {
    const Glob &glob = globs_[g];
    const std::string_view target = glob.basename_only ? q.base : q.path;
    q.glob[g] = target.starts_with(glob.prefix) && target.ends_with(glob.suffix) &&
                (glob.needle.empty() || target.find(glob.needle) != std::string_view::npos) &&
                glob_match(glob.pattern, target);
  }
  return q.glob[g] > 0;
}

uint32_t PathIndex::first_uncached(Query &q, size_t k) const
{
  uint32_t best = q.literal[k];
  // Globs in list order, only those before the literal that matched (PathMatcher's order).
  for (const auto &[index, g] : owner_globs_[k]) {
    if (index >= best)
      break;
    if (glob_matches(q, g)) {
      best = index;
      break;
    }
  }
  q.answer[k] = best;
  return best;
}

void PathIndex::match(std::string_view abs_path, std::span<uint32_t> out) const
{
  Query q;
  start(q, abs_path);
  for (size_t k = 0; k < owners(); ++k)
    out[k] = first(q, k);
}

} // namespace vigil::policy
