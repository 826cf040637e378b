/* SPDX-License-Identifier: GPL-2.0-only */
/* env.bpf.h - the watched variables of a new program's environment (LD_PRELOAD, GIT_SSH_COMMAND,
 * NODE_OPTIONS, ...), read at exec from the new image's stack. Only variables whose name is in
 * vg_env_names leave the kernel: the rest of the environment may hold secrets and is never
 * copied.
 *
 * The caller chooses the order of envp, so a variable can hide behind any amount of padding. The
 * scan therefore walks every string to env_end, one bpf_probe_read_user_str() per string (or per
 * VG_ENV_STR_MAX - 1 bytes of a long one), and says so (VG_F_ENV_TRUNC) when the budget of
 * VG_ENV_ITERS reads ran out first: userspace treats an unscanned environment as suspect. */
#ifndef VG_ENV_BPF_H
#define VG_ENV_BPF_H

#include "maps.bpf.h"

/* Matches are gathered in the upper half of vg_scratch.path; the lower half holds the string
 * being read. */
#define VG_ENV_OUT VG_PATH_MAX

struct vg_env_scan {
	unsigned long pos;
	unsigned long end;
	__u32 out;  /* bytes of matches gathered at path[VG_ENV_OUT] */
	__u8 at_start;
	__u8 full;  /* a match did not fit */
	__u8 done;
	__u8 pad;
};

/* Is the NAME of "NAME=VALUE" in s->path watched? One trie lookup answers for exact names and
 * prefixes alike (see struct vg_env_key). */
static __always_inline bool vg_env_watched(struct vg_scratch *s)
{
	struct vg_env_key key = {};
	__u32 j, len = 0;
	bool eq = false;

	for (j = 0; j < VG_ENV_NAME_MAX - 1; j++) {
		char ch = s->path[j];

		if (ch == '=') {
			eq = true;
			break;
		}
		if (!ch)
			break;
		key.name[j] = ch;
		len++;
	}
	if (!eq) /* not NAME=VALUE, or a name longer than any watched one */
		return false;
	key.prefixlen = 8 * (len + 1); /* the name and its NUL (key.name is zero-filled) */
	return bpf_map_lookup_elem(&vg_env_names, &key) != NULL;
}

static long vg_env_step(__u32 i, void *arg)
{
	struct vg_env_scan *c = arg;
	struct vg_scratch *s = vg_scratch_get();
	long n;

	if (!s || c->pos >= c->end) {
		c->done = 1;
		return 1;
	}
	n = bpf_probe_read_user_str(s->path, VG_ENV_STR_MAX, (void *)c->pos);
	if (n <= 0) { /* unreadable: nothing more can be scanned */
		c->done = 1;
		return 1;
	}
	if (c->at_start && vg_env_watched(s)) {
		__u32 len = (__u32)n & (2 * VG_ENV_STR_MAX - 1);
		__u32 out = c->out;

		if (len > VG_ENV_STR_MAX || out + len > VG_ENV_MAX) {
			c->full = 1;
		} else {
			bpf_probe_read_kernel(&s->path[VG_ENV_OUT + (out & (VG_ENV_MAX - 1))], len,
					      s->path);
			c->out = out + len;
		}
	}
	if (n == VG_ENV_STR_MAX) { /* cut short: the rest of this string is not a new variable */
		c->pos += VG_ENV_STR_MAX - 1;
		c->at_start = 0;
	} else {
		c->pos += n;
		c->at_start = 1;
	}
	return 0;
}

/* Scans the environment of task's new image. Leaves the matches at s->path[VG_ENV_OUT] and
 * returns their length; sets VG_F_ENV_TRUNC in *flags when the scan was incomplete. */
static __always_inline __u32 vg_env_collect(struct task_struct *task, __u16 *flags)
{
	struct vg_env_scan c = {};
	struct vg_env_cfg *cfg;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(&vg_env_cfg, &zero);
	if (!cfg || !cfg->enabled)
		return 0;
	c.pos = BPF_CORE_READ(task, mm, env_start);
	c.end = BPF_CORE_READ(task, mm, env_end);
	c.at_start = 1;
	bpf_loop(VG_ENV_ITERS, vg_env_step, &c, 0);
	if (!c.done || c.full) {
		*flags |= VG_F_ENV_TRUNC;
		vg_stat_inc(VG_STAT_ENV_TRUNC);
	}
	return c.out & (2 * VG_ENV_MAX - 1);
}

#endif /* VG_ENV_BPF_H */
