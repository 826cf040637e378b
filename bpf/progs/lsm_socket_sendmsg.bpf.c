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
	struct sockaddr_in6 ss = {}; /* large enough for both families */
	__u8 addr[16] = {};
	void *name;
	__u16 family, port = 0;
	__u32 profile;
	int verdict, namelen;
	short type;

	profile = vg_agent_profile();
	if (!profile)
		return 0;
	name = BPF_CORE_READ(msg, msg_name);
	namelen = BPF_CORE_READ(msg, msg_namelen);
	if (!name || namelen < (int)sizeof(struct sockaddr_in))
		return 0;
	type = BPF_CORE_READ(sock, type);
	if (type == VG_SOCK_STREAM && !(BPF_CORE_READ(msg, msg_flags) & VG_MSG_FASTOPEN))
		return 0;
	if (type != VG_SOCK_STREAM && type != VG_SOCK_DGRAM)
		return 0;
	bpf_probe_read_kernel(&ss, sizeof(ss), name);
	family = ss.sin6_family;
	if (family == VG_AF_INET) {
		struct sockaddr_in *in = (void *)&ss;

		addr[10] = 0xff;
		addr[11] = 0xff;
		__builtin_memcpy(&addr[12], &in->sin_addr, 4);
		port = bpf_ntohs(in->sin_port);
	} else if (family == VG_AF_INET6 && namelen >= (int)sizeof(struct sockaddr_in6)) {
		struct sockaddr_in6 *in6 = (void *)&ss;

		__builtin_memcpy(addr, &in6->sin6_addr, 16);
		port = bpf_ntohs(in6->sin6_port);
	} else {
		return 0;
	}
	verdict = vg_egress_verdict(profile, addr, port);
	if (verdict == VG_VERDICT_ALLOW)
		return 0;
	vg_report_egress(profile, verdict, VG_TIER_LSM, family, addr, port,
			 type == VG_SOCK_DGRAM ? VG_F_SENDMSG : 0);
	if (verdict == VG_VERDICT_DENY)
		return -VG_EPERM;
	return 0;
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
