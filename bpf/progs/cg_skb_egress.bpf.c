// SPDX-License-Identifier: GPL-2.0-only
/* cg_skb_egress.bpf.c - bytes leaving agent cgroups, per destination, for the egress volume
 * rules. Attached to every agent cgroup (inherited by its sub-cgroups); counts and always lets
 * the packet pass. Enforcement stays with the connect/sendmsg hooks: this only measures.
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

SEC("cgroup_skb/egress")
int vg_skb_egress(struct __sk_buff *skb)
{
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
	} else if (skb->protocol == bpf_htons(VG_ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)))
			return 1;
		__builtin_memcpy(key.addr, &ip6.daddr, 16);
		key.proto = ip6.nexthdr;
		l4 = sizeof(ip6);
	} else {
		return 1;
	}
	if ((key.proto == VG_IPPROTO_TCP || key.proto == VG_IPPROTO_UDP) &&
	    !bpf_skb_load_bytes(skb, l4 + 2, &port, sizeof(port)))
		key.port = bpf_ntohs(port);
	key.cgroup_id = bpf_skb_cgroup_id(skb);

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
