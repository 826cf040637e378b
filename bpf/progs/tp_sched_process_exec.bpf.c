// SPDX-License-Identifier: GPL-2.0-only
/* tp_sched_process_exec.bpf.c - a new program image in an agent cgroup: the executable as the
 * kernel resolved it (identity and path), its argv and its watched environment variables.
 * Observe only. */
#include "task.bpf.h"
#include "path.bpf.h"
#include "env.bpf.h"

/* The object's license; one file carries it for the linked object. */
char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/sched_process_exec")
int BPF_PROG(vg_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct vg_event_exec *ev;
	struct vg_scratch *s;
	struct file *file;
	unsigned long arg_start, arg_end;
	__u32 profile, path_len, args_len, env_len, off;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 root;

	profile = vg_agent_find(&root);
	if (!profile)
		return 0;
	bpf_map_update_elem(&vg_agent_tasks, &tgid, &root, BPF_ANY); /* see tp_tamper.bpf.c */
	s = vg_scratch_get();
	if (!s)
		return 0;
	ev = (void *)s->ev;
	vg_hdr_fill(&ev->hdr, VG_EV_EXEC, profile);
	ev->ppid = BPF_CORE_READ(p, real_parent, tgid);
	ev->old_tid = old_pid;
	ev->loginuid = BPF_CORE_READ(p, loginuid.val);
	file = BPF_CORE_READ(bprm, file);
	vg_inode_id(BPF_CORE_READ(file, f_inode), &ev->exe_dev, &ev->exe_ino);
	ev->pad = 0;
	ev->env_len = 0;
	path_len = vg_path_copy(s, &file->f_path, ev->tail, &ev->hdr.flags);
	ev->path_len = path_len;

	arg_start = BPF_CORE_READ(p, mm, arg_start);
	arg_end = BPF_CORE_READ(p, mm, arg_end);
	args_len = arg_end - arg_start;
	if (args_len > VG_ARGS_MAX)
		args_len = VG_ARGS_MAX;
	path_len &= (VG_PATH_MAX * 2 - 1); /* proves tail + path_len + args stays in ev[] */
	if (bpf_probe_read_user(ev->tail + path_len, args_len, (void *)arg_start))
		args_len = 0;
	ev->args_len = args_len;

	env_len = vg_env_collect(p, &ev->hdr.flags);
	if (env_len > VG_ENV_MAX)
		env_len = 0;
	off = (path_len + args_len) & (VG_PATH_MAX * 2 - 1);
	if (env_len && bpf_probe_read_kernel(ev->tail + off, env_len, &s->path[VG_ENV_OUT]))
		env_len = 0;
	ev->env_len = env_len;
	vg_emit(ev, sizeof(*ev) + path_len + args_len + env_len);
	return 0;
}
