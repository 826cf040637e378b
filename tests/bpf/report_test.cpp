// SPDX-License-Identifier: Apache-2.0
// Investigation end to end on this host's kernel: a real `vigil run --log-dir` of the README's
// example (with agent-chosen hostile names) rendered by `vigil report` and loaded in a real
// headless Chromium (summary, tree, alerts, filters, names as text); progress lines on a
// terminal only; replay's noise folding. The agent runs as root and as uid 65534.
// (`vigil profile suggest` end to end is suggest_test.cpp, in vg_bpf_tests: it runs in the VM.)
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <regex>

#include <gtest/gtest.h>

#include "browser.h"
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

// The README's example, with names a hostile agent picks: markup in an argument (with a
// control character and invalid UTF-8) and in a file name it opens.
const char *kHostileArg = "<script>document.title='pwned'</script>\"'&\x01\xff";
const char *kHostileFile = "<img src=x onerror=document.title='pwned'>";

class ReportSession : public ::testing::TestWithParam<bool> {
protected:
  void SetUp() override
  {
    VG_REQUIRE_ROOT();
    ::chmod(tmp_.path().c_str(), 0777);
    write_file(tmp_ / kHostileFile, "hostile name\n");
    ::chmod((tmp_ / kHostileFile).c_str(), 0644);
    log_ = tmp_ / "log";
    alerts_ = tmp_ / "alerts.jsonl";
    std::vector<std::string> argv{vigil_bin(),     "run",   "--log-dir", log_,
                                  "--alerts-json", alerts_, "--"};
    for (const auto &a : agent_prefix(GetParam()))
      argv.push_back(a);
    argv.insert(argv.end(), {"bash", "-c",
                             "/bin/echo \"$1\" >/dev/null; cat \"$2\" >/dev/null; "
                             "cat /etc/shadow >/dev/null; exec 3<>/dev/tcp/127.0.0.2/9",
                             "agent", kHostileArg, tmp_ / kHostileFile});
    recorded_ = run(argv, {}, std::chrono::seconds(120));
  }

  TempDir tmp_;
  std::string log_, alerts_;
  ProcResult recorded_;
};

TEST_P(ReportSession, readme_session_renders_in_chromium_with_tree_alerts_filters_and_names_as_text)
{
  ASSERT_EQ(recorded_.status, 1) << recorded_.err; // the connect is denied, as in the README
  const auto alerts = read_json_lines(alerts_);
  // Root's read of /etc/shadow is alerted (a credential rule); uid 65534's fails on file
  // permissions before any deciding hook sees a file (a failed open: alerted only with
  // --syscall-tracepoints), so its session has the egress alert alone.
  ASSERT_GE(alerts.size(), GetParam() ? 1u : 2u) << recorded_.err;
  bool egress = false;
  for (const auto &a : alerts)
    egress |= a.value("rule", "") == "egress-not-allowed";
  ASSERT_TRUE(egress) << recorded_.err;

  const std::string html = tmp_ / "incident.html";
  ProcResult r = run({vigil_bin(), "report", log_, "-o", html});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string page = read_file(html);
  // Self-contained: no external reference of any kind, one script (the report's own).
  EXPECT_EQ(count_of(page, "<script"), 1u);
  EXPECT_EQ(page.find("src="), page.find("src=x")) << "only the hostile name may say src=";
  EXPECT_EQ(page.find("<img"), std::string::npos);
  EXPECT_EQ(page.find("http://"), std::string::npos);
  EXPECT_EQ(page.find("https://"), std::string::npos);
  EXPECT_NE(page.find("&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;"),
            std::string::npos);
  EXPECT_NE(page.find("\\x01\\xff"), std::string::npos) << "controls and invalid UTF-8 as \\xNN";

  if (chromium_bin().empty())
    GTEST_SKIP() << "chromium is not installed (deploy/install-deps.sh --test installs it)";
  Browser b;
  ProcResult dom = b.dump_dom(html);
  ASSERT_EQ(dom.status, 0) << dom.err;
  EXPECT_FALSE(page_errors(dom.err)) << dom.err;
  EXPECT_EQ(body_attr(dom.out, "data-ready"), "1") << "the page's script ran to its end";
  EXPECT_NE(dom.out.find("<title>vigil incident report</title>"), std::string::npos)
      << "no agent string ran as script";
  EXPECT_EQ(dom.out.find("<img"), std::string::npos) << "no agent string became markup";
  EXPECT_NE(dom.out.find("&lt;img src=x onerror=document.title='pwned'&gt;"), std::string::npos)
      << "the hostile file name is shown as text";
  // Summary counts match what vigil raised live.
  EXPECT_EQ(attr_of(dom.out, "n-alerts", "data-count"), std::to_string(alerts.size()));
  EXPECT_NE(attr_of(dom.out, "n-denials", "data-count"), "0");
  EXPECT_EQ(attr_of(dom.out, "integrity", "data-ok"), "1");
  EXPECT_NE(attr_of(dom.out, "n-dests", "data-count"), "0");
  // The tree holds the agent's processes; the alert-bearing branch is open.
  const size_t tree = dom.out.find("id=\"ptree\"");
  ASSERT_NE(tree, std::string::npos);
  const size_t timeline = dom.out.find("id=\"timeline\"");
  const std::string tree_html = dom.out.substr(tree, timeline - tree);
  EXPECT_NE(tree_html.find("<b>bash</b>"), std::string::npos);
  EXPECT_NE(tree_html.find("<b>cat</b>"), std::string::npos);
  EXPECT_NE(tree_html.find("open=\"\" class=\"hot\""), std::string::npos);
  EXPECT_NE(dom.out.find("egress-not-allowed"), std::string::npos);
  EXPECT_NE(dom.out.find("127.0.0.2:9"), std::string::npos);
  const std::string all_shown = body_attr(dom.out, "data-alerts-shown");
  EXPECT_EQ(all_shown, std::to_string(alerts.size()));

  // A filter (given in the address, as a shared link would) changes what is shown.
  ProcResult filtered = b.dump_dom(html, "#rule=egress-not-allowed");
  ASSERT_EQ(filtered.status, 0) << filtered.err;
  EXPECT_FALSE(page_errors(filtered.err)) << filtered.err;
  EXPECT_EQ(body_attr(filtered.out, "data-alerts-shown"), "1");
  EXPECT_EQ(body_attr(filtered.out, "data-shown"), "1");
  EXPECT_LT(count_of(filtered.out, "class=\"f tl"), count_of(filtered.out, "hidden=\"\"") + 2);
  ProcResult text = b.dump_dom(html, "#q=%2Fetc%2Fshadow");
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_NE(body_attr(text.out, "data-shown"), body_attr(dom.out, "data-shown"));
  EXPECT_NE(body_attr(text.out, "data-shown"), "0");

  // A time window after the session shows nothing of it; one around it shows everything.
  ProcResult later = b.dump_dom(html, "#since=2999-01-01T00:00:00Z");
  ASSERT_EQ(later.status, 0) << later.err;
  EXPECT_EQ(body_attr(later.out, "data-shown"), "0");
  EXPECT_EQ(body_attr(later.out, "data-alerts-shown"), "0");
  ProcResult around = b.dump_dom(html, "#since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00Z");
  ASSERT_EQ(around.status, 0) << around.err;
  EXPECT_EQ(body_attr(around.out, "data-shown"), body_attr(dom.out, "data-shown"));

  // A process filter keeps the process, its descendants, and (in the tree) its ancestors.
  std::string bash_pid;
  for (const auto &a : alerts)
    if (a.value("rule", "") == "egress-not-allowed")
      bash_pid = std::to_string(a.value("pid", 0));
  ProcResult by_pid = b.dump_dom(html, "#pid=" + bash_pid);
  ASSERT_EQ(by_pid.status, 0) << by_pid.err;
  EXPECT_FALSE(page_errors(by_pid.err)) << by_pid.err;
  const auto tree_item = [&](const std::string &page_dom, const std::string &pid) {
    const size_t at = page_dom.find("<li class=\"f tn\" data-pid=\"" + pid + "\"");
    return at == std::string::npos ? std::string()
                                   : page_dom.substr(at, page_dom.find('>', at) - at);
  };
  const std::string bash_item = tree_item(by_pid.out, bash_pid);
  ASSERT_FALSE(bash_item.empty()) << by_pid.out;
  EXPECT_EQ(bash_item.find("hidden"), std::string::npos) << bash_item;
  EXPECT_EQ(body_attr(by_pid.out, "data-alerts-shown"), body_attr(dom.out, "data-alerts-shown"))
      << "every alert of this session is bash's or its child's";

  const std::string png =
      test_output_dir() + "/report-readme-" + (GetParam() ? "uid65534" : "root") + ".png";
  ProcResult shot = b.screenshot(html, png);
  ASSERT_EQ(shot.status, 0) << shot.err;
  EXPECT_GT(fs::file_size(png), 10000u);
}

// Replay's timeline folds the opens every program makes; --all shows them.
TEST_P(ReportSession, replay_timeline_folds_noise_and_all_shows_it)
{
  ASSERT_EQ(recorded_.status, 1) << recorded_.err;
  ProcResult folded = run({vigil_bin(), "replay", log_, "--format", "timeline"});
  ASSERT_EQ(folded.status, 0) << folded.err;
  ProcResult all = run({vigil_bin(), "replay", log_, "--format", "timeline", "--all"});
  ASSERT_EQ(all.status, 0) << all.err;
  EXPECT_NE(folded.out.find("folded opens:"), std::string::npos) << folded.out;
  EXPECT_EQ(folded.out.find("libc.so"), std::string::npos) << folded.out;
  EXPECT_NE(all.out.find("libc.so"), std::string::npos) << all.out;
  EXPECT_EQ(all.out.find("folded opens:"), std::string::npos);
  // Fewer lines folded than not (each program's libraries, locale and caches: since opens are
  // reported where they are decided, each file once per agent in tier 2, so not many).
  EXPECT_LT(count_of(folded.out, "\n"), count_of(all.out, "\n"));
  // What matters stays: the denied read and the egress alert.
  EXPECT_NE(folded.out.find("/etc/shadow"), std::string::npos);
  EXPECT_NE(folded.out.find("egress-not-allowed"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Agent, ReportSession, ::testing::Bool(), who);

// Progress goes to a terminal and nowhere else: each long command under a pty (script(1)) draws
// its line; with stderr a file, it draws nothing.
TEST(ReportProgress, long_commands_draw_progress_on_a_terminal_only)
{
  if (run({"sh", "-c", "command -v script"}).status != 0)
    GTEST_SKIP() << "script(1) (util-linux) is needed for a pty";
  TempDir tmp;
  const std::string log = tmp / "log";
  ProcResult gen = run({VG_SYNTHLOG, log, "30000"});
  ASSERT_EQ(gen.status, 0) << gen.err;
  const std::string v = vigil_bin();
  const std::string out = tmp / "out";
  const std::vector<std::pair<std::string, std::string>> commands = {
      {"vigil replay", v + " replay " + log + " >/dev/null"},
      {"vigil log verify", v + " log verify " + log + " >/dev/null"},
      {"vigil log export", v + " log export " + log + " > " + out + ".json"},
      {"vigil report", v + " report " + log + " -o " + out + ".html"},
      {"vigil profile suggest", v + " profile suggest " + log + " -o " + out + ".yaml"},
  };
  for (const auto &[what, cmd] : commands) {
    ProcResult tty = run({"script", "-qefc", cmd, "/dev/null"}, {}, std::chrono::seconds(120));
    EXPECT_EQ(tty.status, 0) << what << ": " << tty.out << tty.err;
    EXPECT_NE(tty.out.find(what + ": "), std::string::npos) << what << ": " << tty.out;
    EXPECT_NE(tty.out.find("segment 1/"), std::string::npos) << what << ": " << tty.out;
    EXPECT_NE(tty.out.find("\033[K"), std::string::npos) << what;
    ProcResult file = run({"sh", "-c", cmd}, {}, std::chrono::seconds(120));
    EXPECT_EQ(file.status, 0) << what << ": " << file.err;
    EXPECT_EQ(file.err.find("segment 1/"), std::string::npos) << what << ": " << file.err;
    EXPECT_EQ(file.err.find('\r'), std::string::npos) << what;
  }
}

} // namespace
