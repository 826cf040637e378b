/* SPDX-License-Identifier: GPL-2.0-only */
/* file.bpf.h - is this file protected for this profile? By identity, never by the path string:
 * the file's own (dev, ino), its name against basename patterns, and its ancestors' identities
 * (directory rules), so hardlinks, symlinks, bind mounts, /proc/self/root, ".." and every
 * syscall that ends in file_open meet the same check. */
#ifndef VG_FILE_BPF_H
#define VG_FILE_BPF_H

#include "task.bpf.h"

#define VG_DIR_DEPTH 16 /* ancestors checked for directory rules */

static __always_inline int vg_file_lookup(__u32 profile, struct dentry *d,
					  struct vg_file_rule *out)
{
	struct inode *inode = BPF_CORE_READ(d, d_inode);
	struct vg_file_key key = {};
	struct vg_file_rule *rule;

	if (!inode)
		return 0;
	key.ino = BPF_CORE_READ(inode, i_ino);
	key.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	key.profile_id = profile;
	rule = bpf_map_lookup_elem(&vg_file_inodes, &key);
	if (!rule)
		return 0;
	*out = *rule;
	return 1;
}

/* name (NUL-terminated, len bytes without the NUL) against pattern p: prefix*suffix, or exact. */
static __always_inline int vg_name_match(const struct vg_name_pat *p, const char *name, __u32 len)
{
	__u32 plen = p->prefix_len, slen = p->suffix_len;
	int i;

	if (plen > VG_NAME_PART || slen > VG_NAME_PART)
		return 0;
	if (p->whole ? len != plen : len < plen + slen)
		return 0;
	for (i = 0; i < VG_NAME_PART; i++) {
		if (i >= plen)
			break;
		if (name[i & VG_NAME_MAX] != p->prefix[i])
			return 0;
	}
	for (i = 0; i < VG_NAME_PART; i++) {
		if (i >= slen)
			break;
		if (name[(len - slen + i) & VG_NAME_MAX] != p->suffix[i])
			return 0;
	}
	return 1;
}

struct vg_name_scan {
	__u32 profile;
	__u32 len;
	__u32 group;   /* 0: the profile's global patterns; n: the patterns of directory group n */
	__u32 rule_id; /* out: the matching pattern's rule, 0 if none */
};

static long vg_name_step(__u32 i, void *arg)
{
	struct vg_name_scan *sc = arg;
	struct vg_scratch *s = vg_scratch_get();
	struct vg_name_pat *p;
	__u32 idx = i;

	if (!s)
		return 1;
	p = bpf_map_lookup_elem(&vg_name_pats, &idx);
	/* Userspace fills the table from slot 0 without gaps: the first empty slot ends the scan
	 * (a full 128-slot walk costs an unprotected open ~10000 instructions). */
	if (!p || p->profile_id == 0)
		return 1;
	if (p->profile_id != sc->profile)
		return 0;
	if (sc->group ? p->group != sc->group : !p->anywhere)
		return 0;
	if (vg_name_match(p, s->name, sc->len)) {
		sc->rule_id = p->rule_id;
		return 1;
	}
	return 0;
}

/* Loads the dentry's name into s->name; returns its length (without NUL), or -1. */
static __always_inline int vg_name_load(struct vg_scratch *s, struct dentry *d)
{
	const unsigned char *name = BPF_CORE_READ(d, d_name.name);
	long n = bpf_probe_read_kernel_str(s->name, sizeof(s->name), name);

	return n > 0 ? (int)(n - 1) : -1;
}

struct vg_dir_walk {
	__u32 profile;
	__u32 rule_id; /* out */
	__u16 child_pat; /* out: a CHILDREN rule of the parent wants this name pattern checked */
	__u16 pad;
	struct dentry *d;
};

/* Step i looks at the (i+1)-th ancestor. */
static long vg_dir_step(__u32 i, void *arg)
{
	struct vg_dir_walk *w = arg;
	struct dentry *d = w->d;
	struct dentry *parent = BPF_CORE_READ(d, d_parent);
	struct vg_file_rule rule;

	if (!parent || parent == d)
		return 1;
	w->d = parent;
	if (!vg_file_lookup(w->profile, parent, &rule))
		return 0;
	if (rule.flags & VG_FILE_SUBTREE) {
		w->rule_id = rule.rule_id;
		return 1;
	}
	if (i == 0 && (rule.flags & VG_FILE_CHILDREN)) {
		if (rule.name_pat == 0) {
			w->rule_id = rule.rule_id;
			return 1;
		}
		w->child_pat = rule.name_pat;
	}
	return 0;
}

/* Rule id protecting the file's dentry for this profile, or 0. */
static __always_inline __u32 vg_file_protected(__u32 profile, struct dentry *dentry)
{
	struct vg_scratch *s = vg_scratch_get();
	struct vg_file_rule rule;
	struct vg_dir_walk w = {};
	struct vg_name_scan sc = {};
	int len;

	if (!s)
		return 0;
	if (vg_file_lookup(profile, dentry, &rule) && (rule.flags & VG_FILE_SELF))
		return rule.rule_id;
	w.profile = profile;
	w.d = dentry;
	bpf_loop(VG_DIR_DEPTH, vg_dir_step, &w, 0);
	if (w.rule_id)
		return w.rule_id;
	len = vg_name_load(s, dentry);
	if (len < 0)
		return 0;
	sc.profile = profile;
	sc.len = len;
	if (w.child_pat) {
		sc.group = w.child_pat;
		bpf_loop(VG_NAME_PATS, vg_name_step, &sc, 0);
		if (sc.rule_id)
			return sc.rule_id;
		sc.group = 0;
	}
	bpf_loop(VG_NAME_PATS, vg_name_step, &sc, 0);
	return sc.rule_id;
}

#endif /* VG_FILE_BPF_H */
