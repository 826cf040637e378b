/* SPDX-License-Identifier: GPL-2.0-only */
/* task.bpf.h - is the current task an agent, and the common header of every event. */
#ifndef VG_TASK_BPF_H
#define VG_TASK_BPF_H

#include "maps.bpf.h"

struct vg_agent_walk {
	__u64 id;      /* out: the agent cgroup found (0: none) */
	__u32 profile; /* out */
	__u32 flags;   /* out: its vg_agent.flags */
};

/* Step i looks at the ancestor at level i + 1 (the root, level 0, is never an agent). */
static long vg_agent_step(__u32 i, void *arg)
{
	struct vg_agent_walk *w = arg;
	struct vg_agent *agent;
	__u64 id = bpf_get_current_ancestor_cgroup_id(i + 1);

	if (!id) /* the task's cgroup is shallower than this level */
		return 1;
	agent = bpf_map_lookup_elem(&vg_agent_cgroups, &id);
	if (!agent)
		return 0;
	w->id = id;
	w->profile = agent->profile_id;
	w->flags = agent->flags;
	return 1;
}

/* Profile id of the current task (0: not an agent), and in *root the agent cgroup that matched
 * (the vg_agent_cgroups key; 0 when none). Checks the task's own cgroup first (the common case
 * for agent tasks), then its ancestors from the top down, so sub-cgroups an agent creates, at
 * any depth, inherit its profile without userspace having to notice them: the walk ends at the
 * agent's own level, however deep below it the task went. Userspace refuses to confine a cgroup
 * at level VG_CGROUP_DEPTH or deeper (the walk's bound), so no agent is out of its reach. Uses
 * only the cgroup-id helpers, which every program type we use (tracing, cgroup sock_addr, LSM)
 * may call. */
static __always_inline __u32 vg_agent_find_flags(__u64 *root, __u32 *flags)
{
	struct vg_agent_walk w = {};
	struct vg_agent *agent;
	__u64 id = bpf_get_current_cgroup_id();

	agent = bpf_map_lookup_elem(&vg_agent_cgroups, &id);
	if (agent) {
		*root = id;
		*flags = agent->flags;
		return agent->profile_id;
	}
	bpf_loop(VG_CGROUP_DEPTH, vg_agent_step, &w, 0);
	*root = w.id;
	*flags = w.flags;
	return w.profile;
}

static __always_inline __u32 vg_agent_find(__u64 *root)
{
	__u32 flags;

	return vg_agent_find_flags(root, &flags);
}

static __always_inline __u32 vg_agent_profile(void)
{
	__u64 root;

	return vg_agent_find(&root);
}

/* Profile id of the current task (0: not an agent) and its agent cgroup's VG_AGENT_* flags. */
static __always_inline __u32 vg_agent_profile_flags(__u32 *flags)
{
	__u64 root;

	return vg_agent_find_flags(&root, flags);
}

struct vg_cg_walk {
	struct cgroup *cg;
	__u64 root; /* the cgroup id to find among cg's ancestors; 0: any agent cgroup */
	__u64 found; /* out: the id found (0: none) */
};

/* One level up from w->cg, stopping at the cgroup w->root names (or, with root 0, at the first
 * agent cgroup). */
static long vg_cg_step(__u32 i, void *arg)
{
	struct vg_cg_walk *w = arg;
	struct cgroup *cg = w->cg;
	struct cgroup_subsys_state *parent;
	__u64 id;

	if (!cg)
		return 1;
	id = BPF_CORE_READ(cg, kn, id);
	if (w->root ? id == w->root : bpf_map_lookup_elem(&vg_agent_cgroups, &id) != NULL) {
		w->found = id;
		return 1;
	}
	parent = BPF_CORE_READ(cg, self.parent);
	/* container_of(parent, struct cgroup, self), offset relocated for the running kernel */
	w->cg = parent ? (void *)parent - bpf_core_field_offset(struct cgroup, self) : NULL;
	return 0;
}

/* The id found walking up from cg, at most VG_CGROUP_DEPTH levels (see vg_cg_step). */
static __always_inline __u64 vg_cgroup_walk(struct cgroup *cg, __u64 root)
{
	struct vg_cg_walk w = {};

	w.cg = cg;
	w.root = root;
	bpf_loop(VG_CGROUP_DEPTH, vg_cg_step, &w, 0);
	return w.found;
}

/* True when cg is the cgroup with id root or lies below it. */
static __always_inline int vg_cgroup_within(struct cgroup *cg, __u64 root)
{
	return vg_cgroup_walk(cg, root) != 0;
}

/* The agent cgroup cg lies in (itself or its nearest agent ancestor), or 0. */
static __always_inline __u64 vg_cgroup_agent_root(struct cgroup *cg)
{
	return vg_cgroup_walk(cg, 0);
}

static __always_inline void vg_hdr_fill(struct vg_event_hdr *h, __u16 type, __u32 profile_id)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid = bpf_get_current_uid_gid();

	h->type = type;
	h->version = VG_ABI_VERSION;
	h->flags = 0;
	h->ts_ns = bpf_ktime_get_boot_ns();
	h->cgroup_id = bpf_get_current_cgroup_id();
	h->tgid = pid_tgid >> 32;
	h->tid = (__u32)pid_tgid;
	h->uid = (__u32)uid_gid;
	h->gid = uid_gid >> 32;
	h->profile_id = profile_id;
	h->rule_id = 0;
	h->verdict = VG_VERDICT_NONE;
	h->tier = VG_TIER_NONE;
	__builtin_memset(h->pad, 0, sizeof(h->pad));
	bpf_get_current_comm(h->comm, sizeof(h->comm));
}

/* Flood resistance: an agent cgroup gets cfg->rate observation events per second; the rest of
 * the second's observation events are dropped (counted), and the first drop of each second
 * reports the previous second's total in a THROTTLE event. Only events with verdict NONE pass
 * through here: decisions are never rate limited, and enforcement never waits for ring space.
 * Keyed by the agent's root cgroup, so sub-cgroups share their root's budget. Returns 1 to drop. */
static __always_inline int vg_rate_limited(struct vg_event_hdr *h)
{
	const struct vg_profile_cfg *cfg = bpf_map_lookup_elem(&vg_profiles, &h->profile_id);
	struct vg_rate_state *st, fresh = {};
	struct vg_event_throttle t;
	__u64 root, n, prev;

	if (!cfg || !cfg->rate)
		return 0;
	if (!vg_agent_find(&root) || !root)
		return 0;
	st = bpf_map_lookup_elem(&vg_rate, &root);
	if (!st) {
		fresh.window_ns = h->ts_ns;
		bpf_map_update_elem(&vg_rate, &root, &fresh, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&vg_rate, &root);
		if (!st)
			return 0;
	}
	if (h->ts_ns - st->window_ns >= 1000000000ULL) {
		/* a new second; a racing CPU may reset it too, which only loses a few counts */
		st->window_ns = h->ts_ns;
		st->count = 0;
	}
	n = __sync_fetch_and_add(&st->count, 1) + 1;
	if (n <= cfg->rate)
		return 0;
	vg_stat_inc(VG_STAT_THROTTLED);
	prev = __sync_fetch_and_add(&st->suppressed, 1);
	if (n == (__u64)cfg->rate + 1) {
		/* first drop of this second: say so, with the cgroup's total of drops */
		__builtin_memset(&t, 0, sizeof(t));
		t.hdr = *h;
		t.hdr.type = VG_EV_THROTTLE;
		t.hdr.size = sizeof(t);
		t.hdr.cgroup_id = root;
		t.hdr.flags = 0;
		t.hdr.verdict = VG_VERDICT_NONE;
		t.suppressed = prev + 1;
		t.rate = cfg->rate;
		if (bpf_ringbuf_output(&vg_events, &t, sizeof(t), 0))
			vg_stat_inc(VG_STAT_RINGBUF_FULL);
		else
			vg_stat_inc(VG_STAT_EVENTS);
	}
	return 1;
}

/* Copies size bytes of a built event to the ring. A full ring loses the event, counted. */
static __always_inline int vg_emit(void *ev, __u32 size)
{
	struct vg_event_hdr *h = ev;

	/* exits are exempt: they only ever shrink the process table */
	if (h->verdict == VG_VERDICT_NONE && h->type != VG_EV_EXIT &&
	    (vg_rate_limited(h) || vg_ring_reserved()))
		return -1;
	if (size > sizeof(((struct vg_scratch *)0)->ev))
		size = sizeof(((struct vg_scratch *)0)->ev);
	((struct vg_event_hdr *)ev)->size = size;
	if (bpf_ringbuf_output(&vg_events, ev, size, vg_ring_flags(h->verdict))) {
		vg_stat_inc(VG_STAT_RINGBUF_FULL);
		return -1;
	}
	vg_stat_inc(VG_STAT_EVENTS);
	return 0;
}

#endif /* VG_TASK_BPF_H */
