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

	if (verdict != VG_VERDICT_NONE) { /* NONE: an allowed connect, observed */
		vg_stat_inc(VG_STAT_IPC_DENY);
		flags |= VG_F_IPC;
	}
	ev = vg_connect_begin(profile, verdict, VG_TIER_LSM, flags);
	if (!ev)
		return;
	ev->family = VG_AF_UNIX;
	if (addr)
		bpf_probe_read_kernel(ev->unix_path, sizeof(ev->unix_path), &addr->name[0].sun_path);
	vg_emit(ev, sizeof(*ev));
}

/* Tier 2: the cgroup connect_unix / sendmsg_unix programs (6.7+) run before the kernel looks
 * the address up, so they see a name, never the peer. A name passes when the profile allows it
 * (vg_unix_allow) or when a socket of this agent holds it (vg_unix_bound), checked again here on
 * that socket itself. */

struct vg_unix_norm {
	struct vg_unix_key *key;
	__u32 len;  /* bytes of address body */
	__u32 cut;  /* the name ended before byte i */
	__u32 path; /* a path name (ends at its first NUL) */
	__u32 pad;
};

/* One byte of vg_unix_key_norm, run by bpf_loop: the verifier checks it once, not 108 times per
 * branch combination. */
static long vg_unix_norm_step(__u32 i, void *arg)
{
	struct vg_unix_norm *w = arg;
	struct vg_unix_key *key = w->key;

	if (i >= VG_UNIX_NAME_MAX)
		return 1;
	if (i >= w->len || (w->path && key->name[i] == 0))
		w->cut = 1;
	if (w->cut)
		key->name[i] = 0;
	else
		key->len = i + 1;
	return 0;
}

/* Cuts name down to the socket name of a len-byte address body: a path name ends at its first
 * NUL, an abstract name (leading NUL) is exactly len bytes. Zero-fills the rest. */
static __always_inline void vg_unix_key_norm(struct vg_unix_key *key, __u32 len)
{
	struct vg_unix_norm w = {};

	w.key = key;
	w.len = len;
	w.path = key->name[0] != 0;
	key->len = 0;
	bpf_loop(VG_UNIX_NAME_MAX, vg_unix_norm_step, &w, 0);
}

/* The name a unix socket is bound to, as a key (len 0: unbound). */
static __always_inline void vg_unix_sock_name(struct sock *sk, struct vg_unix_key *key)
{
	struct unix_address *addr = BPF_CORE_READ((struct unix_sock *)sk, addr);
	int len;

	key->len = 0;
	if (!addr)
		return;
	len = BPF_CORE_READ(addr, len) - 2; /* minus sun_family */
	if (len <= 0)
		return;
	bpf_probe_read_kernel(key->name, sizeof(key->name), &addr->name[0].sun_path);
	vg_unix_key_norm(key, len > VG_UNIX_NAME_MAX ? VG_UNIX_NAME_MAX : len);
}

/* Same name (len and bytes; both keys normalised, so zero-padded alike). No branch per byte. */
static __always_inline int vg_unix_name_eq(const struct vg_unix_key *a, const struct vg_unix_key *b)
{
	const __u64 *x = (const void *)&a->len, *y = (const void *)&b->len;
	__u64 d = 0;
	int i;

#pragma unroll
	for (i = 0; i < (sizeof(*a) - 8) / 8; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

/* Is the socket file of a path-bound unix sock still reached by the name it was bound to?
 * Closes re-pointing the name after the bind (unlink or rename the socket file or a parent,
 * then put a symlink to someone else's socket there). Absolute names: the socket's dentries,
 * walked to the task's root, spell the name. Relative names: one component, in the connecting
 * task's working directory. Longer relative names are not checked and so not allowed. */
static __always_inline int vg_unix_still_at(struct sock *sk, const struct vg_unix_key *key)
{
	struct unix_sock *u = (void *)sk;
	struct dentry *dentry = BPF_CORE_READ(u, path.dentry);
	struct vg_scratch *s;
	__u32 start, i;
	__u16 flags = 0;

	if (!dentry || !BPF_CORE_READ(dentry, d_hash.pprev)) /* no file, or unlinked */
		return 0;
	s = vg_scratch_get();
	if (!s)
		return 0;
	if (key->name[0] != '/') {
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();
		struct qstr name = BPF_CORE_READ(dentry, d_name);
		__u8 d = 0;

		if (BPF_CORE_READ(dentry, d_parent) != BPF_CORE_READ(task, fs, pwd.dentry))
			return 0;
		if (name.len != key->len)
			return 0;
		__builtin_memset(s->name, 0, VG_UNIX_NAME_MAX + 1);
		bpf_probe_read_kernel_str(s->name, VG_UNIX_NAME_MAX + 1, name.name);
		for (i = 0; i < VG_UNIX_NAME_MAX; i++) {
			__u8 c = s->name[i];

			d |= (c ^ key->name[i]) | (c == '/');
		}
		return d == 0; /* both zero past the name */
	}
	start = vg_path_build(s, &u->path, &flags);
	if (flags & VG_F_PATH_TRUNC)
		return 0;
	/* the walk ends with a NUL at VG_PATH_MAX - 1: zeros after it, as in the key */
	__builtin_memset(&s->path[VG_PATH_MAX], 0, VG_UNIX_NAME_MAX + 4);
	{
		__u8 d = 0;

		for (i = 0; i < VG_UNIX_NAME_MAX; i++)
			d |= s->path[(start + i) & (VG_PATH_MAX * 2 - 1)] ^ key->name[i];
		/* key->name is zero past len: the walked path must end exactly there */
		return d == 0 && s->path[(start + key->len) & (VG_PATH_MAX * 2 - 1)] == 0;
	}
}

/* May an agent (root cgroup root) reach name key through the socket sk that vg_unix_bound
 * recorded for it? Only while sk is open, in this agent, in the connecting socket's network
 * namespace, still bound to that name and, for a path, still at it. */
static __always_inline int vg_unix_bound_valid(__u64 skp, const struct vg_unix_key *key,
					       __u64 root, struct sock *self)
{
	struct sock *sk = (struct sock *)skp;
	struct vg_unix_key bound = {};

	if (!sk || !BPF_CORE_READ(sk, sk_socket))
		return 0;
	if (BPF_CORE_READ(sk, __sk_common.skc_net.net) != BPF_CORE_READ(self, __sk_common.skc_net.net))
		return 0;
	if (!vg_cgroup_within(BPF_CORE_READ(sk, sk_cgrp_data.cgroup), root))
		return 0;
	vg_unix_sock_name(sk, &bound);
	if (!vg_unix_name_eq(&bound, key))
		return 0;
	if (key->name[0] == 0) /* abstract: one socket per name per namespace */
		return 1;
	return vg_unix_still_at(sk, key);
}

/* Verdict of a cgroup unix program on address body name (len bytes after sun_family), and the
 * report of a non-allow one. Returns 1 to allow, 0 to deny. */
static __always_inline int vg_cg_unix_check(struct sock *self, const void *uaddr, __u32 uaddrlen,
					    __u16 flags)
{
	const struct vg_profile_cfg *cfg;
	struct vg_event_connect *ev;
	struct vg_unix_key key = {};
	__u64 root = 0, *skp;
	__u32 profile = vg_agent_find(&root);
	int verdict;

	if (!profile || !uaddr || uaddrlen <= 2)
		return 1;
	cfg = bpf_map_lookup_elem(&vg_profiles, &profile);
	if (!cfg)
		return 1;
	bpf_probe_read_kernel(key.name, sizeof(key.name), uaddr + 2);
	vg_unix_key_norm(&key, uaddrlen - 2 > VG_UNIX_NAME_MAX ? VG_UNIX_NAME_MAX : uaddrlen - 2);
	verdict = VG_VERDICT_NONE; /* allowed: observed here, where it is decided */
	if (cfg->net_mode == VG_MODE_OFF)
		goto report;
	key.owner = profile;
	if (bpf_map_lookup_elem(&vg_unix_allow, &key))
		goto report;
	key.owner = root;
	skp = bpf_map_lookup_elem(&vg_unix_bound, &key);
	if (skp && vg_unix_bound_valid(*skp, &key, root, self))
		goto report;
	verdict = cfg->net_mode == VG_MODE_ENFORCE ? VG_VERDICT_DENY : VG_VERDICT_AUDIT;
	vg_stat_inc(VG_STAT_IPC_DENY);
	flags |= VG_F_IPC;
report:
	/* datagrams to allowed names are not observed one by one */
	if (verdict != VG_VERDICT_NONE || !(flags & VG_F_SENDMSG)) {
		ev = vg_connect_begin(profile, verdict, VG_TIER_CGROUP, flags);
		if (ev) {
			ev->family = VG_AF_UNIX;
			__builtin_memcpy(ev->unix_path, key.name, sizeof(ev->unix_path));
			vg_emit(ev, sizeof(*ev));
		}
	}
	return verdict == VG_VERDICT_DENY ? 0 : 1;
}

#endif /* VG_IPC_BPF_H */
