/* SPDX-License-Identifier: GPL-2.0-only */
/* path.bpf.h - the absolute path of an opened file, from its dentries, where bpf_d_path is not
 * allowed (tracepoints). The name comes from the kernel's view of the object, so symlinks, "..",
 * /proc/self/root and relative opens all report the file actually opened. */
#ifndef VG_PATH_BPF_H
#define VG_PATH_BPF_H

#include "maps.bpf.h"

struct vg_path_walk {
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	struct mount *mnt;
	struct dentry *root_dentry;
	struct vfsmount *root_mnt;
	__u32 pos;
	__u16 flags;
	__u16 done;
};

/* One step of the walk: prepend one component, or cross one mount. Run by bpf_loop so the
 * verifier checks the body once instead of once per iteration and per branch combination (an
 * open-coded loop with the mount-crossing branch exceeds the 1M-instruction budget). */
static long vg_path_step(__u32 i, void *arg)
{
	struct vg_path_walk *w = arg;
	struct vg_scratch *s = vg_scratch_get();
	struct dentry *mnt_root, *parent;
	struct qstr name;
	__u32 len, pos;

	if (!s)
		return 1;
	/* Locals, not w->x: CO-RE would record the access through our own struct as a relocation. */
	struct dentry *dentry = w->dentry;
	struct vfsmount *vfsmnt = w->vfsmnt;
	struct mount *mnt = w->mnt;

	if (dentry == w->root_dentry && vfsmnt == w->root_mnt)
		goto done;
	mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
	parent = BPF_CORE_READ(dentry, d_parent);
	if (dentry == mnt_root || dentry == parent) {
		struct mount *mnt_parent = BPF_CORE_READ(mnt, mnt_parent);

		if (mnt == mnt_parent) /* global root, or a detached mount */
			goto done;
		w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = mnt_parent;
		w->vfsmnt = (void *)mnt_parent + bpf_core_field_offset(struct mount, mnt);
		return 0;
	}
	name = BPF_CORE_READ(dentry, d_name);
	len = name.len & VG_NAME_MAX;
	pos = w->pos;
	if (len + 1 > pos || pos >= VG_PATH_MAX) {
		w->flags |= VG_F_PATH_TRUNC;
		goto done;
	}
	pos -= len;
	bpf_probe_read_kernel(&s->path[pos & (VG_PATH_MAX - 1)], len, name.name);
	pos -= 1;
	s->path[pos & (VG_PATH_MAX - 1)] = '/';
	w->pos = pos;
	w->dentry = parent;
	return 0;
done:
	w->done = 1;
	return 1;
}

/* Walks dentry parents and mount parents up to the task's root, writing components backwards
 * into s->path[0, VG_PATH_MAX). Returns the offset of the first byte; the path (NUL included)
 * runs to VG_PATH_MAX. Sets VG_F_PATH_TRUNC in *flags when depth or length ran out. */
static __always_inline __u32 vg_path_build(struct vg_scratch *s, const struct path *p,
					   __u16 *flags)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct vg_path_walk w = {};
	__u32 pos;

	w.root_dentry = BPF_CORE_READ(task, fs, root.dentry);
	w.root_mnt = BPF_CORE_READ(task, fs, root.mnt);
	w.dentry = BPF_CORE_READ(p, dentry);
	w.vfsmnt = BPF_CORE_READ(p, mnt);
	/* container_of(vfsmnt, struct mount, mnt), the offset relocated for the running kernel */
	w.mnt = (void *)w.vfsmnt - bpf_core_field_offset(struct mount, mnt);
	w.pos = VG_PATH_MAX - 1;
	s->path[VG_PATH_MAX - 1] = '\0';
	bpf_loop(VG_PATH_DEPTH, vg_path_step, &w, 0);
	if (!w.done)
		w.flags |= VG_F_PATH_TRUNC;
	if (w.flags & VG_F_PATH_TRUNC)
		vg_stat_inc(VG_STAT_PATH_TRUNC);
	*flags |= w.flags;
	pos = w.pos;
	if (pos >= VG_PATH_MAX - 1) { /* the root itself */
		pos = VG_PATH_MAX - 2;
		s->path[pos] = '/';
	}
	return pos & (VG_PATH_MAX - 1);
}

/* Resolves p into dst (VG_PATH_MAX bytes). Returns bytes written, NUL included. */
static __always_inline __u32 vg_path_copy(struct vg_scratch *s, const struct path *p, char *dst,
					  __u16 *flags)
{
	__u32 start = vg_path_build(s, p, flags);
	__u32 len = VG_PATH_MAX - start;

	if (len > VG_PATH_MAX)
		len = VG_PATH_MAX;
	bpf_probe_read_kernel(dst, len, &s->path[start]);
	return len;
}

/* (dev, ino) of an inode, in the encoding of the ABI. */
static __always_inline void vg_inode_id(const struct inode *inode, __u32 *dev, __u64 *ino)
{
	*ino = BPF_CORE_READ(inode, i_ino);
	*dev = BPF_CORE_READ(inode, i_sb, s_dev);
}

#endif /* VG_PATH_BPF_H */
