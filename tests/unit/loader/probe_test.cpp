// SPDX-License-Identifier: Apache-2.0
// The tier decision from probe results, for the kernels vigil meets: this host (trampolines
// refused), a BPF-LSM kernel (the qemu rig), Debian's default boot, and a bare kernel.
#include <gtest/gtest.h>

#include "loader/probe.h"

namespace vigil::loader {
namespace {

Features host_like(bool listed, bool lsm_prog, bool fanotify, bool sock_addr)
{
  Features f;
  f.bpf_lsm_listed = {listed, listed ? "bpf is in /sys/kernel/security/lsm"
                                     : "bpf not in /sys/kernel/security/lsm (lockdown,capability): "
                                       "boot with lsm=lockdown,capability,bpf"};
  f.lsm_prog = {lsm_prog, lsm_prog ? "lsm/file_open loaded and attached"
                                   : "EPERM: the kernel refuses BPF trampoline programs"};
  f.fanotify_perm = {fanotify, fanotify ? "ok" : "EINVAL: no permission events"};
  f.cgroup_sock_addr = {sock_addr, sock_addr ? "ok" : "EINVAL: no cgroup programs"};
  choose_tiers(f);
  return f;
}

bool contains(const std::string &s, const std::string &needle)
{
  return s.find(needle) != std::string::npos;
}

TEST(ChooseTiers, trampolines_refused_falls_back_to_fanotify_and_cgroup)
{
  Features f = host_like(true, false, true, true);
  EXPECT_EQ(f.file_tier, Tier::fallback);
  EXPECT_EQ(f.net_tier, Tier::fallback);
  EXPECT_TRUE(contains(f.file_reason, "EPERM")) << f.file_reason;
  EXPECT_TRUE(contains(f.net_reason, "EPERM")) << f.net_reason;
}

TEST(ChooseTiers, bpf_lsm_kernel_gets_lsm_for_both)
{
  Features f = host_like(true, true, true, true);
  EXPECT_EQ(f.file_tier, Tier::lsm);
  EXPECT_EQ(f.net_tier, Tier::lsm);
}

TEST(ChooseTiers, lsm_loads_but_bpf_not_listed_is_not_lsm)
{
  // Debian's default boot: CONFIG_BPF_LSM=y, so programs attach, but the hooks never run.
  Features f = host_like(false, true, true, false);
  EXPECT_EQ(f.file_tier, Tier::fallback);
  EXPECT_EQ(f.net_tier, Tier::monitor);
  EXPECT_TRUE(contains(f.file_reason, "boot with lsm=")) << f.file_reason;
  EXPECT_TRUE(contains(f.net_reason, "no cgroup sock_addr programs: EINVAL")) << f.net_reason;
}

TEST(ChooseTiers, nothing_works_means_monitor_with_every_reason)
{
  Features f = host_like(false, false, false, false);
  EXPECT_EQ(f.file_tier, Tier::monitor);
  EXPECT_EQ(f.net_tier, Tier::monitor);
  EXPECT_TRUE(contains(f.file_reason, "boot with lsm=")) << f.file_reason;
  EXPECT_TRUE(contains(f.file_reason, "EPERM")) << f.file_reason;
  EXPECT_TRUE(contains(f.file_reason, "no permission events")) << f.file_reason;
}

TEST(TierName, names_the_fallback_per_kind)
{
  EXPECT_EQ(tier_name(Tier::lsm, true), "lsm");
  EXPECT_EQ(tier_name(Tier::fallback, true), "fanotify");
  EXPECT_EQ(tier_name(Tier::fallback, false), "cgroup");
  EXPECT_EQ(tier_name(Tier::monitor, false), "monitor");
}

} // namespace
} // namespace vigil::loader
