// SPDX-License-Identifier: GPL-2.0-only
/* lsm_path_link.bpf.c - tier 1: an agent cannot hard-link a protected file to a name no rule
 * matches (link, linkat, and linkat(AT_EMPTY_PATH) of an fd, which is how an O_PATH or
 * O_TMPFILE fd gets a name). Attached globally (lsm/) in both attachments: the kernel has room
 * for only ten lsm_cgroup hooks. Fails open (see vg_file_move_check). */
#include "file.bpf.h"

SEC("lsm/path_link")
int BPF_PROG(vg_path_link, struct dentry *old_dentry, const struct path *new_dir,
	     struct dentry *new_dentry, int ret)
{
	if (ret) /* an earlier LSM program already denied: keep its answer */
		return ret;
	/* An explicit branch: a conditional expression compiles (clang 14) into code whose return
	 * range the 6.12 verifier cannot bound to [-4095, 0]. */
	if (vg_file_move_check(old_dentry, new_dir, VG_OPEN_LINK))
		return -VG_EPERM;
	return 0;
}
