// SPDX-License-Identifier: GPL-2.0-only
/* lsm_socket_connect.bpf.c - tier 1 egress enforcement for connect(2) on IPv4/IPv6 sockets
 * (TCP and UDP). Same decision and maps as the cgroup sock_addr tier. Fails open. */
#include "net.bpf.h"

static __always_inline int vg_connect_check(struct socket *sock, struct sockaddr *address,
					    int addrlen)
{
	return vg_egress_check(address, addrlen, BPF_CORE_READ(sock, sk, __sk_common.skc_family), 0);
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
