/* SPDX-License-Identifier: GPL-2.0-only */
/* net.bpf.h - the egress decision shared by every enforcing network hook (cgroup sock_addr now,
 * BPF LSM socket_connect/sendmsg where the kernel has it), and its report. */
#ifndef VG_NET_BPF_H
#define VG_NET_BPF_H

#include "task.bpf.h"

static __always_inline int vg_port_allowed(const struct vg_egress_val *val, __u16 port)
{
	int i;

	if (val->nranges == 0)
		return 1;
	for (i = 0; i < VG_PORT_RANGES; i++) {
		if (i >= val->nranges)
			break;
		if (port >= val->ranges[i].lo && port <= val->ranges[i].hi)
			return 1;
	}
	return 0;
}

/* Verdict for a destination (addr in the IPv6 space, port in host order) under a profile, for
 * an agent whose cgroup has the VG_AGENT_* flags given. An isolated agent (the response action)
 * is denied every destination, whatever the profile's modes: the operator asked for it. Else
 * fails open: no profile config, or enforcement off, allows. */
static __always_inline int vg_egress_verdict(__u32 profile, __u32 agent_flags, const __u8 *addr,
					     __u16 port)
{
	struct vg_egress_key key = {};
	const struct vg_profile_cfg *cfg;
	const struct vg_egress_val *val;

	if (agent_flags & VG_AGENT_ISOLATED)
		return VG_VERDICT_DENY;
	cfg = bpf_map_lookup_elem(&vg_profiles, &profile);
	if (!cfg || cfg->net_mode == VG_MODE_OFF)
		return VG_VERDICT_ALLOW;
	key.prefixlen = 32 + 128;
	key.profile_id = bpf_htonl(profile);
	__builtin_memcpy(key.addr, addr, 16);
	val = bpf_map_lookup_elem(&vg_egress, &key);
	if (val && vg_port_allowed(val, port))
		return VG_VERDICT_ALLOW;
	return cfg->net_mode == VG_MODE_ENFORCE ? VG_VERDICT_DENY : VG_VERDICT_AUDIT;
}

/* The record flag that says an isolated agent's connect was refused for that reason. */
static __always_inline __u16 vg_isolated_flag(__u32 agent_flags)
{
	return (agent_flags & VG_AGENT_ISOLATED) ? VG_F_ISOLATED : 0;
}

/* Starts a connect record for a non-allow verdict (NULL when there is no scratch), and tells
 * the connect tracepoint exit (if this is a connect(2) in progress) that the syscall is already
 * reported. The caller fills the destination and emits. */
static __always_inline struct vg_event_connect *
vg_connect_begin(__u32 profile, int verdict, __u8 tier, __u16 flags)
{
	struct vg_event_connect *ev;
	struct vg_scratch *s;
	struct vg_stash *st;
	__u64 key = bpf_get_current_pid_tgid();

	st = bpf_map_lookup_elem(&vg_stash_map, &key);
	if (verdict == VG_VERDICT_NONE) {
		/* an observation: the opt-in connect tracepoint, when it runs, reports the call with
		 * its result instead */
		if (st)
			return NULL;
		tier = VG_TIER_NONE; /* nothing decided it */
	} else if (st && !(flags & VG_F_SENDMSG)) {
		st->reported = 1;
	}
	s = vg_scratch_get();
	if (!s)
		return NULL;
	ev = (void *)s->ev;
	__builtin_memset((void *)ev + sizeof(ev->hdr), 0, sizeof(*ev) - sizeof(ev->hdr));
	vg_hdr_fill(&ev->hdr, VG_EV_CONNECT, profile);
	ev->hdr.flags = flags;
	ev->hdr.verdict = verdict;
	ev->hdr.tier = tier;
	ev->ret = verdict == VG_VERDICT_DENY ? -VG_EPERM : 0;
	ev->fd = -1;
	return ev;
}

/* Reports a verdict on an IP destination as a connect record. VG_VERDICT_NONE is an allowed
 * connect seen by the hook that decided it: an observation (it counts against the agent's event
 * rate), which is how agent connects are observed without syscall tracepoints. */
static __always_inline void vg_report_egress(__u32 profile, int verdict, __u8 tier, __u16 family,
					     const __u8 *addr, __u16 port, __u16 flags)
{
	struct vg_event_connect *ev;

	if (verdict != VG_VERDICT_NONE)
		vg_stat_inc(verdict == VG_VERDICT_DENY ? VG_STAT_NET_DENY : VG_STAT_NET_AUDIT);
	ev = vg_connect_begin(profile, verdict, tier, flags);
	if (!ev)
		return;
	ev->family = family;
	ev->port = port;
	if (family == VG_AF_INET)
		__builtin_memcpy(ev->addr, addr + 12, 4);
	else
		__builtin_memcpy(ev->addr, addr, 16);
	vg_emit(ev, sizeof(*ev));
}

/* RFC 2133's sockaddr_in6, without sin6_scope_id: the kernel accepts it for IPv6 connect and
 * sendmsg (SIN6_LEN_RFC2133 in inet6/tcp/udp/ping: "addr_len < SIN6_LEN_RFC2133" is the test). */
#define VG_SIN6_LEN_RFC2133 24

/* The destination the kernel will use for a caller's sockaddr copy (len bytes) on a socket of
 * family sk_family, in the IPv6 space; 0 when the call names no IP destination. Mirrors the
 * kernel's own parsing, not the address's claims: an IPv6 address needs only 24 bytes
 * (RFC 2133), and udp_sendmsg() on an IPv4 socket takes an AF_UNSPEC address as IPv4 (a
 * legacy of BSD), so checking sa_family alone would let both through unseen. */
static __always_inline int vg_sockaddr_read(const void *kaddr, int len, __u16 sk_family,
					    int sendmsg, __u8 *addr, __u16 *port, __u16 *family)
{
	struct sockaddr_in6 in6 = {}; /* large enough for both families */

	if (!kaddr || len < (int)sizeof(struct sockaddr_in))
		return 0;
	bpf_probe_read_kernel(&in6, sizeof(struct sockaddr_in), kaddr);
	*family = in6.sin6_family;
	if (*family == VG_AF_UNSPEC && sendmsg && sk_family == VG_AF_INET)
		*family = VG_AF_INET;
	if (*family == VG_AF_INET) {
		struct sockaddr_in *in = (void *)&in6;

		addr[10] = 0xff;
		addr[11] = 0xff;
		__builtin_memcpy(&addr[12], &in->sin_addr, 4);
		*port = bpf_ntohs(in->sin_port);
		return 1;
	}
	if (*family == VG_AF_INET6 && len >= VG_SIN6_LEN_RFC2133) {
		/* the 24 bytes every accepted length has: family, port, flowinfo, address */
		bpf_probe_read_kernel(&in6, VG_SIN6_LEN_RFC2133, kaddr);
		__builtin_memcpy(addr, &in6.sin6_addr, 16);
		*port = bpf_ntohs(in6.sin6_port);
		return 1;
	}
	return 0;
}

/* The tier-1 egress check of one destination: decide, report a non-allow verdict, and return
 * -EPERM to deny or 0. */
static __always_inline int vg_egress_check(const void *kaddr, int len, __u16 sk_family,
					   __u16 flags)
{
	__u8 addr[16] = {};
	__u16 family = 0, port = 0;
	__u32 profile, agent_flags = 0;
	int verdict;

	profile = vg_agent_profile_flags(&agent_flags);
	if (!profile || !vg_sockaddr_read(kaddr, len, sk_family, flags & VG_F_SENDMSG, addr, &port,
					  &family))
		return 0;
	verdict = vg_egress_verdict(profile, agent_flags, addr, port);
	if (verdict == VG_VERDICT_ALLOW) {
		if (!(flags & VG_F_SENDMSG)) /* datagrams are not observed one by one */
			vg_report_egress(profile, VG_VERDICT_NONE, VG_TIER_LSM, family, addr, port, 0);
		return 0;
	}
	vg_report_egress(profile, verdict, VG_TIER_LSM, family, addr, port,
			 flags | vg_isolated_flag(agent_flags));
	if (verdict == VG_VERDICT_DENY)
		return -VG_EPERM;
	return 0;
}

#endif /* VG_NET_BPF_H */
