// SPDX-License-Identifier: GPL-2.0-only
/* lsm_persist.bpf.c - the persistence guard, tier 1: an agent cannot create, remove, chmod,
 * chown or truncate a path the developer runs later (a git hook, .git/config, ~/.bashrc, a name
 * that does not exist yet). Writes are refused in file_open, links and renames in path_link and
 * path_rename (lsm_path_link.bpf.c, lsm_path_rename.bpf.c). The path hooks give the mount, so
 * the report names the path as the agent reached it; they need CONFIG_SECURITY_PATH, like
 * path_link. Attached globally (lsm/) in both attachments: the kernel has room for only ten
 * lsm_cgroup hooks; each returns for a non-agent after the cgroup test. Fails open (see
 * vg_persist_check). */
#include "persist.bpf.h"

/* A new file: open(O_CREAT), creat, mknod, mkfifo. */
SEC("lsm/path_mknod")
int BPF_PROG(vg_ps_mknod, const struct path *dir, struct dentry *dentry, umode_t mode,
	     unsigned int dev, int ret)
{
	if (ret) /* an earlier LSM program already denied: keep its answer */
		return ret;
	/* An explicit branch: a conditional expression compiles (clang 14) into code whose return
	 * range the 6.12 verifier cannot bound to [-4095, 0]. */
	/* A regular file (an O_CREAT open, creat) is reported as a write (O_CREAT in flags). */
	if (vg_persist_check(dentry, BPF_CORE_READ(dir, mnt), 0, VG_OPEN_MKNOD,
			     (mode & VG_PERSIST_S_IFMT) == VG_PERSIST_S_IFREG ? VG_PERSIST_O_CREAT : 0))
		return -VG_EPERM;
	return 0;
}

SEC("lsm/path_mkdir")
int BPF_PROG(vg_ps_mkdir, const struct path *dir, struct dentry *dentry, umode_t mode, int ret)
{
	if (ret)
		return ret;
	if (vg_persist_check(dentry, BPF_CORE_READ(dir, mnt), 0, VG_OPEN_MKDIR, 0))
		return -VG_EPERM;
	return 0;
}

SEC("lsm/path_symlink")
int BPF_PROG(vg_ps_symlink, const struct path *dir, struct dentry *dentry, const char *old_name,
	     int ret)
{
	if (ret)
		return ret;
	if (vg_persist_check(dentry, BPF_CORE_READ(dir, mnt), 0, VG_OPEN_SYMLINK, 0))
		return -VG_EPERM;
	return 0;
}

SEC("lsm/path_unlink")
int BPF_PROG(vg_ps_unlink, const struct path *dir, struct dentry *dentry, int ret)
{
	if (ret)
		return ret;
	if (vg_persist_check(dentry, BPF_CORE_READ(dir, mnt), 1, VG_OPEN_UNLINK, 0))
		return -VG_EPERM;
	return 0;
}

/* A directory on the way to a protected path, removed and made again, would hold no rules. */
SEC("lsm/path_rmdir")
int BPF_PROG(vg_ps_rmdir, const struct path *dir, struct dentry *dentry, int ret)
{
	if (ret)
		return ret;
	if (vg_persist_check(dentry, BPF_CORE_READ(dir, mnt), 1, VG_OPEN_RMDIR, 0))
		return -VG_EPERM;
	return 0;
}

/* chmod +x of a hook (a sample made live), or a mode that lets someone else write. */
SEC("lsm/path_chmod")
int BPF_PROG(vg_ps_chmod, const struct path *path, umode_t mode, int ret)
{
	if (ret)
		return ret;
	if (vg_persist_check(BPF_CORE_READ(path, dentry), BPF_CORE_READ(path, mnt), 0,
			     VG_OPEN_CHMOD, 0))
		return -VG_EPERM;
	return 0;
}

/* kuid_t and kgid_t arrive by value; they are not read. */
SEC("lsm/path_chown")
int BPF_PROG(vg_ps_chown, const struct path *path, unsigned long uid, unsigned long gid, int ret)
{
	if (ret)
		return ret;
	if (vg_persist_check(BPF_CORE_READ(path, dentry), BPF_CORE_READ(path, mnt), 0,
			     VG_OPEN_CHOWN, 0))
		return -VG_EPERM;
	return 0;
}

/* truncate(2). ftruncate(2) needs a descriptor open for writing, which file_open refuses; an
 * open with O_TRUNC is refused there too, before the kernel truncates. */
SEC("lsm/path_truncate")
int BPF_PROG(vg_ps_truncate, const struct path *path, int ret)
{
	if (ret)
		return ret;
	if (vg_persist_check(BPF_CORE_READ(path, dentry), BPF_CORE_READ(path, mnt), 0,
			     VG_OPEN_TRUNCATE, 0))
		return -VG_EPERM;
	return 0;
}

/* A directory made on the way to a protected path that did not exist (mkdir ~/.ssh where
 * ~/.ssh/authorized_keys is protected): before mkdir returns it is an ancestor, and the names
 * below it are protected (vg_persist_made_dir), for each profile with persistence paths, whoever
 * made it (the agent, or the developer while the agent runs). Also when a lookup first gives
 * such a directory's dentry its inode. A void hook: it observes and refuses nothing. Runs for
 * every dentry the kernel gives an inode (creation and lookup): the directory test comes first,
 * then at most VG_PERSIST_PROFILES name lookups. */
struct vg_dinst {
	struct dentry *dentry;
	struct inode *inode;
};

/* Slot i of vg_persist_profiles; the first empty slot ends the walk. */
static long vg_dinst_step(__u32 i, void *arg)
{
	struct vg_dinst *c = arg;
	__u32 slot = i, *profile = bpf_map_lookup_elem(&vg_persist_profiles, &slot);

	if (!profile || !*profile)
		return 1;
	vg_persist_made_dir(*profile, c->dentry, c->inode);
	return 0;
}

SEC("lsm/d_instantiate")
int BPF_PROG(vg_ps_dinst, struct dentry *dentry, struct inode *inode)
{
	struct vg_dinst c = {};

	if (!inode || (BPF_CORE_READ(inode, i_mode) & VG_PERSIST_S_IFMT) != VG_PERSIST_S_IFDIR)
		return 0;
	c.dentry = dentry;
	c.inode = inode;
	bpf_loop(VG_PERSIST_PROFILES, vg_dinst_step, &c, 0);
	return 0;
}
