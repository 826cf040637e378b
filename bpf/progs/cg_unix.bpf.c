// SPDX-License-Identifier: GPL-2.0-only
/* cg_unix.bpf.c - unix socket side channels where BPF LSM is unavailable: the cgroup unix
 * address hooks of kernel 6.7+, attached to each agent cgroup like the sock_addr programs.
 * connect_unix covers connect(2) of stream, seqpacket and datagram sockets; sendmsg_unix covers
 * datagrams sent with a destination (sendto, sendmsg). Return 1 allows, 0 denies (EPERM).
 *
 * libbpf 1.1 (Debian 12) knows no cgroup/connect_unix section: the programs carry a sock_addr
 * section it knows and the loader sets their expected attach types by number
 * (BPF_CGROUP_UNIX_CONNECT, BPF_CGROUP_UNIX_SENDMSG) before load. */
#include "ipc.bpf.h"

/* 6.2+; weak so that kernels without it still load the object (these programs are then not
 * loaded: the loader switches them off below 6.7). */
extern void *bpf_cast_to_kern_ctx(void *obj) __ksym __weak;

static __always_inline int vg_cg_unix(struct bpf_sock_addr *ctx, __u16 flags)
{
	struct bpf_sock_addr_kern *sa = bpf_cast_to_kern_ctx(ctx);

	if (!sa)
		return 1;
	return vg_cg_unix_check(sa->sk, sa->uaddr, sa->uaddrlen, flags);
}

SEC("cgroup/connect4")
int vg_cg_conn_unix(struct bpf_sock_addr *ctx)
{
	return vg_cg_unix(ctx, 0);
}

SEC("cgroup/sendmsg4")
int vg_cg_send_unix(struct bpf_sock_addr *ctx)
{
	return vg_cg_unix(ctx, VG_F_SENDMSG);
}
