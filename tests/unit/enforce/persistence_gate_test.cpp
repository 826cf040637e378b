// SPDX-License-Identifier: Apache-2.0
// The persistence gate without a launch: the test process is the "agent" whose calls are judged
// (its own /proc entries, its own memory holding the paths), on real directories, symbolic
// links and descriptors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <tuple>

#include "enforce/persistence_gate.h"
#include "policy/profile.h"

namespace vigil::enforce {
namespace {

namespace fs = std::filesystem;
using pipeline::OpenCall;

uint64_t addr(const char *s)
{
  return reinterpret_cast<uintptr_t>(s);
}

class Gate : public ::testing::Test {
protected:
  void SetUp() override
  {
    char tmpl[] = "/tmp/vg-gate-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = fs::canonical(tmpl).string();
    home_ = root_ + "/home";
    proj_ = root_ + "/proj";
    fs::create_directories(home_);
    fs::create_directories(proj_ + "/.git/hooks");
    fs::create_directories(proj_ + "/src");
    std::ofstream(home_ + "/.bashrc") << "# rc\n";
    std::ofstream(proj_ + "/.git/config") << "[core]\n";
    std::ofstream(proj_ + "/README") << "readme\n";
    old_cwd_ = fs::current_path();
    fs::current_path(proj_);
    policy::Profile p;
    for (const char *pat : {".git/hooks/**", ".git/config", "~/.bashrc", "~/.zshrc",
                            "~/.config/fish/**", ".vscode/**", ".claude/settings*.json", ".envrc"})
      p.persistence_paths.push_back(policy::PersistencePath{pat, std::nullopt, 0});
    p.persistence_paths.push_back(policy::PersistencePath{"~/.profile", policy::Mode::audit, 0});
    GitLayout layout;
    layout.git_dirs = {proj_ + "/.git"};
    layout.work_trees = {proj_};
    gate_ = PersistenceGate(p, home_, proj_, layout);
    view_ = AgentView{::getpid(), 0};
  }
  void TearDown() override
  {
    fs::current_path(old_cwd_);
    if (!root_.empty())
      fs::remove_all(root_);
  }

  NameVerdict judge(int nr, std::initializer_list<uint64_t> args)
  {
    TamperAttempt a;
    a.pid = ::getpid();
    a.nr = nr;
    a.arch = 0xc000003eu;
    size_t i = 0;
    for (uint64_t v : args)
      a.args[i++] = v;
    return judge_name_call(a, view_, gate_);
  }
  // The protected path judge() reported, "" when the call may run unreported.
  std::string denied(int nr, std::initializer_list<uint64_t> args)
  {
    const NameVerdict v = judge(nr, args);
    if (!v.protected_path)
      return "";
    EXPECT_FALSE(v.run);
    EXPECT_EQ(v.error, EPERM);
    return v.change.path;
  }

  std::string root_, home_, proj_;
  fs::path old_cwd_;
  PersistenceGate gate_;
  AgentView view_;
};

TEST_F(Gate, patterns_name_paths_names_that_do_not_exist_and_the_directories_above)
{
  EXPECT_TRUE(gate_.protects(home_ + "/.bashrc"));
  EXPECT_TRUE(gate_.protects(home_ + "/.zshrc")); // absent: protected all the same
  EXPECT_TRUE(gate_.protects(proj_ + "/.git/hooks"));
  EXPECT_TRUE(gate_.protects(proj_ + "/.git/hooks/pre-commit"));
  EXPECT_TRUE(gate_.protects(proj_ + "/.claude/settings.local.json"));
  EXPECT_TRUE(gate_.protects(proj_ + "/deep/down/.envrc"));
  EXPECT_FALSE(gate_.protects(root_ + "/elsewhere/.envrc")); // basenames count in the project
  EXPECT_TRUE(gate_.protects(home_ + "/.config/fish"));
  EXPECT_FALSE(gate_.protects(proj_ + "/README"));
  EXPECT_FALSE(gate_.protects(proj_ + "/.git/index"));
  EXPECT_FALSE(gate_.protects(proj_ + "/.git/config.lock"));
  EXPECT_FALSE(gate_.protects(proj_ + "/.envrc.bak"));
  // Above: only when asked (a rename), and only directories on the way to a protected path.
  EXPECT_FALSE(gate_.protects(proj_ + "/.git"));
  const auto above = gate_.protects(proj_ + "/.git", true);
  ASSERT_TRUE(above);
  EXPECT_TRUE(above->above);
  EXPECT_TRUE(gate_.protects(home_ + "/.config", true));
  EXPECT_TRUE(gate_.protects(home_, true)); // ~/.bashrc's directory
  EXPECT_FALSE(gate_.protects(proj_ + "/src", true));
  EXPECT_FALSE(gate_.protects(home_ + "/.cache", true));
  EXPECT_FALSE(gate_.protects("/", true));
}

// Paths only the rules name (set_watched): every change of one runs, and is reported as
// observed, by the call that made it; a protected path on the other side still wins.
TEST_F(Gate, changes_of_paths_only_the_rules_name_run_and_are_observed)
{
  // every directory here "older than the agent"
  using W = PersistenceGate::WatchedRule;
  gate_.set_watched({W{{"~/.bash_logout", "~/.zshenv", "~/.bashrc"}, {}}}, home_, INT64_MAX);
  std::ofstream(home_ + "/staged") << "x\n";
  std::ofstream(home_ + "/.zshenv") << "# env\n";
  const std::string staged = home_ + "/staged", logout = home_ + "/.bash_logout",
                    zshenv = home_ + "/.zshenv", bashrc = home_ + "/.bashrc";
  const auto observed = [&](int nr, std::initializer_list<uint64_t> args) {
    const NameVerdict v = judge(nr, args);
    EXPECT_FALSE(v.protected_path);
    EXPECT_TRUE(v.run);
    return v.observed ? std::string(pipeline::to_string(v.change.call)) + " " + v.change.path
                      : std::string();
  };
  EXPECT_EQ(observed(SYS_renameat2, {uint64_t(AT_FDCWD), addr(staged.c_str()),
                                     uint64_t(AT_FDCWD), addr(logout.c_str()), 1}),
            "rename " + logout);
  EXPECT_EQ(observed(SYS_rename, {addr(zshenv.c_str()), addr(staged.c_str())}),
            "rename " + zshenv);
  EXPECT_EQ(observed(SYS_openat, {uint64_t(AT_FDCWD), addr(zshenv.c_str()),
                                  O_WRONLY | O_APPEND}),
            "openat " + zshenv);
  EXPECT_EQ(observed(SYS_chmod, {addr(zshenv.c_str()), 0600}), "chmod " + zshenv);
  EXPECT_EQ(observed(SYS_unlink, {addr(zshenv.c_str())}), "unlink " + zshenv);
  EXPECT_EQ(observed(SYS_openat, {uint64_t(AT_FDCWD), addr(zshenv.c_str()), O_RDONLY}), "");
  EXPECT_EQ(observed(SYS_openat, {uint64_t(AT_FDCWD), addr(staged.c_str()), O_WRONLY}), "");
  // the new name is what is planted: a source a rule's exception spares does not hide it
  // (a repository the profile does not protect: the rules' glob names its hooks)
  fs::create_directories(root_ + "/other/.git/hooks");
  const std::string sample = root_ + "/other/.git/hooks/x.sample",
                    hook = root_ + "/other/.git/hooks/pre-commit";
  std::ofstream(sample) << "#!/bin/sh\n";
  gate_.set_watched({W{{"/**/.git/hooks/*"}, {"*.sample"}}}, home_, INT64_MAX);
  EXPECT_EQ(observed(SYS_rename, {addr(sample.c_str()), addr(hook.c_str())}), "rename " + hook);
  // a directory of hooks moved into place plants its entries
  const std::string h2 = root_ + "/h2", hooks2 = root_ + "/sub/.git/hooks";
  fs::create_directories(h2);
  fs::create_directories(root_ + "/sub/.git");
  std::ofstream(h2 + "/pre-push") << "#!/bin/sh\n";
  EXPECT_EQ(observed(SYS_rename, {addr(h2.c_str()), addr(hooks2.c_str())}),
            "rename " + hooks2 + "/pre-push");
  // a directory born since the agent started (its own clone): a rename onto its .git/config is
  // its business; a write of it is reported all the same
  fs::create_directories(root_ + "/clone/.git");
  const std::string cfg = root_ + "/clone/.git/config", lock = cfg + ".lock";
  std::ofstream(lock) << "[core]\n";
  gate_.set_watched({W{{"/**/.git/config"}, {}}}, home_, 1); // the agent started in 1970
  EXPECT_EQ(observed(SYS_rename, {addr(lock.c_str()), addr(cfg.c_str())}), "");
  EXPECT_EQ(observed(SYS_openat, {uint64_t(AT_FDCWD), addr(cfg.c_str()), O_WRONLY | O_CREAT}),
            "openat " + cfg);
  gate_.set_watched({W{{"/**/.git/config"}, {}}}, home_, INT64_MAX); // older: reported
  EXPECT_EQ(observed(SYS_rename, {addr(lock.c_str()), addr(cfg.c_str())}), "rename " + cfg);
  // protected by the profile too: decided, not observed
  const NameVerdict v = judge(SYS_openat, {uint64_t(AT_FDCWD), addr(bashrc.c_str()), O_WRONLY});
  EXPECT_TRUE(v.protected_path);
  EXPECT_FALSE(v.observed);
}

// Where BPF LSM decides the profile's paths (tier 1), the gate reports only what the rules
// alone name: a call on a protected path, or a rename between a watched and a protected one,
// runs unreported here (the kernel refuses it and reports it).
TEST_F(Gate, a_gate_that_does_not_decide_keeps_off_the_profiles_paths)
{
  using W = PersistenceGate::WatchedRule;
  gate_.set_watched({W{{"/**/.git/hooks/*", "~/.bashrc", "~/.zshenv"}, {}}}, home_, INT64_MAX);
  gate_.set_decides(false);
  const std::string hook = proj_ + "/.git/hooks/pre-commit", bashrc = home_ + "/.bashrc",
                    zshenv = home_ + "/.zshenv", evil = root_ + "/evil";
  std::ofstream(evil) << "#!/bin/sh\n";
  std::ofstream(zshenv) << "# env\n";
  for (const auto &[nr, from, to] :
       {std::tuple{SYS_rename, evil, hook}, std::tuple{SYS_link, evil, hook},
        std::tuple{SYS_rename, zshenv, bashrc}}) {
    const NameVerdict v = judge(nr, {addr(from.c_str()), addr(to.c_str())});
    EXPECT_FALSE(v.protected_path) << to;
    EXPECT_FALSE(v.observed) << to;
    EXPECT_TRUE(v.run) << to;
  }
  const NameVerdict v = judge(SYS_chmod, {addr(zshenv.c_str()), 0600});
  EXPECT_TRUE(v.observed);
  EXPECT_TRUE(v.run);
}

// Planting hooks into a repository that existed before the agent (only the rules look there),
// every way the gate was shown to miss: a new hooks directory made in it, a whole new .git
// moved into place, the old name of an exchange, a symbolic link to a directory of hooks, a
// directory whose spared names come first, and one too large to look through.
TEST_F(Gate, hooks_planted_into_an_older_repository_are_observed)
{
  using W = PersistenceGate::WatchedRule;
  const std::string repo = root_ + "/repo";
  fs::create_directories(repo + "/.git/hooks");
  struct statx sx{};
  ASSERT_EQ(::statx(AT_FDCWD, repo.c_str(), 0, STATX_BTIME, &sx), 0);
  if (!(sx.stx_mask & STATX_BTIME))
    GTEST_SKIP() << "the file system keeps no birth times";
  // the agent started just after the repository was made
  gate_.set_watched({W{{"/**/.git/hooks/*", "/**/.git/config"}, {"*.sample"}}}, home_,
                    sx.stx_btime.tv_sec * 1000000000LL + sx.stx_btime.tv_nsec + 1);
  const auto observed = [&](int nr, std::initializer_list<uint64_t> args) {
    const NameVerdict v = judge(nr, args);
    EXPECT_TRUE(v.run);
    return v.observed ? std::string(pipeline::to_string(v.change.call)) + " " + v.change.path
                      : std::string();
  };
  const std::string hooks = repo + "/.git/hooks", evil = root_ + "/evil";
  std::ofstream(evil) << "#!/bin/sh\n";
  // a hooks directory made anew in the old repository: its new hooks are still the repository's
  fs::rename(hooks, repo + "/.git/hooks.old");
  fs::create_directories(hooks);
  const std::string pre_commit = hooks + "/pre-commit";
  EXPECT_EQ(observed(SYS_rename, {addr(evil.c_str()), addr(pre_commit.c_str())}),
            "rename " + pre_commit);
  EXPECT_EQ(observed(SYS_link, {addr(evil.c_str()), addr(pre_commit.c_str())}),
            "link " + pre_commit);
  // a whole .git, hooks nested in it, moved into place
  const std::string ng = root_ + "/ng";
  fs::create_directories(ng + "/hooks");
  std::ofstream(ng + "/hooks/post-checkout") << "#!/bin/sh\n";
  const std::string dotgit = repo + "/.git";
  EXPECT_EQ(observed(SYS_rename, {addr(ng.c_str()), addr(dotgit.c_str())}),
            "rename " + dotgit + "/hooks/post-checkout");
  // RENAME_EXCHANGE with the hooks directory named first: the old name gets h's entries
  const std::string h = root_ + "/h";
  fs::create_directories(h);
  for (int i = 0; i < 20; ++i)
    std::ofstream(h + "/f" + std::to_string(i) + ".sample") << "x\n";
  std::ofstream(h + "/pre-push") << "#!/bin/sh\n";
  EXPECT_EQ(observed(SYS_renameat2, {uint64_t(AT_FDCWD), addr(hooks.c_str()), uint64_t(AT_FDCWD),
                                     addr(h.c_str()), RENAME_EXCHANGE}),
            "rename " + hooks + "/pre-push");
  // a symbolic link to h in place of the hooks directory
  fs::remove_all(hooks);
  const std::string target = "../../h";
  EXPECT_EQ(observed(SYS_symlink, {addr(target.c_str()), addr(hooks.c_str())}),
            "rename " + hooks + "/pre-push");
  // more entries than the gate looks at: said, not silently let through
  const std::string big = root_ + "/big";
  fs::create_directories(big);
  for (int i = 0; i < 4200; ++i)
    std::ofstream(big + "/f" + std::to_string(i) + ".sample");
  const NameVerdict v = judge(SYS_rename, {addr(big.c_str()), addr(hooks.c_str())});
  EXPECT_TRUE(v.too_many_entries);
}

TEST_F(Gate, resolves_paths_as_the_process_sees_them)
{
  // Relative to the working directory, to a directory descriptor, through "..", and through
  // symbolic links, the dangling last one included (an O_CREAT open creates its target).
  auto r = resolve_agent_path(view_, AT_FDCWD, "src/../.git/hooks/x", true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->path, proj_ + "/.git/hooks/x");
  EXPECT_FALSE(r->exists);
  const int dfd = ::open((proj_ + "/.git").c_str(), O_PATH | O_DIRECTORY);
  ASSERT_GE(dfd, 0);
  r = resolve_agent_path(view_, dfd, "config", false);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->path, proj_ + "/.git/config");
  EXPECT_TRUE(r->exists);
  ::close(dfd);
  fs::create_symlink(home_ + "/.zshrc", root_ + "/dangling");
  r = resolve_agent_path(view_, AT_FDCWD, root_ + "/dangling", true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->path, home_ + "/.zshrc");
  r = resolve_agent_path(view_, AT_FDCWD, root_ + "/dangling", false);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->path, root_ + "/dangling");
  fs::create_directory_symlink("../proj/.git", home_ + "/g");
  r = resolve_agent_path(view_, AT_FDCWD, home_ + "/g/hooks/post-merge", true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->path, proj_ + "/.git/hooks/post-merge");
  // /proc/self is the process judged, not the judge (here the same: the path must come out).
  r = resolve_agent_path(view_, AT_FDCWD, "/proc/self/cwd/.git/hooks/pre-push", true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->path, proj_ + "/.git/hooks/pre-push");
  // A loop, a missing directory: not resolvable (the kernel fails the call as well).
  fs::create_symlink(root_ + "/loop", root_ + "/loop");
  EXPECT_FALSE(resolve_agent_path(view_, AT_FDCWD, root_ + "/loop/x", true));
  EXPECT_FALSE(resolve_agent_path(view_, AT_FDCWD, root_ + "/missing/x", true));
  // A descriptor of a pipe names no file.
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  r = resolve_agent_path(view_, AT_FDCWD, "/proc/self/fd/" + std::to_string(p[1]), true);
  ASSERT_TRUE(r);
  EXPECT_FALSE(gate_.protects(r->path));
  ::close(p[0]);
  ::close(p[1]);
}

TEST_F(Gate, judges_each_call_that_makes_changes_or_removes_a_name)
{
  const std::string hook = ".git/hooks/pre-commit", rc = home_ + "/.bashrc",
                    zrc = home_ + "/.zshrc", cfg = ".git/config", tmp = root_ + "/t";
  std::ofstream(tmp) << "x";
  const uint64_t cwd = static_cast<uint64_t>(AT_FDCWD);
  // Opens: writes are judged, reads are not; O_EXCL of an existing name fails EEXIST anyway.
  EXPECT_EQ(denied(SYS_openat, {cwd, addr(hook.c_str()), O_WRONLY | O_CREAT}), proj_ + "/" + hook);
  EXPECT_EQ(denied(SYS_open, {addr(rc.c_str()), O_WRONLY | O_APPEND}), rc);
  EXPECT_EQ(denied(SYS_creat, {addr(zrc.c_str()), 0644}), zrc);
  EXPECT_EQ(denied(SYS_openat, {cwd, addr(rc.c_str()), O_RDONLY}), "");
  EXPECT_EQ(denied(SYS_openat, {cwd, addr(rc.c_str()), O_WRONLY | O_CREAT | O_EXCL}), "");
  EXPECT_EQ(denied(SYS_openat, {cwd, addr("README"), O_WRONLY | O_TRUNC}), "");
  // Names made: mkdir of a protected tree, symlink and hard link onto protected names.
  const std::string fish = home_ + "/.config/fish";
  fs::create_directories(home_ + "/.config");
  EXPECT_EQ(denied(SYS_mkdir, {addr(fish.c_str()), 0755}), fish);
  EXPECT_EQ(denied(SYS_mkdir, {addr(".git/hooks"), 0755}), ""); // exists: EEXIST
  EXPECT_EQ(denied(SYS_symlinkat, {addr(tmp.c_str()), cwd, addr(zrc.c_str())}), zrc);
  EXPECT_EQ(denied(SYS_linkat, {cwd, addr(tmp.c_str()), cwd, addr(hook.c_str()), 0}),
            proj_ + "/" + hook);
  // A second name for a protected file.
  const std::string copy = root_ + "/rc-link";
  EXPECT_EQ(denied(SYS_link, {addr(rc.c_str()), addr(copy.c_str())}), rc);
  // Renames onto, away, and of the directories above.
  EXPECT_EQ(denied(SYS_rename, {addr(tmp.c_str()), addr(cfg.c_str())}), proj_ + "/" + cfg);
  EXPECT_EQ(denied(SYS_renameat2, {cwd, addr(".git"), cwd, addr(".git.old"), 0}), proj_ + "/.git");
  EXPECT_EQ(denied(SYS_renameat, {cwd, addr(tmp.c_str()), cwd, addr(fish.c_str())}), fish);
  EXPECT_EQ(denied(SYS_rename, {addr(tmp.c_str()), addr("src/t2")}), "");
  // Removal and attributes.
  EXPECT_EQ(denied(SYS_unlinkat, {cwd, addr(cfg.c_str()), 0}), proj_ + "/" + cfg);
  EXPECT_EQ(denied(SYS_unlink, {addr(hook.c_str())}), ""); // does not exist
  EXPECT_EQ(denied(SYS_chmod, {addr(rc.c_str()), 0755}), rc);
  EXPECT_EQ(denied(SYS_fchownat, {cwd, addr(cfg.c_str()), 0, 0, AT_SYMLINK_NOFOLLOW}),
            proj_ + "/" + cfg);
  EXPECT_EQ(denied(SYS_truncate, {addr(rc.c_str()), 0}), rc);
  const int fd = ::open(rc.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(denied(SYS_fchmod, {static_cast<uint64_t>(fd), 0777}), rc);
  EXPECT_EQ(denied(SYS_fchmodat2, {static_cast<uint64_t>(fd), addr(""), 0777, AT_EMPTY_PATH}),
            rc);
  ::close(fd);
  EXPECT_EQ(denied(SYS_chmod, {addr("README"), 0755}), "");
}

TEST_F(Gate, a_protected_symbolic_link_protects_itself_and_the_file_it_names)
{
  // ~/.zshrc -> dotfiles/zshrc, as dotfile managers leave it.
  fs::create_directories(home_ + "/dotfiles");
  std::ofstream(home_ + "/dotfiles/zshrc") << "# zshrc\n";
  fs::create_symlink("dotfiles/zshrc", home_ + "/.zshrc");
  policy::Profile p;
  p.persistence_paths.push_back(policy::PersistencePath{"~/.zshrc", std::nullopt, 0});
  gate_ = PersistenceGate(p, home_, proj_, GitLayout{});
  const std::string link = home_ + "/.zshrc", target = home_ + "/dotfiles/zshrc";
  const uint64_t cwd = static_cast<uint64_t>(AT_FDCWD);
  EXPECT_EQ(denied(SYS_openat, {cwd, addr(link.c_str()), O_WRONLY | O_APPEND}), link);
  EXPECT_EQ(denied(SYS_openat, {cwd, addr(target.c_str()), O_WRONLY | O_APPEND}), target);
  EXPECT_EQ(denied(SYS_chmod, {addr(link.c_str()), 0755}), link);
  EXPECT_EQ(denied(SYS_rename, {addr(target.c_str()), addr("elsewhere")}), target);
  EXPECT_EQ(denied(SYS_unlink, {addr(link.c_str())}), link);
}

TEST_F(Gate, an_audit_entry_runs_and_is_reported_and_bad_pointers_run_unjudged)
{
  const std::string prof = home_ + "/.profile";
  const NameVerdict v = judge(SYS_openat, {static_cast<uint64_t>(AT_FDCWD), addr(prof.c_str()),
                                           O_WRONLY | O_CREAT});
  EXPECT_TRUE(v.protected_path);
  EXPECT_TRUE(v.run);
  ASSERT_NE(v.entry, nullptr);
  EXPECT_EQ(v.entry->pattern, "~/.profile");
  EXPECT_EQ(v.change.call, OpenCall::openat);
  // An unreadable path: the kernel answers EFAULT itself.
  const NameVerdict bad = judge(SYS_openat, {static_cast<uint64_t>(AT_FDCWD), 8, O_WRONLY});
  EXPECT_FALSE(bad.protected_path);
  EXPECT_TRUE(bad.run);
  // A path longer than PATH_MAX without its NUL in reach.
  std::string longp(8192, 'a');
  const NameVerdict too_long =
      judge(SYS_openat, {static_cast<uint64_t>(AT_FDCWD), addr(longp.c_str()), O_WRONLY});
  EXPECT_FALSE(too_long.protected_path);
}

} // namespace
} // namespace vigil::enforce
