// SPDX-License-Identifier: GPL-2.0-only
/* cg_sock_addr.bpf.c - network enforcement where BPF LSM is unavailable: cgroup sock_addr hooks
 * attached to each agent cgroup (and so inherited by its sub-cgroups). connect4/6 cover
 * connect(2) and TCP fast open (the kernel runs the connect hook from tcp_sendmsg_fastopen);
 * sendmsg4/6 cover UDP sendto/sendmsg with a destination address. Return 1 allows, 0 denies with
 * EPERM. Fails open: an internal miss allows. */
#include "net.bpf.h"

static __always_inline int vg_sock_addr4(struct bpf_sock_addr *ctx, __u16 flags)
{
	__u8 addr[16] = {};
	__u32 ip4 = ctx->user_ip4;
	__u16 port = bpf_ntohs(ctx->user_port);
	__u32 agent_flags = 0;
	__u32 profile = vg_agent_profile_flags(&agent_flags);
	int verdict;

	if (!profile)
		return 1;
	addr[10] = 0xff;
	addr[11] = 0xff;
	__builtin_memcpy(&addr[12], &ip4, 4);
	verdict = vg_egress_verdict(profile, agent_flags, addr, port);
	if (verdict == VG_VERDICT_ALLOW) {
		if (!(flags & VG_F_SENDMSG)) /* the connect observed where it is decided */
			vg_report_egress(profile, VG_VERDICT_NONE, VG_TIER_CGROUP, VG_AF_INET, addr,
					 port, 0);
		return 1;
	}
	vg_report_egress(profile, verdict, VG_TIER_CGROUP, VG_AF_INET, addr, port,
			 flags | vg_isolated_flag(agent_flags));
	return verdict == VG_VERDICT_DENY ? 0 : 1;
}

static __always_inline int vg_sock_addr6(struct bpf_sock_addr *ctx, __u16 flags)
{
	__u32 ip6[4];
	__u16 port = bpf_ntohs(ctx->user_port);
	__u32 agent_flags = 0;
	__u32 profile = vg_agent_profile_flags(&agent_flags);
	int verdict;

	if (!profile)
		return 1;
	/* user_ip6 must be read as 4-byte words (the verifier rejects other access sizes). */
	ip6[0] = ctx->user_ip6[0];
	ip6[1] = ctx->user_ip6[1];
	ip6[2] = ctx->user_ip6[2];
	ip6[3] = ctx->user_ip6[3];
	verdict = vg_egress_verdict(profile, agent_flags, (const __u8 *)ip6, port);
	if (verdict == VG_VERDICT_ALLOW) {
		if (!(flags & VG_F_SENDMSG))
			vg_report_egress(profile, VG_VERDICT_NONE, VG_TIER_CGROUP, VG_AF_INET6,
					 (const __u8 *)ip6, port, 0);
		return 1;
	}
	vg_report_egress(profile, verdict, VG_TIER_CGROUP, VG_AF_INET6, (const __u8 *)ip6, port,
			 flags | vg_isolated_flag(agent_flags));
	return verdict == VG_VERDICT_DENY ? 0 : 1;
}

SEC("cgroup/connect4")
int vg_cg_connect4(struct bpf_sock_addr *ctx)
{
	return vg_sock_addr4(ctx, 0);
}

SEC("cgroup/connect6")
int vg_cg_connect6(struct bpf_sock_addr *ctx)
{
	return vg_sock_addr6(ctx, 0);
}

SEC("cgroup/sendmsg4")
int vg_cg_sendmsg4(struct bpf_sock_addr *ctx)
{
	return vg_sock_addr4(ctx, VG_F_SENDMSG);
}

SEC("cgroup/sendmsg6")
int vg_cg_sendmsg6(struct bpf_sock_addr *ctx)
{
	return vg_sock_addr6(ctx, VG_F_SENDMSG);
}
