// SPDX-License-Identifier: GPL-2.0-only
/* tp_sched_process_fork.bpf.c - a new process in an agent cgroup (threads are skipped: the
 * process table tracks processes). Observe only. */
#include "task.bpf.h"

SEC("tp_btf/sched_process_fork")
int BPF_PROG(vg_fork, struct task_struct *parent, struct task_struct *child)
{
	struct vg_event_fork *ev;
	struct vg_scratch *s;
	__u32 profile;

	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return 0;
	profile = vg_agent_profile();
	if (!profile)
		return 0;
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
