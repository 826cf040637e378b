// SPDX-License-Identifier: Apache-2.0
// Metrics served over HTTP (every family from start, bounded labels), /healthz and /readyz, and
// the HTTP alert sink against a local receiver: retry after failures, drops when the queue is full.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "common/text.h"
#include "export/metrics.h"
#include "export/sinks.h"
#include "support/http_receiver.h"

namespace vigil::exporter {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using test::http_get_local;
using test::HttpReceiver;

detect::Alert alert(const std::string &rule = "credential-read")
{
  detect::Alert a;
  a.time_ns = 1795400104123456789ull;
  a.hostname = "host-a";
  a.profile = "coding-agent";
  a.rule = rule;
  a.severity = policy::Severity::critical;
  a.output = "credential file opened";
  a.comm = "cat";
  return a;
}

// The sample value of `series` (exact name and labels) in an exposition; -1 when absent.
double sample(const std::string &body, const std::string &series)
{
  const std::string key = "\n" + series + " ";
  auto p = body.find(key);
  return p == std::string::npos ? -1 : std::stod(body.substr(p + key.size()));
}

class ServedMetrics : public ::testing::Test {
protected:
  void SetUp() override
  {
    ASSERT_TRUE(m_.serve("127.0.0.1:0"));
    port_ = m_.port();
    ASSERT_GT(port_, 0);
  }
  std::string scrape() { return http_get_local(port_, "/metrics").body; }
  Metrics m_;
  int port_ = 0;
};

TEST_F(ServedMetrics, every_family_is_named_from_start)
{
  const std::string body = scrape();
  for (const char *family :
       {"vigil_events_total", "vigil_alerts_total", "vigil_process_alerts_total",
        "vigil_enforcement_decisions_total", "vigil_egress_connections_total",
        "vigil_egress_bytes_total", "vigil_enforcement_tier", "vigil_alert_sink_delivered_total",
        "vigil_alert_sink_failed_total", "vigil_alert_sink_dropped_total",
        "vigil_alert_sink_queue_depth", "vigil_alert_latency_seconds",
        "vigil_decode_errors_total", "vigil_queue_drops_total", "vigil_queue_depth",
        "vigil_queue_capacity", "vigil_ringbuf_drops_total", "vigil_ringbuf_used_bytes",
        "vigil_ringbuf_size_bytes", "vigil_kernel_stash_drops_total",
        "vigil_kernel_path_truncated_total", "vigil_kernel_events_total", "vigil_agent_cgroups",
        "vigil_profiles_loaded", "vigil_rules_loaded", "vigil_rule_reload_failures_total",
        "vigil_eventlog_written_bytes_total", "vigil_eventlog_dropped_records_total",
        "vigil_eventlog_segments_deleted_total", "vigil_eventlog_write_errors_total",
        "vigil_build_info", "vigil_namespace_alerts_total", "vigil_k8s_unmapped_events_total",
        "vigil_k8s_pods", "vigil_k8s_api_relists_total", "vigil_k8s_api_errors_total"})
    EXPECT_THAT(body, HasSubstr(std::string("# TYPE ") + family + " ")) << family;
  EXPECT_EQ(sample(body, "vigil_rule_reload_failures_total"), 0);
  EXPECT_EQ(sample(body, "vigil_eventlog_written_bytes_total"), 0);
}

TEST_F(ServedMetrics, namespaces_are_capped_and_watch_counters_follow_the_watcher)
{
  for (size_t i = 0; i < Metrics::kMaxNamespaceLabels + 5; ++i)
    m_.namespace_alert("ns-" + std::to_string(i), "coding-agent", "credential-read");
  m_.kubernetes(7, 2, 1);
  m_.kubernetes(6, 3, 1);
  const std::string body = scrape();
  EXPECT_EQ(sample(body, R"(vigil_namespace_alerts_total{namespace="ns-0",profile="coding-agent",)"
                         R"(rule="credential-read"})"),
            1);
  EXPECT_EQ(sample(body, R"(vigil_namespace_alerts_total{namespace="other",profile="coding-agent",)"
                         R"(rule="credential-read"})"),
            5);
  EXPECT_EQ(sample(body, "vigil_k8s_pods"), 6);
  EXPECT_EQ(sample(body, "vigil_k8s_api_relists_total"), 3);
  EXPECT_EQ(sample(body, "vigil_k8s_api_errors_total"), 1);
}

TEST_F(ServedMetrics, profile_and_tier_series_start_at_zero)
{
  m_.profile_loaded("coding-agent");
  m_.decisions_possible("file", "fanotify");
  const std::string body = scrape();
  EXPECT_EQ(sample(body, R"(vigil_events_total{profile="coding-agent",type="open"})"), 0);
  EXPECT_EQ(sample(body, R"(vigil_egress_bytes_total{profile="coding-agent"})"), 0);
  EXPECT_EQ(
      sample(body,
             R"(vigil_enforcement_decisions_total{kind="file",tier="fanotify",verdict="denied"})"),
      0);
}

TEST_F(ServedMetrics, feeds_show_up_in_the_exposition)
{
  m_.alert("credential-read", "critical", "coding-agent");
  m_.decision("network", "cgroup", "denied");
  m_.egress_connection("coding-agent", scope_of("ipv4", "169.254.169.254"), "denied");
  m_.alert_latency(0.002);
  m_.reload_failure();
  m_.eventlog_written(4096);
  m_.rules_loaded(12);
  KernelStats ks;
  ks.ringbuf_full = 3;
  ks.ring_used_bytes = 1024;
  ks.ring_size_bytes = 4096;
  m_.kernel_stats(ks);
  const std::string body = scrape();
  EXPECT_EQ(sample(body, R"(vigil_alerts_total{profile="coding-agent",rule="credential-read",)"
                         R"(severity="critical"})"),
            1);
  EXPECT_EQ(sample(body, R"(vigil_enforcement_decisions_total{kind="network",tier="cgroup",)"
                         R"(verdict="denied"})"),
            1);
  EXPECT_EQ(sample(body, R"(vigil_egress_connections_total{profile="coding-agent",)"
                         R"(scope="link-local",verdict="denied"})"),
            1);
  EXPECT_EQ(sample(body, R"(vigil_alert_latency_seconds_bucket{le="0.0025"})"), 1);
  EXPECT_EQ(sample(body, R"(vigil_alert_latency_seconds_bucket{le="0.001"})"), 0);
  EXPECT_EQ(sample(body, "vigil_rule_reload_failures_total"), 1);
  EXPECT_EQ(sample(body, "vigil_eventlog_written_bytes_total"), 4096);
  EXPECT_EQ(sample(body, "vigil_rules_loaded"), 12);
  EXPECT_EQ(sample(body, "vigil_ringbuf_drops_total"), 3);
  EXPECT_EQ(sample(body, "vigil_ringbuf_used_bytes"), 1024);
  EXPECT_EQ(sample(body, "vigil_ringbuf_size_bytes"), 4096);
}

TEST_F(ServedMetrics, response_actions_count_by_action_result_and_profile)
{
  m_.profile_loaded("coding-agent");
  std::string body = scrape();
  // The four actions' series of a loaded profile exist at zero, and nothing is contained.
  for (const char *action : {"freeze", "kill", "isolate", "run"})
    for (const char *result : {"done", "suppressed", "failed"})
      EXPECT_EQ(sample(body, std::string("vigil_response_actions_total{action=\"") + action +
                                 "\",profile=\"coding-agent\",result=\"" + result + "\"}"),
                0)
          << action << " " << result;
  EXPECT_EQ(sample(body, R"(vigil_contained_agents{state="frozen"})"), 0);
  EXPECT_EQ(sample(body, R"(vigil_contained_agents{state="isolated"})"), 0);
  m_.response_action("freeze", "done", "coding-agent");
  m_.response_action("freeze", "suppressed", "coding-agent");
  m_.response_action("freeze", "suppressed", "coding-agent");
  m_.response_action("restore", "done", "coding-agent");
  m_.contained_agents(2, 1);
  body = scrape();
  EXPECT_EQ(sample(body, R"(vigil_response_actions_total{action="freeze",profile="coding-agent",)"
                         R"(result="done"})"),
            1);
  EXPECT_EQ(sample(body, R"(vigil_response_actions_total{action="freeze",profile="coding-agent",)"
                         R"(result="suppressed"})"),
            2);
  EXPECT_EQ(sample(body, R"(vigil_response_actions_total{action="restore",profile="coding-agent",)"
                         R"(result="done"})"),
            1);
  EXPECT_EQ(sample(body, R"(vigil_contained_agents{state="frozen"})"), 2);
  EXPECT_EQ(sample(body, R"(vigil_contained_agents{state="isolated"})"), 1);
  EXPECT_EQ(sample(body, "vigil_control_socket_listening"), 0);
  m_.control_socket(true);
  EXPECT_EQ(sample(scrape(), "vigil_control_socket_listening"), 1);
}

TEST_F(ServedMetrics, process_names_are_capped)
{
  for (size_t i = 0; i < Metrics::kMaxProcessLabels + 10; ++i)
    m_.process_alert("p", "proc" + std::to_string(i));
  const std::string body = scrape();
  EXPECT_EQ(sample(body, R"(vigil_process_alerts_total{process="other",profile="p"})"), 10);
  EXPECT_EQ(sample(body, R"(vigil_process_alerts_total{process="proc0",profile="p"})"), 1);
  EXPECT_EQ(sample(body, R"(vigil_process_alerts_total{process="proc70",profile="p"})"), -1);
}

// A process name is the agent's choice: an escape or bytes that are not UTF-8 would make the
// exposition unparseable (Prometheus rejects invalid UTF-8 label values).
TEST_F(ServedMetrics, process_names_are_escaped_in_labels)
{
  m_.process_alert("p", "x\n\x1b[31m\xff");
  const std::string body = scrape();
  EXPECT_TRUE(valid_utf8(body));
  EXPECT_EQ(sample(body, R"(vigil_process_alerts_total{process="x\\n\\x1b[31m\\xff",profile="p"})"),
            1)
      << body;
}

TEST_F(ServedMetrics, bounded_tables_export_size_and_evictions)
{
  const std::string start = scrape();
  for (std::string_view t : Metrics::kTables) {
    const std::string &body = start;
    EXPECT_EQ(sample(body, "vigil_table_entries{table=\"" + std::string(t) + "\"}"), 0) << t;
    EXPECT_EQ(sample(body, "vigil_table_evictions_total{table=\"" + std::string(t) + "\"}"), 0)
        << t;
  }
  m_.table("volume", 65536, 10);
  m_.table("volume", 65536, 25); // cumulative: the counter follows
  m_.exits_missed(3);
  m_.baseline_save_errors(2);
  const std::string body = scrape();
  EXPECT_EQ(sample(body, R"(vigil_table_entries{table="volume"})"), 65536);
  EXPECT_EQ(sample(body, R"(vigil_table_evictions_total{table="volume"})"), 25);
  EXPECT_EQ(sample(body, "vigil_process_exits_missed_total"), 3);
  EXPECT_EQ(sample(body, "vigil_baseline_save_errors_total"), 2);
}

TEST_F(ServedMetrics, readiness_needs_programs_and_profiles)
{
  auto live = http_get_local(port_, "/healthz");
  EXPECT_EQ(live.status, 200);
  EXPECT_THAT(live.body, HasSubstr("ok process"));
  auto ready = http_get_local(port_, "/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_THAT(ready.body, HasSubstr("FAIL programs attached"));
  m_.health().set_attached(true);
  m_.profiles_loaded(2);
  ready = http_get_local(port_, "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_THAT(ready.body, HasSubstr("ok profiles loaded: 2"));
  EXPECT_EQ(sample(scrape(), "vigil_profiles_loaded"), 2);
  EXPECT_EQ(http_get_local(port_, "/nothing-here").status, 404);
  EXPECT_THAT(ready.body, Not(HasSubstr("kubernetes"))) << "not asked outside Kubernetes";
  m_.health().set_pods_listed(false);
  ready = http_get_local(port_, "/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_THAT(ready.body, HasSubstr("FAIL kubernetes pods listed"));
  m_.health().set_pods_listed(true);
  EXPECT_EQ(http_get_local(port_, "/readyz").status, 200);
}

TEST(HealthTest, a_stalled_thread_fails_liveness_and_a_retired_one_does_not)
{
  Health h;
  size_t id = h.add_thread("worker");
  EXPECT_TRUE(h.live().ok);
  // A registered thread that never beats again goes stale after kStall; instead of sleeping,
  // register one and check the report names it, then retire it.
  EXPECT_THAT(h.live().text, HasSubstr("ok thread worker"));
  h.retire(id);
  EXPECT_THAT(h.live().text, Not(HasSubstr("worker")));
  EXPECT_FALSE(h.ready().ok);
}

TEST(ScopeTest, classifies_addresses_into_a_bounded_set)
{
  EXPECT_EQ(scope_of("ipv4", "127.0.0.2"), "loopback");
  EXPECT_EQ(scope_of("ipv4", "10.1.2.3"), "private");
  EXPECT_EQ(scope_of("ipv4", "172.20.0.1"), "private");
  EXPECT_EQ(scope_of("ipv4", "172.32.0.1"), "public");
  EXPECT_EQ(scope_of("ipv4", "192.168.1.1"), "private");
  EXPECT_EQ(scope_of("ipv4", "169.254.169.254"), "link-local");
  EXPECT_EQ(scope_of("ipv4", "8.8.8.8"), "public");
  EXPECT_EQ(scope_of("ipv4", "224.0.0.1"), "multicast");
  EXPECT_EQ(scope_of("ipv6", "::1"), "loopback");
  EXPECT_EQ(scope_of("ipv6", "fd00::1"), "private");
  EXPECT_EQ(scope_of("ipv6", "fe80::1"), "link-local");
  EXPECT_EQ(scope_of("ipv6", "2001:db8::1"), "public");
  EXPECT_EQ(scope_of("ipv6", "::ffff:10.0.0.1"), "private");
  EXPECT_EQ(scope_of("unix", "/run/x.sock"), "unix");
  EXPECT_EQ(scope_of("ipv4", "not an ip"), "unknown");
}

HttpSinkOptions fast(HttpSinkOptions::Kind kind, const std::string &url)
{
  HttpSinkOptions o;
  o.kind = kind;
  o.url = url;
  o.backoff_initial = std::chrono::milliseconds(20);
  o.backoff_max = std::chrono::milliseconds(100);
  o.timeout = std::chrono::milliseconds(2000);
  return o;
}

TEST(HttpSinkTest, retries_until_the_endpoint_accepts)
{
  Metrics m;
  HttpReceiver rx({500, 503, 200});
  auto sink = HttpSink::start(fast(HttpSinkOptions::Kind::webhook, rx.url("/hook")),
                              m.sink("webhook"));
  ASSERT_TRUE(sink) << sink.error().message();
  (*sink)->write(alert());
  ASSERT_TRUE(rx.wait_for(3, std::chrono::seconds(10)));
  (*sink)->drain(std::chrono::seconds(5));
  auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), 3u);
  for (const auto &r : reqs) {
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.path, "/hook");
    EXPECT_THAT(r.headers, HasSubstr("application/json"));
    EXPECT_EQ(nlohmann::json::parse(r.body)["rule"], "credential-read");
  }
  SinkCounters c = m.sink("webhook");
  EXPECT_EQ(c.delivered->Value(), 1);
  EXPECT_EQ(c.failed->Value(), 2);
  EXPECT_EQ(c.dropped->Value(), 0);
}

TEST(HttpSinkTest, alertmanager_batches_to_the_v2_alerts_path)
{
  Metrics m;
  HttpReceiver rx;
  auto sink = HttpSink::start(fast(HttpSinkOptions::Kind::alertmanager, rx.url("/")),
                              m.sink("alertmanager"));
  ASSERT_TRUE(sink);
  (*sink)->write(alert("credential-read"));
  (*sink)->write(alert("egress-not-allowed"));
  (*sink)->drain(std::chrono::seconds(5));
  size_t alerts = 0;
  for (const auto &r : rx.requests()) {
    EXPECT_EQ(r.path, "/api/v2/alerts");
    auto body = nlohmann::json::parse(r.body);
    ASSERT_TRUE(body.is_array());
    alerts += body.size();
  }
  EXPECT_EQ(alerts, 2u);
  EXPECT_EQ(m.sink("alertmanager").delivered->Value(), 2);
}

// Alerts naming long paths and argv (the agent chooses them): the queue is bounded by bytes too.
TEST(HttpSinkTest, the_queue_is_bounded_by_bytes)
{
  Metrics m;
  int dead_port = 0;
  {
    HttpReceiver gone;
    dead_port = gone.port();
  }
  HttpSinkOptions o = fast(HttpSinkOptions::Kind::webhook,
                           "http://127.0.0.1:" + std::to_string(dead_port) + "/");
  o.queue_capacity = 100000;
  o.queue_max_bytes = 1u << 20;
  o.max_attempts = 0;
  auto sink = HttpSink::start(o, m.sink("webhook"));
  ASSERT_TRUE(sink);
  detect::Alert big = alert();
  big.argv.assign(100, std::string(1000, 'a'));
  ASSERT_GT(footprint(big), 100000u);
  for (int i = 0; i < 100; ++i)
    (*sink)->write(big);
  // ~100 KiB each in 1 MiB: about ten queue (and one in flight), the rest are dropped.
  EXPECT_GE(m.sink("webhook").dropped->Value(), 85);
  EXPECT_LE(m.sink("webhook").queue->Value(), 10);
  (*sink)->drain(std::chrono::milliseconds(0));
}

TEST(HttpSinkTest, a_full_queue_drops_and_counts_without_blocking)
{
  Metrics m;
  int dead_port = 0;
  {
    HttpReceiver gone; // take a free port, then close it: connections are refused
    dead_port = gone.port();
  }
  HttpSinkOptions o = fast(HttpSinkOptions::Kind::webhook,
                           "http://127.0.0.1:" + std::to_string(dead_port) + "/");
  o.queue_capacity = 2;
  o.max_attempts = 0; // retry for ever: the queue is what overflows
  auto sink = HttpSink::start(o, m.sink("webhook"));
  ASSERT_TRUE(sink);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i)
    (*sink)->write(alert());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(500))
      << "write() must never wait for the network";
  // One alert is in flight, two wait in the queue: the other seven are dropped at once.
  EXPECT_GE(m.sink("webhook").dropped->Value(), 7);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_GE(m.sink("webhook").failed->Value(), 1);
  (*sink)->drain(std::chrono::milliseconds(100));
  EXPECT_EQ(m.sink("webhook").dropped->Value(), 10) << "what drain could not deliver is dropped";
  EXPECT_EQ(m.sink("webhook").delivered->Value(), 0);
  EXPECT_EQ(m.sink("webhook").queue->Value(), 0);
}

TEST(HttpSinkTest, rejects_a_url_that_is_not_http)
{
  Metrics m;
  auto sink = HttpSink::start(fast(HttpSinkOptions::Kind::webhook, "ftp://x/"), m.sink("webhook"));
  ASSERT_FALSE(sink);
  EXPECT_THAT(sink.error().message(), HasSubstr("http://"));
}

} // namespace
} // namespace vigil::exporter
