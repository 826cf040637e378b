// SPDX-License-Identifier: Apache-2.0
// The report's pieces without a kernel: noise categories, HTML escaping of hostile names, the
// caps that bound a session, and profile suggest (the result parses, allows what was seen and
// nothing more, and keeps hostile names inside its comments).
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "eventlog/writer.h"
#include "policy/profile.h"
#include "report/html.h"
#include "report/noise.h"
#include "report/session.h"
#include "report/suggest.h"

namespace fs = std::filesystem;
using namespace vigil;
using namespace vigil::report;
using namespace vigil::pipeline;

namespace {

size_t count_of(const std::string &hay, const std::string &needle)
{
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1))
    ++n;
  return n;
}

TEST(ReportNoise, folds_what_every_program_opens_and_nothing_else)
{
  EXPECT_EQ(classify_open("/lib/x86_64-linux-gnu/libc.so.6", 1), Noise::shared_library);
  EXPECT_EQ(classify_open("/etc/ld.so.cache", 1), Noise::shared_library);
  EXPECT_EQ(classify_open("/usr/lib/python3/dist-packages/x/_ssl.cpython-311-x86_64.so", 1),
            Noise::shared_library);
  EXPECT_EQ(classify_open("/usr/lib/locale/C.utf8/LC_CTYPE", 1), Noise::locale);
  EXPECT_EQ(classify_open("/usr/lib/x86_64-linux-gnu/gconv/gconv-modules.cache", 1), Noise::locale);
  EXPECT_EQ(classify_open("/proc/self/maps", 1), Noise::proc_self);
  EXPECT_EQ(classify_open("/proc/123/status", 123), Noise::proc_self);
  EXPECT_EQ(classify_open("/proc/123/environ", 5), Noise::none) << "another process's /proc";
  EXPECT_EQ(classify_open("/dev/null", 1), Noise::device);
  EXPECT_EQ(classify_open("/etc/nsswitch.conf", 1), Noise::name_service);
  EXPECT_EQ(classify_open("/home/u/.cache/pip/http/a", 1), Noise::cache);
  for (const char *p : {"/home/u/.aws/credentials", "/etc/shadow", "/home/u/project/main.py",
                        "/tmp/libevil.so.txt", "/home/u/libx.so", "/etc/ssh/ssh_host_rsa_key"})
    EXPECT_EQ(classify_open(p, 1), Noise::none) << p;
}

TEST(ReportHtml, hostile_text_becomes_inert_text)
{
  EXPECT_EQ(html_text("<script>alert(1)</script>"), "&lt;script&gt;alert(1)&lt;/script&gt;");
  EXPECT_EQ(html_text("a\"b'c&d"), "a&quot;b&#39;c&amp;d");
  EXPECT_EQ(html_text("x\ny\x01z\xff"), "x\\ny\\x01z\\xff");
  EXPECT_EQ(html_text("\xe2\x80\xae"
                      "evil"),
            "\\xe2\\x80\\xaeevil")
      << "bidi override";
  const std::string huge(1'000'000, '<');
  const std::string cut = html_text(huge, 400);
  EXPECT_LE(cut.size(), 400u * 4);
  EXPECT_EQ(cut.find('<'), std::string::npos);
  EXPECT_TRUE(cut.ends_with("...")) << "the cut is shown";
}

class ReportLog : public ::testing::Test {
protected:
  void SetUp() override
  {
    std::string tmpl = (fs::temp_directory_path() / "vigil-report.XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    eventlog::WriterOptions o;
    o.dir = root_ + "/log";
    o.flush_interval = std::chrono::milliseconds(20);
    o.host = "<b>host</b>";
    auto w = eventlog::Writer::open(o);
    ASSERT_TRUE(w) << w.error().message();
    w_ = std::move(*w);
    w_->append_policy(nlohmann::json{{"profile_id", 1},
                                     {"name", "p"},
                                     {"source", "<test>"},
                                     {"text", "profile: p\ncredentials:\n  paths: "
                                              "[~/.aws/credentials]\negress:\n  allow: []\n"},
                                     {"home", "/home/dev"}}
                          .dump(),
                      {});
    w_->append(eventlog::RecordType::cgroup, nlohmann::json{{"cgroup_id", 9},
                                                            {"path", "/sys/fs/cgroup/vigil/run-1"},
                                                            {"profile_id", 1},
                                                            {"profile", "p"}}
                                                 .dump());
  }
  void TearDown() override
  {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  Event ev(EventType t, uint32_t pid, const std::string &comm)
  {
    Event e;
    e.hdr.type = t;
    e.hdr.ts_ns = 1'000'000'000ull + ++seq_ * 1'000'000;
    e.hdr.cgroup_id = 9;
    e.hdr.tgid = e.hdr.tid = pid;
    e.hdr.profile_id = 1;
    e.hdr.comm = comm;
    return e;
  }
  void exec(uint32_t pid, uint32_t ppid, const std::string &exe, std::vector<std::string> argv)
  {
    Event e = ev(EventType::exec, pid, exe.substr(exe.rfind('/') + 1).substr(0, 15));
    ExecBody x;
    x.ppid = ppid;
    x.exe = exe;
    x.argv = std::move(argv);
    e.body = x;
    w_->append_event(e);
  }
  void open(uint32_t pid, const std::string &path, Verdict v = Verdict::none)
  {
    Event e = ev(EventType::open, pid, "tool");
    e.hdr.verdict = v;
    OpenBody o;
    o.path = path;
    o.ret = v == Verdict::deny ? -1 : 3;
    e.body = o;
    w_->append_event(e);
  }
  void connect(uint32_t pid, std::array<uint8_t, 4> ip, uint16_t port)
  {
    Event e = ev(EventType::connect, pid, "tool");
    ConnectBody c;
    c.family = 2;
    c.port = port;
    c.addr = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ip[0], ip[1], ip[2], ip[3]};
    e.body = c;
    w_->append_event(e);
  }
  // A DNS answer the agent's socket received: qname -> the addresses (no process: tgid 0).
  void dns(const std::string &qname, std::vector<std::array<uint8_t, 4>> ips)
  {
    Event e = ev(EventType::dns, 0, "");
    DnsBody d;
    d.server = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 53};
    d.port = 53;
    d.proto = 17;
    d.qname = qname;
    d.qtype = 1;
    for (const auto &ip : ips)
      d.addrs.push_back({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ip[0], ip[1], ip[2], ip[3]});
    e.body = d;
    w_->append_event(e);
  }
  Session load(const Caps &caps = {})
  {
    w_->close();
    auto s = load_session({root_ + "/log"}, {}, caps);
    EXPECT_TRUE(s) << s.error().message();
    return std::move(*s);
  }

  std::string root_;
  std::unique_ptr<eventlog::Writer> w_;
  uint64_t seq_ = 0;
};

TEST_F(ReportLog, names_render_as_text_and_caps_say_what_they_cut)
{
  const std::string evil = "<img src=x onerror=alert(1)>\"'\n\x1b[2J\xff";
  exec(10, 1, "/usr/bin/bash", {"bash", evil, std::string(100'000, 'A')});
  exec(11, 10, "/tmp/" + evil, {evil});
  for (int i = 0; i < 50; ++i)
    open(11, "/home/dev/project/f" + std::to_string(i) + "<script>.txt");
  for (int i = 0; i < 20; ++i)
    open(11, "/usr/lib/x86_64-linux-gnu/libz" + std::to_string(i) + ".so.1");
  open(11, "/home/dev/.aws/credentials", Verdict::deny);
  Caps caps;
  caps.timeline = 3;
  caps.files_per_process = 5;
  const Session s = load(caps);
  EXPECT_EQ(s.procs.size(), 2u);
  EXPECT_EQ(s.denials, 1u);
  ASSERT_EQ(s.credentials.size(), 1u);
  EXPECT_EQ(s.credentials.begin()->first, "/home/dev/.aws/credentials");
  EXPECT_EQ(s.folded[static_cast<size_t>(Noise::shared_library)], 20u);
  EXPECT_GT(s.timeline_cut, 0u);
  EXPECT_EQ(s.procs.at(11).files_cut, 45u);

  const std::string page = render_html(s, {});
  EXPECT_EQ(count_of(page, "<script"), 1u) << "the report's own script only";
  EXPECT_EQ(page.find("<img"), std::string::npos);
  EXPECT_EQ(page.find("\x1b"), std::string::npos);
  EXPECT_EQ(page.find("\n\x1b"), std::string::npos);
  EXPECT_NE(page.find("&lt;img src=x onerror=alert(1)&gt;&quot;&#39;\\n\\x1b[2J\\xff"),
            std::string::npos);
  EXPECT_NE(page.find("&lt;b&gt;host&lt;/b&gt;"), std::string::npos);
  EXPECT_EQ(page.find(std::string(401, 'A')), std::string::npos) << "huge strings are cut";
  EXPECT_NE(page.find("more lines not shown"), std::string::npos);
  EXPECT_NE(page.find("opens of paths past the record cap"), std::string::npos);
  EXPECT_NE(page.find("shared libraries: 20 opens (folded)"), std::string::npos);
  // A strict CSP: only the report's own (nonce'd) script and style run.
  EXPECT_NE(page.find("Content-Security-Policy"), std::string::npos);
  EXPECT_NE(page.find("default-src 'none'"), std::string::npos);
}

TEST_F(ReportLog, filters_keep_a_process_subtree_and_a_time_window)
{
  exec(10, 1, "/usr/bin/bash", {"bash"});
  exec(11, 10, "/usr/bin/cat", {"cat"});
  exec(20, 1, "/usr/bin/other", {"other"});
  open(11, "/home/dev/a");
  open(20, "/home/dev/b");
  w_->close();
  Filter f;
  f.pid = 10;
  auto s = load_session({root_ + "/log"}, f);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->procs.count(10));
  EXPECT_TRUE(s->procs.count(11));
  EXPECT_FALSE(s->procs.count(20));
}

TEST_F(ReportLog, suggestion_allows_what_was_seen_and_flags_secrets_for_review)
{
  exec(10, 1, "/usr/bin/bash", {"bash"});
  connect(10, {10, 9, 8, 7}, 8443);
  connect(10, {10, 9, 8, 7}, 8443);
  connect(10, {169, 254, 169, 254}, 80);
  connect(10, {127, 0, 0, 53}, 53);
  open(10, "/home/dev/project/.env");
  open(10, "/home/dev/project/deploy\nprofile: evil\n.pem");
  open(10, "/home/dev/.aws/credentials", Verdict::deny);
  const Session s = load();
  auto base = policy::parse_profile(
      "profile: base\ncredentials:\n  paths: [~/.aws/credentials]\negress:\n  allow: "
      "[127.0.0.1/32]\n",
      "base.yaml");
  ASSERT_TRUE(base) << base.error().message();
  const std::string yaml = suggest_profile(s, *base, {"base.yaml", "vigil profile suggest LOG"});
  auto p = policy::parse_profile(yaml, "suggested.yaml");
  ASSERT_TRUE(p) << p.error().message() << "\n" << yaml;
  EXPECT_EQ(p->name, "base-suggested");
  auto ip = [](const char *text) { return *policy::parse_ip(text); };
  EXPECT_TRUE(policy::egress_allowed(*p, ip("10.9.8.7"), 8443));
  EXPECT_FALSE(policy::egress_allowed(*p, ip("10.9.8.7"), 8444)) << "only the port seen";
  EXPECT_FALSE(policy::egress_allowed(*p, ip("10.9.8.8"), 8443));
  EXPECT_FALSE(policy::egress_allowed(*p, ip("169.254.169.254"), 80)) << "metadata: review";
  EXPECT_FALSE(policy::egress_allowed(*p, ip("127.0.0.53"), 53)) << "DNS goes by egress.dns";
  EXPECT_TRUE(policy::egress_allowed(*p, ip("127.0.0.1"), 1)) << "the base's entries stay";
  EXPECT_EQ(p->credential_paths, base->credential_paths);
  EXPECT_NE(yaml.find("2 time(s)"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("by tool (pid 10)"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("REVIEW: link-local or cloud-metadata"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("#   - \"/home/dev/project/.env\""), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("#   /home/dev/.aws/credentials: "), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("deploy\\nprofile: evil\\n.pem"), std::string::npos)
      << "a newline in a name stays inside its comment\n"
      << yaml;
}

// Destinations a DNS answer named become host entries (the name the agent asked for, the ports
// seen at any of its addresses); addresses no answer named stay addresses; a name a profile
// cannot hold, an answer for a name already in the base, and DNS itself add nothing.
TEST_F(ReportLog, suggestion_names_destinations_by_the_dns_answers_the_agent_received)
{
  exec(10, 1, "/usr/bin/pip", {"pip"});
  dns("pypi.vigil.test", {{10, 9, 8, 7}, {10, 9, 8, 6}});
  dns("pypi.vigil.test", {{10, 9, 8, 7}});
  dns("under_score.vigil.test", {{10, 9, 8, 5}});
  dns("allowed.vigil.test", {{10, 9, 8, 4}});
  dns("unused.vigil.test", {{10, 9, 8, 3}});
  connect(10, {10, 9, 8, 7}, 8080);
  connect(10, {10, 9, 8, 6}, 8081);
  connect(10, {10, 9, 8, 5}, 443);
  connect(10, {10, 9, 8, 4}, 443);
  connect(10, {10, 1, 1, 1}, 443);
  connect(10, {127, 0, 0, 53}, 53);
  const Session s = load();
  EXPECT_EQ(s.dns_answers, 5u);
  ASSERT_TRUE(s.names.count("10.9.8.7"));
  EXPECT_EQ(s.names.at("10.9.8.7").at("pypi.vigil.test").count.n, 2u);
  auto base = policy::parse_profile("profile: base\negress:\n  allow:\n    - {host: "
                                    "Allowed.vigil.test, ports: [443]}\n",
                                    "base.yaml");
  ASSERT_TRUE(base) << base.error().message();
  const std::string yaml = suggest_profile(s, *base, {"base.yaml", "vigil profile suggest LOG"});
  auto p = policy::parse_profile(yaml, "suggested.yaml");
  ASSERT_TRUE(p) << p.error().message() << "\n" << yaml;
  EXPECT_NE(yaml.find("    - {host: \"pypi.vigil.test\", ports: [8080, 8081]}   # named by a DNS "
                      "answer the agent received\n"),
            std::string::npos)
      << yaml;
  EXPECT_NE(yaml.find("#   10.9.8.7 answered for it by 127.0.0.53:53: first "), std::string::npos)
      << yaml;
  EXPECT_EQ(count_of(yaml, "{host: \"pypi.vigil.test\""), 1u) << yaml;
  EXPECT_NE(yaml.find("{cidr: 10.9.8.5/32, ports: [443]}   # recorded address"), std::string::npos)
      << "an underscore: no profile host name\n"
      << yaml;
  EXPECT_NE(yaml.find("{cidr: 10.1.1.1/32, ports: [443]}   # recorded address, no DNS answer"),
            std::string::npos)
      << yaml;
  EXPECT_EQ(yaml.find("10.9.8.4"), std::string::npos) << "the base names it already\n" << yaml;
  EXPECT_EQ(yaml.find("unused"), std::string::npos) << "never connected to\n" << yaml;
  EXPECT_EQ(yaml.find("127.0.0.53/32"), std::string::npos) << yaml;
  size_t hosts = 0;
  for (const auto &a : p->egress_allow)
    hosts += !a.host.empty();
  EXPECT_EQ(hosts, 2u) << "the base's and the suggested one\n" << yaml;

  // The report's destinations name each address by its answers.
  const std::string page = render_html(s, {});
  EXPECT_NE(page.find("<code>10.9.8.7:8080</code> <span class=dns title=\"from DNS answers\">"
                      "pypi.vigil.test</span>"),
            std::string::npos);

  // The timeline shows the answers.
  bool line = false;
  for (const auto &l : s.timeline)
    line |= l.text == "dns answer from 127.0.0.53:53: pypi.vigil.test = 10.9.8.7, 10.9.8.6";
  EXPECT_TRUE(line);
}

TEST_F(ReportLog, a_host_snapshot_neither_fills_the_tree_nor_the_process_cap)
{
  // PROCESS records of a busy host (more than the cap), the launcher among them.
  for (uint32_t pid = 2; pid < 5000; ++pid)
    w_->append(eventlog::RecordType::process,
               nlohmann::json{{"pid", pid}, {"ppid", 1}, {"uid", 0}, {"cgroup_id", 1},
                              {"profile_id", pid == 4000 ? 1 : 0}, {"start_ns", 0},
                              {"comm", pid == 3000 ? "vigil" : "daemon"},
                              {"exe", "/usr/sbin/x"}, {"argv", {"x"}}}
                   .dump());
  exec(6000, 3000, "/usr/bin/bash", {"bash"});
  Caps caps;
  caps.processes = 100;
  const Session s = load(caps);
  EXPECT_EQ(s.procs.size(), 3u) << "bash, its launcher, and the idle agent process 4000";
  EXPECT_TRUE(s.procs.count(6000));
  ASSERT_TRUE(s.procs.count(3000));
  EXPECT_EQ(s.procs.at(3000).comm, "vigil");
  EXPECT_FALSE(s.procs.at(3000).in_agent);
  EXPECT_TRUE(s.procs.count(4000));
  EXPECT_EQ(s.procs_cut, 0u);
}

TEST_F(ReportLog, damage_is_reported_as_log_verify_sees_it)
{
  exec(10, 1, "/usr/bin/bash", {"bash"});
  for (int i = 0; i < 2000; ++i)
    open(10, "/home/dev/project/f" + std::to_string(i));
  w_->close();
  std::string seg;
  for (const auto &e : fs::directory_iterator(root_ + "/log"))
    if (e.path().extension() == ".vglog")
      seg = e.path();
  ASSERT_FALSE(seg.empty());
  {
    std::FILE *f = std::fopen(seg.c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    const long mid = static_cast<long>(fs::file_size(seg) / 2);
    std::fseek(f, mid, SEEK_SET);
    const int byte = std::fgetc(f);
    std::fseek(f, mid, SEEK_SET); // a stream switching from reading to writing must seek
    std::fputc(0x5a ^ byte, f);
    std::fclose(f);
  }
  auto s = load_session({root_ + "/log"}, {});
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->read.clean());
  const std::string page = render_html(*s, {});
  EXPECT_NE(page.find("id=integrity data-ok=0"), std::string::npos);
  EXPECT_NE(page.find("problem(s)"), std::string::npos);
  EXPECT_NE(page.find("<ul id=problems><li class=bad>"), std::string::npos);
}

// The response actions vigil took are listed with their result and cgroup; a log written before
// records carried their "response" object still names the action (by rule) and a failure (by
// severity).
TEST_F(ReportLog, actions_taken_lists_each_response_with_its_result)
{
  exec(10, 1, "/usr/bin/bash", {"bash"});
  auto alert = [&](const std::string &rule, const std::string &severity,
                   const nlohmann::json &response) {
    nlohmann::json j{{"time", "1970-01-01T00:00:01.500000000Z"},
                     {"rule", rule},
                     {"severity", severity},
                     {"output", rule + " <output>"},
                     {"pid", 10},
                     {"comm", "bash"},
                     {"cgroup", "/vigil/run-1"},
                     {"profile", "p"},
                     {"detail", "after alert exfil-credential-then-egress: x"}};
    if (!response.is_null())
      j["response"] = response;
    w_->append(eventlog::RecordType::alert, j.dump());
  };
  alert("exfil-credential-then-egress", "critical", nullptr);
  alert("response-isolate", "critical",
        {{"action", "isolate"}, {"result", "done"}, {"target", "/sys/fs/cgroup/vigil/run-1"}});
  alert("response-run", "critical",
        {{"action", "run"}, {"result", "failed"}, {"target", "/sys/fs/cgroup/vigil/run-1"}});
  alert("response-freeze", "error", nullptr); // an older record: failed, by its severity
  const Session s = load();
  ASSERT_EQ(s.actions.size(), 3u);
  EXPECT_EQ(s.actions_total, 3u);
  EXPECT_EQ(s.actions[0].action, "isolate");
  EXPECT_EQ(s.actions[0].result, "done");
  EXPECT_EQ(s.actions[0].target, "/sys/fs/cgroup/vigil/run-1");
  EXPECT_EQ(s.actions[0].cause, "after alert exfil-credential-then-egress: x");
  EXPECT_EQ(s.actions[1].result, "failed");
  EXPECT_EQ(s.actions[2].action, "freeze");
  EXPECT_EQ(s.actions[2].result, "failed");
  EXPECT_EQ(s.actions[2].target, "/vigil/run-1");
  EXPECT_EQ(s.actions_by_result.at("done"), 1u);
  EXPECT_EQ(s.actions_by_result.at("failed"), 2u);

  const std::string page = render_html(s, {});
  EXPECT_NE(page.find("<h2 id=actions>Actions taken</h2>"), std::string::npos);
  EXPECT_NE(page.find("<tr class=act data-action=\"isolate\" data-result=\"done\" "
                      "data-target=\"/sys/fs/cgroup/vigil/run-1\""),
            std::string::npos)
      << page;
  EXPECT_EQ(count_of(page, "<tr class=act "), 3u);
  EXPECT_NE(page.find("response-isolate &lt;output&gt;"), std::string::npos);
  EXPECT_EQ(page.find("id=no-actions"), std::string::npos);
}

TEST_F(ReportLog, a_log_without_actions_says_so)
{
  exec(10, 1, "/usr/bin/bash", {"bash"});
  const std::string page = render_html(load(), {});
  EXPECT_NE(page.find("id=no-actions"), std::string::npos);
}

TEST(ReportSuggest, credential_like_names)
{
  for (const char *p : {"/home/u/.env", "/srv/app/.env.local", "/home/u/server.key",
                        "/home/u/.pgpass", "/home/u/api_token.txt", "/home/u/.ssh/id_rsa"})
    EXPECT_TRUE(credential_like(p)) << p;
  for (const char *p : {"/etc/ssl/certs/ca-certificates.crt", "/home/u/.ssh/id_rsa.pub",
                        "/usr/share/doc/x/secret-sauce.txt", "/home/u/main.py"})
    EXPECT_FALSE(credential_like(p)) << p;
  EXPECT_EQ(yaml_quote("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
}

} // namespace
