// SPDX-License-Identifier: GPL-2.0-only
/* tp_sys_open.bpf.c - open, openat, openat2, open_by_handle_at in agent cgroups. Arguments are
 * stashed at entry; the exit reports the result, and for a successful open the file the kernel
 * actually opened (identity and path from the new fd), so that no spelling of a path hides it.
 * Observe only: enforcement lives in the LSM and fanotify tiers. */
#include "task.bpf.h"
#include "path.bpf.h"

struct vg_open_how { /* struct open_how of openat2(2): uapi, stable */
	__u64 flags;
	__u64 mode;
	__u64 resolve;
};

static __always_inline int vg_open_enter(__u16 call, __s32 dfd, const char *upath, __u32 flags,
					 __u32 mode)
{
	struct vg_stash st = {};
	__u64 key;

	if (!vg_agent_profile())
		return 0;
	key = bpf_get_current_pid_tgid();
	st.uptr = (__u64)upath;
	st.flags = flags;
	st.mode = mode;
	st.dfd = dfd;
	st.call = call;
	if (bpf_map_update_elem(&vg_stash_map, &key, &st, BPF_ANY))
		vg_stat_inc(VG_STAT_STASH_FULL);
	return 0;
}

static __always_inline struct file *vg_fd_file(long fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file **fds = BPF_CORE_READ(task, files, fdt, fd);
	unsigned int max_fds = BPF_CORE_READ(task, files, fdt, max_fds);
	struct file *file = NULL;

	if (fd < 0 || fd >= max_fds)
		return NULL;
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	return file;
}

static __always_inline int vg_open_exit(long ret)
{
	struct vg_event_open *ev;
	struct vg_stash *st;
	struct vg_scratch *s;
	struct file *file;
	__u64 key = bpf_get_current_pid_tgid();
	__u32 profile, len = 0;

	st = bpf_map_lookup_elem(&vg_stash_map, &key);
	if (!st)
		return 0;
	profile = vg_agent_profile();
	s = vg_scratch_get();
	if (!profile || !s || st->reported)
		goto out;
	ev = (void *)s->ev;
	vg_hdr_fill(&ev->hdr, VG_EV_OPEN, profile);
	ev->ret = ret;
	ev->flags = st->flags;
	ev->mode = st->mode;
	ev->dfd = st->dfd;
	ev->call = st->call;
	ev->ino = 0;
	ev->dev = 0;
	ev->pad = 0;
	file = ret >= 0 ? vg_fd_file(ret) : NULL;
	if (file) {
		vg_inode_id(BPF_CORE_READ(file, f_inode), &ev->dev, &ev->ino);
		len = vg_path_copy(s, &file->f_path, ev->tail, &ev->hdr.flags);
		ev->hdr.flags |= VG_F_PATH_RESOLVED;
	} else if (st->uptr) {
		/* Failed open: only the caller's string is known. It is read at exit, so a racing
		 * thread can change it; the resolved-path flag tells userspace which kind it got. */
		long n = bpf_probe_read_user_str(ev->tail, VG_PATH_MAX, (void *)st->uptr);

		len = n > 0 ? n : 0;
	}
	ev->path_len = len;
	len &= (VG_PATH_MAX * 2 - 1);
	vg_emit(ev, sizeof(*ev) + len);
out:
	bpf_map_delete_elem(&vg_stash_map, &key);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_open")
int vg_enter_open(struct trace_event_raw_sys_enter *ctx)
{
	return vg_open_enter(VG_OPEN_OPEN, VG_AT_FDCWD, (const char *)ctx->args[0], ctx->args[1],
			     ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int vg_enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	return vg_open_enter(VG_OPEN_OPENAT, ctx->args[0], (const char *)ctx->args[1],
			     ctx->args[2], ctx->args[3]);
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int vg_enter_openat2(struct trace_event_raw_sys_enter *ctx)
{
	struct vg_open_how how = {};

	bpf_probe_read_user(&how, sizeof(how), (void *)ctx->args[2]);
	return vg_open_enter(VG_OPEN_OPENAT2, ctx->args[0], (const char *)ctx->args[1], how.flags,
			     how.mode);
}

SEC("tracepoint/syscalls/sys_enter_open_by_handle_at")
int vg_enter_obha(struct trace_event_raw_sys_enter *ctx)
{
	return vg_open_enter(VG_OPEN_BY_HANDLE_AT, ctx->args[0], NULL, ctx->args[2], 0);
}

SEC("tracepoint/syscalls/sys_exit_open")
int vg_exit_open(struct trace_event_raw_sys_exit *ctx)
{
	return vg_open_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int vg_exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	return vg_open_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int vg_exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	return vg_open_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_open_by_handle_at")
int vg_exit_obha(struct trace_event_raw_sys_exit *ctx)
{
	return vg_open_exit(ctx->ret);
}
