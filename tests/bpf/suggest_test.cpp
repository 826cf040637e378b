// SPDX-License-Identifier: Apache-2.0
// `vigil profile suggest` end to end, on this host's kernel (tier 2) and in the VM (tier lsm):
// a session recorded under the default profile, watched not confined; the suggestion from its
// log; the same session under the suggestion (no alert, no denial); and with a credential read
// and a connect to a new address added (both denied, each with its alert). Then real tools: git
// clone over HTTP, pip and npm installs from a local index named through this file's DNS server
// (the suggestion names it by host name), a build. The agent runs as root and as uid 65534.
#include <sys/stat.h>

#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "harness.h"
#include "support/dns_server.h"

namespace fs = std::filesystem;
using namespace vigil::test;

namespace {

// This file's DNS server (StartupTest's is 127.0.0.153: the two may run at once).
constexpr const char *kDnsServer = "127.0.0.163";

// Builds the local index under argv[1]: a PEP 503 simple index with a pure-python wheel of
// package vgdemo, and an npm registry document (vgdemo.json, served at /vgdemo) whose tarball
// URL starts with argv[2].
constexpr const char *kMakeIndex = R"PY(
import base64, hashlib, io, json, os, sys, tarfile, zipfile
root, npm_url = sys.argv[1], sys.argv[2]
os.makedirs(root + '/simple/vgdemo', exist_ok=True)
os.makedirs(root + '/packages', exist_ok=True)
os.makedirs(root + '/vgdemo/-', exist_ok=True)
files = {
    'vgdemo.py': b'VALUE = 42\n',
    'vgdemo-1.0.dist-info/METADATA': b'Metadata-Version: 2.1\nName: vgdemo\nVersion: 1.0\n',
    'vgdemo-1.0.dist-info/WHEEL': b'Wheel-Version: 1.0\nGenerator: vigil-test\n'
                                  b'Root-Is-Purelib: true\nTag: py3-none-any\n',
}
record = ''
for name, data in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
    record += '%s,sha256=%s,%d\n' % (name, digest, len(data))
record += 'vgdemo-1.0.dist-info/RECORD,,\n'
files['vgdemo-1.0.dist-info/RECORD'] = record.encode()
wheel = root + '/packages/vgdemo-1.0-py3-none-any.whl'
with zipfile.ZipFile(wheel, 'w') as z:
    for name, data in files.items():
        z.writestr(name, data)
sha = hashlib.sha256(open(wheel, 'rb').read()).hexdigest()
with open(root + '/simple/vgdemo/index.html', 'w') as f:
    f.write('<!DOCTYPE html><html><body><a href="../../packages/vgdemo-1.0-py3-none-any.whl'
            '#sha256=%s">vgdemo-1.0-py3-none-any.whl</a></body></html>\n' % sha)
with open(root + '/simple/index.html', 'w') as f:
    f.write('<!DOCTYPE html><html><body><a href="vgdemo/">vgdemo</a></body></html>\n')
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode='w:gz') as t:
    for name, data in {'package/package.json':
                       b'{"name": "vgdemo", "version": "1.0.0", "main": "index.js"}\n',
                       'package/index.js': b'module.exports = 42;\n'}.items():
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        t.addfile(info, io.BytesIO(data))
tgz = buf.getvalue()
open(root + '/vgdemo/-/vgdemo-1.0.0.tgz', 'wb').write(tgz)
doc = {'name': 'vgdemo', 'dist-tags': {'latest': '1.0.0'},
       'versions': {'1.0.0': {'name': 'vgdemo', 'version': '1.0.0', 'main': 'index.js', 'dist': {
           'tarball': npm_url + '/vgdemo/-/vgdemo-1.0.0.tgz',
           'shasum': hashlib.sha1(tgz).hexdigest(),
           'integrity': 'sha512-' + base64.b64encode(hashlib.sha512(tgz).digest()).decode()}}}}
open(root + '/vgdemo.json', 'w').write(json.dumps(doc))
)PY";

// Serves argv[1] on argv[2]:argv[3]: files as they are, a path that is no file by path.json
// when there is one (the registry document at /vgdemo, beside the directory of its tarball),
// a directory by its index.html; quietly.
constexpr const char *kServe = R"PY(
import http.server, os, sys
root, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **k):
        super().__init__(*a, directory=root, **k)
    def send_head(self):
        path = self.path.split('?')[0]
        if not os.path.isfile(self.translate_path(path)) and \
                os.path.isfile(self.translate_path(path) + '.json'):
            self.path = path + '.json'
        return super().send_head()
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer((host, port), Handler).serve_forever()
)PY";

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

class ProfileSuggest : public ::testing::TestWithParam<bool> {
protected:
  void SetUp() override
  {
    VG_REQUIRE_ROOT();
    ::chmod(tmp_.path().c_str(), 0777);
    home_ = tmp_ / "home";
    fs::create_directories(home_);
    canary_ = plant_aws_canary(home_);
    for (const auto &p : {home_, home_ + "/.aws"})
      ::chmod(p.c_str(), 0755);
    ::chmod(canary_.c_str(), 0644); // readable by uid 65534: only vigil stands in the way
    write_file(tmp_ / "notes.txt", "project notes\n");
    ::chmod((tmp_ / "notes.txt").c_str(), 0644);
    port_ = std::to_string(free_port());
  }

  // The session: reads a project file and connects to a service outside the default
  // allowlist (nothing listens there: the connect is refused by TCP, or by vigil).
  std::string session() const
  {
    return "cat '" + tmp_ / "notes.txt" + "' >/dev/null; : 3<>/dev/tcp/127.0.0.3/" + port_ +
           "; true";
  }

  ProcResult agent(const std::vector<std::string> &vigil_args, const std::string &script)
  {
    return run(with_agent({vigil_bin(), "run"}, vigil_args, script), {"HOME=" + home_},
               std::chrono::seconds(120));
  }

  // argv (ending in `vigil run`), then vigil's arguments and the agent's bash script.
  std::vector<std::string> with_agent(std::vector<std::string> argv,
                                      const std::vector<std::string> &vigil_args,
                                      const std::string &script) const
  {
    argv.insert(argv.end(), vigil_args.begin(), vigil_args.end());
    argv.push_back("--");
    for (const auto &a : agent_prefix(GetParam()))
      argv.push_back(a);
    argv.insert(argv.end(), {"bash", "-c", script});
    return argv;
  }

  // The same in a private mount namespace whose /etc/resolv.conf names this file's DNS server
  // (tmp_/resolv.conf, written by the test): host names resolve there, for the agent and for
  // vigil run (which resolves the profile's host entries and takes dns: system from it). Where
  // /etc has no resolv.conf (the VM's root) a copy of /etc with one is bound over /etc, and an
  // nsswitch.conf that does not ask DNS for hosts (the VM's: files) gets one that does.
  ProcResult resolved_agent(const std::vector<std::string> &vigil_args, const std::string &script)
  {
    std::vector<std::string> prefix{
        "unshare", "-m", "--propagation", "private", "sh", "-c",
        "if [ -e /etc/resolv.conf ]; then mount --bind \"$0\" /etc/resolv.conf; else "
        "cp -a /etc \"$1/etc\" && cp \"$0\" \"$1/etc/resolv.conf\" && "
        "mount --bind \"$1/etc\" /etc; fi && "
        "if [ -e /etc/nsswitch.conf ] && ! grep -q '^hosts:.*dns' /etc/nsswitch.conf; then "
        "{ grep -v '^hosts:' /etc/nsswitch.conf; echo 'hosts: files dns'; } >\"$1/nss\" && "
        "mount --bind \"$1/nss\" /etc/nsswitch.conf; fi && shift && exec \"$@\"",
        tmp_ / "resolv.conf", tmp_.path(), vigil_bin(), "run"};
    return run(with_agent(std::move(prefix), vigil_args, script), {"HOME=" + home_},
               std::chrono::seconds(240));
  }

  // A run under the suggestion: no alert, nothing refused, and its own log says so.
  void expect_clean(const ProcResult &r, const std::string &alerts, const std::string &log)
  {
    EXPECT_TRUE(read_json_lines(alerts).empty()) << read_file(alerts);
    EXPECT_EQ(r.err.find("Operation not permitted"), std::string::npos) << r.err;
    ProcResult rep = run({vigil_bin(), "report", log, "-o", log + ".html"});
    ASSERT_EQ(rep.status, 0) << rep.err;
    EXPECT_NE(rep.err.find(" 0 alert(s), 0 denial(s)"), std::string::npos) << rep.err;
  }

  TempDir tmp_;
  std::string home_, canary_, port_;
};

TEST_P(ProfileSuggest, session_runs_clean_under_the_suggestion_and_new_attempts_stay_denied)
{
  // 1. Record the session watched, not confined (--max-tier monitor), under the default.
  const std::string log = tmp_ / "log", a1 = tmp_ / "a1.jsonl";
  ProcResult rec =
      agent({"--max-tier", "monitor", "--log-dir", log, "--alerts-json", a1}, session());
  ASSERT_EQ(rec.status, 0) << rec.err;
  bool seen = false;
  for (const auto &a : read_json_lines(a1))
    seen |= a.value("rule", "") == "egress-not-allowed";
  ASSERT_TRUE(seen) << "the default profile does not allow 127.0.0.3: " << rec.err;

  // 2. The suggestion: loads, names the destination with where it came from.
  const std::string suggested = tmp_ / "suggested.yaml";
  ProcResult sug = run({vigil_bin(), "profile", "suggest", log, "-o", suggested});
  ASSERT_EQ(sug.status, 0) << sug.err;
  ProcResult check = run({vigil_bin(), "check-profile", suggested});
  ASSERT_EQ(check.status, 0) << check.err << read_file(suggested);
  const std::string yaml = read_file(suggested);
  EXPECT_NE(yaml.find("{cidr: 127.0.0.3/32, ports: [" + port_ + "]}"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("by bash (pid"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("~/.aws/credentials"), std::string::npos) << "base protections kept";

  // 3. The same session under the suggestion: no alert, no denial.
  const std::string a2 = tmp_ / "a2.jsonl", log2 = tmp_ / "log2";
  ProcResult again =
      agent({"--profile", suggested, "--alerts-json", a2, "--log-dir", log2}, session());
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_NE(again.err.find("Connection refused"), std::string::npos) << again.err;
  expect_clean(again, a2, log2);

  // 4. New attempts under the suggestion: the credential read and a new address are denied,
  // each with its alert.
  const std::string a3 = tmp_ / "a3.jsonl";
  ProcResult more = agent({"--profile", suggested, "--alerts-json", a3},
                          session() + "; cat \"$HOME/.aws/credentials\"; : 3<>/dev/tcp/127.0.0.4/" +
                              port_ + "; true");
  ASSERT_EQ(more.status, 0) << more.err;
  EXPECT_EQ(more.out.find("canary"), std::string::npos) << "the credential was read";
  EXPECT_EQ(count_of(more.err, "/dev/tcp/127.0.0.4/" + port_ + ": Operation not permitted"), 1u)
      << more.err;
  EXPECT_EQ(count_of(more.err, "/dev/tcp/127.0.0.3/" + port_ + ": Connection refused"), 1u)
      << more.err;
  size_t cred = 0, egress = 0;
  for (const auto &a : read_json_lines(a3)) {
    if (a.value("path", "") == canary_)
      ++cred;
    if (a.value("rule", "") == "egress-not-allowed") {
      ++egress;
      EXPECT_EQ(a["destination"].value("ip", ""), "127.0.0.4") << a.dump();
      EXPECT_EQ(a.value("verdict", ""), "denied") << a.dump();
    }
  }
  EXPECT_EQ(cred, 1u) << read_file(a3);
  for (const auto &a : read_json_lines(a3)) {
    if (a.value("path", "") == canary_) {
      EXPECT_EQ(a.value("verdict", ""), "denied") << a.dump();
    }
  }
  EXPECT_EQ(egress, 1u) << read_file(a3);
}

// A real tool: `git clone` over HTTP from a server outside the agent (127.0.0.5, not in the
// default allowlist), recorded, suggested (the suggestion passes check-profile), and cloned
// again under the suggestion: no alert and no denial; a clone with a credential read added
// still clones while the read is denied; a clone from another address is denied, each with its
// alert.
TEST_P(ProfileSuggest, git_clone_from_a_local_server_runs_clean_under_its_suggestion)
{
  if (run({"sh", "-c", "command -v git && command -v python3"}).status != 0)
    GTEST_SKIP() << "git and python3 are needed (a repository served over HTTP)";
  const std::string srv = tmp_ / "srv", work = tmp_ / "work";
  const std::vector<std::string> id = {"-c", "user.email=t@example.com", "-c", "user.name=t"};
  ASSERT_EQ(run({"git", "init", "-q", work}).status, 0);
  write_file(work + "/README", "served over http\n");
  ASSERT_EQ(run({"git", "-C", work, "add", "README"}).status, 0);
  std::vector<std::string> commit = {"git", "-C", work};
  commit.insert(commit.end(), id.begin(), id.end());
  commit.insert(commit.end(), {"commit", "-q", "-m", "first"});
  ASSERT_EQ(run(commit).status, 0);
  ASSERT_EQ(run({"git", "clone", "-q", "--bare", work, srv + "/repo.git"}).status, 0);
  ASSERT_EQ(run({"git", "-C", srv + "/repo.git", "update-server-info"}).status, 0);
  const std::string address = "127.0.0.5:" + port_;
  Proc server({"python3", "-m", "http.server", port_, "--bind", "127.0.0.5", "--directory", srv});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (http_get(address, "/repo.git/HEAD").find("ref:") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_NE(http_get(address, "/repo.git/HEAD").find("ref:"), std::string::npos)
      << "the HTTP server did not come up";
  const std::string url = "http://" + address + "/repo.git";

  const std::string log = tmp_ / "log", a1 = tmp_ / "a1.jsonl";
  ProcResult rec = agent({"--max-tier", "monitor", "--log-dir", log, "--alerts-json", a1},
                         "git clone -q " + url + " '" + tmp_ / "c1" + "'");
  ASSERT_EQ(rec.status, 0) << rec.err;
  ASSERT_TRUE(fs::exists(tmp_ / "c1/README")) << rec.err;
  const std::string suggested = tmp_ / "suggested.yaml";
  ProcResult sug = run({vigil_bin(), "profile", "suggest", log, "-o", suggested});
  ASSERT_EQ(sug.status, 0) << sug.err;
  ProcResult check = run({vigil_bin(), "check-profile", suggested});
  ASSERT_EQ(check.status, 0) << check.err << read_file(suggested);
  const std::string yaml = read_file(suggested);
  EXPECT_NE(yaml.find("{cidr: 127.0.0.5/32, ports: [" + port_ + "]}"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("by git-remote-http (pid"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("~/.aws/credentials"), std::string::npos) << "base protections kept";

  // The clone again under the suggestion: no alert, and no denial in its own log.
  const std::string a2 = tmp_ / "a2.jsonl", log2 = tmp_ / "log2";
  ProcResult again = agent({"--profile", suggested, "--alerts-json", a2, "--log-dir", log2},
                           "git clone -q " + url + " '" + tmp_ / "c2" + "'");
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_TRUE(fs::exists(tmp_ / "c2/README")) << again.err;
  expect_clean(again, a2, log2);

  // A clone with a credential read added: the clone still works, the read is denied, alerted.
  const std::string a3 = tmp_ / "a3.jsonl";
  ProcResult cred = agent({"--profile", suggested, "--alerts-json", a3},
                          "git clone -q " + url + " '" + tmp_ / "c3" + "' && cat \"$HOME/.aws/" +
                              "credentials\"; true");
  ASSERT_EQ(cred.status, 0) << cred.err;
  EXPECT_TRUE(fs::exists(tmp_ / "c3/README")) << cred.err;
  EXPECT_EQ(cred.out.find("canary"), std::string::npos) << "the credential was read";
  size_t denied = 0;
  for (const auto &a : read_json_lines(a3))
    denied += a.value("path", "") == canary_ && a.value("verdict", "") == "denied";
  EXPECT_EQ(denied, 1u) << read_file(a3);

  // A clone from another address: denied, with its alert.
  const std::string a4 = tmp_ / "a4.jsonl";
  ProcResult other =
      agent({"--profile", suggested, "--alerts-json", a4},
            "git clone -q http://127.0.0.6:" + port_ + "/repo.git '" + tmp_ / "c4" + "'");
  EXPECT_NE(other.status, 0) << other.err;
  size_t egress = 0;
  for (const auto &a : read_json_lines(a4))
    egress += a.value("rule", "") == "egress-not-allowed" &&
              a["destination"].value("ip", "") == "127.0.0.6" && a.value("verdict", "") == "denied";
  EXPECT_GE(egress, 1u) << read_file(a4);
}

// Real package managers: `pip install` and `npm install` from a local index (a PEP 503 simple
// index with a wheel built here, a registry document with a tarball built here), each named by a
// host name that this test's DNS server answers (127.0.0.163:53, named by a resolv.conf bound
// over /etc/resolv.conf in a private mount namespace, as StartupTest does). Recorded watched,
// suggested: the suggestion names both indexes by host name (from the DNS answers the agent
// received, which the log holds and replay shows), and the installs run again under it with no
// alert and no denial, while a credential read and a connect to a new address are denied.
TEST_P(ProfileSuggest, pip_and_npm_installs_from_a_local_index_run_clean_under_their_suggestion)
{
  if (run({"unshare", "-m", "true"}).status != 0)
    GTEST_SKIP() << "unshare -m is not available: the test binds its own resolv.conf";
  // The agent may run as uid 65534: a python3 outside /root (pyenv's is not readable there).
  const std::string py = "/usr/bin/python3";
  if (run({py, "-m", "pip", "--version"}).status != 0 ||
      run({"sh", "-c", "command -v npm"}).status != 0)
    GTEST_SKIP() << "python3-pip and npm are needed (deploy/install-deps.sh --test)";
  DnsServer dns(kDnsServer, {{"pypi.vigil.test", "127.0.0.9"}, {"npm.vigil.test", "127.0.0.10"}});
  if (!dns.ok())
    GTEST_SKIP() << "cannot bind " << kDnsServer << ":53 (in use?)";

  // The index: simple/vgdemo/ (PEP 503) and its wheel; vgdemo.json (the registry document) and
  // its tarball. Built by a script, hashes and all.
  const std::string srv = tmp_ / "index", make = tmp_ / "make_index.py";
  write_file(make, kMakeIndex);
  ProcResult made = run({py, make, srv, "http://npm.vigil.test:" + port_});
  ASSERT_EQ(made.status, 0) << made.err;
  write_file(tmp_ / "serve.py", kServe);
  Proc pypi({py, tmp_ / "serve.py", srv, "127.0.0.9", port_});
  Proc npmreg({py, tmp_ / "serve.py", srv, "127.0.0.10", port_});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  auto up = [&] {
    return http_get("127.0.0.9:" + port_, "/simple/vgdemo/").find("vgdemo-1.0") !=
               std::string::npos &&
           http_get("127.0.0.10:" + port_, "/vgdemo").find("dist-tags") != std::string::npos;
  };
  while (!up() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(up()) << "the index servers did not come up";
  write_file(tmp_ / "resolv.conf", std::string("nameserver ") + kDnsServer + "\n");

  // Fresh target directories each run, writable by the agent whoever it runs as.
  auto installs = [&](const std::string &tag) {
    for (const auto &d : {"pip-" + tag, "npm-" + tag, "npmcache-" + tag}) {
      fs::create_directories(tmp_ / d);
      ::chmod((tmp_ / d).c_str(), 0777);
    }
    // A plain-HTTP index needs --trusted-host; the caches stay out of the (unwritable) home.
    return py + " -m pip install -q --disable-pip-version-check --no-cache-dir --no-input " +
           "--index-url http://pypi.vigil.test:" + port_ + "/simple/ " +
           "--trusted-host pypi.vigil.test --no-deps --target '" + tmp_ / ("pip-" + tag) +
           "' vgdemo && npm install --silent --no-audit --no-fund " +
           "--no-update-notifier --registry http://npm.vigil.test:" + port_ + "/ --cache '" +
           tmp_ / ("npmcache-" + tag) + "' --prefix '" + tmp_ / ("npm-" + tag) + "' vgdemo";
  };
  auto installed = [&](const std::string &tag) {
    return fs::exists(tmp_ / ("pip-" + tag) + "/vgdemo.py") &&
           fs::exists(tmp_ / ("npm-" + tag) + "/node_modules/vgdemo/index.js");
  };

  // 1. Recorded watched, not confined, under the default profile.
  const std::string log = tmp_ / "log", a1 = tmp_ / "a1.jsonl";
  ProcResult rec = resolved_agent(
      {"--max-tier", "monitor", "--log-dir", log, "--alerts-json", a1}, installs("1"));
  ASSERT_EQ(rec.status, 0) << rec.out << rec.err;
  ASSERT_TRUE(installed("1")) << rec.err;
  EXPECT_GE(dns.answered("pypi.vigil.test"), 1u);
  EXPECT_GE(dns.answered("npm.vigil.test"), 1u);
  // The log holds the answers, and replay shows them.
  ProcResult replay = run({vigil_bin(), "replay", "--format", "timeline", log});
  ASSERT_EQ(replay.status, 0) << replay.err;
  EXPECT_NE(replay.out.find("dns answer from " + std::string(kDnsServer) +
                            ":53: pypi.vigil.test = 127.0.0.9"),
            std::string::npos)
      << replay.out;
  EXPECT_NE(replay.out.find("npm.vigil.test = 127.0.0.10"), std::string::npos) << replay.out;

  // 2. The suggestion names both indexes by host name, not by address.
  const std::string suggested = tmp_ / "suggested.yaml";
  ProcResult sug = run({vigil_bin(), "profile", "suggest", log, "-o", suggested});
  ASSERT_EQ(sug.status, 0) << sug.err;
  ProcResult check = run({vigil_bin(), "check-profile", suggested});
  ASSERT_EQ(check.status, 0) << check.err << read_file(suggested);
  const std::string yaml = read_file(suggested);
  for (const char *host : {"pypi.vigil.test", "npm.vigil.test"})
    EXPECT_NE(yaml.find("{host: \"" + std::string(host) + "\", ports: [" + port_ +
                        "]}   # named by a DNS answer the agent received"),
              std::string::npos)
        << host << "\n"
        << yaml;
  EXPECT_EQ(yaml.find("cidr: 127.0.0.9/"), std::string::npos) << yaml;
  EXPECT_EQ(yaml.find("cidr: 127.0.0.10/"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("answered for it by " + std::string(kDnsServer) + ":53"),
            std::string::npos)
      << yaml;
  EXPECT_NE(yaml.find("~/.aws/credentials"), std::string::npos) << "base protections kept";

  // 3. The installs again under the suggestion: no alert, no denial.
  const std::string a2 = tmp_ / "a2.jsonl", log2 = tmp_ / "log2";
  ProcResult again =
      resolved_agent({"--profile", suggested, "--alerts-json", a2, "--log-dir", log2},
                     installs("2"));
  ASSERT_EQ(again.status, 0) << again.out << again.err;
  EXPECT_TRUE(installed("2")) << again.err;
  expect_clean(again, a2, log2);

  // 4. With a credential read and a connect to a new address added: both denied, each alerted.
  const std::string a3 = tmp_ / "a3.jsonl";
  ProcResult more = resolved_agent({"--profile", suggested, "--alerts-json", a3},
                                   installs("3") + "; cat \"$HOME/.aws/credentials\"; " +
                                       ": 3<>/dev/tcp/127.0.0.4/" + port_ + "; true");
  ASSERT_EQ(more.status, 0) << more.err;
  EXPECT_TRUE(installed("3")) << more.err;
  EXPECT_EQ(more.out.find("canary"), std::string::npos) << "the credential was read";
  EXPECT_EQ(count_of(more.err, "/dev/tcp/127.0.0.4/" + port_ + ": Operation not permitted"), 1u)
      << more.err;
  size_t cred = 0, egress = 0, other = 0;
  for (const auto &a : read_json_lines(a3)) {
    if (a.value("path", "") == canary_) {
      ++cred;
      EXPECT_EQ(a.value("verdict", ""), "denied") << a.dump();
    } else if (a.value("rule", "") == "egress-not-allowed") {
      ++egress;
      EXPECT_EQ(a["destination"].value("ip", ""), "127.0.0.4") << a.dump();
      EXPECT_EQ(a.value("verdict", ""), "denied") << a.dump();
    } else if (a.value("rule", "") != "exfil-credential-then-egress") {
      ++other;
    }
  }
  EXPECT_EQ(cred, 1u) << read_file(a3);
  EXPECT_EQ(egress, 1u) << read_file(a3);
  EXPECT_EQ(other, 0u) << "nothing else, the installs included: " << read_file(a3);
  if (HasFailure())
    std::fprintf(stderr, "suggested profile:\n%s\n", yaml.c_str());
}

// A build (make and cc, no network): the suggestion adds nothing, and the build runs clean
// under it.
TEST_P(ProfileSuggest, a_build_needs_nothing_added)
{
  if (run({"sh", "-c", "command -v make && command -v cc"}).status != 0)
    GTEST_SKIP() << "make and cc are needed";
  const std::string dir = tmp_ / "proj";
  fs::create_directories(dir);
  ::chmod(dir.c_str(), 0777);
  write_file(dir + "/hello.c", "#include <stdio.h>\nint main(void){puts(\"built\");return 0;}\n");
  write_file(dir + "/Makefile", "hello: hello.c\n\tcc -O2 -o hello hello.c\n");
  const std::string build = "cd '" + dir + "' && rm -f hello && make -s && ./hello";
  const std::string log = tmp_ / "log", a1 = tmp_ / "a1.jsonl";
  ProcResult rec = agent({"--max-tier", "monitor", "--log-dir", log, "--alerts-json", a1}, build);
  ASSERT_EQ(rec.status, 0) << rec.err;
  EXPECT_NE(rec.out.find("built"), std::string::npos) << rec.out << rec.err;
  const std::string suggested = tmp_ / "suggested.yaml";
  ProcResult sug = run({vigil_bin(), "profile", "suggest", log, "-o", suggested});
  ASSERT_EQ(sug.status, 0) << sug.err;
  const std::string yaml = read_file(suggested);
  EXPECT_EQ(yaml.find("# recorded"), std::string::npos) << yaml;
  EXPECT_EQ(yaml.find("  # REVIEW"), std::string::npos) << yaml;
  const std::string a2 = tmp_ / "a2.jsonl";
  ProcResult again = agent({"--profile", suggested, "--alerts-json", a2}, build);
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_NE(again.out.find("built"), std::string::npos) << again.out << again.err;
  EXPECT_TRUE(read_json_lines(a2).empty()) << read_file(a2);
}

INSTANTIATE_TEST_SUITE_P(Agent, ProfileSuggest, ::testing::Bool(), who);

} // namespace
