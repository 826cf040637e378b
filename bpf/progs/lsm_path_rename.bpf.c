// SPDX-License-Identifier: GPL-2.0-only
/* lsm_path_rename.bpf.c - tier 1: an agent cannot move or rename a protected file (rename,
 * renameat, renameat2; with RENAME_EXCHANGE the file at the new name moves too). Renaming a
 * directory that holds protected files is allowed: directory and inode rules follow the
 * directory's identity. Attached globally (lsm/), as path_link; inode_rename backs it up as
 * inode_link backs up path_link. Fails open.
 * The persistence guard refuses a rename of a protected object or of a directory on the way to
 * one (`mv .git .git.old`), and one onto a protected name (`sed -i`, `git config`: a temporary
 * file renamed onto .git/config; `mv x .git/hooks/pre-commit`). One report per rename: the side
 * that is protected, the old one first. */
#include "file.bpf.h"
#include "persist.bpf.h"

#define VG_RENAME_EXCHANGE (1 << 1)

SEC("lsm/path_rename")
int BPF_PROG(vg_path_rename, const struct path *old_dir, struct dentry *old_dentry,
	     const struct path *new_dir, struct dentry *new_dentry, unsigned int flags, int ret)
{
	int reported = 0; /* the two names are reported once */

	if (ret) /* an earlier LSM program already denied: keep its answer */
		return ret;
	if (vg_file_move_check(old_dentry, BPF_CORE_READ(old_dir, mnt), VG_OPEN_RENAME))
		return -VG_EPERM;
	if ((flags & VG_RENAME_EXCHANGE) && BPF_CORE_READ(new_dentry, d_inode) &&
	    vg_file_move_check(new_dentry, BPF_CORE_READ(new_dir, mnt), VG_OPEN_RENAME))
		return -VG_EPERM;
	if (vg_persist_decide(old_dentry, BPF_CORE_READ(old_dir, mnt), 1, VG_OPEN_RENAME, 0, &reported))
		return -VG_EPERM;
	if (vg_persist_decide(new_dentry, BPF_CORE_READ(new_dir, mnt), 1, VG_OPEN_RENAME, 0, &reported))
		return -VG_EPERM;
	return 0;
}

/* Every rename, also below an overlay mount (see lsm_path_link.bpf.c). The kernel calls it a
 * second time with the two sides swapped for RENAME_EXCHANGE. */
SEC("lsm/inode_rename")
int BPF_PROG(vg_inode_rename, struct inode *old_dir, struct dentry *old_dentry,
	     struct inode *new_dir, struct dentry *new_dentry, int ret)
{
	if (ret)
		return ret;
	if (vg_file_move_check(old_dentry, NULL, VG_OPEN_RENAME))
		return -VG_EPERM;
	return 0;
}
