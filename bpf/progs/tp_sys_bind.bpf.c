// SPDX-License-Identifier: GPL-2.0-only
/* tp_sys_bind.bpf.c - unix socket names bound by agents (vg_unix_bound), for the tier-2 unix
 * programs (cg_unix.bpf.c): a dev server in the agent stays reachable from the agent. This
 * kernel has no kprobes (CONFIG_KPROBES off) and no tracepoint in the unix bind path, so the
 * syscall's exit reads the name the kernel stored on the socket itself (never the caller's
 * copy) once bind(2) succeeded. Every bind on the host runs the entry; only agents go further. */
#include "ipc.bpf.h"

SEC("tracepoint/syscalls/sys_enter_bind")
int vg_enter_bind(struct trace_event_raw_sys_enter *ctx)
{
	__u64 key = bpf_get_current_pid_tgid();
	__s32 fd = ctx->args[0];

	if (!vg_agent_profile())
		return 0;
	bpf_map_update_elem(&vg_bind_stash, &key, &fd, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_bind")
int vg_exit_bind(struct trace_event_raw_sys_exit *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 key = bpf_get_current_pid_tgid(), root = 0, skp;
	struct vg_unix_key name = {};
	struct file **fds;
	struct file *file;
	struct socket *sock;
	struct sock *sk;
	__s32 *fd;

	fd = bpf_map_lookup_elem(&vg_bind_stash, &key);
	if (!fd)
		return 0;
	if (ctx->ret != 0 || *fd < 0 || !vg_agent_find(&root))
		goto out;
	fds = BPF_CORE_READ(task, files, fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[*fd & 0xffff]) || !file)
		goto out;
	sock = BPF_CORE_READ(file, private_data);
	sk = sock ? BPF_CORE_READ(sock, sk) : NULL;
	if (!sk || BPF_CORE_READ(sk, __sk_common.skc_family) != VG_AF_UNIX)
		goto out;
	vg_unix_sock_name(sk, &name);
	if (!name.len)
		goto out;
	name.owner = root;
	skp = (__u64)sk;
	bpf_map_update_elem(&vg_unix_bound, &name, &skp, BPF_ANY);
out:
	bpf_map_delete_elem(&vg_bind_stash, &key);
	return 0;
}
