// SPDX-License-Identifier: GPL-2.0-only
/* cg_skb_ingress.bpf.c - connections into an agent from outside it. Attached to every agent
 * cgroup (inherited by its sub-cgroups), whatever the tier: it runs for each packet delivered to
 * a socket an agent created. A server the agent starts (python3 -m http.server) is a channel out
 * that no egress hook sees: the agent never connects anywhere, a process outside connects in.
 *
 * Only packets that open something are judged: a SYN (or the handshake's last ACK, or a SYN
 * cookie ACK) reaching an agent's TCP listener, and a datagram reaching an agent's unconnected
 * UDP socket. Everything else a socket receives belongs to a connection that was accepted past
 * this check or that the agent opened itself (through the egress hooks). Such a packet passes
 * when its sender is a socket of the same agent, found by looking up the reply direction of the
 * packet's 4-tuple in this network namespace (a client's socket is hashed in SYN_SENT before its
 * SYN leaves; a UDP sender is bound before its datagram leaves); a datagram also passes when it
 * answers one the agent's socket sent to that address and port (vg_udp_peers, DNS replies). The
 * rest is dropped (profile ingress mode enforce) and reported once per flow (vg_inbound_seen).
 *
 * Fails closed for what it judges: a listener's packet whose addresses cannot be read is dropped.
 * Fails open for sockets that are not agents' (no agent cgroup, no profile, mode off).
 *
 * It also copies DNS answers (VG_EV_DNS): the payload start of each UDP or TCP packet from port
 * 53 that an agent's socket receives, whatever the ingress mode, so that the log says which host
 * names the agent resolved to which addresses (`vigil profile suggest` names destinations by
 * them). Only packets from port 53 cost more than the socket's fields: the connected sockets'
 * fast path checks the peer port the socket holds, and the unconnected ones read it from the
 * packet, which they read anyway. A copy is made only of a packet that is let through. */
#include "vigil.bpf.h"
#include "maps.bpf.h"

#define VG_ETH_P_IP 0x0800
#define VG_ETH_P_IPV6 0x86DD
#define VG_IPPROTO_TCP 6
#define VG_IPPROTO_UDP 17
#define VG_NEXTHDR_HOP 0
#define VG_NEXTHDR_ROUTING 43
#define VG_NEXTHDR_FRAGMENT 44
#define VG_NEXTHDR_DEST 60
/* A flow reported longer ago than this is reported again (a client port reused later is a new
 * attempt); longer than a TCP client's default SYN retries (about 127 s). */
#define VG_INBOUND_REPORT_NS (300ull * 1000000000ull)

struct vg_pkt {
	__u8 saddr[16]; /* IPv4 mapped into the IPv6 space */
	__u8 daddr[16];
	__be16 sport;
	__be16 dport;
	__u16 family;   /* of the packet: VG_AF_INET or VG_AF_INET6 */
	__u8 proto;
	__u8 tcp_flags; /* TCP: the header's flags byte (FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10) */
	__u32 l4;       /* offset of the transport header */
};

#define VG_TCP_SYN 0x02
#define VG_TCP_RST 0x04
#define VG_TCP_ACK 0x10

/* Addresses, protocol and ports of the packet (it starts at its network header). IPv6 extension
 * headers are skipped, at most 4 (a first fragment still carries the ports; later fragments do
 * not and fail). Returns 0 on success. */
static __always_inline int vg_pkt_read(struct __sk_buff *skb, struct vg_pkt *p)
{
	__u32 l4;
	__u8 tcp[14]; /* ports, sequence and acknowledgment numbers, data offset, flags */

	if (skb->protocol == bpf_htons(VG_ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)))
			return -1;
		p->saddr[10] = p->saddr[11] = 0xff;
		p->daddr[10] = p->daddr[11] = 0xff;
		__builtin_memcpy(&p->saddr[12], &ip.saddr, 4);
		__builtin_memcpy(&p->daddr[12], &ip.daddr, 4);
		p->proto = ip.protocol;
		p->family = VG_AF_INET;
		if (ip.frag_off & bpf_htons(0x1fff)) /* not the first fragment: no ports */
			return -1;
		l4 = ip.ihl * 4;
	} else if (skb->protocol == bpf_htons(VG_ETH_P_IPV6)) {
		struct ipv6hdr ip6;
		__u8 next, h[2];
		int i;

		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)))
			return -1;
		__builtin_memcpy(p->saddr, &ip6.saddr, 16);
		__builtin_memcpy(p->daddr, &ip6.daddr, 16);
		p->family = VG_AF_INET6;
		next = ip6.nexthdr;
		l4 = sizeof(ip6);
		for (i = 0; i < 4; i++) {
			if (next != VG_NEXTHDR_HOP && next != VG_NEXTHDR_DEST &&
			    next != VG_NEXTHDR_ROUTING && next != VG_NEXTHDR_FRAGMENT)
				break;
			if (bpf_skb_load_bytes(skb, l4, h, sizeof(h)))
				return -1;
			l4 += next == VG_NEXTHDR_FRAGMENT ? 8 : (h[1] + 1) * 8;
			next = h[0];
		}
		p->proto = next;
	} else {
		return -1;
	}
	if (p->proto != VG_IPPROTO_TCP && p->proto != VG_IPPROTO_UDP)
		return -1;
	if (bpf_skb_load_bytes(skb, l4, tcp, p->proto == VG_IPPROTO_TCP ? sizeof(tcp) : 4))
		return -1;
	__builtin_memcpy(&p->sport, &tcp[0], 2);
	__builtin_memcpy(&p->dport, &tcp[2], 2);
	if (p->proto == VG_IPPROTO_TCP)
		p->tcp_flags = tcp[13];
	p->l4 = l4;
	return 0;
}

/* The agent cgroup the receiving socket lies in (itself or its nearest agent ancestor, from the
 * top down as vg_agent_find walks): 0 when none. */
static __always_inline __u64 vg_skb_agent(struct __sk_buff *skb, __u32 *profile)
{
	struct vg_agent *agent;
	__u64 id = bpf_skb_cgroup_id(skb);
	int i;

	agent = bpf_map_lookup_elem(&vg_agent_cgroups, &id);
	for (i = 1; i < VG_CGROUP_DEPTH && !agent; i++) {
		id = bpf_skb_ancestor_cgroup_id(skb, i);
		if (!id)
			return 0;
		agent = bpf_map_lookup_elem(&vg_agent_cgroups, &id);
	}
	if (!agent)
		return 0;
	*profile = agent->profile_id;
	return id;
}

/* True when socket sk lies in agent cgroup root or below it. */
static __always_inline int vg_sk_within(struct bpf_sock *sk, __u64 root)
{
	__u64 id = bpf_sk_cgroup_id(sk);
	int i;

	if (id == root)
		return 1;
	for (i = 1; i < VG_CGROUP_DEPTH; i++) {
		id = bpf_sk_ancestor_cgroup_id(sk, i);
		if (!id)
			return 0;
		if (id == root)
			return 1;
	}
	return 0;
}

/* The packet's 4-tuple as the socket lookup helpers take it (saddr: the remote end): as the
 * receiver sees it, or reversed, as its sender sees the replies. Returns the tuple's length. */
static __always_inline __u32 vg_tuple(const struct vg_pkt *p, int reverse,
				      struct bpf_sock_tuple *t)
{
	const __u8 *src = reverse ? p->daddr : p->saddr, *dst = reverse ? p->saddr : p->daddr;
	__be16 sport = reverse ? p->dport : p->sport, dport = reverse ? p->sport : p->dport;

	if (p->family == VG_AF_INET) {
		__builtin_memcpy(&t->ipv4.saddr, src + 12, 4);
		__builtin_memcpy(&t->ipv4.daddr, dst + 12, 4);
		t->ipv4.sport = sport;
		t->ipv4.dport = dport;
		return sizeof(t->ipv4);
	}
	__builtin_memcpy(t->ipv6.saddr, src, 16);
	__builtin_memcpy(t->ipv6.daddr, dst, 16);
	t->ipv6.sport = sport;
	t->ipv6.dport = dport;
	return sizeof(t->ipv6);
}

/* Whether the packet's sender is a socket of this host's network namespace that lies in agent
 * cgroup root: the socket the reply direction of the 4-tuple finds, holding exactly that
 * 4-tuple (a lookup that misses the connected sockets falls back to listeners and unconnected
 * sockets on the source port; a TCP listener found so is not the sender). A UDP sender is
 * unconnected as often as not, so its bound address and port are what identify it. Returns 1
 * within, 0 outside, VG_NO_SENDER when no socket holds the 4-tuple (another host's, or one that
 * is gone). */
#define VG_NO_SENDER (-1)
static __always_inline int vg_sender_within(struct __sk_buff *skb, const struct vg_pkt *p,
					    __u64 root)
{
	struct bpf_sock_tuple t = {};
	__u32 len = vg_tuple(p, 1, &t);
	struct bpf_sock *sk;
	int ok;

	if (p->proto == VG_IPPROTO_TCP)
		sk = bpf_sk_lookup_tcp(skb, &t, len, BPF_F_CURRENT_NETNS, 0);
	else
		sk = bpf_sk_lookup_udp(skb, &t, len, BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return VG_NO_SENDER;
	ok = 1;
	if (p->proto == VG_IPPROTO_TCP &&
	    (sk->state == BPF_TCP_LISTEN || (__u16)sk->dst_port != p->dport))
		ok = VG_NO_SENDER;
	/* A socket bound to a device (SO_BINDTODEVICE, no privilege needed) is found by the
	 * packet's device: another socket may hold the same 4-tuple on another device, and be the
	 * real sender (a process outside binds to eth0 the 4-tuple an agent's socket bound to lo
	 * holds, and its SYN to a host address travels over lo). Not taken for the sender. */
	if (ok == 1 && sk->bound_dev_if)
		ok = 0;
	if (ok == 1)
		ok = vg_sk_within(sk, root);
	bpf_sk_release(sk);
	return ok;
}

/* True when the address is a loopback one (127/8, ::1, or 127/8 mapped into IPv6). */
static __always_inline int vg_loopback(const __u8 *a)
{
	int i;

	for (i = 0; i < 10; i++)
		if (a[i])
			return 0;
	if (a[10] == 0xff && a[11] == 0xff)
		return a[12] == 127;
	return !a[10] && !a[11] && !a[12] && !a[13] && !a[14] && a[15] == 1;
}

/* True when a TCP packet belongs to a connection whose SYN this listener already took: a request
 * socket holds its 4-tuple (the handshake's last ACK, or a reset, reaching the listener). A SYN
 * this program drops makes no request socket, so the SYN's verdict stands for the rest of the
 * handshake, even when the agent's client is gone by the time the packet is read (a client that
 * resets at once; a listener with TCP_DEFER_ACCEPT keeps the request until data comes). */
static __always_inline int vg_tcp_request(struct __sk_buff *skb, const struct vg_pkt *p)
{
	struct bpf_sock_tuple t = {};
	__u32 len = vg_tuple(p, 0, &t);
	struct bpf_sock *sk;
	int ok;

	sk = bpf_skc_lookup_tcp(skb, &t, len, BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return 0;
	ok = sk->state == BPF_TCP_NEW_SYN_RECV;
	bpf_sk_release(sk);
	return ok;
}

/* True when the receiving UDP socket sent to the packet's source before: a reply. */
static __always_inline int vg_udp_reply(struct __sk_buff *skb, const struct vg_pkt *p)
{
	struct vg_udp_peer key = {};

	key.cookie = bpf_get_socket_cookie(skb);
	__builtin_memcpy(key.addr, p->saddr, 16);
	key.port = bpf_ntohs(p->sport);
	return bpf_map_lookup_elem(&vg_udp_peers, &key) != NULL;
}

/* Reports a refused (or audited) inbound flow, once per flow per VG_INBOUND_REPORT_NS. Runs in
 * softirq (or the sender's context): no task of the agent, so the header names the receiving
 * socket's cgroup and no process. */
static __always_inline void vg_report_inbound(struct __sk_buff *skb, const struct vg_pkt *p,
					      __u64 root, __u32 profile, int verdict)
{
	struct vg_event_connect e, *ev = &e; /* on the stack: softirq may interrupt a scratch user */
	struct vg_inbound_key key = {};
	__u64 now = bpf_ktime_get_boot_ns(), *seen;

	vg_stat_inc(VG_STAT_INBOUND);
	key.cgroup_id = root;
	__builtin_memcpy(key.addr, p->saddr, 16);
	key.sport = bpf_ntohs(p->sport);
	key.dport = bpf_ntohs(p->dport);
	key.proto = p->proto;
	seen = bpf_map_lookup_elem(&vg_inbound_seen, &key);
	if (seen && now - *seen < VG_INBOUND_REPORT_NS)
		return;
	/* Two CPUs may both miss and both report a flow's first two packets; SYN retransmits are
	 * a second apart, so in practice one report. */
	bpf_map_update_elem(&vg_inbound_seen, &key, &now, BPF_ANY);

	__builtin_memset(ev, 0, sizeof(*ev));
	ev->hdr.type = VG_EV_CONNECT;
	ev->hdr.size = sizeof(*ev);
	ev->hdr.version = VG_ABI_VERSION;
	ev->hdr.flags = VG_F_INBOUND;
	ev->hdr.ts_ns = now;
	ev->hdr.cgroup_id = bpf_skb_cgroup_id(skb);
	ev->hdr.profile_id = profile;
	ev->hdr.verdict = verdict;
	ev->hdr.tier = VG_TIER_CGROUP;
	ev->ret = verdict == VG_VERDICT_DENY ? -VG_EPERM : 0;
	ev->family = p->family;
	ev->port = bpf_ntohs(p->sport);
	ev->lport = bpf_ntohs(p->dport);
	ev->proto = p->proto;
	ev->fd = -1;
	if (p->family == VG_AF_INET)
		__builtin_memcpy(ev->addr, &p->saddr[12], 4);
	else
		__builtin_memcpy(ev->addr, p->saddr, 16);
	if (bpf_ringbuf_output(&vg_events, ev, sizeof(*ev), vg_ring_flags(verdict)))
		vg_stat_inc(VG_STAT_RINGBUF_FULL);
	else
		vg_stat_inc(VG_STAT_EVENTS);
}

#define VG_DNS_PORT 53

/* Copies the start of a DNS message from port 53 (a packet let through to an agent's socket)
 * into a VG_EV_DNS record. Observation only: a full ring, a ring filled to its reserved quarter
 * or an unreadable packet loses the copy, never the packet. */
static __always_inline void vg_dns_copy(struct __sk_buff *skb, const struct vg_pkt *p,
					__u32 profile)
{
	struct vg_event_dns *ev;
	__u32 off = p->l4, total, len;
	__u8 doff;

	if (p->proto == VG_IPPROTO_UDP) {
		off += 8;
	} else {
		if (bpf_skb_load_bytes(skb, off + 12, &doff, 1))
			return;
		off += (doff >> 4) * 4;
	}
	if (off >= skb->len)
		return; /* no payload: a bare ACK */
	total = skb->len - off;
	len = total > VG_DNS_MAX ? VG_DNS_MAX : total;
	if (vg_ring_reserved())
		return;
	/* Reserved in the ring, not built on the stack: the record is larger than the stack. */
	ev = bpf_ringbuf_reserve(&vg_events, sizeof(*ev), 0);
	if (!ev) {
		vg_stat_inc(VG_STAT_RINGBUF_FULL);
		return;
	}
	__builtin_memset(&ev->hdr, 0, sizeof(ev->hdr));
	/* The verifier must see len in [1, VG_DNS_MAX] on the register it passes. Checks do not
	 * carry there on every kernel (6.1 bounds only a copy of it), arithmetic does: masking
	 * len - 1 with VG_DNS_MAX - 1 (a power of two) and adding 1 is the identity on that range.
	 * The barrier keeps clang from folding it away as implied by the lines above. */
	asm volatile("" : "+r"(len));
	len = ((len - 1) & (VG_DNS_MAX - 1)) + 1;
	if (bpf_skb_load_bytes(skb, off, ev->data, len)) {
		bpf_ringbuf_discard(ev, 0);
		return;
	}
	ev->hdr.type = VG_EV_DNS;
	ev->hdr.size = sizeof(*ev);
	ev->hdr.version = VG_ABI_VERSION;
	ev->hdr.ts_ns = bpf_ktime_get_boot_ns();
	ev->hdr.cgroup_id = bpf_skb_cgroup_id(skb);
	ev->hdr.profile_id = profile;
	ev->hdr.tier = VG_TIER_NONE;
	__builtin_memcpy(ev->addr, p->saddr, 16);
	ev->port = bpf_ntohs(p->sport);
	ev->len = len;
	ev->total = total > 0xffff ? 0xffff : total;
	ev->proto = p->proto;
	ev->pad = 0;
	bpf_ringbuf_submit(ev, vg_ring_flags(VG_VERDICT_NONE));
	vg_stat_inc(VG_STAT_EVENTS);
}

/* A packet from port 53 to an agent's connected socket (the fast path's): its copy. */
static __always_inline void vg_dns_connected(struct __sk_buff *skb)
{
	struct vg_pkt p = {};
	__u32 profile = 0;

	if (!vg_skb_agent(skb, &profile))
		return;
	if (vg_pkt_read(skb, &p) || p.sport != bpf_htons(VG_DNS_PORT))
		return;
	vg_dns_copy(skb, &p, profile);
}

SEC("cgroup_skb/ingress")
int vg_skb_ingress(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;
	const struct vg_ingress_cfg *cfg;
	struct vg_pkt p = {};
	__u32 profile = 0;
	__u64 root;
	int verdict, within, dns;

	if (!sk)
		return 1;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return 1;
	/* The fast path: established connections and connected UDP sockets (the kernel hands
	 * those only what comes from their peer, which the agent chose). */
	if (sk->protocol == VG_IPPROTO_TCP) {
		if (sk->state != BPF_TCP_LISTEN) {
			if ((__u16)sk->dst_port == bpf_htons(VG_DNS_PORT))
				vg_dns_connected(skb);
			return 1;
		}
	} else if (sk->protocol == VG_IPPROTO_UDP) {
		if (sk->dst_port) {
			if ((__u16)sk->dst_port == bpf_htons(VG_DNS_PORT))
				vg_dns_connected(skb);
			return 1;
		}
	} else {
		return 1;
	}
	root = vg_skb_agent(skb, &profile);
	if (!root)
		return 1;
	cfg = bpf_map_lookup_elem(&vg_ingress, &profile);
	if (vg_pkt_read(skb, &p)) {
		if (!cfg || cfg->mode == VG_MODE_OFF)
			return 1;
		/* Unreadable ports (more than 4 IPv6 extension headers): no flow to name, so
		 * counted, not reported. */
		vg_stat_inc(VG_STAT_INBOUND);
		return cfg->mode == VG_MODE_ENFORCE ? 0 : 1;
	}
	/* A datagram to an unconnected socket from port 53 (listeners' packets are TCP): copied
	 * if it passes. */
	dns = p.proto == VG_IPPROTO_UDP && p.sport == bpf_htons(VG_DNS_PORT);
	if (!cfg || cfg->mode == VG_MODE_OFF)
		goto pass;
	if (p.proto == VG_IPPROTO_UDP && vg_udp_reply(skb, &p))
		goto pass;
	/* A reset opens nothing. Past the SYN, the SYN's verdict holds (vg_tcp_request); a SYN
	 * cookie's ACK, which has no request socket, is judged by its sender like a SYN. */
	if (p.proto == VG_IPPROTO_TCP && (p.tcp_flags & VG_TCP_RST))
		return 1;
	if (p.proto == VG_IPPROTO_TCP && !(p.tcp_flags & VG_TCP_SYN) && vg_tcp_request(skb, &p))
		return 1;
	within = vg_sender_within(skb, &p, root);
	if (within == 1)
		goto pass;
	/* Past the SYN and without a request socket, from this host, and no socket holds the
	 * 4-tuple: an agent's client that closed before its last ACK was read (it resets at once;
	 * measured about once in 10,000 connects of a loaded loop). Nobody is left to talk to. A
	 * SYN, and another host's packets, are judged all the same. */
	if (within == VG_NO_SENDER && p.proto == VG_IPPROTO_TCP && !(p.tcp_flags & VG_TCP_SYN) &&
	    vg_loopback(p.saddr))
		return 1;
	verdict = cfg->mode == VG_MODE_ENFORCE ? VG_VERDICT_DENY : VG_VERDICT_AUDIT;
	vg_report_inbound(skb, &p, root, profile, verdict);
	if (verdict == VG_VERDICT_DENY)
		return 0;
pass:
	if (dns)
		vg_dns_copy(skb, &p, profile);
	return 1;
}
