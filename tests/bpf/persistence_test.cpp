// SPDX-License-Identifier: Apache-2.0
// The persistence guard under a real `vigil run`: an agent (root, and uid 65534 owning the
// files) tries every way of planting a git hook, a repository config that runs a command
// (core.fsmonitor) and a line in ~/.bashrc; each must fail, and the developer's later git status,
// git commit and login shell outside vigil must run nothing planted. The agent's own git work
// (add, commit, checkout in the developer's repository; a repository it makes itself) and its
// edits of ordinary files keep working.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "harness.h"

namespace vigil::test {
namespace {

namespace fs = std::filesystem;

constexpr const char *kGit = "git -c user.name=dev -c user.email=dev@example.com ";

class PersistenceGuard : public ::testing::TestWithParam<bool> {
protected:
  void SetUp() override
  {
    VG_REQUIRE_ROOT();
    if (run({"sh", "-c", "command -v git && command -v setpriv"}).status != 0)
      GTEST_SKIP() << "needs git and setpriv";
    home_ = tmp_ / "home";
    proj_ = tmp_ / "proj";
    mark_ = tmp_ / "planted-ran";
    fs::create_directories(home_);
    write_file(home_ + "/.bashrc", "# developer's bashrc\n");
    write_file(home_ + "/.profile", ". \"$HOME/.bashrc\"\n");
    write_file(tmp_ / "payload", "#!/bin/sh\ntouch " + mark_ + "\n");
    ::chmod((tmp_ / "payload").c_str(), 0755);
    const std::string setup = std::string("set -e; git init -q -b main ") + proj_ + "; cd " +
                              proj_ + "; echo one > README; " + kGit + "add README; " + kGit +
                              "commit -q -m one; cp " + tmp_ / "payload" + " ./payload";
    ASSERT_EQ(run({"sh", "-c", setup}).status, 0);
    write_file(tmp_ / "profile.yaml",
               "profile: persist\npersistence:\n  paths:\n    - .git/hooks/**\n"
               "    - .git/config\n    - ~/.bashrc\n    - ~/.profile\negress:\n  allow: []\n");
    alerts_ = tmp_ / "alerts.jsonl";
    if (unprivileged()) { // the agent owns everything it attacks: only the guard stops it
      ASSERT_EQ(run({"chown", "-R", "65534:65534", home_, proj_, tmp_ / "payload"}).status, 0);
    }
    ::chmod(tmp_.path().c_str(), 0755);
  }

  bool unprivileged() const { return GetParam(); }

  // The script runs in the project under `vigil run`, as root or as uid 65534.
  ProcResult agent(const std::string &script)
  {
    std::string inner = "sh -c '" + script + "'";
    if (unprivileged())
      inner = "setpriv --reuid=65534 --regid=65534 --clear-groups " + inner;
    const std::string cmd = "cd " + proj_ + " && exec " + vigil_bin() + " run --profile " +
                            tmp_ / "profile.yaml" + " --alerts-json " + alerts_ + " -- " + inner;
    return run({"sh", "-c", cmd}, {"HOME=" + home_}, std::chrono::seconds(120));
  }

  TempDir tmp_;
  std::string home_, proj_, mark_, alerts_;
};

// One shell line per attempt: "PLANTED:<name>" when it worked.
std::string attempt(const std::string &name, const std::string &cmd)
{
  return "if " + cmd + " 2>/dev/null; then echo PLANTED:" + name + "; fi; ";
}

TEST_P(PersistenceGuard, every_way_of_planting_fails_and_nothing_runs_later)
{
  const std::string pay = tmp_ / "payload";
  const std::string hook = ".git/hooks/pre-commit", cfg = ".git/config",
                    rc = home_ + "/.bashrc";
  const std::string fsmon = "[core]\n\tfsmonitor = " + pay + "\n";
  std::string s = "cp .git/config /tmp/cfg.$$; echo \"" + fsmon + "\" >> /tmp/cfg.$$; ";
  s += "echo \"" + pay + "\" > /tmp/rc.$$; ";
  // A hook that does not exist yet.
  s += attempt("hook-redirect", "echo \"" + pay + "\" > " + hook);
  s += attempt("hook-append", "echo \"" + pay + "\" >> " + hook);
  s += attempt("hook-cp", "cp " + pay + " " + hook);
  s += attempt("hook-mv", "cp payload p2 && mv p2 " + hook);
  s += attempt("hook-symlink", "ln -s " + pay + " " + hook);
  s += attempt("hook-hardlink", "ln payload " + hook);
  s += attempt("hook-chmod", "chmod +x .git/hooks/pre-commit.sample");
  s += attempt("hook-sed", "sed -i 1a" + pay + " .git/hooks/pre-commit.sample");
  s += attempt("hooks-dir-rename", "mv .git/hooks .git/hooks.old");
  s += attempt("git-dir-rename", "mv .git .git.old");
  s += attempt("hookspath", std::string(kGit) + "config core.hooksPath /tmp");
  // The repository's config: a command git runs on the developer's next git status.
  s += attempt("config-git", std::string(kGit) + "config core.fsmonitor " + pay);
  s += attempt("config-append", "echo \"" + fsmon + "\" >> " + cfg);
  s += attempt("config-redirect", "cat /tmp/cfg.$$ > " + cfg);
  s += attempt("config-sed", "sed -i 1ax " + cfg);
  s += attempt("config-cp", "cp /tmp/cfg.$$ " + cfg);
  s += attempt("config-mv", "cp /tmp/cfg.$$ c2 && mv c2 " + cfg);
  s += attempt("config-symlink", "ln -sf /tmp/cfg.$$ " + cfg);
  s += attempt("config-hardlink", "cp /tmp/cfg.$$ c3 && ln -f c3 " + cfg);
  s += attempt("config-chmod", "chmod 666 " + cfg);
  s += attempt("config-unlink", "rm -f " + cfg);
  // The developer's shell start-up file.
  s += attempt("bashrc-redirect", "cat /tmp/rc.$$ > " + rc);
  s += attempt("bashrc-append", "echo \"" + pay + "\" >> " + rc);
  s += attempt("bashrc-sed", "sed -i 1a" + pay + " " + rc);
  s += attempt("bashrc-cp", "cp /tmp/rc.$$ " + rc);
  s += attempt("bashrc-mv", "cp /tmp/rc.$$ r2 && mv r2 " + rc);
  s += attempt("bashrc-symlink", "ln -sf /tmp/rc.$$ " + rc);
  s += attempt("bashrc-hardlink", "cp /tmp/rc.$$ r3 && ln -f r3 " + rc);
  s += attempt("bashrc-chmod", "chmod +x " + rc);
  s += attempt("bashrc-unlink", "rm -f " + rc);
  s += "echo attempts-done";
  const ProcResult r = agent(s);
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_NE(r.out.find("attempts-done"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(r.out.find("PLANTED:"), std::string::npos) << r.out;
  EXPECT_EQ(read_file(rc), "# developer's bashrc\n");
  EXPECT_FALSE(fs::exists(proj_ + "/" + hook));
  EXPECT_EQ(read_file(proj_ + "/" + cfg).find("fsmonitor"), std::string::npos);
  EXPECT_EQ(read_file(proj_ + "/" + cfg).find("hooksPath"), std::string::npos);

  // Each refused open for writing is one alert naming the file, the rule and what stopped it
  // (renames, links, chmod and unlink are refused silently on this kernel: docs/SECURITY.md).
  std::map<std::string, int> alerts; // "rule path" -> count
  for (const auto &a : read_json_lines(alerts_)) {
    const std::string rule = a.value("rule", "");
    if (!rule.starts_with("persist-"))
      continue;
    const std::string path = a.value("path", "");
    alerts[rule + " " + path]++;
    EXPECT_NE(a.value("output", "").find("denied by the read-only mount"), std::string::npos)
        << a.dump();
    EXPECT_EQ(a.value("result_name", ""), "EROFS") << a.dump();
  }
  // A failed open carries only the caller's string; a relative one is resolved against the
  // opener's /proc/PID/cwd, which a process that already exited (cp, a forked redirection) no
  // longer has. The shell's own redirections (echo is a builtin) are always named.
  std::string seen;
  for (const auto &[k, n] : alerts)
    seen += k + " x" + std::to_string(n) + "\n";
  EXPECT_GE(alerts["persist-git-hook " + proj_ + "/" + hook], 2) << seen; // echo >, echo >>
  EXPECT_GE(alerts["persist-git-config " + proj_ + "/" + cfg], 1) << seen;
  EXPECT_GE(alerts["persist-shell-startup " + rc], 1) << seen;

  // The developer, outside vigil: status (fsmonitor), commit (hooks), a login shell (bashrc).
  const std::string dev = std::string("cd ") + proj_ + " && " + kGit + "status >/dev/null; " +
                          kGit + "commit -q --allow-empty -m dev; bash -l -c true";
  // The developer owns the files: uid 65534 in the unprivileged case.
  std::vector<std::string> dev_argv{"sh", "-c", dev};
  if (unprivileged())
    dev_argv.insert(dev_argv.begin(), {"setpriv", "--reuid=65534", "--regid=65534",
                                       "--clear-groups"});
  const ProcResult d = run(dev_argv, {"HOME=" + home_});
  EXPECT_EQ(d.status, 0) << d.err;
  EXPECT_FALSE(fs::exists(mark_)) << "a planted payload ran outside vigil";
}

TEST_P(PersistenceGuard, the_agents_git_work_and_its_own_repositories_keep_working)
{
  std::string s = "set -e; echo two >> README; echo new > src.txt; ";
  s += std::string(kGit) + "add README src.txt; " + kGit + "commit -q -m two; ";
  s += std::string(kGit) + "checkout -q -b feature; echo f > f.txt; " + kGit + "add f.txt; " +
       kGit + "commit -q -m f; " + kGit + "checkout -q main; " + kGit + "status --short; ";
  // A repository the agent makes itself is its own, hooks and config included.
  s += "mkdir mine; cd mine; git init -q; " + std::string(kGit) + "config core.autocrlf false; ";
  s += "printf \"#!/bin/sh\\nexit 0\\n\" > .git/hooks/pre-commit; chmod +x .git/hooks/pre-commit; ";
  s += std::string(kGit) + "commit -q --allow-empty -m mine; echo controls-ok";
  const ProcResult r = agent(s);
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("controls-ok"), std::string::npos) << r.out << r.err;
  const ProcResult log = run({"git", "-c", "safe.directory=*", "-C", proj_, "log", "--all", "--format=%s"});
  EXPECT_NE(log.out.find("two"), std::string::npos) << log.out;
  EXPECT_NE(log.out.find("f\n"), std::string::npos) << log.out;
  EXPECT_TRUE(fs::exists(proj_ + "/mine/.git/hooks/pre-commit"));
}

INSTANTIATE_TEST_SUITE_P(Agent, PersistenceGuard, ::testing::Values(false, true),
                         [](const auto &param_info) { return param_info.param ? "uid65534" : "root"; });

} // namespace
} // namespace vigil::test
