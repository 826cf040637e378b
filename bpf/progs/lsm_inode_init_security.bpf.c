// SPDX-License-Identifier: GPL-2.0-only
/* lsm_inode_init_security.bpf.c - remembers which agent created each FIFO, so file_open can
 * tell an agent's own FIFO from one an outside process reads. Observes only: it returns the
 * hook's default (-EOPNOTSUPP: "no security xattr from this LSM"), exactly what the kernel does
 * with no program attached, on every kernel (the hook's later arguments changed in 6.6, so only
 * the first is read). */
#include "ipc.bpf.h"

#define VG_EOPNOTSUPP 95

SEC("lsm/inode_init_security")
int BPF_PROG(vg_inode_init, struct inode *inode)
{
	struct vg_inode_key key = {};
	__u64 root;

	if ((BPF_CORE_READ(inode, i_mode) & VG_S_IFMT) != VG_S_IFIFO)
		return -VG_EOPNOTSUPP;
	if (!vg_agent_find(&root))
		return -VG_EOPNOTSUPP;
	vg_inode_id(inode, &key.dev, &key.ino);
	bpf_map_update_elem(&vg_fifo_owner, &key, &root, BPF_ANY);
	return -VG_EOPNOTSUPP;
}
