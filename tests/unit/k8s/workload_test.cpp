// SPDX-License-Identifier: Apache-2.0
// The kubernetes: config section, and the workload fields in vigil's JSON and Falco's shape.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "daemon/config.h"
#include "export/formats.h"
#include "export/sinks.h"

namespace vigil {
namespace {

std::string write_tmp(const std::string &text)
{
  char name[] = "/tmp/vigil-k8s-config-XXXXXX";
  int fd = ::mkstemp(name);
  ::close(fd);
  std::ofstream(name) << text;
  return name;
}

TEST(KubernetesConfig, defaults_and_overrides)
{
  const std::string f = write_tmp("profiles: [p.yaml]\nkubernetes:\n  node: n1\n"
                                  "  cgroup_root: /k8s/\n");
  auto c = daemon::load_config(f);
  ::unlink(f.c_str());
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_TRUE(c->kubernetes) << "cgroups: is optional with a kubernetes section";
  EXPECT_EQ(c->kubernetes->node, "n1");
  EXPECT_EQ(c->kubernetes->cgroup_root, "/k8s");
  EXPECT_EQ(c->kubernetes->label, "vigil.dev/profile");
  EXPECT_EQ(c->kubernetes->token_file, "/var/run/secrets/kubernetes.io/serviceaccount/token");
  EXPECT_EQ(c->kubernetes->ca_file, "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
  EXPECT_EQ(c->kubernetes->api_server, "");
}

TEST(KubernetesConfig, mistakes_name_the_field)
{
  for (const auto &[text, want] :
       std::vector<std::pair<std::string, std::string>>{
           {"kubernetes:\n  nodes: x\n", "kubernetes.nodes: unknown key"},
           {"kubernetes:\n  api_server: ftp://x\n", "kubernetes.api_server: expected an https"},
           {"kubernetes:\n  cgroup_root: kubepods\n", "kubernetes.cgroup_root: must start"},
           {"kubernetes:\n  enabled: maybe\n", "kubernetes.enabled: expected true or false"},
           {"kubernetes:\n  enabled: false\n", "cgroups: expected a list"}}) {
    const std::string f = write_tmp("profiles: [p.yaml]\n" + text);
    auto c = daemon::load_config(f);
    ::unlink(f.c_str());
    ASSERT_FALSE(c) << text;
    EXPECT_NE(c.error().message().find(want), std::string::npos) << c.error().message();
  }
}

detect::Alert pod_alert()
{
  detect::Alert a;
  a.rule = "credential-read";
  a.profile = "coding-agent";
  a.workload = {"team-a", "agent-1", "u-1", "claude", std::string(64, 'c'),
                "registry.example:5000/agents/claude:1.4@sha256:abc"};
  return a;
}

TEST(Workload, falco_fields_use_falcos_names)
{
  const nlohmann::json f = exporter::to_falco_json(pod_alert())["output_fields"];
  EXPECT_EQ(f["k8s.ns.name"], "team-a");
  EXPECT_EQ(f["k8s.pod.name"], "agent-1");
  EXPECT_EQ(f["k8s.pod.uid"], "u-1");
  EXPECT_EQ(f["container.id"], std::string(12, 'c'));
  EXPECT_EQ(f["container.full_id"], std::string(64, 'c'));
  EXPECT_EQ(f["container.name"], "claude");
  EXPECT_EQ(f["container.image.repository"], "registry.example:5000/agents/claude");
  EXPECT_EQ(f["container.image.tag"], "1.4");
  const nlohmann::json host = exporter::to_falco_json(detect::Alert{})["output_fields"];
  EXPECT_FALSE(host.contains("k8s.pod.name")) << "no pod fields outside Kubernetes";
}

TEST(Workload, alertmanager_labels_the_namespace_only)
{
  const nlohmann::json a = exporter::to_alertmanager_alert(pod_alert(), std::chrono::hours(1));
  EXPECT_EQ(a["labels"]["namespace"], "team-a");
  EXPECT_FALSE(a["labels"].contains("pod")) << "pod names are unbounded: annotations only";
  EXPECT_EQ(a["annotations"]["pod"], "agent-1");
  EXPECT_EQ(a["annotations"]["container"], "claude");
}

} // namespace
} // namespace vigil
