/* SPDX-License-Identifier: GPL-2.0-only */
/* maps.bpf.h - every map and global, shared by all program files. __weak lets
 * `bpftool gen object` fold the copies each file carries into one. */
#ifndef VG_MAPS_BPF_H
#define VG_MAPS_BPF_H

#include "vigil.bpf.h"

/* Event stream to userspace. The loader sizes it (bpf_map__set_max_entries) before load. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} vg_events __weak SEC(".maps");

/* Agent cgroups: cgroup v2 id -> profile. A task is an agent when its cgroup or any ancestor is
 * here; userspace writes an entry per confined cgroup, never per descendant, so an agent that
 * creates sub-cgroups stays confined. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct vg_agent);
} vg_agent_cgroups __weak SEC(".maps");

/* Per-profile enforcement switches, written by userspace from the profile's mode and the tier
 * chosen at start. A missing or zeroed entry means observe only. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VG_MAX_PROFILES);
	__type(key, __u32);
	__type(value, struct vg_profile_cfg);
} vg_profiles __weak SEC(".maps");

/* Egress allowlist of every profile (see struct vg_egress_key). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vg_egress_key);
	__type(value, struct vg_egress_val);
} vg_egress __weak SEC(".maps");

/* Protected files and directories of every profile, by (dev, ino). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct vg_file_key);
	__type(value, struct vg_file_rule);
} vg_file_inodes __weak SEC(".maps");

/* The persistence guard: protected objects (files, directories, their ancestors) by identity. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct vg_file_key);
	__type(value, struct vg_persist_rule);
} vg_persist_inodes __weak SEC(".maps");

/* The persistence guard: protected names by (directory, name), existing or not. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct vg_persist_name_key);
	__type(value, struct vg_persist_rule);
} vg_persist_names __weak SEC(".maps");

/* The persistence guard: a directory an agent made under a VG_PERSIST_WAY name -> its node (the
 * directory of names keyed {ino = node, dev = 0}). Written by the kernel (d_instantiate). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct vg_file_key);
	__type(value, __u32);
} vg_persist_alias __weak SEC(".maps");

/* The persistence guard: the profiles that have persistence paths (0: an unused slot). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VG_PERSIST_PROFILES);
	__type(key, __u32);
	__type(value, __u32);
} vg_persist_profiles __weak SEC(".maps");

/* Basename patterns (global ones, and those of directory rules). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VG_NAME_PATS);
	__type(key, __u32);
	__type(value, struct vg_name_pat);
} vg_name_pats __weak SEC(".maps");

/* Unix sockets and FIFOs a profile lets its agents use although an outside process serves
 * them (key: the socket or FIFO file's identity; value unused). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct vg_file_key);
	__type(value, __u32);
} vg_ipc_allow __weak SEC(".maps");

/* Opens of agents already reported in this window (struct vg_open_seen_key). LRU: an agent
 * that opens more distinct files than this within a second pushes out the oldest entries, whose
 * counts are lost (their first opens were reported). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct vg_open_seen_key);
	__type(value, struct vg_open_seen_val);
} vg_open_seen __weak SEC(".maps");

/* The persistence guard without syscall tracepoints (no stash to mark an open reported in):
 * path_mknod's allowed (audit) report of an O_CREAT open, keyed by pid_tgid, so that the same
 * open's file_open of the dentry it made does not report it a second time. Consumed by that
 * file_open; an entry older than VG_PERSIST_MARK_NS is stale (the open failed in between). */
struct vg_persist_mark {
	__u64 dentry;
	__u64 ns;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct vg_persist_mark);
} vg_persist_marks __weak SEC(".maps");

/* Unix socket names a profile lets its agents reach by name where the kernel shows the cgroup
 * programs only the address (tier 2): the system's logging and name-service sockets, and the
 * profile's ipc.allow paths. Key owner: profile id; value unused. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct vg_unix_key);
	__type(value, __u8);
} vg_unix_allow __weak SEC(".maps");

/* Unix socket names bound by agent processes (recorded at a successful bind(2)); key owner: the
 * agent root cgroup; value: the bound struct sock, re-checked at every use (still bound to this
 * name, still in the agent, still at this path), so a stale or forged entry allows nothing. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct vg_unix_key);
	__type(value, __u64);
} vg_unix_bound __weak SEC(".maps");

/* bind(2) in progress in an agent: the socket fd, by pid_tgid. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __s32);
} vg_bind_stash __weak SEC(".maps");

/* FIFOs created by agents: the agent root cgroup that made each one. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct vg_inode_key);
	__type(value, __u64);
} vg_fifo_owner __weak SEC(".maps");

/* Environment variable names (and name prefixes) that exec events report; see vg_env_key. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 256);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vg_env_key);
	__type(value, __u8); /* 1: exact name, 2: prefix */
} vg_env_names __weak SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vg_env_cfg);
} vg_env_cfg __weak SEC(".maps");

/* Egress bytes per (agent cgroup, destination). LRU: an agent spraying destinations evicts its
 * own oldest flows, never the map's capacity for others' new ones going unrecorded. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct vg_flow_key);
	__type(value, struct vg_flow_val);
} vg_egress_bytes __weak SEC(".maps");

/* Inbound connections per profile (enum vg_mode), read by the ingress packet program. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VG_MAX_PROFILES);
	__type(key, __u32);
	__type(value, struct vg_ingress_cfg);
} vg_ingress __weak SEC(".maps");

/* Peers each agent UDP socket sent to: their datagrams back are replies (vg_udp_peer). LRU: an
 * agent spraying peers evicts its own oldest, whose replies then count as inbound. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct vg_udp_peer);
	__type(value, __u8);
} vg_udp_peers __weak SEC(".maps");

/* Inbound flows already reported (vg_inbound_key -> report time): one alert per refused
 * connection, not one per retransmitted SYN. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct vg_inbound_key);
	__type(value, __u64);
} vg_inbound_seen __weak SEC(".maps");

/* Processes that were agents: tgid -> agent root cgroup id. Written at fork and exec in an agent
 * cgroup (and by userspace for processes already in a cgroup when it is confined), removed at
 * exit. A task moved out of its cgroup is no longer found by vg_agent_find; this map still
 * knows where it belongs, which is how a migration out of the subtree is recognised. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u64);
} vg_agent_tasks __weak SEC(".maps");

/* Observation-event rate per agent root cgroup (see vg_rate_state, vg_profile_cfg.rate). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct vg_rate_state);
} vg_rate __weak SEC(".maps");

/* Counters, enum vg_stat. Per-CPU so the hot path never contends. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VG_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} vg_stats __weak SEC(".maps");

/* When this CPU last let a record wake the ring's reader (vg_ring_flags), ns since boot. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} vg_wake __weak SEC(".maps");

/* Per-CPU scratch: events are built here and copied out with bpf_ringbuf_output at their real
 * size, so a short path costs a short record. path[] holds a path being assembled backwards by
 * the dentry walk; it is twice VG_PATH_MAX so masked offsets plus one name always fit. */
struct vg_scratch {
	__u8 ev[8192];
	char path[VG_PATH_MAX * 2];
	/* a dentry name being matched against basename patterns; VG_NAME_PART bytes to spare, so a
	 * pattern's suffix is read a word at a time wherever the name ends */
	char name[VG_NAME_MAX + 1 + VG_NAME_PART];
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vg_scratch);
} vg_scratch_map __weak SEC(".maps");

/* Syscall arguments saved at sys_enter for the matching sys_exit (key: pid_tgid). LRU so threads
 * killed inside a syscall cannot fill it. */
struct vg_stash {
	__u64 uptr;    /* user pointer: path string */
	__u32 flags;
	__u32 mode;
	__s32 dfd;     /* or the socket fd for connect */
	__u16 call;    /* enum vg_open_call, or 0 for connect */
	__u16 addrlen;
	__u8 reported; /* an enforcing hook already reported this syscall: the exit stays silent */
	__u8 pad[7];
	__u8 addr[112]; /* connect: the sockaddr as passed (sizeof(struct sockaddr_un) == 110) */
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct vg_stash);
} vg_stash_map __weak SEC(".maps");

static __always_inline void vg_stat_inc(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&vg_stats, &slot);

	if (v)
		*v += 1;
}

/* The reserved path: observation events may fill the ring only up to three quarters, so a flood
 * of them (one agent, or many under their rate limits) leaves room for every decision (denials,
 * audits, kills, tamper reports) that enforcement and its alerts depend on. Returns 1 to drop.
 * Needs no task: the packet programs' observations (DNS copies) use it too. */
static __always_inline int vg_ring_reserved(void)
{
	__u64 size = bpf_ringbuf_query(&vg_events, BPF_RB_RING_SIZE);

	if (bpf_ringbuf_query(&vg_events, BPF_RB_AVAIL_DATA) < size - size / 4)
		return 0;
	vg_stat_inc(VG_STAT_RESERVED);
	return 1;
}

/* How a record may wake the ring's reader. A wake-up is an interrupt queued to this CPU (on a
 * virtual machine, an exit to the hypervisor: tens of µs, more than a connect costs), sent when the
 * reader has read everything before the record. A decision (audit, deny, kill) always wakes it
 * (forced): its alert should not wait behind an observation that did not wake it. An observation may wake it at most once per VG_WAKE_NS on this
 * CPU; one within that time of the last is read by the reader's next round instead, which comes
 * within a millisecond while records come in (Engine::reader_loop polls that often until two
 * rounds found nothing), so its delay stays below VG_WAKE_NS plus that millisecond. Needs no
 * task: the packet programs' DNS copies use it too. */
#define VG_WAKE_NS 500000ull
static __always_inline __u64 vg_ring_flags(__u32 verdict)
{
	__u32 zero = 0;
	__u64 *last, now;

	/* Forced: the reader wakes only when it has read everything before a record, and an
	 * observation before this one may not have woken it. */
	if (verdict >= VG_VERDICT_AUDIT)
		return BPF_RB_FORCE_WAKEUP;
	last = bpf_map_lookup_elem(&vg_wake, &zero);
	if (!last)
		return 0;
	now = bpf_ktime_get_boot_ns();
	if (now - *last < VG_WAKE_NS)
		return BPF_RB_NO_WAKEUP;
	*last = now;
	return 0;
}

static __always_inline struct vg_scratch *vg_scratch_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&vg_scratch_map, &zero);
}

#endif /* VG_MAPS_BPF_H */
