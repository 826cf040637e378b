/* SPDX-License-Identifier: GPL-2.0-only */
/* ipc.bpf.h - side channels out of an agent that are not network connects: unix sockets and
 * FIFOs served by a process outside the agent's cgroup subtree. Allowed when the peer is inside
 * the agent, or the profile names the socket/FIFO file (vg_ipc_allow). */
#ifndef VG_IPC_BPF_H
#define VG_IPC_BPF_H

#include "net.bpf.h"
#include "path.bpf.h"

#define VG_S_IFMT 00170000
#define VG_S_IFIFO 0010000
#define VG_PIPEFS_MAGIC 0x50495045

static __always_inline int vg_ipc_allowed_inode(__u32 profile, struct inode *inode)
{
	struct vg_file_key key = {};

	if (!inode)
		return 0;
	vg_inode_id(inode, &key.dev, &key.ino);
	key.profile_id = profile;
	return bpf_map_lookup_elem(&vg_ipc_allow, &key) != NULL;
}

/* Verdict for the current agent talking to a unix socket whose peer is other. */
static __always_inline int vg_unix_verdict(struct sock *other, __u32 *profile_out)
{
	const struct vg_profile_cfg *cfg;
	struct unix_sock *u = (void *)other;
	__u64 root;
	__u32 profile = vg_agent_find(&root);

	if (!profile)
		return VG_VERDICT_ALLOW;
	*profile_out = profile;
	cfg = bpf_map_lookup_elem(&vg_profiles, &profile);
	if (!cfg || cfg->net_mode == VG_MODE_OFF)
		return VG_VERDICT_ALLOW;
	if (vg_cgroup_within(BPF_CORE_READ(other, sk_cgrp_data.cgroup), root))
		return VG_VERDICT_ALLOW;
	if (vg_ipc_allowed_inode(profile, BPF_CORE_READ(u, path.dentry, d_inode)))
		return VG_VERDICT_ALLOW;
	return cfg->net_mode == VG_MODE_ENFORCE ? VG_VERDICT_DENY : VG_VERDICT_AUDIT;
}

/* A FIFO on a real file system that neither this agent created nor its profile allows: reading
 * or writing it talks to whoever outside holds the other end. Pipes (pipefs) are not here: an
 * agent reaching its own stdin through /proc/self/fd must keep working. */
static __always_inline int vg_is_foreign_fifo(__u32 profile, __u64 root, struct inode *inode)
{
	struct vg_inode_key key = {};
	__u64 *owner;

	if ((BPF_CORE_READ(inode, i_mode) & VG_S_IFMT) != VG_S_IFIFO)
		return 0;
	if (BPF_CORE_READ(inode, i_sb, s_magic) == VG_PIPEFS_MAGIC)
		return 0;
	vg_inode_id(inode, &key.dev, &key.ino);
	owner = bpf_map_lookup_elem(&vg_fifo_owner, &key);
	if (owner && *owner == root)
		return 0;
	return !vg_ipc_allowed_inode(profile, inode);
}

/* A connect record for a unix peer: sun_path of the peer's bound address ("@name" for an
 * abstract one is rendered by userspace from the leading NUL). */
static __always_inline void vg_report_unix(__u32 profile, int verdict, struct sock *other,
					   __u16 flags)
{
	struct unix_sock *u = (void *)other;
	struct unix_address *addr = BPF_CORE_READ(u, addr);
	struct vg_event_connect *ev;

	vg_stat_inc(VG_STAT_IPC_DENY);
	ev = vg_connect_begin(profile, verdict, VG_TIER_LSM, flags | VG_F_IPC);
	if (!ev)
		return;
	ev->family = VG_AF_UNIX;
	if (addr)
		bpf_probe_read_kernel(ev->unix_path, sizeof(ev->unix_path), &addr->name[0].sun_path);
	vg_emit(ev, sizeof(*ev));
}

#endif /* VG_IPC_BPF_H */
