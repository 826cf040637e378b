// SPDX-License-Identifier: Apache-2.0
// Holes found in review, each tried as the agent would: another name for a glob-protected
// credential (hard link, move), files deep below a protected directory, an agent cgroup deep in
// the hierarchy that moves into a sub-cgroup of its own, and DNS to a server of the agent's
// choosing. The same tests run on this host (fanotify + cgroup tiers) and in the VM (BPF LSM).
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "harness.h"

namespace vigil::test {
namespace {

namespace fs = std::filesystem;

bool lsm_files()
{
  return expected_file_tier() == "lsm";
}

size_t count(const std::string &hay, const std::string &needle)
{
  size_t n = 0;
  for (size_t pos = hay.find(needle); pos != std::string::npos; pos = hay.find(needle, pos + 1))
    ++n;
  return n;
}

class HoleTest : public ::testing::Test {
protected:
  void SetUp() override
  {
    VG_REQUIRE_ROOT();
    home_ = tmp_ / "home";
    proj_ = tmp_ / "proj";
    out_ = tmp_ / "out";
    fs::create_directories(out_);
    write_file(home_ + "/.ssh/id_ed25519", "secret-ed25519\n");
    write_file(home_ + "/.ssh/known_hosts", "public-hosts\n");
    write_file(home_ + "/.config/gcloud/adc.json", "secret-adc\n");
    write_file(home_ + "/.config/gcloud/legacy/creds.db", "secret-legacy\n");
    write_file(proj_ + "/.env", "secret-dotenv\n");
    write_file(proj_ + "/README", "readme-text\n");
    profile_ = tmp_ / "profile.yaml";
    write_file(profile_, "profile: holes\ncredentials:\n  paths: [~/.ssh/id_*, "
                         "~/.config/gcloud/**, .env]\negress:\n  allow: []\n");
    alerts_ = tmp_ / "alerts.jsonl";
  }

  ProcResult agent(const std::string &script, const std::string &profile)
  {
    return run({vigil_bin(), "run", "--profile", profile, "--alerts-json", alerts_, "--", "sh",
                "-c", script},
               {"HOME=" + home_}, std::chrono::seconds(120));
  }

  // ln and mv of src to out/, each followed by a read of the new name; stdout says what worked.
  std::string link_and_move(const std::string &tag, const std::string &src) const
  {
    const std::string l = out_ + "/l-" + tag, m = out_ + "/m-" + tag;
    return "ln '" + src + "' '" + l + "' 2>/dev/null && echo linked:" + tag + "; cat '" + l +
           "' 2>/dev/null || echo unread:l-" + tag + "; mv '" + src + "' '" + m +
           "' 2>/dev/null && echo moved:" + tag + "; cat '" + m + "' 2>/dev/null || echo unread:m-" +
           tag + "; ";
  }

  TempDir tmp_;
  std::string home_, proj_, out_, profile_, alerts_;
};

// A glob (~/.ssh/id_*) or subtree (~/.config/gcloud/**) rule protects the files it matches by
// what they are: a hard link or a move to a name no pattern matches reads as the credential.
// BPF LSM refuses the link and the rename themselves (path_link, path_rename), for basename
// rules (.env) too; the fanotify tier marks every matched file's inode, so the new name's open is
// refused and reported as the original file.
TEST_F(HoleTest, links_and_moves_of_glob_and_subtree_credentials_are_denied)
{
  std::vector<std::pair<std::string, std::string>> files = {
      {"ed25519", home_ + "/.ssh/id_ed25519"},
      {"adc", home_ + "/.config/gcloud/adc.json"},
      {"legacy", home_ + "/.config/gcloud/legacy/creds.db"}};
  if (lsm_files())
    files.emplace_back("dotenv", proj_ + "/.env"); // basename rules: tier 1 only (see SECURITY.md)
  std::string script;
  for (const auto &[tag, src] : files)
    script += link_and_move(tag, src);
  // Controls: an unprotected file links and reads; a non-matching sibling reads.
  script += "ln '" + proj_ + "/README' '" + out_ + "/readme' && cat '" + out_ + "/readme'; cat '" +
            home_ + "/.ssh/known_hosts'; true";
  ProcResult r = agent(script, profile_);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.find("secret"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("readme-text"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("public-hosts"), std::string::npos) << r.out;
  auto list = read_json_lines(alerts_);
  if (lsm_files()) {
    EXPECT_EQ(count(r.out, "linked:"), 0u) << r.out;
    EXPECT_EQ(count(r.out, "moved:"), 0u) << r.out;
    ASSERT_EQ(list.size(), 2 * files.size()) << read_file(alerts_);
    size_t links = 0, renames = 0;
    for (const auto &a : list) {
      const std::string out = a["output"];
      links += out.find("hard link of credential file") != std::string::npos;
      renames += out.find("rename of credential file") != std::string::npos;
    }
    EXPECT_EQ(links, files.size()) << read_file(alerts_);
    EXPECT_EQ(renames, files.size()) << read_file(alerts_);
  } else {
    // vigil run's launch filter hands links and renames to its gate, which refuses them for a
    // credential's name (and the file guard refuses any read of a keyed file under a new name).
    EXPECT_EQ(count(r.out, "linked:"), 0u) << r.out;
    EXPECT_EQ(count(r.out, "moved:"), 0u) << r.out;
    EXPECT_EQ(count(r.out, "unread:"), 2 * files.size()) << r.out;
    ASSERT_EQ(list.size(), 2 * files.size()) << read_file(alerts_);
    for (const auto &a : list) {
      const std::string path = a["path"];
      const bool original = std::any_of(files.begin(), files.end(),
                                        [&](const auto &f) { return f.second == path; });
      EXPECT_TRUE(original) << "reported as the protected file, not the new name: " << path;
    }
  }
  for (const auto &a : list) {
    const std::string rule = a["rule"];
    EXPECT_TRUE(rule == "credential-read" || rule.starts_with("cred-")) << rule;
    EXPECT_EQ(a["verdict"], "denied");
    EXPECT_EQ(a["tier"], lsm_files() ? expected_file_tier() : std::string("launch"));
  }
}

// Below an overlay mount the agent owns (in a user namespace of its own), a link is made by
// overlayfs on the real file system: the path hook sees only overlay dentries, which carry no
// rule, so inode_link decides. A credential written after vigil started (no inode key) must not
// get a readable name this way. Tier 1 only: the fanotify tier cannot refuse links (a read of a
// file keyed at start is refused; one created later is the documented race).
TEST_F(HoleTest, a_link_made_below_an_overlay_is_refused_in_the_kernel)
{
  if (!lsm_files())
    GTEST_SKIP() << "links are refused by the BPF LSM tier only";
  for (const char *d : {"lower", "work", "ov"})
    fs::create_directories(tmp_ / d);
  // The agent needs a user and mount namespace of its own for the overlay: the launch refuses
  // them by default, this profile lets them be (the LSM decides what happens inside).
  const std::string profile = tmp_ / "nested.yaml";
  write_file(profile, read_file(profile_) + "launch:\n  nested_namespaces: allow\n");
  const std::string go = tmp_ / "go", late = home_ + "/.ssh/id_late";
  Proc vigil({vigil_bin(), "run", "--profile", profile, "--alerts-json", alerts_, "--", "sh",
              "-c",
              "while [ ! -e " + go + " ]; do sleep 0.05; done; unshare -Urm sh -c 'mount -t "
              "overlay overlay -o lowerdir=" + tmp_ / "lower" + ",upperdir=" + home_ +
                  ",workdir=" + tmp_ / "work" + " " + tmp_ / "ov" + " && echo mounted && ln " +
                  tmp_ / "ov" + "/.ssh/id_late " + tmp_ / "ov" +
                  "/stolen && echo linked'; cat " + home_ + "/stolen 2>/dev/null || echo unread"},
             {"HOME=" + home_});
  ASSERT_TRUE(vigil.wait_for_err("confines cgroup")) << vigil.err_so_far();
  write_file(late, "secret-late\n");
  write_file(go, "");
  ProcResult r = vigil.wait(std::chrono::seconds(120));
  ASSERT_EQ(r.status, 0) << r.err;
  if (r.out.find("mounted") == std::string::npos)
    GTEST_SKIP() << "this kernel gives the agent no overlay mount in its user namespace:\n"
                 << r.err;
  EXPECT_EQ(r.out, "mounted\nunread\n") << r.err;
  auto list = read_json_lines(alerts_);
  ASSERT_EQ(list.size(), 1u) << read_file(alerts_);
  EXPECT_NE(list[0]["output"].get<std::string>().find("hard link of credential file"),
            std::string::npos)
      << list[0]["output"];
}

// A file 24 directories below a subtree rule's directory is protected (the kernel's walk used to
// stop at 16); a file deeper than the kernel's walk (128) is refused in the LSM tier, fail
// closed, with an alert that says so. The fanotify tier decides by the whole path: no limit.
TEST_F(HoleTest, deep_files_under_a_protected_directory_are_denied_and_deeper_fails_closed)
{
  std::string deep = home_ + "/.config/gcloud";
  for (int i = 0; i < 24; ++i)
    deep += "/d" + std::to_string(i);
  write_file(deep + "/deep.json", "secret-deep\n");
  std::string deeper = proj_;
  for (int i = 0; i < 130; ++i)
    deeper += "/n";
  write_file(deeper + "/plain.txt", "plain-text\n");
  ProcResult r = agent("cat '" + deep + "/deep.json' 2>/dev/null || echo denied:deep; cat '" +
                           deeper + "/plain.txt' 2>/dev/null || echo denied:deeper; true",
                       profile_);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.find("secret"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("denied:deep\n"), std::string::npos) << r.out;
  auto list = read_json_lines(alerts_);
  if (lsm_files()) {
    EXPECT_NE(r.out.find("denied:deeper"), std::string::npos) << r.out;
    ASSERT_EQ(list.size(), 2u) << read_file(alerts_);
    const std::string out = list[1]["output"];
    EXPECT_NE(out.find("path truncated"), std::string::npos) << out;
    EXPECT_NE(out.find("fail closed"), std::string::npos) << out;
  } else {
    EXPECT_NE(r.out.find("plain-text"), std::string::npos) << r.out;
    ASSERT_EQ(list.size(), 1u) << read_file(alerts_);
  }
  EXPECT_EQ(list[0]["path"], deep + "/deep.json");
}

// DNS goes to the profile's resolvers only: port 53 elsewhere is a channel to a server of the
// agent's choosing, and is denied and alerted like any other destination.
TEST_F(HoleTest, dns_goes_only_to_the_profiles_resolvers)
{
  const std::string p = tmp_ / "dns.yaml";
  write_file(p, "profile: dns\negress:\n  dns: [127.0.0.7]\n  allow: []\n");
  const std::string np = netprobe_bin();
  ProcResult r = agent(np + " udp 127.0.0.7 53; " + np + " udp 127.0.0.8 53; " + np +
                           " tcp 127.0.0.8 53; " + np + " udp24 ::1 53; true",
                       p);
  EXPECT_EQ(r.out, "ok\nEPERM\nEPERM\nEPERM\n") << r.err;
  auto list = read_json_lines(alerts_);
  ASSERT_EQ(list.size(), 3u) << read_file(alerts_);
  for (const auto &a : list) {
    EXPECT_EQ(a["rule"], "egress-not-allowed");
    EXPECT_EQ(a["destination"]["port"], 53);
    EXPECT_EQ(a["tier"], expected_net_tier());
  }
}

// Source routing: an IPv6 routing header (no privilege needed) or IPv4 options send a packet on
// past the allowed address the connect and sendmsg hooks saw. The packet program drops an
// agent's such packets in every tier and reports them; the same send without them goes out.
TEST_F(HoleTest, source_routed_packets_are_dropped_and_alerted)
{
  const std::string p = tmp_ / "srh.yaml";
  write_file(p, "profile: srh\negress:\n  allow: [127.0.0.1/32, \"::1/128\"]\n");
  const std::string np = netprobe_bin(), port = std::to_string(free_port());
  ProcResult r = agent(np + " udp ::1 " + port + "; " + np + " udp6srh ::1 " + port + "; " + np +
                           " udp4opt 127.0.0.1 " + port + "; true",
                       p);
  EXPECT_EQ(r.out, "ok\nEPERM\nEPERM\n") << r.err;
  auto list = read_json_lines(alerts_);
  ASSERT_EQ(list.size(), 2u) << read_file(alerts_);
  for (const auto &a : list) {
    EXPECT_EQ(a["rule"], "egress-not-allowed");
    EXPECT_EQ(a["verdict"], "denied");
    EXPECT_NE(a["output"].get<std::string>().find("source-routed"), std::string::npos)
        << a["output"];
  }
  // Outside the agent the same packets go out: the drop is vigil's.
  ProcResult out = run({"sh", "-c", np + " udp6srh ::1 " + port + "; " + np + " udp4opt 127.0.0.1 " + port});
  EXPECT_EQ(out.out, "ok\nok\n") << out.err;
}

// The shipped profile allows DNS to this host's resolvers (resolv.conf), not to 127.0.0.8.
TEST_F(HoleTest, the_default_profile_does_not_allow_dns_to_any_server)
{
  ProcResult r = run({vigil_bin(), "run", "--alerts-json", alerts_, "--", netprobe_bin(), "udp",
                      "127.0.0.8", "53"},
                     {"HOME=" + home_}, std::chrono::seconds(120));
  EXPECT_EQ(r.out, "EPERM\n") << r.err;
  auto list = read_json_lines(alerts_);
  ASSERT_EQ(list.size(), 1u) << read_file(alerts_);
  EXPECT_EQ(list[0]["rule"], "egress-not-allowed");
}

// An agent cgroup deep in the hierarchy: the agent makes a sub-cgroup and moves into it, and is
// still confined (the kernel's ancestry walk stopped at level 16). A cgroup deeper than the walk
// reaches is refused with a clear error instead of being confined in name only.
class DeepCgroupTest : public ::testing::Test {
protected:
  void SetUp() override
  {
    VG_REQUIRE_ROOT();
    top_ = "/vigil-deep-" + std::to_string(::getpid());
    root_ = cgroup2_mount() + top_;
    secret_ = tmp_ / "secret.pem";
    write_file(secret_, "secret-pem\n");
    write_file(tmp_ / "profile.yaml", "profile: deep\ncredentials:\n  paths: [" + secret_ +
                                          "]\negress:\n  allow: []\n");
    alerts_ = tmp_ / "alerts.jsonl";
    pins_ = "/sys/fs/bpf/vigil-deep-" + std::to_string(::getpid());
    write_file(tmp_ / "vigil.yaml",
               "profiles: [profile.yaml]\ncgroups:\n  - path: " + top_ +
                   "/**/agent\n    profile: deep\nalerts_json: " + alerts_ +
                   "\nmetrics_address: 127.0.0.1:" + std::to_string(free_port()) +
                   "\nrescan_ms: 100\npin_dir: " + pins_ + "\n");
  }
  void TearDown() override
  {
    if (root_.empty())
      return;
    run({vigil_bin(), "unload", "--pin-dir", pins_});
    // Leaves first: a cgroup with children cannot be removed.
    std::vector<std::string> dirs;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root_, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
      if (it->is_directory(ec))
        dirs.push_back(it->path());
    std::sort(dirs.begin(), dirs.end(), [](const auto &a, const auto &b) { return a.size() > b.size(); });
    for (const auto &d : dirs)
      ::rmdir(d.c_str());
    ::rmdir(root_.c_str());
  }
  std::string chain(int levels) const
  {
    std::string dir = root_;
    for (int i = 0; i < levels; ++i)
      dir += "/c";
    return dir + "/agent";
  }

  TempDir tmp_;
  std::string top_, root_, secret_, alerts_, pins_;
};

TEST_F(DeepCgroupTest, an_agent_deep_in_the_hierarchy_stays_confined_in_its_own_sub_cgroup)
{
  const std::string agent_dir = chain(18); // level 20 below the root
  fs::create_directories(agent_dir);
  Proc daemon({vigil_bin(), "daemon", "--config", tmp_ / "vigil.yaml"});
  ASSERT_TRUE(daemon.wait_for_err("daemon running")) << daemon.err_so_far();
  const std::string go = tmp_ / "go";
  // The agent moves itself into a sub-cgroup of its own, then tries a connect and a read.
  Proc agent({"sh", "-c",
              "echo $$ > " + agent_dir + "/cgroup.procs && while [ ! -e " + go +
                  " ]; do sleep 0.02; done; mkdir " + agent_dir + "/sub && echo $$ > " +
                  agent_dir + "/sub/cgroup.procs && " + netprobe_bin() + " tcp 127.0.0.1 " +
                  std::to_string(free_port()) + "; cat " + secret_ +
                  " 2>/dev/null || echo denied; true"});
  ASSERT_TRUE(daemon.wait_for_err("confining " + agent_dir)) << daemon.err_so_far();
  write_file(go, "");
  ProcResult r = agent.wait();
  EXPECT_EQ(r.out, "EPERM\ndenied\n") << r.err;
  std::vector<nlohmann::json> found;
  for (int i = 0; i < 100 && found.size() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    found = read_json_lines(alerts_);
  }
  ASSERT_EQ(found.size(), 2u) << read_file(alerts_);
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait(std::chrono::seconds(15)).status, 0);
}

TEST_F(DeepCgroupTest, a_cgroup_deeper_than_the_kernel_walk_is_refused_with_a_clear_error)
{
  const std::string agent_dir = chain(63); // level 65
  fs::create_directories(agent_dir);
  Proc daemon({vigil_bin(), "daemon", "--config", tmp_ / "vigil.yaml"});
  ASSERT_TRUE(daemon.wait_for_err("daemon running")) << daemon.err_so_far();
  EXPECT_TRUE(daemon.wait_for_err("65 levels deep")) << daemon.err_so_far();
  EXPECT_NE(daemon.err_so_far().find("confines cgroups above level 64"), std::string::npos)
      << daemon.err_so_far();
  daemon.signal(SIGTERM);
  daemon.wait(std::chrono::seconds(15));
}

} // namespace
} // namespace vigil::test
