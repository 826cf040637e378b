// SPDX-License-Identifier: GPL-2.0-only
/* lsm_socket_connect.bpf.c - tier 1 egress enforcement for connect(2) on IPv4/IPv6 sockets
 * (TCP and UDP). Same decision and maps as the cgroup sock_addr tier. Fails open. */
#include "net.bpf.h"

static __always_inline int vg_connect_check(struct socket *sock, struct sockaddr *address, int addrlen)
{
	__u8 addr[16] = {};
	__u16 family, port = 0;
	__u32 profile;
	int verdict;

	profile = vg_agent_profile();
	if (!profile)
		return 0;
	family = BPF_CORE_READ(address, sa_family);
	if (family == VG_AF_INET && addrlen >= (int)sizeof(struct sockaddr_in)) {
		struct sockaddr_in in = {};

		bpf_probe_read_kernel(&in, sizeof(in), address);
		addr[10] = 0xff;
		addr[11] = 0xff;
		__builtin_memcpy(&addr[12], &in.sin_addr, 4);
		port = bpf_ntohs(in.sin_port);
	} else if (family == VG_AF_INET6 && addrlen >= (int)sizeof(struct sockaddr_in6)) {
		struct sockaddr_in6 in6 = {};

		bpf_probe_read_kernel(&in6, sizeof(in6), address);
		__builtin_memcpy(addr, &in6.sin6_addr, 16);
		port = bpf_ntohs(in6.sin6_port);
	} else {
		return 0;
	}
	verdict = vg_egress_verdict(profile, addr, port);
	if (verdict == VG_VERDICT_ALLOW)
		return 0;
	vg_report_egress(profile, verdict, VG_TIER_LSM, family, addr, port, 0);
	if (verdict == VG_VERDICT_DENY)
		return -VG_EPERM;
	return 0;
}

SEC("lsm/socket_connect")
int BPF_PROG(vg_sock_connect, struct socket *sock, struct sockaddr *address, int addrlen, int ret)
{
	if (ret) /* an earlier LSM program already denied: keep its answer */
		return ret;
	/* An explicit branch: a conditional expression compiles (clang 14) into code whose return
	 * range the 6.12 verifier cannot bound to [-4095, 0]. */
	if (vg_connect_check(sock, address, addrlen))
		return -VG_EPERM;
	return 0;
}

/* The same check attached per agent cgroup (lsm_cgroup, 6.0+): tasks elsewhere never run it.
 * lsm_cgroup programs answer 1 (allow) or 0 (deny: the kernel returns -EPERM). */
SEC("lsm_cgroup/socket_connect")
int BPF_PROG(vg_lc_sock_conn, struct socket *sock, struct sockaddr *address, int addrlen)
{
	if (vg_connect_check(sock, address, addrlen))
		return 0;
	return 1;
}
