// SPDX-License-Identifier: Apache-2.0
// `vigil daemon` on a Kubernetes node: pods labelled vigil.dev/profile get that profile. A real
// cgroup tree laid out as the kubelet lays it out (systemd and cgroupfs drivers, containerd and
// CRI-O names), real processes in it, the pods served by fake_apiserver.py over HTTPS with the
// API's wire format, and the real daemon. The daemon's rescan is set to a minute, so everything
// here happens through the watch and inotify, not by polling.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <set>
#include <thread>

#include "harness.h"

namespace vigil::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

enum class Driver { systemd, cgroupfs };

struct PodSpec {
  std::string uid, ns, name, node, qos, container, image, runtime, id;
  std::optional<std::string> profile; // the vigil.dev/profile label
};

std::string underscored(std::string uid)
{
  std::replace(uid.begin(), uid.end(), '-', '_');
  return uid;
}

size_t count_of(const std::string &hay, const std::string &needle)
{
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1))
    ++n;
  return n;
}

// The kubelet's names for the pod's cgroup (v2) under root.
std::string pod_dir(const std::string &root, Driver d, const PodSpec &p)
{
  if (d == Driver::systemd)
    return p.qos == "guaranteed"
               ? root + "/kubepods.slice/kubepods-pod" + underscored(p.uid) + ".slice"
               : root + "/kubepods.slice/kubepods-" + p.qos + ".slice/kubepods-" + p.qos +
                     "-pod" + underscored(p.uid) + ".slice";
  return p.qos == "guaranteed" ? root + "/kubepods/pod" + p.uid
                               : root + "/kubepods/" + p.qos + "/pod" + p.uid;
}

// The runtime's name for the container's cgroup below its pod's.
std::string container_dir(const std::string &root, Driver d, const PodSpec &p)
{
  const std::string pod = pod_dir(root, d, p);
  if (d == Driver::systemd)
    return pod + "/" + (p.runtime == "containerd" ? "cri-containerd-" : "crio-") + p.id +
           ".scope";
  return pod + "/" + (p.runtime == "containerd" ? "" : "crio-") + p.id;
}

json pod_json(const PodSpec &p, bool started)
{
  json labels = {{"app", p.name}};
  if (p.profile)
    labels["vigil.dev/profile"] = *p.profile;
  json pod = {{"kind", "Pod"},
              {"apiVersion", "v1"},
              {"metadata",
               {{"name", p.name}, {"namespace", p.ns}, {"uid", p.uid}, {"labels", labels}}},
              {"spec",
               {{"nodeName", p.node},
                {"containers", json::array({{{"name", p.container}, {"image", p.image}}})}}},
              {"status", {{"phase", "Pending"}, {"qosClass", p.qos}}}};
  if (started) {
    pod["status"]["phase"] = "Running";
    pod["status"]["containerStatuses"] =
        json::array({{{"name", p.container},
                      {"image", p.image},
                      {"imageID", p.image + "@sha256:" + std::string(64, 'a')},
                      {"containerID", (p.runtime == "containerd" ? "containerd://" : "cri-o://") +
                                          p.id},
                      {"ready", true},
                      {"restartCount", 0}}});
  }
  return pod;
}

class KubernetesTest : public ::testing::TestWithParam<Driver> {
protected:
  void SetUp() override
  {
    VG_REQUIRE_ROOT();
    if (run({"sh", "-c", "command -v python3 && command -v openssl && command -v curl"}).status)
      GTEST_SKIP() << "needs python3, openssl and curl";
    const std::string pid = std::to_string(::getpid());
    root_ = cgroup2_mount() + "/vigil-k8s-" + pid;
    fs::create_directories(root_);
    cert_ = tmp_ / "apiserver.crt";
    ProcResult gen = run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                          tmp_ / "apiserver.key", "-out", cert_, "-days", "1", "-subj",
                          "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"});
    ASSERT_EQ(gen.status, 0) << gen.err;
    token_ = tmp_ / "token";
    write_file(token_, "first-token\n");
    port_ = free_port();
    api_ = "https://127.0.0.1:" + std::to_string(port_);
    requests_ = tmp_ / "requests.log";
    write_file(requests_, "");
    server_ = std::make_unique<Proc>(std::vector<std::string>{
        "python3", VG_APISERVER, "--port", std::to_string(port_), "--cert", cert_, "--key",
        tmp_ / "apiserver.key", "--token-file", token_, "--log", requests_});
    bool up = false;
    for (int i = 0; i < 100 && !up; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      up = run({"curl", "-sf", "--cacert", cert_, "-X", "POST", "--data", "{\"op\":\"close\"}",
                api_ + "/control"})
               .status == 0;
    }
    ASSERT_TRUE(up) << server_->err_so_far();

    secret_ = tmp_ / "secret.pem";
    write_file(secret_, "-----BEGIN PRIVATE KEY-----\n");
    write_file(tmp_ / "agent.yaml", "profile: coding-agent\ncredentials:\n  paths: [" + secret_ +
                                        "]\negress:\n  allow: [127.0.0.1/32]\n");
    alerts_ = tmp_ / "alerts.jsonl";
    falco_ = tmp_ / "falco.jsonl";
    metrics_ = "127.0.0.1:" + std::to_string(free_port());
    pins_ = "/sys/fs/bpf/vigil-k8s-" + pid;
    write_file(tmp_ / "vigil.yaml",
               "profiles: [agent.yaml]\n"
               "kubernetes:\n  api_server: " + api_ + "\n  token_file: " + token_ +
                   "\n  ca_file: " + cert_ + "\n  node: node-a\n  cgroup_root: /vigil-k8s-" +
                   pid + "\noutputs:\n  stderr: false\n  json: " + alerts_ + "\n  falco: " +
                   falco_ + "\nmetrics_address: " + metrics_ + "\nrescan_ms: 60000\npin_dir: " +
                   pins_ + "\nstate_dir: \"\"\nlog_dir: " + (tmp_ / "events") + "\n");
  }

  void TearDown() override
  {
    if (root_.empty())
      return;
    if (daemon_) {
      daemon_->signal(SIGTERM);
      daemon_->wait(std::chrono::seconds(15));
    }
    run({vigil_bin(), "unload", "--pin-dir", pins_});
    server_.reset();
    // Deepest first; cgroup.kill ends anything a failed test left behind.
    std::vector<fs::path> dirs;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root_, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
      if (it->is_directory(ec))
        dirs.push_back(it->path());
    std::sort(dirs.begin(), dirs.end(), [](const auto &a, const auto &b) {
      return a.string().size() > b.string().size();
    });
    dirs.push_back(root_);
    for (const auto &d : dirs) {
      write_file(d.string() + "/cgroup.kill", "1");
      for (int i = 0; i < 50 && ::rmdir(d.c_str()) != 0 && errno == EBUSY; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_FALSE(fs::exists(root_)) << "test cgroups left behind";
  }

  void control(const json &cmd)
  {
    write_file(tmp_ / "control.json", cmd.dump());
    ProcResult r = run({"curl", "-sf", "--cacert", cert_, "-X", "POST", "--data-binary",
                        "@" + (tmp_ / "control.json"), api_ + "/control"});
    ASSERT_EQ(r.status, 0) << r.err;
  }
  void put(const PodSpec &p, bool started) { control({{"op", "put"}, {"pod", pod_json(p, started)}}); }

  void start_daemon()
  {
    daemon_ = std::make_unique<Proc>(
        std::vector<std::string>{vigil_bin(), "daemon", "--config", tmp_ / "vigil.yaml"});
    ASSERT_TRUE(daemon_->wait_for_err("daemon running")) << daemon_->err_so_far();
  }

  // Until the daemon's log holds needle `times` times.
  bool logged(const std::string &needle, size_t times = 1,
              std::chrono::milliseconds timeout = std::chrono::seconds(10))
  {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      if (count_of(daemon_->err_so_far(), needle) >= times)
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  // A process that joins cgroup dir, then runs script (a container's first process).
  ProcResult in_container(const std::string &dir, const std::string &script)
  {
    return run({"sh", "-c", "echo $$ > " + dir + "/cgroup.procs && " + script});
  }
  std::string connect_from(const std::string &dir)
  {
    return in_container(dir, "exec " + std::string(netprobe_bin()) + " tcp 127.0.0.2 9").out;
  }

  std::vector<json> alerts_until(size_t n, const std::string &file)
  {
    std::vector<json> found;
    for (int i = 0; i < 200 && found.size() < n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      found = read_json_lines(file);
    }
    return found;
  }

  std::string metric(const std::string &series)
  {
    const std::string text = http_get(metrics_, "/metrics");
    for (size_t at = text.find("\n" + series + " "); at != std::string::npos;)
      return text.substr(at + series.size() + 2, text.find('\n', at + 1) - at - series.size() - 2);
    return "";
  }

  TempDir tmp_;
  std::string root_, cert_, token_, api_, requests_, secret_, alerts_, falco_, metrics_, pins_;
  int port_ = 0;
  std::unique_ptr<Proc> server_;
  std::unique_ptr<Proc> daemon_;
};

const PodSpec kAgent{"1b4e28ba-2fa1-11d2-883f-0016d3cca427",
                     "team-a",
                     "agent-7f9c",
                     "node-a",
                     "burstable",
                     "claude",
                     "registry.example:5000/agents/claude:1.4",
                     "containerd",
                     std::string(64, 'c'),
                     "coding-agent"};
const PodSpec kPlain{"6fa459ea-ee8a-3ca4-894e-db77e160355e",
                     "team-a",
                     "web-5d8f",
                     "node-a",
                     "besteffort",
                     "web",
                     "nginx:1.25",
                     "cri-o",
                     std::string(64, 'e'),
                     std::nullopt};
// Labelled, but scheduled on another node: the field selector keeps it out.
const PodSpec kElsewhere{"16fd2706-8baf-433b-82eb-8c7fada847da",
                         "team-b",
                         "agent-other-node",
                         "node-b",
                         "burstable",
                         "claude",
                         "registry.example:5000/agents/claude:1.4",
                         "containerd",
                         std::string(64, 'f'),
                         "coding-agent"};

TEST_P(KubernetesTest, labelled_pods_are_confined_with_pod_fields_and_unlabelled_pods_are_not)
{
  const Driver d = GetParam();
  put(kAgent, true);
  put(kPlain, true);
  put(kElsewhere, true);
  for (const PodSpec *p : {&kAgent, &kPlain, &kElsewhere})
    fs::create_directories(container_dir(root_, d, *p));
  start_daemon();
  ASSERT_TRUE(logged("confining " + pod_dir(root_, d, kAgent))) << daemon_->err_so_far();
  const std::string agent = container_dir(root_, d, kAgent);
  const std::string plain = container_dir(root_, d, kPlain);

  EXPECT_EQ(connect_from(agent), "EPERM\n") << "the labelled pod's connect is denied";
  EXPECT_EQ(in_container(agent, "exec cat " + secret_).status, 1)
      << "the labelled pod's credential read is denied";
  EXPECT_EQ(connect_from(plain), "ECONNREFUSED\n") << "the unlabelled pod is left alone";
  EXPECT_EQ(in_container(plain, "exec cat " + secret_).status, 0);

  std::vector<json> found = alerts_until(2, alerts_);
  ASSERT_GE(found.size(), 2u) << read_file(alerts_);
  std::set<std::string> rules;
  for (const auto &a : found) {
    rules.insert(a["rule"].get<std::string>());
    EXPECT_EQ(a["profile"], "coding-agent") << a;
    ASSERT_TRUE(a.contains("k8s")) << a;
    EXPECT_EQ(a["k8s"]["namespace"], kAgent.ns) << a;
    EXPECT_EQ(a["k8s"]["pod"], kAgent.name) << a;
    EXPECT_EQ(a["k8s"]["pod_uid"], kAgent.uid) << a;
    EXPECT_EQ(a["k8s"]["container"], kAgent.container) << a;
    EXPECT_EQ(a["k8s"]["container_id"], kAgent.id) << a;
    EXPECT_EQ(a["k8s"]["image"], kAgent.image) << a;
    EXPECT_EQ(a["cgroup"], agent.substr(cgroup2_mount().size())) << a;
  }
  EXPECT_TRUE(rules.count("credential-read")) << read_file(alerts_);
  EXPECT_TRUE(rules.count("egress-not-allowed")) << read_file(alerts_);
  for (const auto &f : alerts_until(found.size(), falco_)) {
    const json &o = f["output_fields"];
    EXPECT_EQ(o["k8s.ns.name"], kAgent.ns) << f;
    EXPECT_EQ(o["k8s.pod.name"], kAgent.name) << f;
    EXPECT_EQ(o["k8s.pod.uid"], kAgent.uid) << f;
    EXPECT_EQ(o["container.id"], kAgent.id.substr(0, 12)) << f;
    EXPECT_EQ(o["container.full_id"], kAgent.id) << f;
    EXPECT_EQ(o["container.name"], kAgent.container) << f;
    EXPECT_EQ(o["container.image.repository"], "registry.example:5000/agents/claude") << f;
    EXPECT_EQ(o["container.image.tag"], "1.4") << f;
  }
  EXPECT_EQ(metric("vigil_k8s_pods"), "2") << "only node-a's pods are watched";
  EXPECT_NE(http_get(metrics_, "/readyz").find("ok kubernetes pods listed"), std::string::npos)
      << http_get(metrics_, "/readyz");
  EXPECT_EQ(metric("vigil_k8s_unmapped_events_total"), "0");
  EXPECT_NE(http_get(metrics_, "/metrics")
                .find("vigil_namespace_alerts_total{namespace=\"team-a\",profile=\"coding-agent\","
                      "rule=\"credential-read\"} 1"),
            std::string::npos)
      << http_get(metrics_, "/metrics");

  // The label goes: the pod is released. It comes back on the other pod: that one is confined.
  PodSpec unlabelled = kAgent;
  unlabelled.profile.reset();
  put(unlabelled, true);
  ASSERT_TRUE(logged("released " + pod_dir(root_, d, kAgent) + " (no longer selected)"))
      << daemon_->err_so_far();
  EXPECT_EQ(connect_from(agent), "ECONNREFUSED\n");
  PodSpec labelled = kPlain;
  labelled.profile = "coding-agent";
  put(labelled, true);
  ASSERT_TRUE(logged("confining " + pod_dir(root_, d, kPlain))) << daemon_->err_so_far();
  EXPECT_EQ(connect_from(plain), "EPERM\n");

  // A bookmark moves the watch's resourceVersion; a watch the server ends resumes from it.
  control({{"op", "bookmark"}});
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::string rv;
  {
    write_file(tmp_ / "control.json", "{\"op\":\"close\"}");
    ProcResult r = run({"curl", "-sf", "--cacert", cert_, "-X", "POST", "--data-binary",
                        "@" + (tmp_ / "control.json"), api_ + "/control"});
    rv = json::parse(r.out)["resourceVersion"].get<std::string>();
  }
  bool resumed = false;
  for (int i = 0; i < 100 && !resumed; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    resumed = read_file(requests_).find("resourceVersion=" + rv + "&") != std::string::npos;
  }
  EXPECT_TRUE(resumed) << "the watch resumes from the bookmark's resourceVersion " << rv << "\n"
                       << read_file(requests_);

  // History compacted under the watch: its next resourceVersion is too old (410), so the
  // daemon lists again, and later events still arrive. The token rotated meanwhile.
  write_file(token_, "second-token\n");
  const size_t lists = count_of(read_file(requests_), "fieldSelector=spec.nodeName%3Dnode-a\n");
  control({{"op", "compact"}});
  ASSERT_TRUE(logged("listing again")) << daemon_->err_so_far();
  for (int i = 0; i < 100; ++i) {
    if (count_of(read_file(requests_), "fieldSelector=spec.nodeName%3Dnode-a\n") > lists)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_GT(count_of(read_file(requests_), "fieldSelector=spec.nodeName%3Dnode-a\n"), lists)
      << read_file(requests_);
  control({{"op", "delete"}, {"uid", kPlain.uid}});
  ASSERT_TRUE(logged("released " + pod_dir(root_, d, kPlain))) << daemon_->err_so_far();
  EXPECT_EQ(connect_from(plain), "ECONNREFUSED\n") << "a deleted pod is released";
  EXPECT_EQ(metric("vigil_k8s_api_relists_total"), "1");
  EXPECT_EQ(metric("vigil_k8s_api_errors_total"), "0") << "the rotated token was used";

  // Every request selected this node's pods; watches asked for bookmarks.
  const std::string reqs = read_file(requests_);
  EXPECT_EQ(count_of(reqs, "fieldSelector=spec.nodeName%3Dnode-a"), count_of(reqs, "\n"))
      << reqs;
  EXPECT_GT(count_of(reqs, "watch=1&allowWatchBookmarks=true&resourceVersion="), 2u) << reqs;

  // SIGTERM: the daemon drains its queue and flushes the outputs before it exits.
  daemon_->signal(SIGTERM);
  ProcResult r = daemon_->wait(std::chrono::seconds(15));
  daemon_.reset();
  EXPECT_EQ(r.status, 0) << r.err;
}

// The cgroups appear before the API reports the pod (a node that is slow to update the API):
// the runtime's first process is parked in the container cgroup before its exec, as runc's init
// waits for `runc start`. Once the API reports the pod the daemon confines it, and the
// container's first program is confined from its first instruction.
TEST_P(KubernetesTest, a_container_whose_cgroup_precedes_the_api_is_enforced_from_its_first_exec)
{
  const Driver d = GetParam();
  PodSpec early = kAgent;
  early.qos = "guaranteed";
  start_daemon();
  const std::string dir = container_dir(root_, d, early);
  fs::create_directories(dir);
  const std::string fifo = tmp_ / "exec.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  Proc parked({"sh", "-c",
               "echo $$ > " + dir + "/cgroup.procs && read go < " + fifo + " && exec " +
                   netprobe_bin() + " tcp 127.0.0.2 9"});
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(daemon_->err_so_far().find("confining " + pod_dir(root_, d, early)),
            std::string::npos)
      << "not confined while the API does not know the pod";

  put(early, true);
  ASSERT_TRUE(logged("confining " + pod_dir(root_, d, early), 1, std::chrono::seconds(5)))
      << daemon_->err_so_far();
  write_file(fifo, "go\n");
  ProcResult r = parked.wait(std::chrono::seconds(10));
  EXPECT_EQ(r.out, "EPERM\n") << r.err;
  std::vector<json> found = alerts_until(1, alerts_);
  ASSERT_EQ(found.size(), 1u) << read_file(alerts_);
  EXPECT_EQ(found[0]["rule"], "egress-not-allowed");
  EXPECT_EQ(found[0]["k8s"]["pod"], early.name);
  EXPECT_EQ(found[0]["k8s"]["container"], early.container);
  EXPECT_EQ(found[0]["k8s"]["container_id"], early.id);
}

// The usual order: the API reports the pod when it is scheduled, then the kubelet creates its
// cgroup. inotify on the QoS directory wakes the daemon, which confines the pod cgroup before
// the sandbox and containers exist (the rescan is a minute away).
TEST_P(KubernetesTest, a_pod_the_api_reported_is_confined_when_its_cgroup_appears)
{
  const Driver d = GetParam();
  fs::create_directories(fs::path(pod_dir(root_, d, kAgent)).parent_path());
  put(kAgent, false);
  start_daemon();
  ASSERT_TRUE(logged("kubernetes: 1 pod(s) on node node-a")) << daemon_->err_so_far();
  fs::create_directories(pod_dir(root_, d, kAgent));
  ASSERT_TRUE(logged("confining " + pod_dir(root_, d, kAgent), 1, std::chrono::seconds(3)))
      << daemon_->err_so_far();
  const std::string dir = container_dir(root_, d, kAgent);
  fs::create_directories(dir);
  EXPECT_EQ(connect_from(dir), "EPERM\n");
  put(kAgent, true); // the kubelet reports the container's id once it runs
  std::this_thread::sleep_for(std::chrono::milliseconds(500)); // the watch delivers it
  EXPECT_EQ(in_container(dir, "exec cat " + secret_).status, 1);
  std::vector<json> found = alerts_until(2, alerts_);
  ASSERT_EQ(found.size(), 2u) << read_file(alerts_);
  for (const auto &a : found) {
    EXPECT_EQ(a["k8s"]["pod"], kAgent.name) << a;
    EXPECT_EQ(a["k8s"]["container_id"], kAgent.id) << a;
  }
  EXPECT_EQ(found[1]["k8s"]["container"], kAgent.container) << found[1];

  // The pod goes away: its cgroup is removed and the daemon lets go of it.
  control({{"op", "delete"}, {"uid", kAgent.uid}});
  ASSERT_EQ(::rmdir(dir.c_str()), 0);
  ASSERT_EQ(::rmdir(pod_dir(root_, d, kAgent).c_str()), 0);
  EXPECT_TRUE(logged("released " + pod_dir(root_, d, kAgent))) << daemon_->err_so_far();
  EXPECT_EQ(metric("vigil_agent_cgroups"), "0");
}

// SIGTERM right after a burst: what the kernel already reported is delivered, to the alert
// outputs and to the event log, before the daemon exits (a DaemonSet rollout does exactly this).
TEST_P(KubernetesTest, sigterm_drains_the_queue_and_flushes_the_outputs)
{
  const Driver d = GetParam();
  put(kAgent, true);
  fs::create_directories(container_dir(root_, d, kAgent));
  start_daemon();
  ASSERT_TRUE(logged("confining " + pod_dir(root_, d, kAgent))) << daemon_->err_so_far();
  constexpr int kBurst = 40;
  ProcResult burst = in_container(container_dir(root_, d, kAgent),
                                  "i=0; while [ $i -lt " + std::to_string(kBurst) + " ]; do " +
                                      netprobe_bin() + " tcp 127.0.0.2 9; i=$((i+1)); done");
  EXPECT_EQ(count_of(burst.out, "EPERM\n"), static_cast<size_t>(kBurst)) << burst.out;
  daemon_->signal(SIGTERM);
  ProcResult r = daemon_->wait(std::chrono::seconds(15));
  daemon_.reset();
  ASSERT_EQ(r.status, 0) << r.err;
  size_t egress = 0;
  for (const auto &a : read_json_lines(alerts_))
    if (a["rule"] == "egress-not-allowed" && a["k8s"]["pod"] == kAgent.name)
      ++egress;
  EXPECT_EQ(egress, static_cast<size_t>(kBurst)) << "every denied connect was alerted";
  EXPECT_EQ(read_json_lines(falco_).size(), read_json_lines(alerts_).size());
  ProcResult verify = run({vigil_bin(), "log", "verify", tmp_ / "events"});
  EXPECT_EQ(verify.status, 0) << verify.out << verify.err;
  ProcResult exported = run({vigil_bin(), "log", "export", tmp_ / "events"});
  EXPECT_GE(count_of(exported.out, "127.0.0.2"), static_cast<size_t>(kBurst))
      << "every connect is in the event log";
  EXPECT_GE(count_of(exported.out, "\"pod\":\"" + kAgent.name + "\""), static_cast<size_t>(kBurst))
      << "the logged alerts name the pod";
}

INSTANTIATE_TEST_SUITE_P(Drivers, KubernetesTest,
                         ::testing::Values(Driver::systemd, Driver::cgroupfs),
                         [](const auto &param_info) {
                           return param_info.param == Driver::systemd ? "systemd" : "cgroupfs";
                         });

} // namespace
} // namespace vigil::test
