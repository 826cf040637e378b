/* SPDX-License-Identifier: GPL-2.0-only */
/* tamper.bpf.h - self-protection: what counts as an agent reaching for vigil or for the boundary
 * that confines it, and the one way such an attempt is reported. Tier 1 (BPF LSM) denies it;
 * tier 2 (tracepoints only) cannot stop a syscall, so it kills the task before the syscall
 * returns to it, which leaves it no instruction to use the result with. */
#ifndef VG_TAMPER_BPF_H
#define VG_TAMPER_BPF_H

#include "task.bpf.h"

#define VG_CGROUP2_SUPER_MAGIC 0x63677270
#define VG_CGROUP_SUPER_MAGIC 0x27e0eb
#define VG_BPF_FS_MAGIC 0xcafe4a11
#define VG_PROC_SUPER_MAGIC 0x9fa0
#define VG_FMODE_WRITE 0x2
#define VG_CLONE_INTO_CGROUP 0x200000000ULL
#define VG_SIGKILL 9
#define VG_SIGCHLD 17
#define VG_SI_USER 0
#define VG_SI_QUEUE -1
#define VG_SI_TKILL -6

/* The verdict for a tamper attempt under the agent's profile; VG_VERDICT_NONE: not watched. */
static __always_inline int vg_tamper_verdict(__u32 profile, int can_deny)
{
	const struct vg_profile_cfg *cfg = bpf_map_lookup_elem(&vg_profiles, &profile);

	if (!cfg || cfg->tamper_mode == VG_MODE_OFF)
		return VG_VERDICT_NONE;
	if (cfg->tamper_mode == VG_MODE_AUDIT)
		return VG_VERDICT_AUDIT;
	return can_deny ? VG_VERDICT_DENY : VG_VERDICT_KILL;
}

/* Reports an attempt (never dropped by the rate limit: its verdict is not NONE). name: a kernel
 * string (a dentry name, a comm) or NULL. */
static __always_inline void vg_tamper_emit(__u32 profile, int verdict, int tier, __u16 kind,
					   __s32 arg, __u32 target_tgid, __u64 target_cgroup,
					   const char *name)
{
	struct vg_event_tamper *ev;
	struct vg_scratch *s;

	vg_stat_inc(VG_STAT_TAMPER);
	s = vg_scratch_get();
	if (!s)
		return;
	ev = (void *)s->ev;
	vg_hdr_fill(&ev->hdr, VG_EV_TAMPER, profile);
	ev->hdr.verdict = verdict;
	ev->hdr.tier = tier;
	ev->kind = kind;
	ev->pad = 0;
	ev->arg = arg;
	ev->target_tgid = target_tgid;
	ev->pad2 = 0;
	ev->target_cgroup = target_cgroup;
	ev->name[0] = '\0';
	if (name)
		bpf_probe_read_kernel_str(ev->name, sizeof(ev->name), name);
	vg_emit(ev, sizeof(*ev));
}

/* Tier 2: kills the current task (its whole process) when the verdict says so. */
static __always_inline void vg_tamper_kill_current(int verdict)
{
	if (verdict == VG_VERDICT_KILL)
		bpf_send_signal(VG_SIGKILL);
}

static __always_inline unsigned long vg_inode_magic(struct inode *inode)
{
	return BPF_CORE_READ(inode, i_sb, s_magic);
}

static __always_inline int vg_is_cgroupfs(unsigned long magic)
{
	return magic == VG_CGROUP2_SUPER_MAGIC || magic == VG_CGROUP_SUPER_MAGIC;
}

/* The cgroup a cgroupfs directory inode stands for (kernfs node's priv), or NULL. */
static __always_inline struct cgroup *vg_cgroup_of_dir(struct inode *dir)
{
	struct kernfs_node *kn = BPF_CORE_READ(dir, i_private);

	if (!kn)
		return NULL;
	return BPF_CORE_READ(kn, priv);
}

/* The agent's boundary: a cgroupfs directory the agent may change (create children in, write
 * files of) is one strictly below its root; its root's own files are limited to moving tasks
 * in (cgroup.procs, cgroup.threads) so the controllers and limits its parent set stay. */
static __always_inline int vg_cgroupfs_dir_ok(struct inode *dir, __u64 root, int root_ok)
{
	struct cgroup *cg;

	if (vg_inode_magic(dir) != VG_CGROUP2_SUPER_MAGIC)
		return 0; /* v1 hierarchies: none is the agent's */
	cg = vg_cgroup_of_dir(dir);
	if (!cg)
		return 0;
	if (BPF_CORE_READ(cg, kn, id) == root)
		return root_ok;
	return vg_cgroup_within(cg, root);
}

/* Is the current mount namespace one the agent made inside a user namespace of its own? Only
 * there may it mount: a namespace owned by the initial user namespace shares vigil's view (or
 * was copied from it without locked mounts, so masks over pins and cgroupfs could be peeled). */
static __always_inline int vg_own_mount_ns(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();

	return BPF_CORE_READ(task, nsproxy, mnt_ns, user_ns, level) > 0;
}

struct vg_proc_walk {
	struct dentry *d;
	struct dentry *top; /* the component right below the procfs root */
};

static long vg_proc_step(__u32 i, void *arg)
{
	struct vg_proc_walk *w = arg;
	struct dentry *d = w->d;
	struct dentry *parent = BPF_CORE_READ(d, d_parent);

	if (!parent || parent == d)
		return 1;
	if (BPF_CORE_READ(parent, d_parent) == parent) { /* parent is the procfs root */
		w->top = d;
		return 1;
	}
	w->d = parent;
	return 0;
}

/* A procfs file whose write changes the kernel for everyone: /proc/sys/..., /proc/sysrq-trigger. */
static __always_inline int vg_proc_sysctl(struct dentry *dentry)
{
	struct vg_proc_walk w = { .d = dentry };
	char name[16] = {};

	struct dentry *top;

	bpf_loop(VG_PATH_DEPTH, vg_proc_step, &w, 0);
	top = w.top; /* a local: CO-RE must not see an access through our own struct */
	if (!top)
		return 0;
	bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(top, d_name.name));
	if (name[0] == 's' && name[1] == 'y' && name[2] == 's' && name[3] == '\0')
		return 1;
	return name[0] == 's' && name[1] == 'y' && name[2] == 's' && name[3] == 'r' &&
	       name[4] == 'q';
}

/* file_open's share of self-protection: opens for write of cgroupfs files outside the agent's
 * boundary, of anything on a bpffs, and of sysctls. Returns the verdict (NONE: not tamper). */
static __always_inline int vg_tamper_file_open(struct file *file, __u32 profile, __u64 root)
{
	struct dentry *dentry;
	struct inode *dir;
	unsigned long magic;
	char name[16] = {};
	__u16 kind;
	int verdict, root_ok;

	if (!(BPF_CORE_READ(file, f_mode) & VG_FMODE_WRITE))
		return VG_VERDICT_NONE;
	magic = vg_inode_magic(BPF_CORE_READ(file, f_inode));
	dentry = BPF_CORE_READ(file, f_path.dentry);
	if (vg_is_cgroupfs(magic)) {
		dir = BPF_CORE_READ(dentry, d_parent, d_inode);
		bpf_probe_read_kernel_str(name, sizeof(name), (const char *)BPF_CORE_READ(dentry, d_name.name));
		/* "cgroup.procs", "cgroup.threads": moving tasks into the root is fine */
		root_ok = name[0] == 'c' && name[6] == '.' &&
			  ((name[7] == 'p' && name[8] == 'r') || (name[7] == 't' && name[8] == 'h'));
		if (vg_cgroupfs_dir_ok(dir, root, root_ok))
			return VG_VERDICT_NONE;
		kind = VG_TAMPER_CGROUP_WRITE;
	} else if (magic == VG_BPF_FS_MAGIC) {
		kind = VG_TAMPER_BPFFS;
	} else if (magic == VG_PROC_SUPER_MAGIC && vg_proc_sysctl(dentry)) {
		kind = VG_TAMPER_SYSCTL;
	} else {
		return VG_VERDICT_NONE;
	}
	verdict = vg_tamper_verdict(profile, 1);
	if (verdict == VG_VERDICT_NONE)
		return verdict;
	vg_tamper_emit(profile, verdict, VG_TIER_LSM, kind, 0, 0,
		       vg_is_cgroupfs(magic) ?
			       BPF_CORE_READ(dentry, d_parent, d_inode, i_ino) : 0,
		       (const char *)BPF_CORE_READ(dentry, d_name.name));
	return verdict;
}

#endif /* VG_TAMPER_BPF_H */
