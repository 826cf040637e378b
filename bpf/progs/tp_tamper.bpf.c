// SPDX-License-Identifier: GPL-2.0-only
/* tp_tamper.bpf.c - self-protection where no BPF LSM program can refuse (tier 2), and the
 * backstop where one can: tracepoints see the act as or after it happens, and kill the acting
 * agent before its syscall returns, so it never runs an instruction with the result. */
#include "tamper.bpf.h"

/* A task moved into a cgroup (cgroup.procs / cgroup.threads writes). Fires after the move, so
 * where the task came from is read from vg_agent_tasks, not from its cgroup. An agent moving
 * itself or another agent task out of the agent's subtree dies (a task it moved is killed by the
 * daemon when the event arrives: bpf_send_signal reaches only the current task); a non-agent
 * (an administrator, the kubelet) moving an agent out releases it, and that is not an attack. */
SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(vg_cg_attach, struct cgroup *dst_cgrp, const char *path, struct task_struct *task)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	__u32 mover = bpf_get_current_pid_tgid() >> 32;
	__u64 *root = bpf_map_lookup_elem(&vg_agent_tasks, &tgid);
	__u64 *mover_root, r;
	struct vg_agent *agent;
	__u32 profile;
	int verdict;

	if (!root) {
		/* A task that joins an agent cgroup after it was confined, and has not forked or
		 * exec'd since, is the agent's from now on: its next move out is an escape. */
		r = vg_cgroup_agent_root(dst_cgrp);
		if (r)
			bpf_map_update_elem(&vg_agent_tasks, &tgid, &r, BPF_ANY);
		return 0;
	}
	r = *root;
	if (vg_cgroup_within(dst_cgrp, r))
		return 0;
	mover_root = mover == tgid ? root : bpf_map_lookup_elem(&vg_agent_tasks, &mover);
	if (!mover_root) {
		bpf_map_delete_elem(&vg_agent_tasks, &tgid); /* released from outside */
		return 0;
	}
	agent = bpf_map_lookup_elem(&vg_agent_cgroups, &r);
	if (!agent)
		return 0;
	profile = agent->profile_id;
	verdict = vg_tamper_verdict(profile, 0);
	if (verdict == VG_VERDICT_NONE)
		return 0;
	vg_tamper_emit(profile, verdict, VG_TIER_NONE, VG_TAMPER_CGROUP_ESCAPE, 0, tgid,
		       BPF_CORE_READ(dst_cgrp, kn, id), path);
	vg_tamper_kill_current(verdict);
	return 0;
}

/* A signal an agent sends (kill, tgkill, rt_sigqueueinfo, pidfd_send_signal) to a task outside
 * its subtree. Loaded only where no task_kill LSM program refuses it first. Signals the kernel
 * generates on an agent's behalf (SIGCHLD to its parent, SIGPIPE, tty signals) carry other
 * si_codes and pass. */
SEC("tp_btf/signal_generate")
int BPF_PROG(vg_sig_gen, int sig, struct kernel_siginfo *info, struct task_struct *task)
{
	__u64 root;
	__u32 profile;
	int code, verdict;

	if (!sig || sig == VG_SIGCHLD)
		return 0;
	if ((unsigned long)info == 1) /* SEND_SIG_PRIV: from the kernel */
		return 0;
	code = info ? BPF_CORE_READ(info, si_code) : VG_SI_USER; /* NULL: SEND_SIG_NOINFO */
	if (code != VG_SI_USER && code != VG_SI_QUEUE && code != VG_SI_TKILL)
		return 0;
	profile = vg_agent_find(&root);
	if (!profile)
		return 0;
	if (vg_cgroup_within(BPF_CORE_READ(task, cgroups, dfl_cgrp), root))
		return 0;
	verdict = vg_tamper_verdict(profile, 0);
	if (verdict == VG_VERDICT_NONE)
		return 0;
	vg_tamper_emit(profile, verdict, VG_TIER_NONE, VG_TAMPER_SIGNAL, sig,
		       BPF_CORE_READ(task, tgid), BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id),
		       (const char *)task->comm);
	vg_tamper_kill_current(verdict);
	return 0;
}

/* bpf() by an agent, where no bpf LSM program refuses it. The call still runs (a tracepoint
 * cannot stop it); the caller dies before it returns, so an id or fd it got is never used. */
SEC("tracepoint/syscalls/sys_enter_bpf")
int vg_sys_bpf(struct trace_event_raw_sys_enter *ctx)
{
	__u64 root;
	__u32 profile = vg_agent_find(&root);
	int verdict;

	if (!profile)
		return 0;
	verdict = vg_tamper_verdict(profile, 0);
	if (verdict == VG_VERDICT_NONE)
		return 0;
	vg_tamper_emit(profile, verdict, VG_TIER_NONE, VG_TAMPER_BPF, (__s32)ctx->args[0], 0, 0,
		       NULL);
	vg_tamper_kill_current(verdict);
	return 0;
}
