// SPDX-License-Identifier: GPL-2.0-only
/* lsm_socket_sendmsg.bpf.c - tier 1 egress enforcement for sends that name a destination:
 * UDP sendto/sendmsg without connect, and TCP fast open (sendto with MSG_FASTOPEN connects
 * without passing through socket_connect). A TCP send to an address on a connected socket is
 * left alone: the kernel ignores that address. Fails open. */
#include "net.bpf.h"

#define VG_SOCK_STREAM 1
#define VG_SOCK_DGRAM 2
#define VG_MSG_FASTOPEN 0x20000000

static __always_inline int vg_sendmsg_check(struct socket *sock, struct msghdr *msg, int size)
{
	short type = BPF_CORE_READ(sock, type);

	if (type == VG_SOCK_STREAM && !(BPF_CORE_READ(msg, msg_flags) & VG_MSG_FASTOPEN))
		return 0;
	if (type != VG_SOCK_STREAM && type != VG_SOCK_DGRAM)
		return 0;
	return vg_egress_check(BPF_CORE_READ(msg, msg_name), BPF_CORE_READ(msg, msg_namelen),
			       BPF_CORE_READ(sock, sk, __sk_common.skc_family),
			       type == VG_SOCK_DGRAM ? VG_F_SENDMSG : 0);
}

SEC("lsm/socket_sendmsg")
int BPF_PROG(vg_sock_sendmsg, struct socket *sock, struct msghdr *msg, int size, int ret)
{
	if (ret) /* an earlier LSM program already denied: keep its answer */
		return ret;
	/* An explicit branch: a conditional expression compiles (clang 14) into code whose return
	 * range the 6.12 verifier cannot bound to [-4095, 0]. */
	if (vg_sendmsg_check(sock, msg, size))
		return -VG_EPERM;
	return 0;
}

/* The same check attached per agent cgroup (lsm_cgroup, 6.0+): tasks elsewhere never run it.
 * lsm_cgroup programs answer 1 (allow) or 0 (deny: the kernel returns -EPERM). */
SEC("lsm_cgroup/socket_sendmsg")
int BPF_PROG(vg_lc_sock_send, struct socket *sock, struct msghdr *msg, int size)
{
	if (vg_sendmsg_check(sock, msg, size))
		return 0;
	return 1;
}
