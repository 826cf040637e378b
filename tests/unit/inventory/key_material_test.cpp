// SPDX-License-Identifier: Apache-2.0
// What the inventory's content scan takes for key material, and what it leaves alone.
#include <gtest/gtest.h>

#include "inventory/inventory.h"

namespace vigil::inventory {
namespace {

TEST(KeyMaterial, finds_each_kind_with_its_line)
{
  struct Case {
    std::string text, kind;
    size_t line;
  };
  const std::vector<Case> cases = {
      {"x\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n", "pem-private-key", 2},
      {"-----BEGIN EC PRIVATE KEY-----\n", "pem-private-key", 1},
      {"a\nb\nid=AKIAIOSFODNN7EXAMPLE\n", "aws-access-key-id", 3},
      {"ASIAIOSFODNN7EXAMPLE", "aws-access-key-id", 1},
      {"token: ghp_0123456789abcdefghijABCDEFGHIJ012345\n", "github-token", 1},
      {"github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123", "github-token", 1},
      {"glpat-abcdefghij0123456789", "gitlab-token", 1},
      {"xoxb-1234567890-abcdef", "slack-token", 1},
      {"AIzaSyA-0123456789abcdefghijklmnopqrstu", "google-api-key", 1},
  };
  for (const auto &c : cases) {
    KeyMatch m = find_key_material(c.text);
    EXPECT_EQ(m.kind, c.kind) << c.text;
    EXPECT_EQ(m.line, c.line) << c.text;
  }
}

TEST(KeyMaterial, leaves_public_keys_prose_and_lookalikes_alone)
{
  for (const char *text : {"-----BEGIN PUBLIC KEY-----\nMIIB\n", "-----BEGIN CERTIFICATE-----",
                           "AKIA is how AWS key ids start", "XAKIAIOSFODNN7EXAMPLE", "ghp_short",
                           "the sk- prefix", ""})
    EXPECT_EQ(find_key_material(text).kind, "") << text;
}

} // namespace
} // namespace vigil::inventory
