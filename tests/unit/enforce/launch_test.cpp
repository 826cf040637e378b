// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include "enforce/launch.h"

namespace vigil::enforce {
namespace {

TEST(Launch, secret_like_names)
{
  for (const char *n : {"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "GITHUB_TOKEN", "GH_TOKEN",
                        "ANTHROPIC_API_KEY", "OPENAI_API_KEY", "NPM_TOKEN", "DB_PASSWORD",
                        "AZURE_CLIENT_SECRET", "VAULT_TOKEN", "SLACK_WEBHOOK_SECRET_URL",
                        "MY_TOKEN_FILE", "DOCKER_AUTH_CONFIG", "GOOGLE_CREDENTIALS", "gitlab_pat"})
    EXPECT_TRUE(secret_like(n)) << n;
  for (const char *n : {"PATH", "HOME", "LANG", "TERM", "AWS_REGION", "AWS_PROFILE", "EDITOR",
                        "SSH_AUTH_SOCK", "KEYBOARD", "TOKENIZERS_PARALLELISM", "AWS_CA_BUNDLE"})
    EXPECT_FALSE(secret_like(n)) << n;
}

TEST(Launch, scrub_keeps_order_and_honours_the_allowlist)
{
  const char *envp[] = {"PATH=/usr/bin", "GITHUB_TOKEN=ghp_x", "HOME=/root", "AWS_SECRET_ACCESS_KEY=y",
                        "ANTHROPIC_API_KEY=sk-z", "NOEQUALS", nullptr};
  auto out = scrub_environment(envp, {"ANTHROPIC_API_KEY"});
  EXPECT_EQ(out.kept, (std::vector<std::string>{"PATH=/usr/bin", "HOME=/root",
                                                 "ANTHROPIC_API_KEY=sk-z", "NOEQUALS"}));
  EXPECT_EQ(out.removed, (std::vector<std::string>{"GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY"}));
}

TEST(Launch, filter_shape)
{
  // Arch check, x32 check and a final allow always; the socket block only when asked.
  const auto base = launch_filter(false);
  const auto raw = launch_filter(true);
  EXPECT_EQ(base.size(), 7u);
  EXPECT_EQ(raw.size(), base.size() + 8);
  EXPECT_EQ(base.back().code, BPF_RET | BPF_K);
}

} // namespace
} // namespace vigil::enforce
