// SPDX-License-Identifier: Apache-2.0
// Hostile names end to end: an agent runs programs whose directory holds a newline and an ANSI
// escape and whose file names are not UTF-8, connects and reads a credential, under
// `vigil run --state-dir --log-dir`. vigil must stay up (the egress baseline save used to throw
// on the worker thread and end the process), keep denying and alerting, and show those names
// escaped wherever a person reads them.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <sstream>
#include <thread>

#include "harness.h"

namespace vigil::test {
namespace {

namespace fs = std::filesystem;

// s as a bash $'...' word: every byte hex-escaped, so any byte reaches the command line.
std::string bash_bytes(const std::string &s)
{
  std::string out = "$'";
  for (unsigned char c : s) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "\\x%02x", c);
    out += buf;
  }
  return out + "'";
}

std::string hex(const std::string &s)
{
  std::string out;
  for (unsigned char c : s) {
    char buf[4];
    std::snprintf(buf, sizeof(buf), "%02x", c);
    out += buf;
  }
  return out;
}

// What a terminal would act on: C0 controls other than the line feeds ending lines, DEL, and a
// line that begins with a forged vigil prefix.
void expect_no_injection(const std::string &text, const std::string &what)
{
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n' || c == '\t')
      continue;
    ASSERT_FALSE(c < 0x20 || c == 0x7f) << what << ": raw byte " << int(c) << " at " << i
                                        << ":\n"
                                        << text;
  }
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    EXPECT_NE(line.rfind(" vigil: INFO fake", 0), 0u) << what << ": forged line\n" << text;
}

class HostileTest : public ::testing::Test {
protected:
  void SetUp() override
  {
    VG_REQUIRE_ROOT();
    home_ = tmp_.path() + "/home";
    canary_ = plant_aws_canary(home_);
    alerts_ = tmp_ / "alerts.jsonl";
    state_ = tmp_ / "state";
    log_ = tmp_ / "log";
    // A directory named to forge a log line and recolour the terminal, holding programs whose
    // names are not UTF-8.
    dir_ = tmp_.path() + "/d\n vigil: INFO fake\x1b[31m";
    fs::create_directories(dir_);
    probe_ = dir_ + "/probe\xff\xfe";
    cat_ = dir_ + "/cat\xc3\x28";
    fs::copy_file(netprobe_bin(), probe_);
    fs::copy_file("/usr/bin/cat", cat_);
    ::chmod(probe_.c_str(), 0755);
    ::chmod(cat_.c_str(), 0755);
  }

  TempDir tmp_;
  std::string home_, canary_, alerts_, state_, log_, dir_, probe_, cat_;
};

TEST_F(HostileTest, invalid_utf8_program_connects_and_vigil_keeps_enforcing)
{
  const std::string baseline = state_ + "/baseline/coding-agent.json";
  // The agent connects (a new_destination rule records the tuple: the baseline is saved within
  // a second), waits for the save with a deadline, then reads the credential.
  const std::string script =
      "P=" + bash_bytes(probe_) + "; C=" + bash_bytes(cat_) + "; " +
      "\"$P\" udpconn 127.0.0.1 9 >/dev/null 2>&1; "
      "for i in $(seq 300); do [ -s " + baseline + " ] && break; sleep 0.1; done; "
      "[ -s " + baseline + " ] && echo saved; "
      "\"$C\" " + canary_ + " 2>/dev/null; echo \"cat=$?\"";
  Proc vigil({vigil_bin(), "run", "--alerts-json", alerts_, "--state-dir", state_, "--log-dir",
              log_, "--", "bash", "-c", script},
             {"HOME=" + home_});
  ProcResult r = vigil.wait();
  ASSERT_FALSE(r.timed_out) << r.err;
  ASSERT_EQ(r.status, 0) << "vigil run died (134 is SIGABRT: std::terminate)\n" << r.err;
  EXPECT_EQ(r.out, "saved\ncat=1\n") << "the baseline was saved and the read refused\n" << r.err;
  EXPECT_EQ(r.out.find("canary-"), std::string::npos) << "the credential leaked";

  // The baseline keeps the program's name byte for byte.
  nlohmann::json saved = nlohmann::json::parse(read_file(baseline), nullptr, false);
  ASSERT_FALSE(saved.is_discarded()) << read_file(baseline);
  bool found_probe = false;
  for (const auto &e : saved["entries"])
    found_probe |= e.value("exe_hex", "") == hex(probe_) && e["ip"] == "127.0.0.1";
  EXPECT_TRUE(found_probe) << saved.dump();

  // The read was denied and alerted, naming the program (U+FFFD where it is not UTF-8).
  std::vector<nlohmann::json> creds;
  for (auto &a : read_json_lines(alerts_))
    if (a["rule"] == "cred-aws")
      creds.push_back(a);
  ASSERT_EQ(creds.size(), 1u) << read_file(alerts_);
  EXPECT_EQ(creds[0]["verdict"], "denied");
  EXPECT_EQ(creds[0]["path"], canary_);
  EXPECT_EQ(creds[0]["exe"], dir_ + "/cat\xef\xbf\xbd(");

  // stderr: the alert line names the program escaped, and nothing forges a line or recolours.
  expect_no_injection(r.err, "vigil run stderr");
  EXPECT_NE(r.err.find("d\\n vigil: INFO fake\\x1b[31m/cat\\xc3("), std::string::npos) << r.err;

  // The event log replays and exports with the same names, escaped or replaced.
  for (const char *format : {"table", "timeline"}) {
    ProcResult rp = run({vigil_bin(), "replay", "--format", format, log_});
    ASSERT_EQ(rp.status, 0) << format << "\n" << rp.err;
    expect_no_injection(rp.out, std::string("replay ") + format);
    EXPECT_NE(rp.out.find("fake\\x1b[31m/"), std::string::npos) << format << "\n" << rp.out;
  }
  ProcResult ex = run({vigil_bin(), "log", "export", "--format", "json", log_});
  ASSERT_EQ(ex.status, 0) << ex.err;
  std::istringstream lines(ex.out);
  size_t n = 0;
  for (std::string line; std::getline(lines, line); ++n)
    ASSERT_FALSE(nlohmann::json::parse(line, nullptr, false).is_discarded()) << line;
  EXPECT_GT(n, 0u);
}

// The same under `vigil daemon` with a state_dir: the daemon confines a cgroup, the agent in it
// runs the programs, and the daemon stays up, enforcing, alerting and serving its metrics.
TEST_F(HostileTest, invalid_utf8_program_under_the_daemon)
{
  const std::string id = std::to_string(::getpid());
  const std::string root = cgroup2_mount() + "/vigil-hostile-" + id;
  const std::string agent_dir = root + "/agent-1";
  const std::string secret = tmp_ / "secret.pem";
  write_file(secret, "-----BEGIN PRIVATE KEY----- canary-" + id + "\n");
  write_file(tmp_ / "profile.yaml", "profile: hostile-agent\ncredentials:\n  paths:\n    - " +
                                        secret + "\negress:\n  allow:\n    - 127.0.0.1/32\n");
  const std::string metrics = "127.0.0.1:" + std::to_string(free_port());
  write_file(tmp_ / "vigil.yaml",
             "profiles: [profile.yaml]\nrules: [" + std::string(VG_SOURCE_DIR) +
                 "/rules]\ncgroups:\n  - path: /vigil-hostile-" + id +
                 "/agent-*\n    profile: hostile-agent\nalerts_json: " + alerts_ +
                 "\nmetrics_address: " + metrics + "\nrescan_ms: 100\npin_dir: \"\"\nstate_dir: " +
                 state_ + "\n");
  fs::create_directories(agent_dir);
  struct Cleanup {
    std::string root, agent;
    ~Cleanup()
    {
      std::error_code ec;
      fs::remove(agent, ec);
      fs::remove(root, ec);
    }
  } cleanup{root, agent_dir};

  Proc daemon({vigil_bin(), "daemon", "--config", tmp_ / "vigil.yaml"});
  ASSERT_TRUE(daemon.wait_for_err("daemon running")) << daemon.err_so_far();
  const std::string go = tmp_ / "go";
  const std::string baseline = state_ + "/baseline/hostile-agent.json";
  Proc agent({"bash", "-c",
              "echo $$ > " + agent_dir + "/cgroup.procs && while [ ! -e " + go +
                  " ]; do sleep 0.02; done; P=" + bash_bytes(probe_) + "; C=" + bash_bytes(cat_) +
                  "; \"$P\" udpconn 127.0.0.1 9 >/dev/null 2>&1; "
                  "for i in $(seq 300); do [ -s " + baseline + " ] && break; sleep 0.1; done; "
                  "[ -s " + baseline + " ] && echo saved; \"$C\" " + secret +
                  " 2>/dev/null; echo \"cat=$?\""});
  ASSERT_TRUE(daemon.wait_for_err("confining " + agent_dir)) << daemon.err_so_far();
  write_file(go, "");
  ProcResult a = agent.wait();
  EXPECT_EQ(a.out, "saved\ncat=1\n") << "the baseline was saved and the read refused\n"
                                     << daemon.err_so_far();

  // The daemon is alive: its alert arrives and its metrics count the baseline.
  std::vector<nlohmann::json> found;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (found.empty() && std::chrono::steady_clock::now() < deadline) {
    for (auto &j : read_json_lines(alerts_))
      if (j["rule"] == "credential-read")
        found.push_back(j);
    if (found.empty())
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(found.size(), 1u) << read_file(alerts_) << daemon.err_so_far();
  EXPECT_EQ(found[0]["verdict"], "denied");
  EXPECT_EQ(found[0]["exe"], dir_ + "/cat\xef\xbf\xbd(");
  std::string scraped;
  while (std::chrono::steady_clock::now() < deadline + std::chrono::seconds(5)) {
    scraped = http_get(metrics, "/metrics");
    if (scraped.find("vigil_table_entries{table=\"baseline\"} 1") != std::string::npos)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(scraped.find("vigil_table_entries{table=\"baseline\"} 1"), std::string::npos)
      << scraped;

  daemon.signal(SIGTERM);
  ProcResult r = daemon.wait(std::chrono::seconds(15));
  EXPECT_EQ(r.status, 0) << r.err;
  expect_no_injection(r.err, "vigil daemon stderr");
}

} // namespace
} // namespace vigil::test
