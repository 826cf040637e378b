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
    : owners_(lists.size())
{
  const std::string prefix_of_home = home_prefix(home);
  std::unordered_map<std::string, size_t> glob_at; // pattern -> its slot in globs_
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
      auto [it, added] = glob_at.try_emplace(expanded, globs_.size());
      if (added) {
        Glob g;
        g.prefix = expanded.substr(0, first_meta);
        // After a ']' the class may hide more meta characters: only take a suffix after '*'/'?'.
        const size_t last_meta = expanded.find_last_of(kGlobMeta);
        if (expanded[last_meta] != ']')
          g.suffix = expanded.substr(last_meta + 1);
        g.basename_only = basename_only;
        g.pattern = std::move(expanded);
        globs_.push_back(std::move(g));
      }
      globs_[it->second].refs.push_back(Ref{owner, index});
    }
  }
}

void PathIndex::take(const std::vector<Ref> &refs, std::span<uint32_t> out)
{
  for (const Ref &r : refs)
    out[r.owner] = std::min(out[r.owner], r.index);
}

void PathIndex::match(std::string_view abs_path, std::span<uint32_t> out) const
{
  std::fill(out.begin(), out.end(), kNone);
  const size_t slash = abs_path.rfind('/');
  const std::string_view base =
      slash == std::string_view::npos ? abs_path : abs_path.substr(slash + 1);
  if (auto it = exact_.find(abs_path); it != exact_.end())
    take(it->second, out);
  if (auto it = base_exact_.find(base); it != base_exact_.end())
    take(it->second, out);
  for (const Glob &g : globs_) {
    const std::string_view target = g.basename_only ? base : abs_path;
    if (!target.starts_with(g.prefix) || !target.ends_with(g.suffix))
      continue;
    // A list whose earlier pattern already matched does not need this one.
    const bool wanted = std::any_of(g.refs.begin(), g.refs.end(),
                                    [&](const Ref &r) { return r.index < out[r.owner]; });
    if (wanted && glob_match(g.pattern, target))
      take(g.refs, out);
  }
}

} // namespace vigil::policy
