// SPDX-License-Identifier: GPL-2.0-only
/* tp_sys_connect.bpf.c - connect(2) from agent cgroups: destination as passed, and the result.
 * Observe only; enforcement lives in the LSM and cgroup sock_addr tiers. */
#include "task.bpf.h"

SEC("tracepoint/syscalls/sys_enter_connect")
int vg_enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	struct vg_stash st = {};
	__u32 addrlen = ctx->args[2];
	__u64 key;

	if (!vg_agent_profile())
		return 0;
	if (addrlen > sizeof(st.addr))
		addrlen = sizeof(st.addr);
	bpf_probe_read_user(st.addr, addrlen, (void *)ctx->args[1]);
	st.addrlen = addrlen;
	st.dfd = ctx->args[0];
	key = bpf_get_current_pid_tgid();
	if (bpf_map_update_elem(&vg_stash_map, &key, &st, BPF_ANY))
		vg_stat_inc(VG_STAT_STASH_FULL);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int vg_exit_connect(struct trace_event_raw_sys_exit *ctx)
{
	struct vg_event_connect *ev;
	struct vg_stash *st;
	struct vg_scratch *s;
	__u64 key = bpf_get_current_pid_tgid();
	__u32 profile;
	__u16 family;

	st = bpf_map_lookup_elem(&vg_stash_map, &key);
	if (!st)
		return 0;
	profile = vg_agent_profile();
	s = vg_scratch_get();
	if (!profile || !s || st->reported)
		goto out;
	ev = (void *)s->ev;
	__builtin_memset((void *)ev + sizeof(ev->hdr), 0, sizeof(*ev) - sizeof(ev->hdr));
	vg_hdr_fill(&ev->hdr, VG_EV_CONNECT, profile);
	ev->ret = ctx->ret;
	ev->fd = st->dfd;
	family = *(__u16 *)st->addr;
	ev->family = family;
	if (family == VG_AF_INET) {
		struct sockaddr_in *in = (void *)st->addr;

		ev->port = bpf_ntohs(in->sin_port);
		__builtin_memcpy(ev->addr, &in->sin_addr, 4);
	} else if (family == VG_AF_INET6) {
		struct sockaddr_in6 *in6 = (void *)st->addr;

		ev->port = bpf_ntohs(in6->sin6_port);
		__builtin_memcpy(ev->addr, &in6->sin6_addr, 16);
	} else if (family == VG_AF_UNIX) {
		__builtin_memcpy(ev->unix_path, st->addr + 2, sizeof(ev->unix_path));
	}
	vg_emit(ev, sizeof(*ev));
out:
	bpf_map_delete_elem(&vg_stash_map, &key);
	return 0;
}
