// SPDX-License-Identifier: Apache-2.0
// `vigil inventory` on a home with planted credentials (files at standard paths, a PEM key under
// an odd name, an AWS key id inside a .txt, a GITHUB_TOKEN variable, a docker socket named by
// DOCKER_HOST) and on a clean one: every finding named with the profile's verdict, no value
// printed, for the caller (root) and for uid 65534.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>

#include "harness.h"

namespace vigil::test {
namespace {

namespace fs = std::filesystem;

constexpr const char *kAwsSecret = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY";
constexpr const char *kAwsKeyId = "AKIAIOSFODNN7EXAMPLE";
constexpr const char *kPemBody = "MIIEowIBAAKCAQEAplantedplantedplanted";
constexpr const char *kGithub = "ghp_0123456789abcdefghijABCDEFGHIJ012345";

class InventoryTest : public ::testing::TestWithParam<bool> {
protected:
  void SetUp() override
  {
    ::chmod(tmp_.path().c_str(), 0755);
    home_ = tmp_ / "home";
    project_ = tmp_ / "project";
    fs::create_directories(home_);
    fs::create_directories(project_);
    profile_ = tmp_ / "profile.yaml";
    write_file(profile_, "profile: inv\ncredentials:\n  paths: [~/.aws/credentials]\n"
                         "egress:\n  allow: [127.0.0.1/32]\n");
  }

  void plant()
  {
    write_file(home_ + "/.aws/credentials",
               "[default]\naws_secret_access_key = " + std::string(kAwsSecret) + "\n");
    write_file(home_ + "/.git-credentials", "https://u:" + std::string(kGithub) + "@github.com\n");
    write_file(home_ + "/notes/old-backup.dat", "-----BEGIN RSA PRIVATE KEY-----\n" +
                                                    std::string(kPemBody) +
                                                    "\n-----END RSA PRIVATE KEY-----\n");
    write_file(project_ + "/deploy/readme.txt",
               "use these:\nkey id " + std::string(kAwsKeyId) + "\n");
    docker_ = tmp_ / "docker.sock";
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof(a.sun_path), "%s", docker_.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof(a)), 0);
    ::close(fd);
    if (GetParam()) // uid 65534 owns its home, as a user would
      run({"chown", "-R", "65534:65534", home_, project_});
  }

  nlohmann::json inventory(ProcResult &r, const std::vector<std::string> &env)
  {
    std::vector<std::string> argv{vigil_bin(), "inventory", "--profile", profile_, "--home",
                                  home_,       "--project", project_,    "--json"};
    if (GetParam())
      argv.insert(argv.end(), {"--user", "65534"});
    r = run(argv, env);
    EXPECT_EQ(r.status, 0) << r.err;
    return nlohmann::json::parse(r.out, nullptr, false);
  }

  const nlohmann::json *find(const nlohmann::json &j, const std::string &where)
  {
    for (const auto &f : j["findings"])
      if (f["where"] == where)
        return &f;
    return nullptr;
  }

  TempDir tmp_;
  std::string home_, project_, profile_, docker_;
};

TEST_P(InventoryTest, names_each_planted_credential_and_the_profiles_verdict_without_a_value)
{
  if (GetParam() && !is_root())
    GTEST_SKIP() << "chown to uid 65534 needs root";
  plant();
  ProcResult r;
  const auto j =
      inventory(r, {"GITHUB_TOKEN=" + std::string(kGithub), "DOCKER_HOST=unix://" + docker_});
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["version"], 1);

  const auto *aws = find(j, home_ + "/.aws/credentials");
  ASSERT_TRUE(aws) << j.dump(2);
  EXPECT_EQ(aws->at("what"), "cred-aws");
  EXPECT_FALSE(aws->at("reachable").get<bool>());
  EXPECT_NE(aws->at("status").get<std::string>().find("denied by the profile"), std::string::npos);

  const auto *git = find(j, home_ + "/.git-credentials");
  ASSERT_TRUE(git) << j.dump(2);
  EXPECT_TRUE(git->at("reachable").get<bool>()) << "not in the profile: reachable";

  const auto *pem = find(j, home_ + "/notes/old-backup.dat");
  ASSERT_TRUE(pem) << j.dump(2);
  EXPECT_EQ(pem->at("what"), "pem-private-key");
  EXPECT_EQ(pem->at("why"), "content, line 1");
  EXPECT_TRUE(pem->at("reachable").get<bool>());

  const auto *txt = find(j, project_ + "/deploy/readme.txt");
  ASSERT_TRUE(txt) << j.dump(2);
  EXPECT_EQ(txt->at("what"), "aws-access-key-id");
  EXPECT_EQ(txt->at("why"), "content, line 2");

  const auto *token = find(j, "GITHUB_TOKEN");
  ASSERT_TRUE(token) << j.dump(2);
  EXPECT_FALSE(token->at("reachable").get<bool>());
  EXPECT_NE(token->at("status").get<std::string>().find("scrubbed by vigil run"),
            std::string::npos);

  const auto *sock = find(j, docker_);
  ASSERT_TRUE(sock) << j.dump(2);
  EXPECT_NE(sock->at("what").get<std::string>().find("docker-socket"), std::string::npos);
  EXPECT_FALSE(sock->at("reachable").get<bool>());
  EXPECT_NE(sock->at("status").get<std::string>().find(GetParam() ? "not connectable by uid 65534"
                                                                  : "denied by the profile"),
            std::string::npos)
      << *sock;

  EXPECT_NE(j["summary"].get<std::string>().find("reachable: "), std::string::npos) << j["summary"];
  EXPECT_EQ(j["summary"].get<std::string>().find("clean"), std::string::npos) << j["summary"];
  // No value anywhere, in either form.
  ProcResult text =
      run({vigil_bin(), "inventory", "--profile", profile_, "--home", home_, "--project", project_},
          {"GITHUB_TOKEN=" + std::string(kGithub), "DOCKER_HOST=unix://" + docker_});
  EXPECT_EQ(text.status, 0) << text.err;
  EXPECT_NE(text.out.find("summary: "), std::string::npos) << text.out;
  for (const char *secret : {kAwsSecret, kAwsKeyId, kPemBody, kGithub}) {
    EXPECT_EQ(r.out.find(secret), std::string::npos) << secret;
    EXPECT_EQ(text.out.find(secret), std::string::npos) << secret;
    EXPECT_EQ(text.err.find(secret), std::string::npos) << secret;
  }
}

TEST_P(InventoryTest, a_clean_home_says_so)
{
  write_file(home_ + "/notes.txt", "nothing to see\n");
  ProcResult r;
  const auto j = inventory(r, {});
  ASSERT_FALSE(j.is_discarded()) << r.out;
  // Host files (/etc/shadow and kin) are the host's; nothing under the home or the project.
  for (const auto &f : j["findings"]) {
    const std::string where = f["where"];
    EXPECT_NE(where.rfind(home_, 0), 0u) << f;
    EXPECT_NE(where.rfind(project_, 0), 0u) << f;
  }
  EXPECT_NE(j["summary"].get<std::string>().find("home and project clean"), std::string::npos)
      << j["summary"];
}

INSTANTIATE_TEST_SUITE_P(AsCallerAndNobody, InventoryTest, ::testing::Bool(),
                         [](const auto &p) { return p.param ? "uid65534" : "caller"; });

} // namespace
} // namespace vigil::test
