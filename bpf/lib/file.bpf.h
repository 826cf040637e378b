/* SPDX-License-Identifier: GPL-2.0-only */
/* file.bpf.h - is this file protected for this profile? By identity, never by the path string:
 * the file's own (dev, ino), its name against basename patterns, and its ancestors' identities
 * (directory rules), so hardlinks, symlinks, bind mounts, /proc/self/root, ".." and every
 * syscall that ends in file_open meet the same check. */
#ifndef VG_FILE_BPF_H
#define VG_FILE_BPF_H

#include "path.bpf.h"
#include "task.bpf.h"

/* Ancestors checked for directory rules. A file deeper than this below its file system's root
 * cannot be proven outside every protected directory, so the check fails closed
 * (VG_RULE_TOO_DEEP): an agent cannot hide a protected subtree's file under 129 directories. */
#define VG_DIR_DEPTH 128

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

/* vg_byte_masks[n][w]: which bytes of word w of a string the first n bytes cover (n <= 32). A
 * table, not arithmetic: a comparison that branches gives the verifier a path per branch and
 * pattern (a byte loop with a return per byte was 93 % of what it checked in the file_open
 * program, 235,000 instructions). Little-endian: the first bytes are a word's low bytes. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "vg_byte_masks: first bytes are low");
#define VG_M(n) ((n) <= 0 ? 0ULL : (n) >= 8 ? ~0ULL : (1ULL << (((n) > 0 && (n) < 8 ? (n) : 1) * 8)) - 1)
#define VG_MASKS(n) { VG_M(n), VG_M((n) - 8), VG_M((n) - 16), VG_M((n) - 24) }
static const volatile __u64 vg_byte_masks[VG_NAME_PART + 1][VG_NAME_PART / 8] = {
	VG_MASKS(0), VG_MASKS(1), VG_MASKS(2), VG_MASKS(3), VG_MASKS(4), VG_MASKS(5),
	VG_MASKS(6), VG_MASKS(7), VG_MASKS(8), VG_MASKS(9), VG_MASKS(10), VG_MASKS(11),
	VG_MASKS(12), VG_MASKS(13), VG_MASKS(14), VG_MASKS(15), VG_MASKS(16), VG_MASKS(17),
	VG_MASKS(18), VG_MASKS(19), VG_MASKS(20), VG_MASKS(21), VG_MASKS(22), VG_MASKS(23),
	VG_MASKS(24), VG_MASKS(25), VG_MASKS(26), VG_MASKS(27), VG_MASKS(28), VG_MASKS(29),
	VG_MASKS(30), VG_MASKS(31), VG_MASKS(32),
};
#undef VG_MASKS
#undef VG_M

/* Do the first n (<= VG_NAME_PART) bytes of a and b differ? A word at a time, no branch. */
static __always_inline int vg_bytes_differ(const char *a, const char *b, __u32 n)
{
	__u64 diff = 0;
	__u32 w;

	n &= 2 * VG_NAME_PART - 1;
	if (n > VG_NAME_PART)
		return 1;
	for (w = 0; w < VG_NAME_PART / 8; w++)
		diff |= (*(const __u64 *)(a + w * 8) ^ *(const __u64 *)(b + w * 8)) &
			vg_byte_masks[n][w];
	return diff != 0;
}

/* name (NUL-terminated, len bytes without the NUL, in a buffer VG_NAME_PART bytes longer than
 * a name) against pattern p: prefix*suffix, or exact. */
static __always_inline int vg_name_match(const struct vg_name_pat *p, const char *name, __u32 len)
{
	__u32 plen = p->prefix_len, slen = p->suffix_len;

	if (plen > VG_NAME_PART || slen > VG_NAME_PART || len > VG_NAME_MAX)
		return 0;
	if (p->whole ? len != plen : len < plen + slen)
		return 0;
	if (vg_bytes_differ(name, p->prefix, plen))
		return 0;
	return !vg_bytes_differ(name + ((len - slen) & VG_NAME_MAX), p->suffix, slen);
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
	long n = bpf_probe_read_kernel_str(s->name, VG_NAME_MAX + 1, name);

	return n > 0 ? (int)(n - 1) : -1;
}

struct vg_dir_walk {
	__u32 profile;
	__u32 rule_id; /* out */
	__u16 child_pat; /* out: a CHILDREN rule of the parent wants this name pattern checked */
	__u16 top;       /* out: the walk reached the file system's root */
	struct dentry *d;
};

/* Step i looks at the (i+1)-th ancestor. */
static long vg_dir_step(__u32 i, void *arg)
{
	struct vg_dir_walk *w = arg;
	struct dentry *d = w->d;
	struct dentry *parent = BPF_CORE_READ(d, d_parent);
	struct vg_file_rule rule;

	if (!parent || parent == d) {
		w->top = 1;
		return 1;
	}
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

/* Rule id protecting the file's dentry for this profile, 0 if none, or VG_RULE_TOO_DEEP when
 * the dentry lies deeper than the walk reaches (fail closed). */
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
	if (!w.top)
		return VG_RULE_TOO_DEEP;
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

/* Tier 1: an agent cannot give a protected file another name. A hard link or a rename of it
 * (whether protected by its identity, a directory rule or a basename pattern) would leave a
 * name that no pattern matches; inode rules would still follow it, basename rules would not.
 * mnt is the mount the file lies on (path hooks: the new name's directory's, since the kernel
 * refuses links and renames across mounts with EXDEV), so {mnt, dentry} is its path. The inode
 * hooks, which also see links and renames that no syscall made (overlayfs copying up, nfsd),
 * pass NULL: the report's path is then taken from the file system's root.
 * Reported as an open record with call = VG_OPEN_LINK or VG_OPEN_RENAME. Returns -EPERM to
 * deny, else 0 (an errno, not a flag: clang turns "flag ? -EPERM : 0" into a negation whose
 * range the 6.12 verifier cannot bound). Fails open: no profile, files off. */
static __always_inline int vg_file_move_check(struct dentry *dentry, struct vfsmount *mnt,
					      __u16 call)
{
	const struct vg_profile_cfg *cfg;
	struct vg_event_open *ev;
	struct vg_scratch *s;
	struct path p = {};
	__u16 flags = VG_F_PATH_RESOLVED;
	__u32 profile, rule, n;
	__u64 root;
	int verdict;

	profile = vg_agent_find(&root);
	if (!profile)
		return 0;
	cfg = bpf_map_lookup_elem(&vg_profiles, &profile);
	if (!cfg || cfg->file_mode == VG_MODE_OFF)
		return 0;
	rule = vg_file_protected(profile, dentry);
	if (!rule)
		return 0;
	if (rule == VG_RULE_TOO_DEEP)
		flags |= VG_F_PATH_TRUNC;
	verdict = cfg->file_mode == VG_MODE_ENFORCE ? VG_VERDICT_DENY : VG_VERDICT_AUDIT;
	vg_stat_inc(verdict == VG_VERDICT_DENY ? VG_STAT_FILE_DENY : VG_STAT_FILE_AUDIT);
	s = vg_scratch_get();
	if (!s)
		goto out;
	if (!mnt) {
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();

		mnt = BPF_CORE_READ(task, fs, root.mnt);
	}
	p.mnt = mnt;
	p.dentry = dentry;
	ev = (void *)s->ev;
	vg_hdr_fill(&ev->hdr, VG_EV_OPEN, profile);
	ev->hdr.verdict = verdict;
	ev->hdr.tier = VG_TIER_LSM;
	ev->hdr.rule_id = rule;
	ev->ret = verdict == VG_VERDICT_DENY ? -VG_EPERM : 0;
	vg_inode_id(BPF_CORE_READ(dentry, d_inode), &ev->dev, &ev->ino);
	ev->flags = 0;
	ev->mode = 0;
	ev->dfd = 0;
	ev->call = call;
	ev->pad = 0;
	n = vg_path_copy(s, &p, ev->tail, &flags);
	ev->hdr.flags = flags;
	ev->path_len = n;
	vg_emit(ev, sizeof(*ev) + (n & (VG_PATH_MAX * 2 - 1)));
out:
	if (verdict == VG_VERDICT_DENY)
		return -VG_EPERM;
	return 0;
}

#endif /* VG_FILE_BPF_H */
