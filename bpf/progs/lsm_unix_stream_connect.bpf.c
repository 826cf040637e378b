// SPDX-License-Identifier: GPL-2.0-only
/* lsm_unix_stream_connect.bpf.c - an agent connecting to a unix stream socket served from
 * outside its cgroup (a credential cache, ssh-agent, a container runtime) is denied unless the
 * profile allows that socket. Fails open. */
#include "ipc.bpf.h"

SEC("lsm/unix_stream_connect")
int BPF_PROG(vg_unix_connect, struct sock *sock, struct sock *other, struct sock *newsk, int ret)
{
	__u32 profile = 0;
	int verdict;

	if (ret)
		return ret;
	verdict = vg_unix_verdict(other, &profile);
	if (verdict == VG_VERDICT_ALLOW)
		return 0;
	vg_report_unix(profile, verdict, other, 0);
	if (verdict == VG_VERDICT_DENY)
		return -VG_EPERM;
	return 0;
}
