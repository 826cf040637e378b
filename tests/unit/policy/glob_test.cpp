// SPDX-License-Identifier: Apache-2.0
// Credential path globs, the per-home PathMatcher and lexical path normalisation.

#include <gtest/gtest.h>

#include <algorithm>

#include "policy/profile.h"

namespace vigil::policy {
namespace {

TEST(Glob, star_and_question_stay_within_a_component)
{
  EXPECT_TRUE(glob_match("/home/u/.ssh/id_*", "/home/u/.ssh/id_rsa"));
  EXPECT_TRUE(glob_match("/home/u/.ssh/id_*", "/home/u/.ssh/id_"));
  EXPECT_FALSE(glob_match("/home/u/.ssh/id_*", "/home/u/.ssh/id_rsa/x"));
  EXPECT_FALSE(glob_match("/home/*", "/home/u/.ssh"));
  EXPECT_TRUE(glob_match("/tmp/?.txt", "/tmp/a.txt"));
  EXPECT_FALSE(glob_match("/tmp/?.txt", "/tmp/ab.txt"));
  EXPECT_FALSE(glob_match("/tmp?x", "/tmp/x"));
  EXPECT_TRUE(glob_match("*.pem", "server.pem"));
  EXPECT_TRUE(glob_match("*a*b*c", "xaybzc"));
  EXPECT_FALSE(glob_match("*a*b*c", "xaybzcd"));
  EXPECT_TRUE(glob_match("a**b", "axxb"));
}

TEST(Glob, literal_patterns_match_exactly)
{
  EXPECT_TRUE(glob_match("/etc/shadow", "/etc/shadow"));
  EXPECT_FALSE(glob_match("/etc/shadow", "/etc/shadow-"));
  EXPECT_FALSE(glob_match("/etc/shadow", "/etc"));
  EXPECT_TRUE(glob_match("", ""));
  EXPECT_FALSE(glob_match("", "a"));
}

TEST(Glob, bracket_expressions_with_ranges_and_negation)
{
  EXPECT_TRUE(glob_match("id_[a-z]sa", "id_rsa"));
  EXPECT_FALSE(glob_match("id_[a-q]sa", "id_rsa"));
  EXPECT_TRUE(glob_match("id_[!d]sa", "id_rsa"));
  EXPECT_FALSE(glob_match("id_[!r]sa", "id_rsa"));
  EXPECT_FALSE(glob_match("id_[^r]sa", "id_rsa"));
  EXPECT_TRUE(glob_match("[]]x", "]x"));
  EXPECT_TRUE(glob_match("[a-]x", "-x"));
  EXPECT_TRUE(glob_match("f[0-9][0-9]", "f42"));
  EXPECT_FALSE(glob_match("a[/]b", "a/b"));
}

TEST(Glob, unterminated_bracket_is_literal)
{
  EXPECT_TRUE(glob_match("a[b", "a[b"));
  EXPECT_FALSE(glob_match("a[b", "ab"));
}

TEST(Glob, double_star_matches_zero_or_more_components)
{
  EXPECT_TRUE(glob_match("/h/.azure/**", "/h/.azure/a"));
  EXPECT_TRUE(glob_match("/h/.azure/**", "/h/.azure/a/b/c"));
  EXPECT_TRUE(glob_match("/h/.azure/**", "/h/.azure"));
  EXPECT_FALSE(glob_match("/h/.azure/**", "/h/.azurex/a"));
  EXPECT_TRUE(glob_match("/a/**/b", "/a/b"));
  EXPECT_TRUE(glob_match("/a/**/b", "/a/x/y/b"));
  EXPECT_FALSE(glob_match("/a/**/b", "/a/x/y/c"));
  EXPECT_TRUE(glob_match("/**/secrets/*.json", "/srv/app/secrets/db.json"));
  EXPECT_TRUE(glob_match("/a/**/b/**/c", "/a/1/b/2/3/c"));
  EXPECT_FALSE(glob_match("/a/**/b/**/c", "/a/1/c"));
  EXPECT_TRUE(glob_match("/a/**/**/b", "/a/b"));
}

TEST(PathMatcher, expands_home_and_matches_whole_paths)
{
  PathMatcher m({"~/.aws/credentials", "~/.ssh/id_*", "/etc/shadow"}, "/home/dev/");
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m.pattern(0), "/home/dev/.aws/credentials");
  EXPECT_EQ(m.match("/home/dev/.aws/credentials"), 0u);
  EXPECT_EQ(m.match("/home/dev/.ssh/id_ed25519"), 1u);
  EXPECT_EQ(m.match("/etc/shadow"), 2u);
  EXPECT_EQ(m.match("/home/other/.aws/credentials"), std::nullopt);
  EXPECT_EQ(m.match("/home/dev/.aws/credentials.bak"), std::nullopt);
}

TEST(PathMatcher, slashless_patterns_match_the_basename_anywhere)
{
  PathMatcher m({".env", "*.pem", "id_rsa*"}, "/root");
  EXPECT_EQ(m.match("/srv/app/.env"), 0u);
  EXPECT_EQ(m.match("/.env"), 0u);
  EXPECT_EQ(m.match("/srv/app/.envrc"), std::nullopt);
  EXPECT_EQ(m.match("/etc/ssl/private/server.pem"), 1u);
  EXPECT_EQ(m.match("/x/id_rsa.pub"), 2u);
  EXPECT_EQ(m.match("/x/.env/y"), std::nullopt);
}

TEST(PathMatcher, returns_the_first_matching_pattern)
{
  PathMatcher m({"~/.ssh/*", "~/.ssh/id_rsa"}, "/root");
  EXPECT_EQ(m.match("/root/.ssh/id_rsa"), 0u);
}

TEST(PathMatcher, root_home_does_not_double_the_slash)
{
  PathMatcher m({"~/.netrc"}, "/");
  EXPECT_EQ(m.pattern(0), "/.netrc");
  EXPECT_EQ(m.match("/.netrc"), 0u);
}

TEST(PathMatcher, empty_home_leaves_tilde_patterns_unmatched)
{
  PathMatcher m({"~/.netrc", "/etc/shadow"}, "");
  EXPECT_EQ(m.match("/.netrc"), std::nullopt);
  EXPECT_EQ(m.match("/etc/shadow"), 1u);
}

TEST(PathMatcher, default_constructed_matches_nothing)
{
  PathMatcher m;
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(m.match("/etc/shadow"), std::nullopt);
}

TEST(NormalizePath, collapses_dots_and_slashes)
{
  EXPECT_EQ(normalize_path("/a//b/./c/"), "/a/b/c");
  EXPECT_EQ(normalize_path("/a/b/../c"), "/a/c");
  EXPECT_EQ(normalize_path("/a/b/../../../.."), "/");
  EXPECT_EQ(normalize_path("/../etc/shadow"), "/etc/shadow");
  EXPECT_EQ(normalize_path("/"), "/");
  EXPECT_EQ(normalize_path("//"), "/");
  EXPECT_EQ(normalize_path("/a/.../b"), "/a/.../b");
  EXPECT_EQ(normalize_path("/a/..b/c"), "/a/..b/c");
}

TEST(NormalizePath, joins_relative_paths_to_cwd)
{
  EXPECT_EQ(normalize_path(".aws/credentials", "/home/dev"), "/home/dev/.aws/credentials");
  EXPECT_EQ(normalize_path("../other/.netrc", "/home/dev/"), "/home/other/.netrc");
  EXPECT_EQ(normalize_path("x"), "/x");
  EXPECT_EQ(normalize_path("", "/srv/app"), "/srv/app");
  EXPECT_EQ(normalize_path("/etc/passwd", "/srv"), "/etc/passwd");
}

} // namespace
} // namespace vigil::policy

namespace vigil::policy {
namespace {

// The unix names every agent may reach: the system's logging and name-service sockets first,
// then ipc.allow with ~/ expanded for every home.
TEST(UnixAllow, system_sockets_then_the_profiles_paths_per_home)
{
  Profile p;
  p.ipc_allow = {"~/.docker/run/docker.sock", "/run/user/1000/helper.sock"};
  const auto paths = unix_allow_paths(p, {"/home/a", "/home/b/"});
  const size_t n = std::size(kSystemUnixSockets);
  ASSERT_EQ(paths.size(), n + 3);
  EXPECT_EQ(paths[0], "/dev/log");
  EXPECT_NE(std::find(paths.begin(), paths.end(), "/run/systemd/journal/socket"), paths.end());
  EXPECT_EQ(paths[n], "/home/a/.docker/run/docker.sock");
  EXPECT_EQ(paths[n + 1], "/home/b/.docker/run/docker.sock");
  EXPECT_EQ(paths[n + 2], "/run/user/1000/helper.sock");
}

} // namespace
} // namespace vigil::policy
