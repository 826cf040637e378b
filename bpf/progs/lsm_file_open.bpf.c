// SPDX-License-Identifier: GPL-2.0-only
/* lsm_file_open.bpf.c - tier 1 file enforcement: deny (or audit) opens of protected objects by
 * agent tasks. Every open path (open/openat/openat2, open_by_handle_at, io_uring, exec) ends
 * here. Decide first, report second: a full ring never changes the verdict. Fails open: no
 * profile, enforcement off, or an internal miss allows. */
#include "file.bpf.h"
#include "ipc.bpf.h"
#include "persist.bpf.h"
#include "tamper.bpf.h"

#define VG_FMODE_EXEC 0x20 /* FMODE_EXEC: opened for execve/uselib */

/* An allowed open by an agent, observed here rather than by syscall tracepoints: the first open
 * of each (process, inode, access) is reported at once; repeats only count in vg_open_seen until
 * userspace takes the entry and reports the count. */
static __always_inline void vg_open_observe(struct file *file, __u32 profile)
{
	struct vg_open_seen_key key = {};
	struct vg_open_seen_val val = {}, *seen;
	struct vg_event_open *ev;
	struct vg_scratch *s;
	__u64 now = bpf_ktime_get_boot_ns(), pid_tgid = bpf_get_current_pid_tgid();
	struct vg_stash *st;
	long n;

	/* with the opt-in open tracepoints, their exit reports the open (with its result) */
	st = bpf_map_lookup_elem(&vg_stash_map, &pid_tgid);
	if (st)
		return;
	key.tgid = pid_tgid >> 32;
	vg_inode_id(file->f_inode, &key.dev, &key.ino);
	key.access = (file->f_flags & 3) | ((file->f_mode & VG_FMODE_EXEC) ? 4 : 0);
	seen = bpf_map_lookup_elem(&vg_open_seen, &key);
	if (seen) {
		__sync_fetch_and_add(&seen->count, 1);
		seen->last_ns = now;
		return;
	}
	val.first_ns = now;
	val.last_ns = now;
	val.cgroup_id = bpf_get_current_cgroup_id();
	val.profile_id = profile;
	val.uid = (__u32)bpf_get_current_uid_gid();
	bpf_map_update_elem(&vg_open_seen, &key, &val, BPF_NOEXIST);
	s = vg_scratch_get();
	if (!s) {
		bpf_map_delete_elem(&vg_open_seen, &key);
		return;
	}
	ev = (void *)s->ev;
	vg_hdr_fill(&ev->hdr, VG_EV_OPEN, profile);
	/* verdict and tier none: observed, nothing decided */
	ev->hdr.flags = VG_F_PATH_RESOLVED;
	ev->ret = 0;
	ev->dev = key.dev;
	ev->ino = key.ino;
	ev->flags = file->f_flags;
	ev->mode = 0;
	ev->dfd = 0;
	ev->call = VG_OPEN_HOOK;
	ev->pad = 0;
	n = bpf_d_path((struct path *)&file->f_path, ev->tail, VG_PATH_MAX);
	if (n < 0) {
		ev->hdr.flags |= VG_F_PATH_TRUNC;
		ev->tail[0] = '\0';
		n = 1;
	}
	ev->path_len = n;
	/* a first open the rate limit or a full ring dropped is not a repeat: the next open of the
	 * file is reported, not only counted (the rules never see counts) */
	if (vg_emit(ev, sizeof(*ev) + (n & (VG_PATH_MAX * 2 - 1))))
		bpf_map_delete_elem(&vg_open_seen, &key);
}

static __always_inline int vg_file_open_check(struct file *file)
{
	const struct vg_profile_cfg *cfg;
	struct vg_event_open *ev;
	struct vg_scratch *s;
	struct vg_stash *st;
	__u64 key, root;
	__u32 profile, rule;
	long n;
	int verdict, ipc = 0, tamper_audited, persisted = 0;

	profile = vg_agent_find(&root);
	if (!profile)
		return 0;
	/* self-protection first: cgroupfs, bpffs and sysctl writes (reported there) */
	verdict = vg_tamper_file_open(file, profile, root);
	if (verdict == VG_VERDICT_DENY)
		return -VG_EPERM;
	tamper_audited = verdict == VG_VERDICT_AUDIT;
	cfg = bpf_map_lookup_elem(&vg_profiles, &profile);
	if (!cfg || cfg->file_mode == VG_MODE_OFF)
		return 0;
	/* the persistence guard: writes to what the developer runs later (reported there) */
	if (vg_persist_open(file, &persisted))
		return -VG_EPERM;
	rule = 0;
	if (vg_is_foreign_fifo(profile, root, file->f_inode)) {
		ipc = 1;
	} else {
		rule = vg_file_protected(profile, file->f_path.dentry);
		if (!rule) {
			/* an open the tamper or persistence guard audited is in its report */
			if (!tamper_audited && !persisted)
				vg_open_observe(file, profile);
			return 0;
		}
	}
	verdict = cfg->file_mode == VG_MODE_ENFORCE ? VG_VERDICT_DENY : VG_VERDICT_AUDIT;
	vg_stat_inc(verdict == VG_VERDICT_DENY ? VG_STAT_FILE_DENY : VG_STAT_FILE_AUDIT);

	key = bpf_get_current_pid_tgid();
	st = bpf_map_lookup_elem(&vg_stash_map, &key);
	if (st) /* the syscall's exit tracepoint must not report this open a second time */
		st->reported = 1;
	s = vg_scratch_get();
	if (s) {
		ev = (void *)s->ev;
		vg_hdr_fill(&ev->hdr, VG_EV_OPEN, profile);
		ev->hdr.verdict = verdict;
		ev->hdr.tier = VG_TIER_LSM;
		ev->hdr.rule_id = rule;
		ev->hdr.flags = VG_F_PATH_RESOLVED | (ipc ? VG_F_IPC : 0) |
				(rule == VG_RULE_TOO_DEEP ? VG_F_PATH_TRUNC : 0);
		ev->ret = verdict == VG_VERDICT_DENY ? -VG_EPERM : 0;
		vg_inode_id(file->f_inode, &ev->dev, &ev->ino);
		ev->flags = file->f_flags;
		ev->mode = 0;
		ev->dfd = 0;
		ev->call = VG_OPEN_HOOK;
		ev->pad = 0;
		/* f_path is const in newer kernels; bpf_d_path only reads it */
		n = bpf_d_path((struct path *)&file->f_path, ev->tail, VG_PATH_MAX);
		if (n < 0) { /* longer than VG_PATH_MAX: say so rather than name nothing */
			ev->hdr.flags |= VG_F_PATH_TRUNC;
			ev->tail[0] = '\0';
			n = 1;
		}
		ev->path_len = n;
		vg_emit(ev, sizeof(*ev) + (n & (VG_PATH_MAX * 2 - 1)));
	}
	/* An explicit branch: a conditional expression compiles (clang 14) into code whose return
	 * range the 6.12 verifier cannot bound to [-4095, 0]. */
	if (verdict == VG_VERDICT_DENY)
		return -VG_EPERM;
	return 0;
}

SEC("lsm/file_open")
int BPF_PROG(vg_file_open, struct file *file, int ret)
{
	if (ret) /* an earlier LSM program already denied: keep its answer */
		return ret;
	/* An explicit branch: a conditional expression compiles (clang 14) into code whose return
	 * range the 6.12 verifier cannot bound to [-4095, 0]. */
	if (vg_file_open_check(file))
		return -VG_EPERM;
	return 0;
}

/* The same check attached per agent cgroup (lsm_cgroup, 6.0+): tasks elsewhere never run it.
 * lsm_cgroup programs answer 1 (allow) or 0 (deny: the kernel returns -EPERM). */
SEC("lsm_cgroup/file_open")
int BPF_PROG(vg_lc_file_open, struct file *file)
{
	if (vg_file_open_check(file))
		return 0;
	return 1;
}
