// SPDX-License-Identifier: GPL-2.0-only
/* lsm_path_link.bpf.c - tier 1: an agent cannot hard-link a protected file to a name no rule
 * matches (link, linkat, and linkat(AT_EMPTY_PATH) of an fd, which is how an O_PATH or
 * O_TMPFILE fd gets a name). The path hook decides and reports the syscalls with the file's
 * whole path; inode_link (below) sees every link, also those made below an overlay mount the
 * agent owns, where the path hook only met overlay dentries with no rule. A link the path hook
 * refused never reaches the inode hook, so no attempt is reported twice. Attached globally
 * (lsm/) in both attachments: the kernel has room for only ten lsm_cgroup hooks. Fails open
 * (see vg_file_move_check). The persistence guard refuses a link whose new name is protected
 * (a hook linked into .git/hooks): the file linked is not changed, its new name is. */
#include "file.bpf.h"
#include "persist.bpf.h"

SEC("lsm/path_link")
int BPF_PROG(vg_path_link, struct dentry *old_dentry, const struct path *new_dir,
	     struct dentry *new_dentry, int ret)
{
	int reported = 0; /* the two names are reported once */

	if (ret) /* an earlier LSM program already denied: keep its answer */
		return ret;
	/* An explicit branch: a conditional expression compiles (clang 14) into code whose return
	 * range the 6.12 verifier cannot bound to [-4095, 0]. */
	if (vg_file_move_check(old_dentry, BPF_CORE_READ(new_dir, mnt), VG_OPEN_LINK))
		return -VG_EPERM;
	/* the persistence guard: no second name for a protected file, no link into a protected
	 * name (the protected side is reported, the file first) */
	if (vg_persist_decide(old_dentry, BPF_CORE_READ(new_dir, mnt), 0, VG_OPEN_LINK, 0, &reported))
		return -VG_EPERM;
	if (vg_persist_decide(new_dentry, BPF_CORE_READ(new_dir, mnt), 0, VG_OPEN_LINK, 0, &reported))
		return -VG_EPERM;
	return 0;
}

SEC("lsm/inode_link")
int BPF_PROG(vg_inode_link, struct dentry *old_dentry, struct inode *dir, struct dentry *new_dentry,
	     int ret)
{
	if (ret)
		return ret;
	if (vg_file_move_check(old_dentry, NULL, VG_OPEN_LINK))
		return -VG_EPERM;
	return 0;
}
