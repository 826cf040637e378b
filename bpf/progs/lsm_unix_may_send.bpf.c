// SPDX-License-Identifier: GPL-2.0-only
/* lsm_unix_may_send.bpf.c - the datagram twin of unix_stream_connect: an agent sending to a
 * unix datagram socket (connect or sendto) owned outside its cgroup. Fails open. */
#include "ipc.bpf.h"

static __always_inline int vg_unix_send_check(struct socket *sock, struct socket *other)
{
	struct sock *peer;
	__u32 profile = 0;
	int verdict;

	peer = BPF_CORE_READ(other, sk);
	if (!peer)
		return 0;
	verdict = vg_unix_verdict(peer, &profile);
	if (verdict == VG_VERDICT_ALLOW)
		return 0;
	vg_report_unix(profile, verdict, peer, VG_F_SENDMSG);
	if (verdict == VG_VERDICT_DENY)
		return -VG_EPERM;
	return 0;
}

SEC("lsm/unix_may_send")
int BPF_PROG(vg_unix_send, struct socket *sock, struct socket *other, int ret)
{
	if (ret) /* an earlier LSM program already denied: keep its answer */
		return ret;
	/* An explicit branch: a conditional expression compiles (clang 14) into code whose return
	 * range the 6.12 verifier cannot bound to [-4095, 0]. */
	if (vg_unix_send_check(sock, other))
		return -VG_EPERM;
	return 0;
}

/* The same check attached per agent cgroup (lsm_cgroup, 6.0+): tasks elsewhere never run it.
 * lsm_cgroup programs answer 1 (allow) or 0 (deny: the kernel returns -EPERM). */
SEC("lsm_cgroup/unix_may_send")
int BPF_PROG(vg_lc_unix_send, struct socket *sock, struct socket *other)
{
	if (vg_unix_send_check(sock, other))
		return 0;
	return 1;
}
