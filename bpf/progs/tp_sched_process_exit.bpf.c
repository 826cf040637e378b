// SPDX-License-Identifier: GPL-2.0-only
/* tp_sched_process_exit.bpf.c - a thread group leader in an agent cgroup exits. Observe only;
 * forgets the process in vg_agent_tasks. */
#include "task.bpf.h"

SEC("tp_btf/sched_process_exit")
int BPF_PROG(vg_exit, struct task_struct *p)
{
	struct vg_event_exit *ev;
	struct vg_scratch *s;
	__u32 profile, tgid = BPF_CORE_READ(p, tgid);

	if (BPF_CORE_READ(p, pid) != tgid)
		return 0;
	/* every leader's exit, agent or not: a task that escaped is no longer found below */
	bpf_map_delete_elem(&vg_agent_tasks, &tgid);
	profile = vg_agent_profile();
	if (!profile)
		return 0;
	s = vg_scratch_get();
	if (!s)
		return 0;
	ev = (void *)s->ev;
	vg_hdr_fill(&ev->hdr, VG_EV_EXIT, profile);
	ev->exit_code = BPF_CORE_READ(p, exit_code);
	ev->pad = 0;
	vg_emit(ev, sizeof(*ev));
	return 0;
}
