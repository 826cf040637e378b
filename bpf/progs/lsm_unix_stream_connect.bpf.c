// SPDX-License-Identifier: GPL-2.0-only
/* lsm_unix_stream_connect.bpf.c - an agent connecting to a unix stream socket served from
 * outside its cgroup (a credential cache, ssh-agent, a container runtime) is denied unless the
 * profile allows that socket. Fails open. */
#include "ipc.bpf.h"

static __always_inline int vg_unix_conn_check(struct sock *sock, struct sock *other, struct sock *newsk)
{
	__u32 profile = 0;
	int verdict;

	verdict = vg_unix_verdict(other, &profile);
	if (verdict == VG_VERDICT_ALLOW) {
		if (profile) /* an agent's allowed connect: observed where it is decided */
			vg_report_unix(profile, VG_VERDICT_NONE, other, 0);
		return 0;
	}
	vg_report_unix(profile, verdict, other, 0);
	if (verdict == VG_VERDICT_DENY)
		return -VG_EPERM;
	return 0;
}

SEC("lsm/unix_stream_connect")
int BPF_PROG(vg_unix_connect, struct sock *sock, struct sock *other, struct sock *newsk, int ret)
{
	if (ret) /* an earlier LSM program already denied: keep its answer */
		return ret;
	/* An explicit branch: a conditional expression compiles (clang 14) into code whose return
	 * range the 6.12 verifier cannot bound to [-4095, 0]. */
	if (vg_unix_conn_check(sock, other, newsk))
		return -VG_EPERM;
	return 0;
}

/* The same check attached per agent cgroup (lsm_cgroup, 6.0+): tasks elsewhere never run it.
 * lsm_cgroup programs answer 1 (allow) or 0 (deny: the kernel returns -EPERM). */
SEC("lsm_cgroup/unix_stream_connect")
int BPF_PROG(vg_lc_unix_conn, struct sock *sock, struct sock *other, struct sock *newsk)
{
	if (vg_unix_conn_check(sock, other, newsk))
		return 0;
	return 1;
}
