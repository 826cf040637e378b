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

/* Verdict for a destination (addr in the IPv6 space, port in host order) under a profile.
 * Fails open: no profile config, or enforcement off, allows. */
static __always_inline int vg_egress_verdict(__u32 profile, const __u8 *addr, __u16 port)
{
	struct vg_egress_key key = {};
	const struct vg_profile_cfg *cfg;
	const struct vg_egress_val *val;

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

/* Reports a non-allow verdict as a connect record, and tells the connect tracepoint exit (if
 * this is a connect(2) in progress) that the syscall is already reported. */
static __always_inline void vg_report_egress(__u32 profile, int verdict, __u8 tier, __u16 family,
					     const __u8 *addr, __u16 port, __u16 flags)
{
	struct vg_event_connect *ev;
	struct vg_scratch *s;
	struct vg_stash *st;
	__u64 key = bpf_get_current_pid_tgid();

	vg_stat_inc(verdict == VG_VERDICT_DENY ? VG_STAT_NET_DENY : VG_STAT_NET_AUDIT);
	st = bpf_map_lookup_elem(&vg_stash_map, &key);
	if (st && !(flags & VG_F_SENDMSG))
		st->reported = 1;
	s = vg_scratch_get();
	if (!s)
		return;
	ev = (void *)s->ev;
	__builtin_memset((void *)ev + sizeof(ev->hdr), 0, sizeof(*ev) - sizeof(ev->hdr));
	vg_hdr_fill(&ev->hdr, VG_EV_CONNECT, profile);
	ev->hdr.flags = flags;
	ev->hdr.verdict = verdict;
	ev->hdr.tier = tier;
	ev->ret = verdict == VG_VERDICT_DENY ? -VG_EPERM : 0;
	ev->family = family;
	ev->port = port;
	ev->fd = -1;
	if (family == VG_AF_INET)
		__builtin_memcpy(ev->addr, addr + 12, 4);
	else
		__builtin_memcpy(ev->addr, addr, 16);
	vg_emit(ev, sizeof(*ev));
}

#endif /* VG_NET_BPF_H */
