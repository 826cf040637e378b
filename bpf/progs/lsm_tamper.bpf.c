// SPDX-License-Identifier: GPL-2.0-only
/* lsm_tamper.bpf.c - tier 1 self-protection: an agent (root or not) cannot leave its cgroup,
 * touch BPF, signal tasks outside its subtree, play mount games in a mount namespace it did not
 * make, or load kernel code. file_open's share (cgroupfs, bpffs and sysctl writes) lives in
 * lsm_file_open.bpf.c; ptrace and /proc/PID/mem in lsm_ptrace_access_check.bpf.c. These hooks
 * are attached globally (lsm/) even where the enforcing hooks are attached per agent cgroup: the
 * kernel gives lsm_cgroup programs at most CGROUP_LSM_NUM (10) distinct hooks, and the enforcing
 * ones take seven. Each returns for a non-agent after its cheapest test (flags, signal number,
 * file system magic). Fails open on internal misses; decides before it reports. */
#include "tamper.bpf.h"

/* The common tail: profile lookup, verdict, report. Returns 1 to deny. */
static __always_inline int vg_tamper_decide(__u16 kind, __s32 arg, __u32 target_tgid,
					    __u64 target_cgroup, const char *name)
{
	__u64 root;
	__u32 profile = vg_agent_find(&root);
	int verdict;

	if (!profile)
		return 0;
	verdict = vg_tamper_verdict(profile, 1);
	if (verdict == VG_VERDICT_NONE)
		return 0;
	vg_tamper_emit(profile, verdict, VG_TIER_LSM, kind, arg, target_tgid, target_cgroup, name);
	return verdict == VG_VERDICT_DENY;
}

/* bpf(): agents get none of it (loading, listing, getting fds of vigil's maps and links). */
static __always_inline int vg_bpf_deny(int cmd)
{
	return vg_tamper_decide(VG_TAMPER_BPF, cmd, 0, 0, NULL);
}

SEC("lsm/bpf")
int BPF_PROG(vg_tp_bpf, int cmd)
{
	if (vg_bpf_deny(cmd))
		return -VG_EPERM;
	return 0;
}


/* clone3(CLONE_INTO_CGROUP): the hook runs before the kernel picks the cgroup, so every such
 * clone by an agent is refused (an agent has no need to place children itself). */
static __always_inline int vg_clone_deny(unsigned long clone_flags)
{
	if (!(clone_flags & VG_CLONE_INTO_CGROUP))
		return 0;
	return vg_tamper_decide(VG_TAMPER_CLONE_CGROUP, (__s32)(clone_flags >> 32), 0, 0, NULL);
}

SEC("lsm/task_alloc")
int BPF_PROG(vg_tp_task_alloc, struct task_struct *task, unsigned long clone_flags)
{
	if (vg_clone_deny(clone_flags))
		return -VG_EPERM;
	return 0;
}


/* Signals (kill, tgkill, pidfd_send_signal, ...) to tasks outside the agent's subtree: vigil,
 * its parent shell, anything else on the machine. Signal 0 (an existence probe) passes. */
static __always_inline int vg_kill_deny(struct task_struct *p, int sig)
{
	__u64 root;
	__u32 profile;
	int verdict;

	if (!sig)
		return 0;
	profile = vg_agent_find(&root);
	if (!profile)
		return 0;
	if (vg_cgroup_within(BPF_CORE_READ(p, cgroups, dfl_cgrp), root))
		return 0;
	verdict = vg_tamper_verdict(profile, 1);
	if (verdict == VG_VERDICT_NONE)
		return 0;
	vg_tamper_emit(profile, verdict, VG_TIER_LSM, VG_TAMPER_SIGNAL, sig, BPF_CORE_READ(p, tgid),
		       BPF_CORE_READ(p, cgroups, dfl_cgrp, kn, id), (const char *)p->comm);
	return verdict == VG_VERDICT_DENY;
}

SEC("lsm/task_kill")
int BPF_PROG(vg_tp_task_kill, struct task_struct *p, struct kernel_siginfo *info, int sig)
{
	if (vg_kill_deny(p, sig))
		return -VG_EPERM;
	return 0;
}


/* Mount games: only inside a mount namespace the agent made in a user namespace of its own. */
static __always_inline int vg_mount_deny(__u16 kind, const char *name)
{
	if (vg_own_mount_ns())
		return 0;
	return vg_tamper_decide(kind, 0, 0, 0, name);
}

SEC("lsm/sb_mount")
int BPF_PROG(vg_tp_sb_mount, const char *dev_name, const struct path *path, const char *type)
{
	if (vg_mount_deny(VG_TAMPER_MOUNT, type))
		return -VG_EPERM;
	return 0;
}


SEC("lsm/sb_umount")
int BPF_PROG(vg_tp_sb_umount, struct vfsmount *mnt, int flags)
{
	if (vg_mount_deny(VG_TAMPER_UMOUNT, BPF_CORE_READ(mnt, mnt_sb, s_type, name)))
		return -VG_EPERM;
	return 0;
}


SEC("lsm/move_mount")
int BPF_PROG(vg_tp_move_mount, const struct path *from_path, const struct path *to_path)
{
	if (vg_mount_deny(VG_TAMPER_MOVE_MOUNT, NULL))
		return -VG_EPERM;
	return 0;
}


SEC("lsm/sb_pivotroot")
int BPF_PROG(vg_tp_pivotroot, const struct path *old_path, const struct path *new_path)
{
	if (vg_mount_deny(VG_TAMPER_PIVOT_ROOT, NULL))
		return -VG_EPERM;
	return 0;
}


/* Kernel code and images: init_module/finit_module (kernel_load_data / kernel_read_file with a
 * module id), kexec, firmware and policy loads alike; an agent has no business with any. */
SEC("lsm/kernel_load_data")
int BPF_PROG(vg_tp_load_data, int id)
{
	if (vg_tamper_decide(VG_TAMPER_MODULE, id, 0, 0, NULL))
		return -VG_EPERM;
	return 0;
}


SEC("lsm/kernel_read_file")
int BPF_PROG(vg_tp_read_kfile, struct file *file, int id)
{
	if (vg_tamper_decide(VG_TAMPER_MODULE, id, 0, 0,
			     (const char *)BPF_CORE_READ(file, f_path.dentry, d_name.name)))
		return -VG_EPERM;
	return 0;
}


/* Directory changes on the two file systems that hold vigil's state: no unlink, rename or rmdir
 * on a bpffs (pinned maps and links), and no mkdir or rmdir in cgroupfs outside the agent's
 * subtree (sibling cgroups, the agent's own root). Other file systems return at the first
 * comparison. */
static __always_inline int vg_dir_change_deny(struct inode *dir, struct dentry *dentry, int mkdir)
{
	unsigned long magic = vg_inode_magic(dir);
	__u64 root;
	__u32 profile;
	int verdict;

	if (magic != VG_BPF_FS_MAGIC && !vg_is_cgroupfs(magic))
		return 0;
	profile = vg_agent_find(&root);
	if (!profile)
		return 0;
	if (magic != VG_BPF_FS_MAGIC) {
		if (mkdir && vg_cgroupfs_dir_ok(dir, root, 1))
			return 0; /* a child of the root or below: the agent's own sub-cgroups */
		if (!mkdir && vg_cgroupfs_dir_ok(dir, root, 1) &&
		    BPF_CORE_READ(dentry, d_inode, i_ino) != root)
			return 0;
	}
	verdict = vg_tamper_verdict(profile, 1);
	if (verdict == VG_VERDICT_NONE)
		return 0;
	vg_tamper_emit(profile, verdict, VG_TIER_LSM,
		       magic == VG_BPF_FS_MAGIC ? VG_TAMPER_BPFFS : VG_TAMPER_CGROUP_MKDIR, 0, 0,
		       magic == VG_BPF_FS_MAGIC ? 0 : BPF_CORE_READ(dir, i_ino),
		       (const char *)BPF_CORE_READ(dentry, d_name.name));
	return verdict == VG_VERDICT_DENY;
}

SEC("lsm/inode_unlink")
int BPF_PROG(vg_tp_unlink, struct inode *dir, struct dentry *dentry)
{
	if (vg_inode_magic(dir) == VG_BPF_FS_MAGIC && vg_dir_change_deny(dir, dentry, 0))
		return -VG_EPERM;
	return 0;
}


SEC("lsm/inode_rmdir")
int BPF_PROG(vg_tp_rmdir, struct inode *dir, struct dentry *dentry)
{
	if (vg_dir_change_deny(dir, dentry, 0))
		return -VG_EPERM;
	return 0;
}


SEC("lsm/inode_mkdir")
int BPF_PROG(vg_tp_mkdir, struct inode *dir, struct dentry *dentry)
{
	if (vg_dir_change_deny(dir, dentry, 1))
		return -VG_EPERM;
	return 0;
}


SEC("lsm/inode_rename")
int BPF_PROG(vg_tp_rename, struct inode *old_dir, struct dentry *old_dentry)
{
	if (vg_inode_magic(old_dir) == VG_BPF_FS_MAGIC && vg_dir_change_deny(old_dir, old_dentry, 0))
		return -VG_EPERM;
	return 0;
}

