// SPDX-License-Identifier: Apache-2.0
// The shared credential-path index answers what each list's own PathMatcher answers (the
// per-rule matching it replaced), over the shipped rule packs and default profile, for paths
// made from every pattern and for ordinary paths.

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "policy/path_index.h"
#include "policy/profile.h"
#include "policy/rules.h"

namespace vigil::policy {
namespace {

// A path the pattern matches (wildcards filled in), and near misses around it.
void paths_from(const std::string &pattern, std::set<std::string> &out)
{
  std::string filled;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '*' && i + 1 < pattern.size() && pattern[i + 1] == '*') {
      filled += "d1/d2";
      ++i;
    } else if (c == '*') {
      filled += "x";
    } else if (c == '?') {
      filled += "q";
    } else if (c == '[') {
      const size_t close = pattern.find(']', i + 2);
      if (close == std::string::npos) {
        filled += c;
        continue;
      }
      const char first = pattern[i + 1] == '!' || pattern[i + 1] == '^' ? '#' : pattern[i + 1];
      filled += first;
      i = close;
    } else {
      filled += c;
    }
  }
  for (const std::string &p : {filled, filled + ".pub", filled + "/inner", filled + "x"}) {
    const std::string abs = p.starts_with("/") ? p : "/srv/project/" + p;
    out.insert(normalize_path(abs));
    // Every directory above it, and the same name elsewhere.
    for (size_t s = abs.find('/', 1); s != std::string::npos; s = abs.find('/', s + 1))
      out.insert(abs.substr(0, s));
    out.insert("/tmp/" + abs.substr(abs.rfind('/') + 1));
  }
  // The pattern text itself, taken as a path (a file named with '*').
  if (pattern.starts_with("/"))
    out.insert(pattern);
}

std::vector<const std::vector<std::string> *> shipped_lists(const RuleSet &rules,
                                                            const Profile &profile)
{
  std::vector<const std::vector<std::string> *> lists;
  for (const auto &r : rules.rules)
    if ((r.kind == RuleKind::credential_read || r.kind == RuleKind::persistence_write) &&
        !r.paths.empty())
      lists.push_back(&r.paths);
  lists.push_back(&profile.credential_paths);
  return lists;
}

TEST(PathIndex, matches_what_each_lists_own_matcher_matches_over_the_shipped_packs)
{
  auto rules = load_rules({VG_SOURCE_DIR "/rules"});
  ASSERT_TRUE(rules) << rules.error().message();
  auto profile = load_profile(VG_SOURCE_DIR "/rules/profiles/default.yaml");
  ASSERT_TRUE(profile) << profile.error().message();
  const auto lists = shipped_lists(*rules, *profile);
  ASSERT_GE(lists.size(), 15u) << "the shipped packs have credential and persistence rules";

  for (const std::string home : {"/home/dev", "/root", "/home/dev/", "", "/", "/var/lib/x y"}) {
    std::set<std::string> paths = {"/", "/etc/passwd", "/etc/shadow", "/home/dev/project/main.c",
                                   "/home/dev/.bashrc", "/usr/lib/libc.so.6", "/proc/self/environ",
                                   "/home/dev/.ssh", "/home/dev/.ssh/known_hosts", "id_rsa"};
    for (const auto *list : lists)
      for (const auto &pattern : *list) {
        std::string expanded = pattern;
        if (pattern.starts_with("~/"))
          expanded = (home.empty() ? std::string("~") : home) + pattern.substr(1);
        paths_from(expanded, paths);
        paths_from(pattern, paths);
      }
    std::vector<PathMatcher> matchers;
    for (const auto *list : lists)
      matchers.emplace_back(*list, home);
    // Groups as the detector asks them (credential lists, persistence lists), every list, each
    // list alone, and none.
    std::vector<std::vector<uint32_t>> groups(3);
    for (uint32_t k = 0; k < lists.size(); ++k) {
      groups[k % 2].push_back(k);
      groups[2].push_back(k);
      groups.push_back({k});
    }
    groups.emplace_back();
    const PathIndex index(lists, home, groups);
    ASSERT_EQ(index.owners(), lists.size());
    std::vector<uint32_t> hits(lists.size());
    size_t matched = 0;
    for (const auto &path : paths) {
      index.match(path, hits);
      std::vector<uint32_t> want_hits(lists.size());
      for (size_t k = 0; k < lists.size(); ++k) {
        const auto want = matchers[k].match(path);
        const uint32_t expect = want ? static_cast<uint32_t>(*want) : PathIndex::kNone;
        EXPECT_EQ(hits[k], expect) << "home '" << home << "', path " << path << ", list " << k;
        want_hits[k] = expect;
        matched += want.has_value();
      }
      // any() on a fresh query, and after some lists were answered (its glob results reused).
      for (const bool asked_first : {false, true}) {
        PathIndex::Query q;
        index.start(q, path);
        for (size_t k = 0; asked_first && k < lists.size(); k += 3) {
          EXPECT_EQ(index.first(q, k), want_hits[k]) << path << ", list " << k;
        }
        for (size_t g = 0; g < groups.size(); ++g) {
          const bool want = std::any_of(groups[g].begin(), groups[g].end(), [&](uint32_t k) {
            return want_hits[k] != PathIndex::kNone;
          });
          EXPECT_EQ(index.any(q, g), want) << "home '" << home << "', path " << path
                                           << ", group " << g;
        }
      }
    }
    // The corpus reaches the patterns, not only the misses.
    EXPECT_GT(matched, paths.size() / 4) << "home '" << home << "': " << paths.size() << " paths";
  }
}

TEST(PathIndex, the_first_pattern_of_each_list_wins_across_literals_basenames_and_globs)
{
  const std::vector<std::string> a = {"/h/.ssh/*", "id_rsa", "/h/.ssh/id_rsa"};
  const std::vector<std::string> b = {"/h/.ssh/id_rsa", "/h/.ssh/*"};
  const std::vector<std::string> c = {"*.pem", "id_*"};
  const std::vector<std::string> empty;
  const std::vector<const std::vector<std::string> *> lists = {&a, &b, &c, &empty, nullptr};
  const PathIndex index(lists, "/h");
  std::vector<uint32_t> hits(lists.size());
  index.match("/h/.ssh/id_rsa", hits);
  EXPECT_EQ(hits, (std::vector<uint32_t>{0, 0, 1, PathIndex::kNone, PathIndex::kNone}));
  index.match("/tmp/id_rsa", hits);
  EXPECT_EQ(hits, (std::vector<uint32_t>{1, PathIndex::kNone, 1, PathIndex::kNone,
                                         PathIndex::kNone}));
  index.match("/tmp/x.pem", hits);
  EXPECT_EQ(hits, (std::vector<uint32_t>{PathIndex::kNone, PathIndex::kNone, 0, PathIndex::kNone,
                                         PathIndex::kNone}));
}

// More distinct globs than one 64-bit word holds, with shared prefixes and suffixes: the tries'
// bitsets span words, and every list still answers as its own matcher does.
TEST(PathIndex, globs_beyond_one_bitset_word_answer_as_each_lists_matcher)
{
  std::vector<std::vector<std::string>> owned(7);
  std::set<std::string> paths = {"/", "/h", "/h/", "/etc/x", "/h/.cfg/a/b/c.conf"};
  for (int i = 0; i < 150; ++i) {
    const std::string n = std::to_string(i);
    std::vector<std::string> &list = owned[static_cast<size_t>(i) % owned.size()];
    const std::string shapes[] = {"~/.cfg/d" + n + "/*", "*.k" + n, "/srv/**/x" + n,
                                  "f" + n + "*", "/var/d" + n + "/*/s.conf", "~/lit" + n};
    list.push_back(shapes[i % 6]);
    paths_from(list.back().starts_with("~/") ? "/h" + list.back().substr(1) : list.back(), paths);
  }
  std::vector<const std::vector<std::string> *> lists;
  for (const auto &l : owned)
    lists.push_back(&l);
  const std::vector<std::vector<uint32_t>> groups = {{0, 1, 2}, {3, 4, 5, 6}, {6}};
  const PathIndex index(lists, "/h", groups);
  std::vector<uint32_t> hits(lists.size());
  size_t matched = 0;
  for (const auto &path : paths) {
    index.match(path, hits);
    std::vector<bool> any_of_list(lists.size());
    for (size_t k = 0; k < lists.size(); ++k) {
      const auto want = PathMatcher(*lists[k], "/h").match(path);
      EXPECT_EQ(hits[k], want ? static_cast<uint32_t>(*want) : PathIndex::kNone)
          << path << ", list " << k;
      any_of_list[k] = want.has_value();
      matched += want.has_value();
    }
    PathIndex::Query q;
    index.start(q, path);
    for (size_t g = 0; g < groups.size(); ++g)
      EXPECT_EQ(index.any(q, g), std::any_of(groups[g].begin(), groups[g].end(),
                                             [&](uint32_t k) { return any_of_list[k]; }))
          << path << ", group " << g;
  }
  EXPECT_GT(matched, 150u);
}

TEST(NormalPath, is_normal_path_agrees_with_normalize_path)
{
  for (const char *p : {"/", "/a", "/a/b", "//a", "/a/", "/a/./b", "/a/../b", "/..", "/.", "a",
                        "", "/a//b", "/a/b..", "/a/.b", "/...", "/a/b/"})
    EXPECT_EQ(is_normal_path(p), normalize_path(p) == p) << p;
}

} // namespace
} // namespace vigil::policy
