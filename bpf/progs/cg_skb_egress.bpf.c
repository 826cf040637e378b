// SPDX-License-Identifier: GPL-2.0-only
/* cg_skb_egress.bpf.c - bytes leaving agent cgroups, per destination, for the egress volume
 * rules, and the one egress decision only a packet shows: source routing. Attached to every
 * agent cgroup (inherited by its sub-cgroups), whatever the tier. An IPv6 routing header
 * (setsockopt IPV6_RTHDR or a sendmsg control message, neither needs a privilege) or IPv4
 * options (LSRR/SSRR) send the packet on to an address the connect and sendmsg hooks never saw:
 * an agent's such packets are dropped (the send fails with EPERM) and reported. Everything else
 * passes: enforcement stays with the connect/sendmsg hooks. It also notes the peers each UDP
 * socket sends to, so that cg_skb_ingress.bpf.c takes their answers for replies.
 *
 * The packet starts at its network header. The destination port is read for TCP and UDP right
 * after a fixed IPv6 header or an IPv4 header of any length; other protocols (and IPv6 extension
 * headers) count under port 0. */
#include "vigil.bpf.h"
#include "maps.bpf.h"

#define VG_ETH_P_IP 0x0800
#define VG_ETH_P_IPV6 0x86DD
#define VG_IPPROTO_TCP 6
#define VG_IPPROTO_UDP 17

#define VG_NEXTHDR_HOP 0
#define VG_NEXTHDR_ROUTING 43
#define VG_NEXTHDR_DEST 60

/* True when an IPv6 packet carries a routing header: the first header after hop-by-hop and
 * destination options (RFC 8200 order), walked at most 4 deep. */
static __always_inline int vg_ip6_routed(struct __sk_buff *skb, __u8 next)
{
	__u32 off = sizeof(struct ipv6hdr);
	__u8 h[2];
	int i;

	for (i = 0; i < 4; i++) {
		if (next == VG_NEXTHDR_ROUTING)
			return 1;
		if (next != VG_NEXTHDR_HOP && next != VG_NEXTHDR_DEST)
			return 0;
		if (bpf_skb_load_bytes(skb, off, h, sizeof(h)))
			return 0;
		next = h[0];
		off += (h[1] + 1) * 8;
	}
	return next == VG_NEXTHDR_ROUTING;
}

/* Reports a dropped source-routed packet as a denied send from the agent cgroup (the socket's
 * cgroup: this may run outside the sender's context, so there is no pid). */
static __always_inline void vg_report_srcroute(struct __sk_buff *skb, const __u8 *addr,
					       __u16 family, __u16 port)
{
	struct vg_event_connect e, *ev = &e; /* on the stack: softirq may interrupt a scratch user */
	struct vg_agent *agent = NULL;
	__u64 cg = bpf_skb_cgroup_id(skb), id = cg;
	int i;

	for (i = 0; i < VG_CGROUP_DEPTH && !agent; i++) {
		if (i > 0) {
			id = bpf_skb_ancestor_cgroup_id(skb, i);
			if (!id)
				break;
		}
		agent = bpf_map_lookup_elem(&vg_agent_cgroups, &id);
	}
	vg_stat_inc(VG_STAT_NET_DENY);
	if (!agent)
		return;
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->hdr.type = VG_EV_CONNECT;
	ev->hdr.version = VG_ABI_VERSION;
	ev->hdr.flags = VG_F_SENDMSG | VG_F_SRCROUTE;
	ev->hdr.ts_ns = bpf_ktime_get_boot_ns();
	ev->hdr.cgroup_id = cg;
	ev->hdr.profile_id = agent->profile_id;
	ev->hdr.verdict = VG_VERDICT_DENY;
	ev->hdr.tier = VG_TIER_CGROUP;
	ev->ret = -VG_EPERM;
	ev->family = family;
	ev->port = port;
	ev->fd = -1;
	if (family == VG_AF_INET)
		__builtin_memcpy(ev->addr, addr + 12, 4);
	else
		__builtin_memcpy(ev->addr, addr, 16);
	ev->hdr.size = sizeof(*ev);
	if (bpf_ringbuf_output(&vg_events, ev, sizeof(*ev), vg_ring_flags(VG_VERDICT_DENY)))
		vg_stat_inc(VG_STAT_RINGBUF_FULL);
	else
		vg_stat_inc(VG_STAT_EVENTS);
}

/* Remembers that the sending socket sent to this UDP peer, so the ingress program takes the
 * peer's datagrams back to it for replies (DNS answers to an unconnected socket), not inbound. */
static __always_inline void vg_note_udp_peer(struct __sk_buff *skb, const struct vg_flow_key *k)
{
	struct vg_udp_peer peer = {};
	__u8 one = 1;

	peer.cookie = bpf_get_socket_cookie(skb);
	__builtin_memcpy(peer.addr, k->addr, 16);
	peer.port = k->port;
	if (!bpf_map_lookup_elem(&vg_udp_peers, &peer))
		bpf_map_update_elem(&vg_udp_peers, &peer, &one, BPF_ANY);
}

SEC("cgroup_skb/egress")
int vg_skb_egress(struct __sk_buff *skb)
{
	int routed = 0;
	struct vg_flow_key key = {};
	struct vg_flow_val *val, init = {};
	__u32 l4 = 0;
	__be16 port;

	if (skb->protocol == bpf_htons(VG_ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)))
			return 1;
		key.addr[10] = 0xff;
		key.addr[11] = 0xff;
		__builtin_memcpy(&key.addr[12], &ip.daddr, 4);
		key.proto = ip.protocol;
		l4 = ip.ihl * 4;
		routed = ip.ihl > 5;
	} else if (skb->protocol == bpf_htons(VG_ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)))
			return 1;
		__builtin_memcpy(key.addr, &ip6.daddr, 16);
		key.proto = ip6.nexthdr;
		l4 = sizeof(ip6);
		routed = vg_ip6_routed(skb, ip6.nexthdr);
	} else {
		return 1;
	}
	if ((key.proto == VG_IPPROTO_TCP || key.proto == VG_IPPROTO_UDP) &&
	    !bpf_skb_load_bytes(skb, l4 + 2, &port, sizeof(port)))
		key.port = bpf_ntohs(port);
	key.cgroup_id = bpf_skb_cgroup_id(skb);
	if (routed) {
		vg_report_srcroute(skb, key.addr,
				   skb->protocol == bpf_htons(VG_ETH_P_IP) ? VG_AF_INET : VG_AF_INET6,
				   key.port);
		return 0;
	}

	if (key.proto == VG_IPPROTO_UDP)
		vg_note_udp_peer(skb, &key);

	val = bpf_map_lookup_elem(&vg_egress_bytes, &key);
	if (!val) {
		bpf_map_update_elem(&vg_egress_bytes, &key, &init, BPF_NOEXIST);
		val = bpf_map_lookup_elem(&vg_egress_bytes, &key);
		if (!val)
			return 1;
	}
	__sync_fetch_and_add(&val->bytes, skb->len);
	__sync_fetch_and_add(&val->packets, 1);
	return 1;
}
