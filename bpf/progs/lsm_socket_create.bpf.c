// SPDX-License-Identifier: GPL-2.0-only
/* lsm_socket_create.bpf.c - raw IP (AF_INET/AF_INET6 SOCK_RAW) and packet (AF_PACKET) sockets
 * craft their own headers, so no connect or sendmsg hook sees a destination: an agent may not
 * create them unless its profile says egress.raw_sockets: allow. Other families' SOCK_RAW is not
 * IP (netlink's, which glibc's getifaddrs opens: node's os.networkInterfaces, npm), as the launch
 * filter of tier 2 judges it. Kernel-internal sockets are not checked. Fails open. */
#include "net.bpf.h"

#define VG_AF_PACKET 17
#define VG_SOCK_RAW 3
#define VG_SOCK_TYPE_MASK 0xf

static __always_inline int vg_sock_create_check(int family, int type, int protocol, int kern)
{
	const struct vg_profile_cfg *cfg;
	struct vg_event_socket *ev;
	struct vg_scratch *s;
	__u32 profile;
	int verdict;

	if (kern)
		return 0;
	if (family != VG_AF_PACKET &&
	    ((family != VG_AF_INET && family != VG_AF_INET6) ||
	     (type & VG_SOCK_TYPE_MASK) != VG_SOCK_RAW))
		return 0;
	profile = vg_agent_profile();
	if (!profile)
		return 0;
	cfg = bpf_map_lookup_elem(&vg_profiles, &profile);
	if (!cfg || cfg->net_mode == VG_MODE_OFF || cfg->raw_ok)
		return 0;
	verdict = cfg->net_mode == VG_MODE_ENFORCE ? VG_VERDICT_DENY : VG_VERDICT_AUDIT;
	vg_stat_inc(verdict == VG_VERDICT_DENY ? VG_STAT_NET_DENY : VG_STAT_NET_AUDIT);
	s = vg_scratch_get();
	if (s) {
		ev = (void *)s->ev;
		vg_hdr_fill(&ev->hdr, VG_EV_SOCKET, profile);
		ev->hdr.verdict = verdict;
		ev->hdr.tier = VG_TIER_LSM;
		ev->family = family;
		ev->type = type & VG_SOCK_TYPE_MASK;
		ev->protocol = protocol;
		ev->ret = verdict == VG_VERDICT_DENY ? -VG_EPERM : 0;
		vg_emit(ev, sizeof(*ev));
	}
	if (verdict == VG_VERDICT_DENY)
		return -VG_EPERM;
	return 0;
}

SEC("lsm/socket_create")
int BPF_PROG(vg_sock_create, int family, int type, int protocol, int kern, int ret)
{
	if (ret) /* an earlier LSM program already denied: keep its answer */
		return ret;
	/* An explicit branch: a conditional expression compiles (clang 14) into code whose return
	 * range the 6.12 verifier cannot bound to [-4095, 0]. */
	if (vg_sock_create_check(family, type, protocol, kern))
		return -VG_EPERM;
	return 0;
}

/* The same check attached per agent cgroup (lsm_cgroup, 6.0+): tasks elsewhere never run it.
 * lsm_cgroup programs answer 1 (allow) or 0 (deny: the kernel returns -EPERM). */
SEC("lsm_cgroup/socket_create")
int BPF_PROG(vg_lc_sock_new, int family, int type, int protocol, int kern)
{
	if (vg_sock_create_check(family, type, protocol, kern))
		return 0;
	return 1;
}
