// SPDX-License-Identifier: Apache-2.0
// The API's pod JSON: lists, watch events (bookmarks, 410 errors), container ids and images.
#include <gtest/gtest.h>

#include "k8s/pods.h"

namespace vigil::k8s {
namespace {

constexpr const char *kPod = R"({"kind":"Pod","apiVersion":"v1",
 "metadata":{"name":"agent-1","namespace":"team-a","uid":"u-1","resourceVersion":"42",
             "labels":{"vigil.dev/profile":"coding-agent","app":"agent"}},
 "spec":{"nodeName":"node-a",
         "initContainers":[{"name":"setup","image":"busybox:1.36"}],
         "containers":[{"name":"claude","image":"registry.example:5000/agents/claude:1.4"},
                       {"name":"sidecar","image":"envoy:v1"}]},
 "status":{"phase":"Running",
   "initContainerStatuses":[{"name":"setup","containerID":"containerd://aaa111"}],
   "containerStatuses":[{"name":"claude","image":"registry.example:5000/agents/claude:1.4",
                         "containerID":"containerd://bbb222"},
                        {"name":"sidecar","image":"docker.io/library/envoy:v1"}]}})";

TEST(Pods, parses_identity_labels_and_containers)
{
  auto p = parse_pod(kPod);
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->uid, "u-1");
  EXPECT_EQ(p->ns, "team-a");
  EXPECT_EQ(p->name, "agent-1");
  EXPECT_EQ(p->node, "node-a");
  EXPECT_EQ(p->resource_version, "42");
  EXPECT_EQ(p->labels.at("vigil.dev/profile"), "coding-agent");
  ASSERT_EQ(p->containers.size(), 3u);
  EXPECT_EQ(p->containers[0].name, "setup");
  EXPECT_EQ(p->containers[0].id, "aaa111");
  EXPECT_EQ(p->containers[1].name, "claude");
  EXPECT_EQ(p->containers[1].id, "bbb222");
  EXPECT_EQ(p->containers[1].runtime, "containerd");
  EXPECT_EQ(p->containers[1].image, "registry.example:5000/agents/claude:1.4");
  EXPECT_EQ(p->containers[2].id, "") << "not started yet: no id";
  EXPECT_EQ(p->containers[2].image, "envoy:v1") << "the spec's image, as written";
}

TEST(Pods, list_and_its_resource_version)
{
  auto l = parse_pod_list(std::string(R"({"kind":"PodList","metadata":{"resourceVersion":"77"},
                                          "items":[)") + kPod + "]}");
  ASSERT_TRUE(l) << l.error().message();
  EXPECT_EQ(l->second, "77");
  ASSERT_EQ(l->first.size(), 1u);
  EXPECT_FALSE(parse_pod_list(R"({"kind":"Status","code":401})"));
  EXPECT_FALSE(parse_pod_list("not json"));
}

TEST(Pods, watch_events)
{
  auto added = parse_watch_event(std::string(R"({"type":"ADDED","object":)") + kPod + "}");
  ASSERT_TRUE(added) << added.error().message();
  EXPECT_EQ(added->type, "ADDED");
  EXPECT_EQ(added->resource_version, "42");
  EXPECT_EQ(added->pod.uid, "u-1");
  auto bookmark = parse_watch_event(
      R"({"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":"90"}}})");
  ASSERT_TRUE(bookmark);
  EXPECT_EQ(bookmark->resource_version, "90");
  auto gone = parse_watch_event(
      R"j({"type":"ERROR","object":{"kind":"Status","status":"Failure","reason":"Expired",
          "message":"too old resource version: 5 (10)","code":410}})j");
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->code, 410);
  EXPECT_EQ(gone->message, "too old resource version: 5 (10)");
  EXPECT_FALSE(parse_watch_event(R"({"type":"SURPRISE","object":{}})"));
  EXPECT_FALSE(parse_watch_event(R"({"type":"ADDED","object":{"metadata":{}}})"))
      << "a pod without a uid";
}

} // namespace
} // namespace vigil::k8s
