// SPDX-License-Identifier: GPL-2.0-only
/* lsm_ptrace_access_check.bpf.c - an agent must not read another process's memory or
 * environment: ptrace attach, /proc/PID/mem, /proc/PID/environ, process_vm_readv and friends
 * all pass ptrace_access_check. Allowed only when the target lives in the agent's own cgroup
 * subtree (its own children, for debuggers and test runners). Fails open on internal misses. */
#include "task.bpf.h"

static __always_inline int vg_ptrace_deny(struct task_struct *child, unsigned int mode)
{
	struct vg_event_ptrace *ev;
	struct { __u64 root; } w = {};
	struct vg_scratch *s;
	const struct vg_profile_cfg *cfg;
	__u32 profile;
	int verdict;

	profile = vg_agent_find(&w.root);
	if (!profile)
		return 0;
	cfg = bpf_map_lookup_elem(&vg_profiles, &profile);
	if (!cfg || cfg->file_mode == VG_MODE_OFF)
		return 0;
	if (vg_cgroup_within(BPF_CORE_READ(child, cgroups, dfl_cgrp), w.root))
		return 0;
	verdict = cfg->file_mode == VG_MODE_ENFORCE ? VG_VERDICT_DENY : VG_VERDICT_AUDIT;
	if (verdict == VG_VERDICT_DENY)
		vg_stat_inc(VG_STAT_PTRACE_DENY);
	s = vg_scratch_get();
	if (s) {
		ev = (void *)s->ev;
		vg_hdr_fill(&ev->hdr, VG_EV_PTRACE, profile);
		ev->hdr.verdict = verdict;
		ev->hdr.tier = VG_TIER_LSM;
		ev->target_tgid = BPF_CORE_READ(child, tgid);
		ev->mode = mode;
		ev->target_cgroup = BPF_CORE_READ(child, cgroups, dfl_cgrp, kn, id);
		BPF_CORE_READ_STR_INTO(&ev->target_comm, child, comm);
		vg_emit(ev, sizeof(*ev));
	}
	if (verdict == VG_VERDICT_DENY)
		return -VG_EPERM;
	return 0;
}

SEC("lsm/ptrace_access_check")
int BPF_PROG(vg_ptrace_check, struct task_struct *child, unsigned int mode, int ret)
{
	if (ret) /* an earlier LSM program already denied: keep its answer */
		return ret;
	/* An explicit branch: a conditional expression compiles (clang 14) into code whose return
	 * range the 6.12 verifier cannot bound to [-4095, 0]. */
	if (vg_ptrace_deny(child, mode))
		return -VG_EPERM;
	return 0;
}

/* The same check attached per agent cgroup (lsm_cgroup, 6.0+): tasks elsewhere never run it.
 * lsm_cgroup programs answer 1 (allow) or 0 (deny: the kernel returns -EPERM). */
SEC("lsm_cgroup/ptrace_access_check")
int BPF_PROG(vg_lc_ptrace, struct task_struct *child, unsigned int mode)
{
	if (vg_ptrace_deny(child, mode))
		return 0;
	return 1;
}
