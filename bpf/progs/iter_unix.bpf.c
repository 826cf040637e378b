// SPDX-License-Identifier: GPL-2.0-only
/* iter_unix.bpf.c - unix socket names held by agents (vg_unix_bound), for the tier-2 unix
 * programs (cg_unix.bpf.c): a server in the agent stays reachable from the agent. A BPF
 * iterator over every unix socket of the kernel (5.17+; the cgroup unix hooks it serves are
 * 6.7+), run by userspace when a name may have appeared: before an agent's listen(2) goes on
 * (vigil run's launch filter), and after a unix name was refused. It replaces the bind(2)
 * tracepoints, which taxed every syscall of every process on the machine. Records the socket
 * itself; every use checks it again (still bound to that name, in the agent, at that path). */
#include "ipc.bpf.h"

SEC("iter/unix")
int vg_iter_unix(struct bpf_iter__unix *ctx)
{
	struct unix_sock *u = ctx->unix_sk;
	struct vg_unix_key name = {};
	struct sock *sk;
	__u64 root, skp;

	if (!u)
		return 0;
	sk = (struct sock *)u; /* struct unix_sock begins with its struct sock */
	root = vg_cgroup_agent_root(BPF_CORE_READ(sk, sk_cgrp_data.cgroup));
	if (!root)
		return 0;
	vg_unix_sock_name(sk, &name);
	if (!name.len)
		return 0;
	name.owner = root;
	skp = (__u64)sk;
	bpf_map_update_elem(&vg_unix_bound, &name, &skp, BPF_ANY);
	return 0;
}
