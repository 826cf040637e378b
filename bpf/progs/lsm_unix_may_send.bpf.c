// SPDX-License-Identifier: GPL-2.0-only
/* lsm_unix_may_send.bpf.c - the datagram twin of unix_stream_connect: an agent sending to a
 * unix datagram socket (connect or sendto) owned outside its cgroup. Fails open. */
#include "ipc.bpf.h"

SEC("lsm/unix_may_send")
int BPF_PROG(vg_unix_send, struct socket *sock, struct socket *other, int ret)
{
	struct sock *peer;
	__u32 profile = 0;
	int verdict;

	if (ret)
		return ret;
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
