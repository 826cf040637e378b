// SPDX-License-Identifier: Apache-2.0
// Tier 2 at parity with tier 1 for files: what an agent under `vigil run` reads is decided by
// what the file is, not by the name it is opened by. Basename patterns in any directory (files
// that appear after the start too), a protected directory renamed away, and a FIFO served from
// outside the agent. Each attempt runs as root and as uid 65534 and expects the read to fail and
// one alert naming the tier; controls in the same runs keep working.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <chrono>
#include <thread>
#include <set>

#include "harness.h"

namespace vigil::test {
namespace {

namespace fs = std::filesystem;

struct User {
  const char *name;
  std::vector<std::string> prefix; // argv in front of the agent's shell
};

const User kUsers[] = {
    {"root", {}},
    {"nobody", {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}},
};

class ParityFiles : public ::testing::TestWithParam<User> {
protected:
  void SetUp() override
  {
    VG_REQUIRE_ROOT();
    // Readable (and, where the agent moves things, writable) for uid 65534 too: a read refused
    // by file permissions raises no event and would pass this test for the wrong reason.
    ::chmod(tmp_.path().c_str(), 0755);
    home_ = tmp_ / "home";
    proj_ = tmp_ / "proj";
    put(home_ + "/.aws/credentials", "password=secret-aws\n");
    put(home_ + "/.config/gcloud/adc.json", "password=secret-adc\n");
    put(home_ + "/other/.env", "password=secret-nested\n");
    put(proj_ + "/.env", "password=secret-dotenv\n");
    put(proj_ + "/services/api/.env.production", "password=secret-prod\n");
    put(proj_ + "/README", "readme-text\n");
    put(proj_ + "/.envrc", "envrc-text\n");
    for (const std::string &d : {home_, proj_})
      ::chmod(d.c_str(), 0777);
    profile_ = tmp_ / "profile.yaml";
    write_file(profile_, "profile: parity\ncredentials:\n  paths: [~/.aws/credentials, "
                         "~/.ssh/id_*, ~/.config/gcloud/**, .env, .env.*]\negress:\n"
                         "  allow: [127.0.0.1/32]\n");
    alerts_ = tmp_ / "alerts.jsonl";
  }

  // Writes a file readable by everyone; directories it creates are 0755 (existing ones keep
  // their mode).
  void put(const std::string &path, const std::string &content)
  {
    std::vector<fs::path> made;
    for (fs::path p = fs::path(path).parent_path(); !fs::exists(p); p = p.parent_path())
      made.push_back(p);
    fs::create_directories(fs::path(path).parent_path());
    for (const auto &p : made)
      ::chmod(p.c_str(), 0755);
    write_file(path, content);
    ::chmod(path.c_str(), 0644);
  }

  // An agent script that waits for the test's go (after it made a FIFO outside the agent).
  std::string after_go(const std::string &script) const
  {
    return "touch " + proj_ + "/ready; while [ ! -e " + proj_ + "/go ]; do sleep 0.02; done; " +
           script;
  }
  // Once the agent of after_go() runs: makes fifo outside it, starts its reader (into got; none
  // when got is empty: a process that never ends) and lets the agent go.
  Proc fifo_then_go(Proc &vigil, const std::string &fifo, const std::string &got)
  {
    const std::string ready = proj_ + "/ready";
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!fs::exists(ready) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_TRUE(fs::exists(ready)) << vigil.err_so_far();
    EXPECT_EQ(::mkfifo(fifo.c_str(), 0666), 0);
    ::chmod(fifo.c_str(), 0666);
    Proc reader({"sh", "-c", got.empty() ? "true" : "cat " + fifo + " > " + got});
    write_file(proj_ + "/go", "");
    return reader;
  }

  // The agent's write to fifo was refused by tier, with one alert, and its own FIFO worked;
  // nothing reached the reader outside (got), which a writer that closes at once lets finish.
  void expect_fifo_refused(Proc &vigil, const std::string &fifo, const std::string &tier,
                           Proc &reader, const std::string &got)
  {
    ProcResult r = vigil.wait(std::chrono::seconds(120));
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("denied:fifo"), std::string::npos) << r.out << r.err;
    EXPECT_NE(r.out.find("own-text"), std::string::npos) << r.out << r.err;
    auto list = read_json_lines(alerts_);
    ASSERT_EQ(list.size(), 1u) << read_file(alerts_);
    EXPECT_EQ(list[0]["rule"], "ipc-not-allowed") << list[0].dump();
    EXPECT_EQ(list[0]["verdict"], "denied") << list[0].dump();
    EXPECT_EQ(list[0]["tier"], tier) << list[0].dump();
    EXPECT_EQ(list[0].value("path", std::string()), fifo) << list[0].dump();
    write_file(fifo, "");
    reader.wait(std::chrono::seconds(10));
    EXPECT_EQ(read_file(got), "");
  }

  std::vector<std::string> agent_argv(const std::string &script) const
  {
    std::vector<std::string> argv = {vigil_bin(), "run",        "--profile", profile_,
                                     "--alerts-json", alerts_, "--"};
    for (const auto &a : GetParam().prefix)
      argv.push_back(a);
    for (const char *a : {"sh", "-c"})
      argv.push_back(a);
    argv.push_back("cd " + proj_ + " && " + script);
    return argv;
  }

  // The alerts, each checked to be a denial by the expected tier; returns their paths.
  std::multiset<std::string> denied_paths() const
  {
    std::multiset<std::string> paths;
    for (const auto &a : read_json_lines(alerts_)) {
      EXPECT_EQ(a["verdict"], "denied") << a.dump();
      EXPECT_EQ(a["tier"], expected_file_tier()) << a.dump();
      paths.insert(a.value("path", std::string()));
    }
    return paths;
  }

  TempDir tmp_;
  std::string home_, proj_, profile_, alerts_;
};

// .env and .env.* protect every file of that name, wherever it is and whenever it appeared: in
// the project, nested below it, created after the agent started, and reached by a recursive
// grep of the home directory. A .envrc (not a pattern), the project's files and an install into
// node_modules read as always.
TEST_P(ParityFiles, basename_patterns_are_denied_in_every_directory)
{
  const std::string go = tmp_ / "go";
  Proc vigil(agent_argv("cat .env || echo denied:env; "
                        "cat services/api/.env.production || echo denied:prod; "
                        "while [ ! -e " + go + " ]; do sleep 0.05; done; "
                        "cat newdir/.env.local || echo denied:local; "
                        "grep -ri password \"$HOME\" 2>/dev/null; echo grep-done; "
                        "cat README .envrc; mkdir -p node_modules/pkg && "
                        "echo module-text > node_modules/pkg/index.js && "
                        "cat node_modules/pkg/index.js"),
             {"HOME=" + home_});
  ASSERT_TRUE(vigil.wait_for_err("confines cgroup")) << vigil.err_so_far();
  put(proj_ + "/newdir/.env.local", "password=secret-local\n");
  write_file(go, "");
  ProcResult r = vigil.wait(std::chrono::seconds(120));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.find("secret"), std::string::npos) << r.out;
  for (const char *want : {"denied:env", "denied:prod", "denied:local", "grep-done",
                           "readme-text", "envrc-text", "module-text"})
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out << r.err;
  // The gcloud tree is refused at its directory in tier 1 (grep cannot list it) and at its file
  // in tier 2 (the listing is not a credential): one alert either way.
  std::multiset<std::string> got;
  const std::string tree = home_ + "/.config/gcloud";
  for (const std::string &p : denied_paths())
    got.insert(p.starts_with(tree) ? tree : p);
  const std::multiset<std::string> want = {
      proj_ + "/.env",          proj_ + "/services/api/.env.production",
      proj_ + "/newdir/.env.local", home_ + "/.aws/credentials", tree, home_ + "/other/.env"};
  EXPECT_EQ(got, want) << read_file(alerts_);
}

// Renaming a protected directory, or a parent of it, gives its files no new, unprotected name:
// a literal credential keeps its inode's guard, and a file that appears later in a renamed
// "dir/**" tree is below the same directory.
TEST_P(ParityFiles, a_renamed_directory_still_protects_its_credentials)
{
  const std::string go = tmp_ / "go";
  Proc vigil(agent_argv("mv \"$HOME/.aws\" \"$HOME/x\" && cat \"$HOME/x/credentials\" || "
                        "echo denied:aws; mv \"$HOME/.config\" \"$HOME/cfg2\" && echo tree-renamed >&2 "
                        "&& cat \"$HOME/cfg2/gcloud/adc.json\" || echo denied:gcp; "
                        "while [ ! -e " + go + " ]; do sleep 0.05; done; "
                        "cat \"$HOME/cfg2/gcloud/late.json\" || echo denied:late; cat README"),
             {"HOME=" + home_});
  ASSERT_TRUE(vigil.wait_for_err("tree-renamed", std::chrono::seconds(60))) << vigil.err_so_far();
  put(home_ + "/cfg2/gcloud/late.json", "password=secret-late\n");
  write_file(go, "");
  ProcResult r = vigil.wait(std::chrono::seconds(120));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.find("secret"), std::string::npos) << r.out;
  for (const char *want : {"denied:aws", "denied:gcp", "denied:late", "readme-text"})
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out << r.err;
  EXPECT_EQ(denied_paths().size(), 3u) << read_file(alerts_);
}

// A credential protected by its name (.env) would read as an ordinary file under another name:
// renaming or hard-linking it away is refused (one alert each: by the launch filter's gate in
// tier 2, by BPF LSM in tier 1); a symbolic link to it opens the same file, which its own guard
// refuses.
TEST_P(ParityFiles, a_credential_protected_by_name_cannot_be_renamed_or_linked_away)
{
  // renameat2(RENAME_EXCHANGE) with the credential second: the harmless name gets its file.
  const std::string exchange =
      "echo plain > swap; python3 -c 'import ctypes, sys; l = ctypes.CDLL(None, use_errno=True); "
      "sys.exit(l.renameat2(-100, b\"swap\", -100, b\".env\", 2) != 0)' && cat swap || "
      "echo denied:xchg; ";
  ProcResult r = run(agent_argv("mv .env plain && cat plain || echo denied:mv; "
                                "ln .env x2 && cat x2 || echo denied:ln; " + exchange +
                                "ln -s .env x3 && cat x3 || echo denied:sym; cat README"),
                     {"HOME=" + home_}, std::chrono::seconds(120));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.find("secret"), std::string::npos) << r.out;
  for (const char *want : {"denied:mv", "denied:ln", "denied:xchg", "denied:sym", "readme-text"})
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out << r.err;
  std::multiset<std::string> got;
  for (const auto &a : read_json_lines(alerts_)) {
    EXPECT_EQ(a["verdict"], "denied") << a.dump();
    EXPECT_EQ(a["path"], proj_ + "/.env") << a.dump();
    const std::string out = a.value("output", "");
    got.insert(a.value("tier", "") + " " + out.substr(0, out.find(' ')));
  }
  // Tier 1: BPF LSM's path_rename and path_link refuse them in the kernel; there an
  // unprivileged agent's link of a file it does not own is refused before the hook, by the
  // kernel's own fs.protected_hardlinks (no attempt reaches vigil).
  const bool lsm = expected_file_tier() == "lsm";
  const std::string mover = lsm ? "lsm" : "launch";
  std::multiset<std::string> want = {mover + " rename", mover + " rename",
                                      expected_file_tier() + " credential"};
  if (!(lsm && !GetParam().prefix.empty()))
    want.insert(mover + " hard");
  EXPECT_EQ(got, want) << read_file(alerts_);
}

// A FIFO that a process outside the agent made and reads is a channel out of the agent (the
// kernel gives fanotify no event for a FIFO's open: vigil run covers the FIFOs that exist at the
// start with a stand-in file whose opens the guard refuses); a FIFO the agent makes for itself
// is its own business.
TEST_P(ParityFiles, a_fifo_served_from_outside_is_refused_and_the_agents_own_works)
{
  const std::string fifo = tmp_ / "outside.fifo", got = tmp_ / "got";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0666), 0);
  ::chmod(fifo.c_str(), 0666);
  // The reader outside: whatever reaches the FIFO lands in got.
  Proc reader({"sh", "-c", "cat " + fifo + " > " + got});
  Proc vigil(agent_argv("(echo leaked > " + fifo + ") 2>/dev/null || echo denied:fifo; "
                        "mkfifo own.fifo && (cat own.fifo &) && echo own-text > own.fifo; "
                        "wait; rm -f own.fifo"),
             {"HOME=" + home_});
  expect_fifo_refused(vigil, fifo, expected_file_tier(), reader, got);
}

// A FIFO an outside process makes after the agent started (no stand-in covers it): tier 1's
// file_open refuses it; in tier 2 the launch filter's gate sees the agent's open for writing
// and refuses a FIFO the agent did not make itself.
TEST_P(ParityFiles, a_fifo_made_outside_after_the_start_is_refused)
{
  const std::string fifo = proj_ + "/late.fifo", got = tmp_ / "got";
  Proc vigil(agent_argv(after_go("(echo leaked > " + fifo + ") 2>/dev/null || echo denied:fifo; "
                                 "mkfifo own.fifo && (cat own.fifo &) && "
                                 "echo own-text > own.fifo; wait; rm -f own.fifo")),
             {"HOME=" + home_});
  Proc reader = fifo_then_go(vigil, fifo, got);
  expect_fifo_refused(vigil, fifo, expected_file_tier() == "lsm" ? "lsm" : "launch", reader, got);
}

// The same FIFO reached again through /proc/self/fd: opened without writing first (no reader
// needed; tier 2 decides nothing there, tier 1 refuses it already), then reopened for writing
// through its magic link.
TEST_P(ParityFiles, a_fifo_reopened_for_writing_through_proc_is_refused)
{
  if (run({"sh", "-c", "command -v python3"}).status != 0)
    GTEST_SKIP() << "python3 is needed";
  const std::string fifo = proj_ + "/late.fifo";
  const std::string py =
      "import os\ntry:\n  fd = os.open('" + fifo + "', os.O_RDONLY | os.O_NONBLOCK)\n"
      "  w = os.open('/proc/self/fd/%d' % fd, os.O_WRONLY)\n  os.write(w, b'leaked')\n"
      "  print('leaked:proc')\nexcept PermissionError:\n  print('denied:proc')\n";
  write_file(tmp_ / "reopen.py", py);
  Proc vigil(agent_argv(after_go("python3 " + tmp_ / "reopen.py")), {"HOME=" + home_});
  Proc reader = fifo_then_go(vigil, fifo, "");
  ProcResult r = vigil.wait(std::chrono::seconds(120));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("denied:proc"), std::string::npos) << r.out << r.err;
  size_t ipc = 0;
  for (const auto &a : read_json_lines(alerts_))
    ipc += a.value("rule", "") == "ipc-not-allowed";
  EXPECT_EQ(ipc, 1u) << read_file(alerts_);
}

std::string user_name(const ::testing::TestParamInfo<User> &p)
{
  return p.param.name;
}

INSTANTIATE_TEST_SUITE_P(AsUser, ParityFiles, ::testing::ValuesIn(kUsers), user_name);

} // namespace
} // namespace vigil::test
