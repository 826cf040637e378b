// SPDX-License-Identifier: Apache-2.0
// Kubelet cgroup names -> pod uid and container id, both drivers and the runtimes' scope names.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "k8s/layout.h"

namespace vigil::k8s {
namespace {

constexpr const char *kUid = "1b4e28ba-2fa1-11d2-883f-0016d3cca427";
constexpr const char *kUidSystemd = "1b4e28ba_2fa1_11d2_883f_0016d3cca427";
const std::string kId(64, 'a');

TEST(Layout, systemd_driver_pod_and_containerd_scope)
{
  const std::string pod = std::string("/kubepods.slice/kubepods-burstable.slice/"
                                      "kubepods-burstable-pod") + kUidSystemd + ".slice";
  auto ref = parse_cgroup_path(pod + "/cri-containerd-" + kId + ".scope");
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->pod_uid, kUid);
  EXPECT_EQ(ref->pod_path, pod);
  EXPECT_EQ(ref->container_id, kId);
}

TEST(Layout, systemd_guaranteed_pod_and_crio_scope)
{
  const std::string pod = std::string("/kubepods.slice/kubepods-pod") + kUidSystemd + ".slice";
  auto ref = parse_cgroup_path(pod + "/crio-" + kId + ".scope/nested/deeper");
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->pod_uid, kUid);
  EXPECT_EQ(ref->container_id, kId) << "a cgroup below a container belongs to it";
  EXPECT_EQ(parse_cgroup_path(pod + "/crio-conmon-" + kId + ".scope")->container_id, kId);
  EXPECT_EQ(parse_cgroup_path(pod + "/docker-" + kId + ".scope")->container_id, kId);
}

TEST(Layout, cgroupfs_driver_pods_and_containers)
{
  auto ref = parse_cgroup_path(std::string("/kubepods/besteffort/pod") + kUid + "/" + kId);
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->pod_uid, kUid);
  EXPECT_EQ(ref->pod_path, std::string("/kubepods/besteffort/pod") + kUid);
  EXPECT_EQ(ref->container_id, kId);
  auto guaranteed = parse_cgroup_path(std::string("/kubepods/pod") + kUid);
  ASSERT_TRUE(guaranteed);
  EXPECT_EQ(guaranteed->pod_uid, kUid);
  EXPECT_EQ(guaranteed->container_id, "") << "the pod cgroup itself";
  EXPECT_EQ(parse_cgroup_path(std::string("/kubepods/pod") + kUid + "/crio-" + kId)->container_id,
            kId);
}

TEST(Layout, nested_kubelet_and_non_pod_paths)
{
  auto kind = parse_cgroup_path(std::string("/kubelet.slice/kubelet-kubepods.slice/"
                                            "kubelet-kubepods-besteffort.slice/"
                                            "kubelet-kubepods-besteffort-pod") +
                                kUidSystemd + ".slice/cri-containerd-" + kId + ".scope");
  ASSERT_TRUE(kind);
  EXPECT_EQ(kind->pod_uid, kUid);
  EXPECT_FALSE(parse_cgroup_path("/system.slice/containerd.service"));
  EXPECT_FALSE(parse_cgroup_path("/kubepods.slice/kubepods-burstable.slice"));
  EXPECT_FALSE(parse_cgroup_path("/user.slice/pod-not-a-uid"));
  EXPECT_EQ(pod_uid_of("kubepods-besteffort-pod1b4e28ba_2fa1_11d2_883f_0016d3cca42.slice"), "")
      << "one hex digit short";
  EXPECT_EQ(container_id_of("cri-containerd-xyz.scope"), "");
}

TEST(Layout, finds_pod_cgroups_and_the_directories_they_appear_in)
{
  namespace fs = std::filesystem;
  const fs::path root = fs::temp_directory_path() / ("vigil-layout-" + std::to_string(::getpid()));
  const std::string a = std::string("kubepods-burstable-pod") + kUidSystemd + ".slice";
  const std::string b = "kubepods-pod6fa459ea_ee8a_3ca4_894e_db77e160355e.slice";
  fs::create_directories(root / "kubepods.slice/kubepods-burstable.slice" / a / "cri-containerd-x");
  fs::create_directories(root / "kubepods.slice" / b);
  fs::create_directories(root / "system.slice/kubepods-pod16fd2706_8baf_433b_82eb_8c7fada847da.slice");
  PodCgroups found = find_pod_cgroups(root.string());
  EXPECT_EQ(found.pods.size(), 2u);
  EXPECT_EQ(found.pods[kUid], (root / "kubepods.slice/kubepods-burstable.slice" / a).string());
  EXPECT_EQ(found.pods["6fa459ea-ee8a-3ca4-894e-db77e160355e"], (root / "kubepods.slice" / b).string());
  EXPECT_EQ(found.parents.size(), 3u) << "root, kubepods.slice, kubepods-burstable.slice";
  fs::remove_all(root);

  fs::create_directories(root / "kubepods/burstable" / (std::string("pod") + kUid) / kId);
  fs::create_directories(root / "kubepods/pod6fa459ea-ee8a-3ca4-894e-db77e160355e");
  found = find_pod_cgroups(root.string());
  EXPECT_EQ(found.pods.size(), 2u) << "cgroupfs driver: QoS levels without a kubepods prefix";
  EXPECT_EQ(found.pods[kUid], (root / "kubepods/burstable" / (std::string("pod") + kUid)).string());
  fs::remove_all(root);
}

} // namespace
} // namespace vigil::k8s
