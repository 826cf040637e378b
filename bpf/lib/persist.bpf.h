/* SPDX-License-Identifier: GPL-2.0-only */
/* persist.bpf.h - the persistence guard in tier 1: is this object, or this name about to be
 * made, one the developer runs later outside vigil (a git hook, .git/config, ~/.bashrc)? By
 * identity, never by the path string: the object's own inode, its (directory inode, name) pair,
 * which also names what does not exist yet, and a protected directory among its ancestors.
 * Each hook decides, then reports once (an open record with VG_F_PERSIST and its own call). */
#ifndef VG_PERSIST_BPF_H
#define VG_PERSIST_BPF_H

#include "path.bpf.h"
#include "task.bpf.h"

/* Ancestors looked at for a protected directory (VG_PERSIST_SUBTREE). Deeper objects are
 * judged by their own inode and name only: fail open, since nothing below a protected
 * directory can be made by the agent (it is refused at every level), only by the developer. */
#define VG_PERSIST_DEPTH 128
#define VG_PERSIST_O_TRUNC 01000
#define VG_PERSIST_FMODE_WRITE 0x2
#define VG_PERSIST_S_IFMT 00170000
#define VG_PERSIST_S_IFDIR 0040000
#define VG_PERSIST_S_IFREG 0100000
#define VG_PERSIST_O_CREAT 0100

static __always_inline int vg_persist_inode(__u32 profile, struct dentry *d,
					    struct vg_persist_rule *out)
{
	struct inode *inode = BPF_CORE_READ(d, d_inode);
	struct vg_file_key key = {};
	struct vg_persist_rule *rule;

	if (!inode)
		return 0;
	key.ino = BPF_CORE_READ(inode, i_ino);
	key.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	key.profile_id = profile;
	rule = bpf_map_lookup_elem(&vg_persist_inodes, &key);
	if (!rule)
		return 0;
	*out = *rule;
	return 1;
}

/* The vg_persist_names key of d (its directory and its name): also for a negative dentry (a
 * name about to be made). 0 when d has no directory or its name is too long to be keyed. key
 * must be zeroed. */
static __always_inline int vg_persist_key(__u32 profile, struct dentry *d,
					  struct vg_persist_name_key *key)
{
	struct dentry *parent = BPF_CORE_READ(d, d_parent);
	struct inode *dir;
	struct qstr name;

	if (!parent || parent == d)
		return 0;
	dir = BPF_CORE_READ(parent, d_inode);
	name = BPF_CORE_READ(d, d_name);
	if (!dir || name.len >= VG_PERSIST_NAME)
		return 0;
	key->ino = BPF_CORE_READ(dir, i_ino);
	key->dev = BPF_CORE_READ(dir, i_sb, s_dev);
	key->profile_id = profile;
	if (bpf_probe_read_kernel(key->name, name.len & (VG_PERSIST_NAME - 1), name.name))
		return 0;
	return 1;
}

/* The rule of d's name in its directory: by the directory's identity, else by its node (a
 * directory made on the way to a protected path, see vg_persist_made_dir). */
static __always_inline int vg_persist_name(__u32 profile, struct dentry *d,
					   struct vg_persist_rule *out)
{
	struct vg_persist_name_key key = {};
	struct vg_persist_rule *rule;
	struct vg_file_key dir = {};
	__u32 *node;

	if (!vg_persist_key(profile, d, &key))
		return 0;
	rule = bpf_map_lookup_elem(&vg_persist_names, &key);
	if (!rule) {
		dir.ino = key.ino;
		dir.dev = key.dev;
		dir.profile_id = profile;
		node = bpf_map_lookup_elem(&vg_persist_alias, &dir);
		if (!node)
			return 0;
		key.ino = *node;
		key.dev = 0;
		rule = bpf_map_lookup_elem(&vg_persist_names, &key);
	}
	if (!rule)
		return 0;
	*out = *rule;
	return 1;
}

struct vg_persist_walk {
	__u32 profile;
	__u32 found; /* out */
	struct vg_persist_rule rule; /* out */
	struct dentry *d;
};

/* Step i looks at the (i+1)-th ancestor. */
static long vg_persist_step(__u32 i, void *arg)
{
	struct vg_persist_walk *w = arg;
	struct dentry *d = w->d;
	struct dentry *parent = BPF_CORE_READ(d, d_parent);
	struct vg_persist_rule rule;

	if (!parent || parent == d)
		return 1;
	w->d = parent;
	if (vg_persist_inode(w->profile, parent, &rule) && (rule.flags & VG_PERSIST_SUBTREE)) {
		w->rule = rule;
		w->found = 1;
		return 1;
	}
	return 0;
}

/* The rule protecting d (an object, or a name about to be made) from a change, 0 if none.
 * moving: the change renames d away, replaces it or removes it, which the directories on the
 * way to a protected path refuse too (`mv .git .git.old`, `mv ~/.config x`). call: the hook's
 * VG_OPEN_*; a missing directory on the way (VG_PERSIST_WAY) may be made by mkdir only. */
static __always_inline int vg_persist_find(__u32 profile, struct dentry *d, int moving,
					   __u16 call, struct vg_persist_rule *out)
{
	struct vg_persist_walk w = {};

	if (vg_persist_inode(profile, d, out)) {
		if (out->flags & (VG_PERSIST_SELF | VG_PERSIST_SUBTREE))
			return 1;
		if (moving && (out->flags & VG_PERSIST_ANCESTOR))
			return 1;
	}
	if (vg_persist_name(profile, d, out)) {
		if (out->flags & VG_PERSIST_SELF)
			return 1;
		/* VG_PERSIST_WAY: the directory may be made by mkdir (and, made, be chmod-ed like
		 * any ~/.ssh); nothing else may be put there, nor moved away. */
		if (moving || call == VG_OPEN_MKNOD || call == VG_OPEN_SYMLINK ||
		    call == VG_OPEN_LINK)
			return 1;
	}
	w.profile = profile;
	w.d = d;
	bpf_loop(VG_PERSIST_DEPTH, vg_persist_step, &w, 0);
	if (!w.found)
		return 0;
	*out = w.rule;
	return 1;
}

/* Whether a hook earlier in this open(2) reported it already: path_mknod sees an O_CREAT open
 * of a name whose existence the kernel has not looked up yet (a dentry not in the cache), and
 * when the file does exist, the open goes on to file_open, which must refuse without a second
 * report. With the opt-in syscall tracepoints the syscall's stash carries the mark (also for
 * the open's exit tracepoint); without them, path_mknod leaves an allowed report's dentry in
 * vg_persist_marks and the same task's file_open of that dentry takes it. */
#define VG_PERSIST_MARK_NS 1000000000ULL
static __always_inline int vg_persist_seen(struct dentry *d, __u16 call, int verdict)
{
	__u64 key = bpf_get_current_pid_tgid();
	struct vg_stash *st = bpf_map_lookup_elem(&vg_stash_map, &key);
	struct vg_persist_mark mark = {}, *m;
	__u64 now;
	int seen;

	if (st) {
		seen = st->reported;
		st->reported = 1;
		return seen;
	}
	now = bpf_ktime_get_boot_ns();
	if (call == VG_OPEN_HOOK) {
		m = bpf_map_lookup_elem(&vg_persist_marks, &key);
		if (!m)
			return 0;
		seen = m->dentry == (__u64)d && now - m->ns < VG_PERSIST_MARK_NS;
		bpf_map_delete_elem(&vg_persist_marks, &key);
		return seen;
	}
	if (call == VG_OPEN_MKNOD && verdict == VG_VERDICT_AUDIT) {
		mark.dentry = (__u64)d;
		mark.ns = now;
		bpf_map_update_elem(&vg_persist_marks, &key, &mark, BPF_ANY);
	}
	return 0;
}

static __always_inline void vg_persist_emit(__u32 profile, const struct vg_persist_rule *rule,
					    int verdict, struct vfsmount *mnt, struct dentry *d,
					    __u16 call, __u32 oflags)
{
	struct vg_scratch *s = vg_scratch_get();
	struct vg_event_open *ev;
	struct path p = {};
	__u16 flags = VG_F_PATH_RESOLVED | VG_F_PERSIST;
	struct inode *inode;
	__u32 n;

	if (!s)
		return;
	if (!mnt) {
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();

		mnt = BPF_CORE_READ(task, fs, root.mnt);
	}
	p.mnt = mnt;
	p.dentry = d;
	ev = (void *)s->ev;
	vg_hdr_fill(&ev->hdr, VG_EV_OPEN, profile);
	ev->hdr.verdict = verdict;
	ev->hdr.tier = VG_TIER_LSM;
	ev->hdr.rule_id = rule->rule_id;
	ev->ret = verdict == VG_VERDICT_DENY ? -VG_EPERM : 0;
	ev->ino = 0;
	ev->dev = 0;
	inode = BPF_CORE_READ(d, d_inode);
	if (inode)
		vg_inode_id(inode, &ev->dev, &ev->ino);
	ev->flags = oflags;
	ev->mode = 0;
	ev->dfd = 0;
	ev->call = call;
	ev->pad = 0;
	n = vg_path_copy(s, &p, ev->tail, &flags);
	ev->hdr.flags = flags;
	ev->path_len = n;
	vg_emit(ev, sizeof(*ev) + (n & (VG_PATH_MAX * 2 - 1)));
}

/* Decides a change an agent task is about to make to d (reached through mnt; NULL: the task's
 * root mount, for the report only) and reports it: a refusal always, an audit unless *reported
 * (a hook that checks two names reports the first it audits, once): -EPERM to deny, else 0 (an errno, not a
 * flag, for the 6.12 verifier's return range). Sets *reported when it decided something.
 * Fails open: not an agent, no rule. */
static __always_inline int vg_persist_decide(struct dentry *d, struct vfsmount *mnt, int moving,
					     __u16 call, __u32 oflags, int *reported)
{
	struct vg_persist_rule rule = {};
	__u32 profile;
	__u64 root;
	int verdict;

	profile = vg_agent_find(&root);
	if (!profile)
		return 0;
	if (!vg_persist_find(profile, d, moving, call, &rule))
		return 0;
	if (rule.mode == VG_MODE_ENFORCE)
		verdict = VG_VERDICT_DENY;
	else if (rule.mode == VG_MODE_AUDIT)
		verdict = VG_VERDICT_AUDIT;
	else
		return 0;
	vg_stat_inc(verdict == VG_VERDICT_DENY ? VG_STAT_FILE_DENY : VG_STAT_FILE_AUDIT);
	/* a refusal is always reported (the call fails here, whatever an earlier name of the
	 * same call or an earlier hook reported); an audit once per call */
	if (verdict == VG_VERDICT_DENY) {
		vg_persist_seen(d, call, verdict);
		vg_persist_emit(profile, &rule, verdict, mnt, d, call, oflags);
	} else if (!*reported && !vg_persist_seen(d, call, verdict)) {
		vg_persist_emit(profile, &rule, verdict, mnt, d, call, oflags);
	}
	*reported = 1;
	if (verdict == VG_VERDICT_DENY)
		return -VG_EPERM;
	return 0;
}

static __always_inline int vg_persist_check(struct dentry *d, struct vfsmount *mnt, int moving,
					    __u16 call, __u32 oflags)
{
	int reported = 0;

	return vg_persist_decide(d, mnt, moving, call, oflags, &reported);
}

/* A directory an agent made (or first looked up) under a VG_PERSIST_WAY name: it becomes an
 * ancestor of the protected path (no rename away, no rmdir) and takes the name's node, under
 * which userspace keyed the next names of the path. */
static __always_inline void vg_persist_made_dir(__u32 profile, struct dentry *dentry,
						struct inode *inode)
{
	struct vg_persist_rule rule;
	struct vg_file_key ikey = {};
	__u32 node;

	if (!vg_persist_name(profile, dentry, &rule) || !(rule.flags & VG_PERSIST_WAY) ||
	    !rule.node)
		return;
	node = rule.node;
	ikey.ino = BPF_CORE_READ(inode, i_ino);
	ikey.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	ikey.profile_id = profile;
	rule.flags = VG_PERSIST_ANCESTOR;
	rule.node = 0;
	bpf_map_update_elem(&vg_persist_inodes, &ikey, &rule, BPF_ANY);
	bpf_map_update_elem(&vg_persist_alias, &ikey, &node, BPF_ANY);
}

/* file_open: an open for writing, or with O_TRUNC (which truncates without FMODE_WRITE).
 * Sets *reported when the guard decided (and reported) this open. */
static __always_inline int vg_persist_open(struct file *file, int *reported)
{
	__u32 fl = BPF_CORE_READ(file, f_flags);
	__u32 fm = BPF_CORE_READ(file, f_mode);

	if (!(fm & VG_PERSIST_FMODE_WRITE) && !(fl & VG_PERSIST_O_TRUNC))
		return 0;
	if (vg_persist_decide(BPF_CORE_READ(file, f_path.dentry), BPF_CORE_READ(file, f_path.mnt),
			      0, VG_OPEN_HOOK, fl, reported))
		return -VG_EPERM;
	return 0;
}

#endif /* VG_PERSIST_BPF_H */
