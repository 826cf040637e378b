// SPDX-License-Identifier: GPL-2.0-only
/* tp_sched_process_fork.bpf.c - a new process in an agent cgroup (threads are skipped: the
 * process table tracks processes). Records the child in vg_agent_tasks, and catches a child
 * placed outside the agent's subtree (tier 2; tier 1 refuses it in task_alloc). */
#include "tamper.bpf.h"

SEC("tp_btf/sched_process_fork")
int BPF_PROG(vg_fork, struct task_struct *parent, struct task_struct *child)
{
	struct vg_event_fork *ev;
	struct vg_scratch *s;
	__u32 profile, tgid = BPF_CORE_READ(child, tgid);
	__u64 root;
	int verdict;

	if (BPF_CORE_READ(child, pid) != tgid)
		return 0;
	profile = vg_agent_find(&root);
	if (!profile)
		return 0;
	bpf_map_update_elem(&vg_agent_tasks, &tgid, &root, BPF_ANY);
	/* A child born outside the parent's subtree: clone3(CLONE_INTO_CGROUP) where no LSM hook
	 * refused it. The parent dies before clone3 returns; the child (target_tgid) is killed by
	 * the daemon when this event arrives (bpf_send_signal reaches only the current task). */
	if (!vg_cgroup_within(BPF_CORE_READ(child, cgroups, dfl_cgrp), root)) {
		verdict = vg_tamper_verdict(profile, 0);
		if (verdict != VG_VERDICT_NONE) {
			vg_tamper_emit(profile, verdict, VG_TIER_NONE, VG_TAMPER_CLONE_CGROUP, 0, tgid,
				       BPF_CORE_READ(child, cgroups, dfl_cgrp, kn, id), NULL);
			vg_tamper_kill_current(verdict);
		}
	}
	s = vg_scratch_get();
	if (!s)
		return 0;
	ev = (void *)s->ev;
	vg_hdr_fill(&ev->hdr, VG_EV_FORK, profile);
	ev->child_tgid = BPF_CORE_READ(child, tgid);
	ev->pad = 0;
	vg_emit(ev, sizeof(*ev));
	return 0;
}
