// SPDX-License-Identifier: Apache-2.0
// vigil's exporters against the real thing: a real vigil on this host's kernel, Debian's
// Prometheus scraping it (and evaluating dashboards/prometheus/vigil-alerts.yml), Debian's
// Alertmanager receiving its alerts, and a local webhook receiver that fails before it accepts.
#include <gtest/gtest.h>

#include <yaml-cpp/yaml.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "harness.h"
#include "support/http_receiver.h"

namespace vigil::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

bool have(const std::string &tool)
{
  return run({"sh", "-c", "command -v " + tool}).status == 0;
}

// Every PromQL expression of the shipped dashboards and alerting rules, with where it comes from.
struct Expr {
  std::string where;
  std::string promql;
};

std::vector<Expr> dashboard_exprs()
{
  std::vector<Expr> out;
  for (const char *name : {"vigil-soc.json", "vigil-operations.json"}) {
    const json board =
        json::parse(read_file(std::string(VG_SOURCE_DIR) + "/dashboards/grafana/" + name));
    for (const auto &p : board["panels"])
      for (const auto &t : p["targets"])
        out.push_back({std::string(name) + ": " + p["title"].get<std::string>() + " [" +
                           t["refId"].get<std::string>() + "]",
                       t["expr"].get<std::string>()});
  }
  return out;
}

std::vector<Expr> rule_exprs()
{
  std::vector<Expr> out;
  YAML::Node doc =
      YAML::LoadFile(std::string(VG_SOURCE_DIR) + "/dashboards/prometheus/vigil-alerts.yml");
  for (const auto &g : doc["groups"])
    for (const auto &r : g["rules"])
      out.push_back({"alert " + r["alert"].as<std::string>(), r["expr"].as<std::string>()});
  return out;
}

// Grafana's variables, as a dashboard with "All" selected would send them.
std::string substitute(std::string q)
{
  static const std::vector<std::pair<std::string, std::string>> vars{
      {"$__rate_interval", "20s"}, {"$__range", "5m"}, {"$__interval", "5s"},
      {"$profile", ".*"},          {"$instance", ".*"}};
  for (const auto &[var, value] : vars)
    for (size_t p; (p = q.find(var)) != std::string::npos;)
      q.replace(p, var.size(), value);
  return q;
}

// The metric names an expression uses: vigil_* (histogram series mapped to their family) and
// up, which Prometheus records for the vigil scrape itself.
std::set<std::string> metric_names(const std::string &promql)
{
  std::set<std::string> out;
  static const std::regex name(R"(\b(vigil_[a-z0-9_]+|up)\b)");
  for (auto it = std::sregex_iterator(promql.begin(), promql.end(), name);
       it != std::sregex_iterator(); ++it) {
    std::string n = (*it)[1];
    for (const char *suffix : {"_bucket", "_sum", "_count"})
      if (n.size() > std::strlen(suffix) &&
          n.compare(n.size() - std::strlen(suffix), std::string::npos, suffix) == 0 &&
          n.find("_seconds_") != std::string::npos)
        n.erase(n.size() - std::strlen(suffix));
    out.insert(n);
  }
  return out;
}

// A server process on a free loopback port, stopped with the fixture.
struct Server {
  std::unique_ptr<Proc> proc;
  std::string address;
};

bool wait_ready(const std::string &address, const std::string &path, std::chrono::seconds limit)
{
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (run({"curl", "-sf", "--max-time", "2", "http://" + address + path}).status == 0)
      return true;
    std::this_thread::sleep_for(200ms);
  }
  return false;
}

class ExportTest : public ::testing::Test {
protected:
  void SetUp() override
  {
    VG_REQUIRE_ROOT();
    home_ = tmp_.path() + "/home";
    canary_ = plant_aws_canary(home_);
    flag_ = tmp_ / "go";
    metrics_ = "127.0.0.1:" + std::to_string(free_port());
  }
  void TearDown() override
  {
    if (!flag_.empty())
      write_file(flag_, "");
  }

  // vigil run [extra] -- bash -c script, with the test's HOME (the default profile's ~/.aws).
  std::unique_ptr<Proc> vigil(const std::vector<std::string> &extra, const std::string &script)
  {
    std::vector<std::string> argv{vigil_bin(), "run", "--metrics-address", metrics_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.insert(argv.end(), {"--", "bash", "-c", script});
    return std::make_unique<Proc>(argv, std::vector<std::string>{"HOME=" + home_});
  }
  // Reads the canary (an alert each time) and connects outside the allowlist, every 300 ms
  // until the test writes the flag file.
  std::string busy_agent() const
  {
    return "while [ ! -e " + flag_ + " ]; do cat " + canary_ +
           " >/dev/null 2>&1; (exec 3<>/dev/tcp/127.0.0.2/9) 2>/dev/null; sleep 0.3; done";
  }

  Server prometheus()
  {
    Server s;
    s.address = "127.0.0.1:" + std::to_string(free_port());
    write_file(tmp_ / "prometheus.yml",
               "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
               "rule_files:\n  - " + std::string(VG_SOURCE_DIR) +
                   "/dashboards/prometheus/vigil-alerts.yml\n"
                   "scrape_configs:\n  - job_name: vigil\n    static_configs:\n"
                   "      - targets: ['" + metrics_ + "']\n");
    s.proc = std::make_unique<Proc>(std::vector<std::string>{
        "prometheus", "--config.file=" + (tmp_ / "prometheus.yml"),
        "--storage.tsdb.path=" + (tmp_ / "tsdb"), "--web.listen-address=" + s.address,
        "--log.level=warn"});
    return s;
  }

  json query(const Server &prom, const std::string &promql)
  {
    ProcResult r = run({"curl", "-s", "--max-time", "5", "-G", "--data-urlencode",
                        "query=" + promql, "http://" + prom.address + "/api/v1/query"});
    if (r.status != 0 || r.out.empty())
      return json{{"status", "curl failed"}};
    return json::parse(r.out, nullptr, false);
  }

  double scalar_of(const json &result)
  {
    if (result.value("status", "") != "success" || result["data"]["result"].empty())
      return -1;
    return std::stod(result["data"]["result"][0]["value"][1].get<std::string>());
  }

  TempDir tmp_;
  std::string home_, canary_, flag_, metrics_;
};

TEST_F(ExportTest, prometheus_scrapes_vigil_and_every_dashboard_query_returns_data)
{
  if (!have("prometheus"))
    GTEST_SKIP() << "needs Debian's prometheus package (deploy/install-deps.sh --test)";
  HttpReceiver webhook;
  auto v = vigil({"--webhook", webhook.url("/alerts")}, busy_agent());
  ASSERT_TRUE(v->wait_for_err("confines cgroup")) << v->err_so_far();
  Server prom = prometheus();
  ASSERT_TRUE(wait_ready(prom.address, "/-/ready", 30s)) << prom.proc->err_so_far();

  // The alert counter, read back through Prometheus's query API.
  const std::string counter = R"(vigil_alerts_total{job="vigil",rule="cred-aws",)"
                              R"(severity="critical",profile="coding-agent"})";
  double alerts = -1;
  for (int i = 0; i < 60 && alerts < 1; ++i) {
    std::this_thread::sleep_for(500ms);
    alerts = scalar_of(query(prom, counter));
  }
  ASSERT_GE(alerts, 1) << "no cred-aws counter in Prometheus\n" << v->err_so_far();
  EXPECT_EQ(scalar_of(query(prom, R"(up{job="vigil"})")), 1);

  // Every panel's query returns data once a few scrapes have landed (rate windows of 20s).
  std::map<std::string, std::string> missing;
  const auto until = std::chrono::steady_clock::now() + 45s;
  do {
    missing.clear();
    for (const auto &e : dashboard_exprs()) {
      json r = query(prom, substitute(e.promql));
      if (r.value("status", "") != "success" || r["data"]["result"].empty())
        missing[e.where] = substitute(e.promql) + " -> " + r.dump();
    }
    if (!missing.empty())
      std::this_thread::sleep_for(1s);
  } while (!missing.empty() && std::chrono::steady_clock::now() < until);
  for (const auto &[where, why] : missing)
    ADD_FAILURE() << where << ": no data: " << why;

  // Every alerting rule's expression is valid against live data; the critical alert fires.
  for (const auto &e : rule_exprs()) {
    json r = query(prom, e.promql);
    EXPECT_EQ(r.value("status", ""), "success") << e.where << ": " << r.dump();
    if (e.where == "alert VigilCriticalAlert") {
      EXPECT_FALSE(r["data"]["result"].empty()) << e.where << " should fire: " << r.dump();
    }
  }
  bool firing = false;
  for (int i = 0; i < 20 && !firing; ++i) {
    ProcResult r = run({"curl", "-s", "http://" + prom.address + "/api/v1/alerts"});
    json alerts_api = json::parse(r.out, nullptr, false);
    if (alerts_api.is_object())
      for (const auto &a : alerts_api["data"]["alerts"])
        firing |= a["labels"]["alertname"] == "VigilCriticalAlert" &&
                  a["labels"]["rule"] == "cred-aws" && a["state"] == "firing";
    if (!firing)
      std::this_thread::sleep_for(500ms);
  }
  EXPECT_TRUE(firing) << "Prometheus never fired VigilCriticalAlert from vigil's counter";

  write_file(flag_, "");
  EXPECT_EQ(v->wait(30s).status, 0);
  EXPECT_GE(webhook.requests().size(), 1u);
}

TEST_F(ExportTest, every_metric_in_dashboards_and_rules_is_exposed_by_a_live_vigil)
{
  auto v = vigil({}, "while [ ! -e " + flag_ + " ]; do sleep 0.1; done");
  ASSERT_TRUE(v->wait_for_err("confines cgroup")) << v->err_so_far();
  const std::string scrape = http_get(metrics_, "/metrics");
  ASSERT_FALSE(scrape.empty());
  std::set<std::string> exposed{"up"}; // recorded by Prometheus for the vigil scrape target
  static const std::regex type_line(R"((^|\n)# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) )");
  for (auto it = std::sregex_iterator(scrape.begin(), scrape.end(), type_line);
       it != std::sregex_iterator(); ++it)
    exposed.insert((*it)[2]);
  std::vector<Expr> all = dashboard_exprs();
  for (const auto &e : rule_exprs())
    all.push_back(e);
  size_t names = 0;
  for (const auto &e : all) {
    for (const auto &n : metric_names(e.promql)) {
      ++names;
      EXPECT_TRUE(exposed.count(n)) << e.where << " uses " << n << ", which vigil does not expose";
    }
  }
  EXPECT_GT(names, 40u);

  // The exposition passes Prometheus's own linter.
  if (have("promtool")) {
    write_file(tmp_ / "scrape.txt", scrape);
    ProcResult lint = run({"sh", "-c", "promtool check metrics < " + (tmp_ / "scrape.txt")});
    EXPECT_EQ(lint.status, 0) << lint.out << lint.err;
  }
  // Liveness and readiness on the same listener.
  EXPECT_NE(http_get(metrics_, "/healthz").find("ok thread pipeline worker"), std::string::npos);
  EXPECT_NE(http_get(metrics_, "/readyz").find("ok profiles loaded: 1"), std::string::npos);
  write_file(flag_, "");
  EXPECT_EQ(v->wait(30s).status, 0);
}

TEST_F(ExportTest, alertmanager_receives_the_alert_through_its_v2_api)
{
  if (!have("prometheus-alertmanager"))
    GTEST_SKIP() << "needs Debian's prometheus-alertmanager (deploy/install-deps.sh --test)";
  write_file(tmp_ / "am.yml", "route:\n  receiver: 'null'\n  group_wait: 1s\n"
                              "receivers:\n  - name: 'null'\n");
  const std::string am = "127.0.0.1:" + std::to_string(free_port());
  Proc amp({"prometheus-alertmanager", "--config.file=" + (tmp_ / "am.yml"),
            "--storage.path=" + (tmp_ / "am-data"), "--web.listen-address=" + am,
            "--cluster.listen-address=", "--log.level=warn"});
  ASSERT_TRUE(wait_ready(am, "/-/ready", 30s)) << amp.err_so_far();

  auto v = vigil({"--alertmanager", "http://" + am}, "cat " + canary_ + " >/dev/null 2>&1; true");
  ProcResult r = v->wait(30s);
  ASSERT_EQ(r.status, 0) << r.err;

  json found;
  for (int i = 0; i < 40 && found.is_null(); ++i) {
    json alerts = json::parse(http_get(am, "/api/v2/alerts"), nullptr, false);
    if (alerts.is_array())
      for (const auto &a : alerts)
        if (a["labels"].value("alertname", "") == "cred-aws")
          found = a;
    if (found.is_null())
      std::this_thread::sleep_for(250ms);
  }
  ASSERT_FALSE(found.is_null()) << http_get(am, "/api/v2/alerts") << "\n" << r.err;
  EXPECT_EQ(found["labels"]["rule"], "cred-aws");
  EXPECT_EQ(found["labels"]["severity"], "critical");
  EXPECT_EQ(found["labels"]["profile"], "coding-agent");
  EXPECT_EQ(found["labels"]["process"], "cat");
  EXPECT_EQ(found["labels"]["source"], "vigil");
  EXPECT_EQ(found["annotations"]["object"], canary_);
  EXPECT_EQ(found["status"]["state"], "active");
  EXPECT_FALSE(found["annotations"]["summary"].get<std::string>().empty());
}

TEST_F(ExportTest, webhook_retries_until_accepted_in_falco_shape)
{
  HttpReceiver rx({500, 200});
  auto v = vigil({"--webhook", rx.url("/falco"), "--webhook-format", "falco", "--alerts-falco",
                  tmp_ / "falco.jsonl"},
                 "cat " + canary_ + " >/dev/null 2>&1; true");
  ProcResult r = v->wait(30s);
  ASSERT_EQ(r.status, 0) << r.err;
  auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), 2u) << "one failed attempt, one accepted retry\n" << r.err;
  EXPECT_EQ(reqs[0].body, reqs[1].body) << "the retry sends the same alert";
  const json j = json::parse(reqs[1].body);
  EXPECT_EQ(j["rule"], "cred-aws");
  EXPECT_EQ(j["priority"], "Critical");
  EXPECT_EQ(j["source"], "syscall");
  EXPECT_EQ(j["output_fields"]["fd.name"], canary_);
  EXPECT_EQ(j["output_fields"]["proc.name"], "cat");
  EXPECT_TRUE(j["output_fields"]["proc.pid"].is_number_integer());
  // The file output carries the same object.
  auto lines = read_json_lines(tmp_ / "falco.jsonl");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], j);
}

TEST_F(ExportTest, unreachable_webhook_drops_into_a_counter_without_stalling_the_pipeline)
{
  const int dead = free_port(); // nothing listens: every attempt is refused
  const std::string reads =
      "for i in 1 2 3 4 5 6 7 8 9 10; do cat " + canary_ + " >/dev/null 2>&1; done; " +
      "while [ ! -e " + flag_ + " ]; do sleep 0.1; done";
  auto v = vigil({"--webhook", "http://127.0.0.1:" + std::to_string(dead) + "/",
                  "--webhook-queue", "2"},
                 reads);
  ASSERT_TRUE(v->wait_for_err("confines cgroup")) << v->err_so_far();
  auto value = [&](const std::string &series) {
    const std::string body = http_get(metrics_, "/metrics");
    auto p = body.find("\n" + series + " ");
    return p == std::string::npos ? -1.0 : std::stod(body.substr(p + series.size() + 2));
  };
  double alerts = -1, dropped = -1;
  for (int i = 0; i < 100 && (alerts < 10 || dropped < 7); ++i) {
    std::this_thread::sleep_for(100ms);
    alerts = value(R"(vigil_alerts_total{profile="coding-agent",rule="cred-aws",)"
                   R"(severity="critical"})");
    dropped = value(R"(vigil_alert_sink_dropped_total{sink="webhook"})");
  }
  EXPECT_EQ(alerts, 10) << "every alert is still counted and raised";
  EXPECT_GE(dropped, 7) << "1 in flight + 2 queued; the rest dropped";
  EXPECT_GE(value(R"(vigil_alert_sink_failed_total{sink="webhook"})"), 1);
  EXPECT_EQ(value(R"(vigil_alert_sink_delivered_total{sink="webhook"})"), 0);
  write_file(flag_, "");
  EXPECT_EQ(v->wait(30s).status, 0);
}

} // namespace
} // namespace vigil::test
