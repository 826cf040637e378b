// SPDX-License-Identifier: Apache-2.0
// `vigil profile suggest` end to end, on this host's kernel (tier 2) and in the VM (tier lsm):
// a session recorded under the default profile, watched not confined; the suggestion from its
// log; the same session under the suggestion (no alert, no denial); and with a credential read
// and a connect to a new address added (both denied, each with its alert). The agent runs as
// root and as uid 65534.
#include <sys/stat.h>

#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "harness.h"

namespace fs = std::filesystem;
using namespace vigil::test;

namespace {

size_t count_of(const std::string &hay, const std::string &needle)
{
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1))
    ++n;
  return n;
}

std::vector<std::string> agent_prefix(bool unprivileged)
{
  if (!unprivileged)
    return {};
  return {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
}

std::string who(const ::testing::TestParamInfo<bool> &info)
{
  return info.param ? "uid65534" : "root";
}

class ProfileSuggest : public ::testing::TestWithParam<bool> {
protected:
  void SetUp() override
  {
    VG_REQUIRE_ROOT();
    ::chmod(tmp_.path().c_str(), 0777);
    home_ = tmp_ / "home";
    fs::create_directories(home_);
    canary_ = plant_aws_canary(home_);
    for (const auto &p : {home_, home_ + "/.aws"})
      ::chmod(p.c_str(), 0755);
    ::chmod(canary_.c_str(), 0644); // readable by uid 65534: only vigil stands in the way
    write_file(tmp_ / "notes.txt", "project notes\n");
    ::chmod((tmp_ / "notes.txt").c_str(), 0644);
    port_ = std::to_string(free_port());
  }

  // The session: reads a project file and connects to a service outside the default
  // allowlist (nothing listens there: the connect is refused by TCP, or by vigil).
  std::string session() const
  {
    return "cat '" + tmp_ / "notes.txt" + "' >/dev/null; : 3<>/dev/tcp/127.0.0.3/" + port_ +
           "; true";
  }

  ProcResult agent(const std::vector<std::string> &vigil_args, const std::string &script)
  {
    std::vector<std::string> argv{vigil_bin(), "run"};
    argv.insert(argv.end(), vigil_args.begin(), vigil_args.end());
    argv.push_back("--");
    for (const auto &a : agent_prefix(GetParam()))
      argv.push_back(a);
    argv.insert(argv.end(), {"bash", "-c", script});
    return run(argv, {"HOME=" + home_}, std::chrono::seconds(120));
  }

  TempDir tmp_;
  std::string home_, canary_, port_;
};

TEST_P(ProfileSuggest, session_runs_clean_under_the_suggestion_and_new_attempts_stay_denied)
{
  // 1. Record the session watched, not confined (--max-tier monitor), under the default.
  const std::string log = tmp_ / "log", a1 = tmp_ / "a1.jsonl";
  ProcResult rec =
      agent({"--max-tier", "monitor", "--log-dir", log, "--alerts-json", a1}, session());
  ASSERT_EQ(rec.status, 0) << rec.err;
  bool seen = false;
  for (const auto &a : read_json_lines(a1))
    seen |= a.value("rule", "") == "egress-not-allowed";
  ASSERT_TRUE(seen) << "the default profile does not allow 127.0.0.3: " << rec.err;

  // 2. The suggestion: loads, names the destination with where it came from.
  const std::string suggested = tmp_ / "suggested.yaml";
  ProcResult sug = run({vigil_bin(), "profile", "suggest", log, "-o", suggested});
  ASSERT_EQ(sug.status, 0) << sug.err;
  ProcResult check = run({vigil_bin(), "check-profile", suggested});
  ASSERT_EQ(check.status, 0) << check.err << read_file(suggested);
  const std::string yaml = read_file(suggested);
  EXPECT_NE(yaml.find("{cidr: 127.0.0.3/32, ports: [" + port_ + "]}"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("by bash (pid"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("~/.aws/credentials"), std::string::npos) << "base protections kept";

  // 3. The same session under the suggestion: no alert, no denial.
  const std::string a2 = tmp_ / "a2.jsonl", log2 = tmp_ / "log2";
  ProcResult again =
      agent({"--profile", suggested, "--alerts-json", a2, "--log-dir", log2}, session());
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_TRUE(read_json_lines(a2).empty()) << read_file(a2);
  EXPECT_EQ(again.err.find("Operation not permitted"), std::string::npos) << again.err;
  EXPECT_NE(again.err.find("Connection refused"), std::string::npos) << again.err;
  ProcResult rep = run({vigil_bin(), "report", log2, "-o", tmp_ / "again.html"});
  ASSERT_EQ(rep.status, 0) << rep.err;
  EXPECT_NE(rep.err.find(" 0 alert(s), 0 denial(s)"), std::string::npos) << rep.err;

  // 4. New attempts under the suggestion: the credential read and a new address are denied,
  // each with its alert.
  const std::string a3 = tmp_ / "a3.jsonl";
  ProcResult more = agent({"--profile", suggested, "--alerts-json", a3},
                          session() + "; cat \"$HOME/.aws/credentials\"; : 3<>/dev/tcp/127.0.0.4/" +
                              port_ + "; true");
  ASSERT_EQ(more.status, 0) << more.err;
  EXPECT_EQ(more.out.find("canary"), std::string::npos) << "the credential was read";
  EXPECT_EQ(count_of(more.err, "/dev/tcp/127.0.0.4/" + port_ + ": Operation not permitted"), 1u)
      << more.err;
  EXPECT_EQ(count_of(more.err, "/dev/tcp/127.0.0.3/" + port_ + ": Connection refused"), 1u)
      << more.err;
  size_t cred = 0, egress = 0;
  for (const auto &a : read_json_lines(a3)) {
    if (a.value("path", "") == canary_)
      ++cred;
    if (a.value("rule", "") == "egress-not-allowed") {
      ++egress;
      EXPECT_EQ(a["destination"].value("ip", ""), "127.0.0.4") << a.dump();
      EXPECT_EQ(a.value("verdict", ""), "denied") << a.dump();
    }
  }
  EXPECT_EQ(cred, 1u) << read_file(a3);
  for (const auto &a : read_json_lines(a3)) {
    if (a.value("path", "") == canary_) {
      EXPECT_EQ(a.value("verdict", ""), "denied") << a.dump();
    }
  }
  EXPECT_EQ(egress, 1u) << read_file(a3);
}

// A real tool: `git clone` over HTTP from a server outside the agent (127.0.0.5, not in the
// default allowlist), recorded, suggested, and cloned again under the suggestion: no alert; a
// clone from another address is still denied, with its alert.
TEST_P(ProfileSuggest, git_clone_from_a_local_server_runs_clean_under_its_suggestion)
{
  if (run({"sh", "-c", "command -v git && command -v python3"}).status != 0)
    GTEST_SKIP() << "git and python3 are needed (a repository served over HTTP)";
  const std::string srv = tmp_ / "srv", work = tmp_ / "work";
  const std::vector<std::string> id = {"-c", "user.email=t@example.com", "-c", "user.name=t"};
  ASSERT_EQ(run({"git", "init", "-q", work}).status, 0);
  write_file(work + "/README", "served over http\n");
  ASSERT_EQ(run({"git", "-C", work, "add", "README"}).status, 0);
  std::vector<std::string> commit = {"git", "-C", work};
  commit.insert(commit.end(), id.begin(), id.end());
  commit.insert(commit.end(), {"commit", "-q", "-m", "first"});
  ASSERT_EQ(run(commit).status, 0);
  ASSERT_EQ(run({"git", "clone", "-q", "--bare", work, srv + "/repo.git"}).status, 0);
  ASSERT_EQ(run({"git", "-C", srv + "/repo.git", "update-server-info"}).status, 0);
  const std::string address = "127.0.0.5:" + port_;
  Proc server({"python3", "-m", "http.server", port_, "--bind", "127.0.0.5", "--directory", srv});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (http_get(address, "/repo.git/HEAD").find("ref:") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_NE(http_get(address, "/repo.git/HEAD").find("ref:"), std::string::npos)
      << "the HTTP server did not come up";
  const std::string url = "http://" + address + "/repo.git";

  const std::string log = tmp_ / "log", a1 = tmp_ / "a1.jsonl";
  ProcResult rec = agent({"--max-tier", "monitor", "--log-dir", log, "--alerts-json", a1},
                         "git clone -q " + url + " '" + tmp_ / "c1" + "'");
  ASSERT_EQ(rec.status, 0) << rec.err;
  ASSERT_TRUE(fs::exists(tmp_ / "c1/README")) << rec.err;
  const std::string suggested = tmp_ / "suggested.yaml";
  ProcResult sug = run({vigil_bin(), "profile", "suggest", log, "-o", suggested});
  ASSERT_EQ(sug.status, 0) << sug.err;
  const std::string yaml = read_file(suggested);
  EXPECT_NE(yaml.find("{cidr: 127.0.0.5/32, ports: [" + port_ + "]}"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("by git-remote-http (pid"), std::string::npos) << yaml;

  const std::string a2 = tmp_ / "a2.jsonl";
  ProcResult again = agent({"--profile", suggested, "--alerts-json", a2},
                           "git clone -q " + url + " '" + tmp_ / "c2" + "'");
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_TRUE(fs::exists(tmp_ / "c2/README")) << again.err;
  EXPECT_TRUE(read_json_lines(a2).empty()) << read_file(a2);

  const std::string a3 = tmp_ / "a3.jsonl";
  ProcResult other =
      agent({"--profile", suggested, "--alerts-json", a3},
            "git clone -q http://127.0.0.6:" + port_ + "/repo.git '" + tmp_ / "c3" + "'");
  EXPECT_NE(other.status, 0) << other.err;
  size_t egress = 0;
  for (const auto &a : read_json_lines(a3))
    egress += a.value("rule", "") == "egress-not-allowed" &&
              a["destination"].value("ip", "") == "127.0.0.6" && a.value("verdict", "") == "denied";
  EXPECT_GE(egress, 1u) << read_file(a3);
}

// A build (make and cc, no network): the suggestion adds nothing, and the build runs clean
// under it.
TEST_P(ProfileSuggest, a_build_needs_nothing_added)
{
  if (run({"sh", "-c", "command -v make && command -v cc"}).status != 0)
    GTEST_SKIP() << "make and cc are needed";
  const std::string dir = tmp_ / "proj";
  fs::create_directories(dir);
  ::chmod(dir.c_str(), 0777);
  write_file(dir + "/hello.c", "#include <stdio.h>\nint main(void){puts(\"built\");return 0;}\n");
  write_file(dir + "/Makefile", "hello: hello.c\n\tcc -O2 -o hello hello.c\n");
  const std::string build = "cd '" + dir + "' && rm -f hello && make -s && ./hello";
  const std::string log = tmp_ / "log", a1 = tmp_ / "a1.jsonl";
  ProcResult rec = agent({"--max-tier", "monitor", "--log-dir", log, "--alerts-json", a1}, build);
  ASSERT_EQ(rec.status, 0) << rec.err;
  EXPECT_NE(rec.out.find("built"), std::string::npos) << rec.out << rec.err;
  const std::string suggested = tmp_ / "suggested.yaml";
  ProcResult sug = run({vigil_bin(), "profile", "suggest", log, "-o", suggested});
  ASSERT_EQ(sug.status, 0) << sug.err;
  const std::string yaml = read_file(suggested);
  EXPECT_EQ(yaml.find("# recorded"), std::string::npos) << yaml;
  EXPECT_EQ(yaml.find("  # REVIEW"), std::string::npos) << yaml;
  const std::string a2 = tmp_ / "a2.jsonl";
  ProcResult again = agent({"--profile", suggested, "--alerts-json", a2}, build);
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_NE(again.out.find("built"), std::string::npos) << again.out << again.err;
  EXPECT_TRUE(read_json_lines(a2).empty()) << read_file(a2);
}

INSTANTIATE_TEST_SUITE_P(Agent, ProfileSuggest, ::testing::Bool(), who);

} // namespace
