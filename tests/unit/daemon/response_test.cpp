// SPDX-License-Identifier: Apache-2.0
// The responder's bookkeeping without a cgroup: each action asked for is counted once as done,
// suppressed or failed (what vigil_response_actions_total exports), a failed isolation is
// reported once, an isolation adopted from an earlier daemon is held, and a restore lets the next
// alert isolate again. Freeze and kill need real cgroups: tests/bpf/{response,daemon}_test.cpp.
#include <map>
#include <tuple>

#include <gtest/gtest.h>

#include "daemon/response.h"

using namespace vigil;
using namespace vigil::daemon;

namespace {

class ResponderTest : public ::testing::Test {
protected:
  void SetUp() override
  {
    auto p = policy::parse_profile("profile: p\nresponse:\n  rules:\n    cred: [isolate]\n",
                                   "<test>");
    ASSERT_TRUE(p) << p.error().message();
    profile_ = std::move(*p);
    // The rule's own response asks for run, which this profile configures no command for.
    policy::Rule rule;
    rule.id = "cred";
    rule.response = {policy::Action::run};
    rules_.rules.push_back(rule);
    alert_.rule = "cred";
    alert_.profile = "p";
    alert_.output = "read a credential";
  }
  ResponderHooks hooks()
  {
    ResponderHooks h;
    h.isolate = [this](uint64_t id, bool on) -> Result<> {
      calls_.emplace_back(id, on);
      if (refuse_)
        return fail_errno(EPERM, "isolate");
      return {};
    };
    h.count = [this](std::string_view action, std::string_view result, const std::string &prof) {
      ++counted_[{std::string(action), std::string(result), prof}];
    };
    return h;
  }
  size_t counted(const std::string &action, const std::string &result)
  {
    auto it = counted_.find({action, result, "p"});
    return it == counted_.end() ? 0 : it->second;
  }

  policy::Profile profile_;
  policy::RuleSet rules_;
  detect::Alert alert_;
  AgentCgroup agent_{"/sys/fs/cgroup/agents/a1", 77};
  std::vector<std::pair<uint64_t, bool>> calls_;
  bool refuse_ = false;
  std::map<std::tuple<std::string, std::string, std::string>, size_t> counted_;
};

TEST_F(ResponderTest, each_action_is_counted_once_as_done_suppressed_or_failed)
{
  Responder r(hooks());
  r.set_rules(rules_);
  auto first = r.on_alert(alert_, profile_, agent_);
  // Isolated (done), and run refused: the profile names no command.
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].rule, "response-isolate");
  EXPECT_EQ(first[0].response.action, "isolate");
  EXPECT_EQ(first[0].response.result, "done");
  EXPECT_EQ(first[0].response.target, agent_.dir);
  EXPECT_EQ(first[1].rule, "response-run");
  EXPECT_EQ(first[1].response.result, "failed");
  EXPECT_EQ(first[1].severity, policy::Severity::error);
  // The same alert again: both in force (isolated; run within its cooldown).
  EXPECT_TRUE(r.on_alert(alert_, profile_, agent_).empty());
  EXPECT_EQ(counted("isolate", "done"), 1u);
  EXPECT_EQ(counted("isolate", "suppressed"), 1u);
  EXPECT_EQ(counted("run", "failed"), 1u);
  EXPECT_EQ(counted("run", "suppressed"), 1u);
  const Responder::Stats s = r.stats();
  EXPECT_EQ(s.done, 1u);
  EXPECT_EQ(s.suppressed, 2u);
  EXPECT_EQ(s.failed, 1u);
  ASSERT_EQ(calls_.size(), 1u);
  EXPECT_EQ(calls_[0], std::make_pair(uint64_t{77}, true));

  // Restored by the operator: the next alert isolates again.
  EXPECT_TRUE(r.restored(77));
  EXPECT_FALSE(r.restored(77));
  auto again = r.on_alert(alert_, profile_, agent_);
  ASSERT_FALSE(again.empty());
  EXPECT_EQ(again[0].rule, "response-isolate");
  EXPECT_EQ(counted("isolate", "done"), 2u);
}

TEST_F(ResponderTest, a_refused_isolation_is_reported_once)
{
  refuse_ = true;
  Responder r(hooks());
  r.set_rules(rules_);
  auto first = r.on_alert(alert_, profile_, agent_);
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(first[0].rule, "response-isolate");
  EXPECT_EQ(first[0].response.result, "failed");
  EXPECT_NE(first[0].output.find("could not isolate"), std::string::npos) << first[0].output;
  r.on_alert(alert_, profile_, agent_);
  EXPECT_EQ(counted("isolate", "failed"), 1u);
  EXPECT_EQ(counted("isolate", "suppressed"), 1u);
}

TEST_F(ResponderTest, an_adopted_isolation_is_held_until_restored)
{
  Responder r(hooks());
  r.set_rules(rules_);
  r.adopt_isolated(77);
  auto recs = r.on_alert(alert_, profile_, agent_);
  for (const auto &rec : recs)
    EXPECT_NE(rec.rule, "response-isolate") << "already isolated by the earlier daemon";
  EXPECT_TRUE(calls_.empty());
  EXPECT_EQ(counted("isolate", "suppressed"), 1u);
  EXPECT_TRUE(r.restored(77));
}

} // namespace
