/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* vigil/abi.h - the only header included by both bpf/ and userspace/. Fixed-width types, explicit
 * padding, pinned sizes. Bump rule: a changed layout of an existing record, key or value =>
 * VG_ABI_MAJOR++ (and MINOR = 0); a new event type, stat slot or map => VG_ABI_MINOR++.
 * Userspace refuses records whose major differs from its own. */
#ifndef VG_ABI_H
#define VG_ABI_H

#ifndef __bpf__ /* clang -target bpf defines __bpf__; there vmlinux.h supplies __u32 & co. */
#include <linux/types.h>
#endif

#ifdef __cplusplus /* g++ rejects _Static_assert */
#define VG_ABI_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define VG_ABI_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

#define VG_ABI_MAJOR 1
#define VG_ABI_MINOR 10
#define VG_ABI_VERSION ((VG_ABI_MAJOR << 8) | VG_ABI_MINOR)

#define VG_COMM_LEN 16
#define VG_PATH_MAX 4096  /* longest path an event carries, NUL included */
#define VG_ARGS_MAX 1024  /* bytes of argv an exec event carries (NUL-separated) */
#define VG_ENV_MAX 2048   /* bytes of watched environment variables an exec event carries */
#define VG_ENV_STR_MAX 256 /* one NAME=VALUE string; longer values are cut (and NUL-ended) */
#define VG_ENV_NAME_MAX 28 /* watched variable names (and name prefixes) are shorter than this */
#define VG_ENV_ITERS 4096  /* environment reads per exec (one per string or 255-byte piece) */
#define VG_PATH_DEPTH 48  /* dentry components walked when the kernel resolves a path */
#define VG_CGROUP_DEPTH 64 /* agent cgroups lie above this level (root = 0); sub-cgroups
			     * an agent makes below it may go deeper */
#define VG_MAX_PROFILES 256

/* Record types. Values are never reused: retired types keep their number. */
enum vg_event_type {
	VG_EV_EXEC = 1,
	VG_EV_FORK = 2,
	VG_EV_EXIT = 3,
	VG_EV_OPEN = 4,
	VG_EV_CONNECT = 5,
	VG_EV_PTRACE = 6,
	VG_EV_SOCKET = 7,
	VG_EV_TAMPER = 8,   /* ABI 1.3 */
	VG_EV_THROTTLE = 9, /* ABI 1.3 */
	VG_EV_DNS = 10,     /* ABI 1.10 */
	VG_EV_TYPE_MAX,
};

/* What the kernel did about the operation an event reports. */
enum vg_verdict {
	VG_VERDICT_NONE = 0,  /* observed only (tracepoints) */
	VG_VERDICT_ALLOW = 1, /* an enforcing hook looked and allowed */
	VG_VERDICT_AUDIT = 2, /* a rule matched in audit mode: allowed, would have denied */
	VG_VERDICT_DENY = 3,  /* denied with -EPERM */
	VG_VERDICT_KILL = 4,  /* could not be denied (no BPF LSM): the task was sent SIGKILL (ABI 1.3) */
};

/* Which mechanism produced a verdict (vg_event_hdr.tier). */
enum vg_tier {
	VG_TIER_NONE = 0,     /* observed by a tracepoint; nothing decided */
	VG_TIER_LSM = 1,      /* BPF LSM program */
	VG_TIER_CGROUP = 2,   /* cgroup sock_addr program (network fallback) */
	VG_TIER_FANOTIFY = 3, /* fanotify permission event answered by the daemon (file fallback) */
	VG_TIER_LAUNCH = 4,   /* vigil run's seccomp filter, answered by its supervisor (ABI 1.6) */
};

/* vg_profile_cfg.net_mode / file_mode */
enum vg_mode {
	VG_MODE_OFF = 0,     /* no enforcement: tracepoints observe, userspace matches */
	VG_MODE_AUDIT = 1,   /* decide in the kernel, allow, report would-deny */
	VG_MODE_ENFORCE = 2, /* decide in the kernel, deny with -EPERM, report */
};

/* Per-CPU counters in map vg_stats; userspace sums the CPUs. */
enum vg_stat {
	VG_STAT_RINGBUF_FULL = 0, /* bpf_ringbuf_output failed: an event was lost */
	VG_STAT_STASH_FULL = 1,   /* enter/exit stash update failed: the exit event is lost */
	VG_STAT_PATH_TRUNC = 2,   /* a resolved path was longer than VG_PATH_MAX or VG_PATH_DEPTH */
	VG_STAT_EVENTS = 3,       /* events submitted */
	VG_STAT_NET_DENY = 4,     /* connects/sends denied in the kernel */
	VG_STAT_NET_AUDIT = 5,    /* connects/sends that would have been denied (audit mode) */
	VG_STAT_FILE_DENY = 6,    /* opens denied in the kernel */
	VG_STAT_FILE_AUDIT = 7,   /* opens that would have been denied (audit mode) */
	VG_STAT_PTRACE_DENY = 8,  /* ptrace / proc mem / environ access across agents denied */
	VG_STAT_IPC_DENY = 9,     /* unix socket connects/sends and FIFO opens out of an agent denied */
	VG_STAT_ENV_TRUNC = 10,   /* an exec's environment was longer than the scan budget */
	VG_STAT_TAMPER = 11,      /* attempts to switch vigil off (denied, audited or killed) */
	VG_STAT_THROTTLED = 12,   /* observation events an agent's rate limit suppressed */
	VG_STAT_RESERVED = 13,    /* observation events dropped to keep the ring's last quarter
				   * for decisions (ABI 1.4) */
	VG_STAT_INBOUND = 14,     /* packets of connections or datagrams from outside an agent
				   * refused (or audited) at its sockets (ABI 1.5) */
	VG_STAT_MAX = 16,
};

/* Which syscall an open event comes from (enum, not the syscall number: numbers differ by arch). */
enum vg_open_call {
	VG_OPEN_OPEN = 1,
	VG_OPEN_OPENAT = 2,
	VG_OPEN_OPENAT2 = 3,
	VG_OPEN_BY_HANDLE_AT = 4,
	VG_OPEN_HOOK = 5, /* reported by the LSM hook: any path into file_open (io_uring, exec, ...) */
	VG_OPEN_LINK = 6,   /* path_link: a hard link of the file (link, linkat; ABI 1.4) */
	VG_OPEN_RENAME = 7, /* path_rename: the file moved or renamed (rename*; ABI 1.4) */
	/* Changes of a name or its attributes, reported by the persistence guard (ABI 1.6): */
	VG_OPEN_UNLINK = 8,   /* unlink, rmdir */
	VG_OPEN_CHMOD = 9,    /* chmod, fchmod, fchmodat */
	VG_OPEN_CHOWN = 10,   /* chown, fchown, lchown, fchownat */
	VG_OPEN_SYMLINK = 11, /* a symbolic link made at the name */
	VG_OPEN_MKNOD = 12,   /* a directory, device or FIFO made at the name */
	VG_OPEN_TRUNCATE = 13, /* truncate(2) of the name */
	/* BPF LSM's persistence hooks name their own (ABI 1.7): path_mknod reports MKNOD (an
	 * O_CREAT open's new file too), path_unlink UNLINK, and these two: */
	VG_OPEN_MKDIR = 14,   /* path_mkdir */
	VG_OPEN_RMDIR = 15,   /* path_rmdir */
	VG_OPEN_CALL_LAST = VG_OPEN_RMDIR,
};

/* vg_event_hdr.flags */
#define VG_F_PATH_RESOLVED (1u << 0) /* path came from the kernel's dentries, not the user's string */
#define VG_F_PATH_TRUNC (1u << 1)    /* path was cut short */
#define VG_F_SENDMSG (1u << 2)       /* connect record describes a sendto/sendmsg destination */
#define VG_F_SRCROUTE (1u << 5)      /* connect record: a source-routed packet (IPv6 routing
				      * header, IPv4 options) to addr, the first hop (ABI 1.4) */
#define VG_F_ENV_TRUNC (1u << 4)     /* exec: the environment was not scanned to its end, or more
				      * watched variables were set than the record holds */
#define VG_F_INBOUND (1u << 6)      /* connect record: a connection (TCP) or datagram (UDP) from
				      * outside the agent to one of its sockets; addr/port is the
				      * source, lport the agent's port (ABI 1.5) */
#define VG_F_IPC (1u << 3)           /* a side channel out of the agent: a unix socket or FIFO
				      * served by a process outside the agent's cgroup */
#define VG_F_ISOLATED (1u << 8)     /* connect record: denied because the agent cgroup is isolated
				      * (VG_AGENT_ISOLATED, a response action), whatever the
				      * allowlist says (ABI 1.8) */
#define VG_F_GUARD (1u << 9)         /* open record made by vigil's fanotify guard (userspace),
				      * never by the kernel: an observation ordered like its
				      * decisions */
#define VG_F_BEFORE (1u << 10)       /* record made by vigil's launch filter before the call ran
				      * (userspace): its result is not known */
#define VG_F_PERSIST (1u << 7)       /* open record: a decision of the persistence guard (a write,
				      * create, link, rename, unlink, chmod or chown of a protected
				      * name), not a credential read (ABI 1.6). From BPF LSM
				      * (tier lsm): rule_id indexes the profile's persistence
				      * paths, call names the hook */

/* Leads every ring-buffer record. */
struct vg_event_hdr {
	__u16 type;       /* enum vg_event_type */
	__u16 size;       /* whole record in bytes, header and string tail included */
	__u16 version;    /* VG_ABI_VERSION of the object that wrote it */
	__u16 flags;      /* VG_F_* */
	__u64 ts_ns;      /* bpf_ktime_get_boot_ns(): CLOCK_BOOTTIME */
	__u64 cgroup_id;  /* cgroup v2 id of the task (kernfs inode number) */
	__u32 tgid;       /* process id as userspace sees it (init pid namespace) */
	__u32 tid;        /* thread id */
	__u32 uid;        /* real uid */
	__u32 gid;        /* real gid */
	__u32 profile_id; /* value found in vg_agent_cgroups for this task's cgroup ancestry */
	__u32 rule_id;    /* 0: no kernel rule matched */
	__u8 verdict;     /* enum vg_verdict */
	__u8 tier;        /* enum vg_tier: what decided the verdict */
	__u8 pad[6];
	char comm[VG_COMM_LEN]; /* task comm, NUL-terminated */
};

/* sched_process_exec. Tail: exe path (path_len bytes incl. NUL), then argv (args_len bytes,
 * NUL-separated, as the kernel holds it), then the watched environment variables (env_len bytes
 * of NUL-ended NAME=VALUE strings: only names in vg_env_names, never the whole environment). */
struct vg_event_exec {
	struct vg_event_hdr hdr;
	__u32 ppid;       /* real parent's tgid */
	__u32 old_tid;    /* tid that called execve (differs when a thread execs) */
	__u32 loginuid;   /* audit login uid, (__u32)-1 if unset */
	__u16 path_len;   /* bytes of exe path in the tail, NUL included */
	__u16 args_len;   /* bytes of argv in the tail */
	__u64 exe_ino;    /* inode of the executable */
	__u32 exe_dev;    /* kernel dev_t (major << 20 | minor) of the executable's super block */
	__u16 env_len;    /* bytes of watched environment in the tail (ABI 1.2; was padding) */
	__u16 pad;
	char tail[];
};

/* sched_process_fork, for new processes only (threads are not reported). */
struct vg_event_fork {
	struct vg_event_hdr hdr; /* tgid/tid: the parent */
	__u32 child_tgid;
	__u32 pad;
};

/* sched_process_exit of a thread group leader. */
struct vg_event_exit {
	struct vg_event_hdr hdr;
	__s32 exit_code; /* as wait(2) encodes it: (status << 8) | signal */
	__u32 pad;
};

/* open, openat, openat2, open_by_handle_at. Tail: path (path_len bytes, NUL included): the file
 * the kernel opened (VG_F_PATH_RESOLVED) or, when the open failed, the string the caller passed. */
struct vg_event_open {
	struct vg_event_hdr hdr;
	__s64 ret;      /* fd, or -errno */
	__u64 ino;      /* inode of the opened file; 0 when the open failed */
	__u32 dev;      /* kernel dev_t of the opened file; 0 when the open failed */
	__u32 flags;    /* open flags (O_*) as passed */
	__u32 mode;     /* create mode as passed */
	__s32 dfd;      /* directory fd argument, AT_FDCWD (-100) for cwd */
	__u16 call;     /* enum vg_open_call */
	__u16 path_len; /* bytes of path in the tail, NUL included */
	__u32 pad;
	char tail[];
};

/* Repeated opens seen by the file_open LSM program (ABI 1.9): the first open of a (process,
 * inode, access) is reported at once; the ones after it only count here, until userspace takes
 * the entry (lookup-and-delete, every second) and reports the count as one record. Denials are
 * never counted: each is reported. access: O_ACCMODE of the open, | 4 for an exec. */
struct vg_open_seen_key {
	__u64 ino;
	__u32 dev;
	__u32 tgid;
	__u32 access;
	__u32 pad;
};
struct vg_open_seen_val {
	__u64 count;     /* opens after the reported one */
	__u64 first_ns;  /* CLOCK_BOOTTIME of the reported open */
	__u64 last_ns;   /* of the latest counted one */
	__u64 cgroup_id; /* of the reported open */
	__u32 profile_id;
	__u32 uid;
};

/* connect. The address is what the caller passed. */
struct vg_event_connect {
	struct vg_event_hdr hdr;
	__s64 ret;      /* 0, or -errno (-EINPROGRESS for a non-blocking connect in progress) */
	__u16 family;   /* AF_INET (2), AF_INET6 (10), AF_UNIX (1) */
	__u16 port;     /* host byte order */
	__s32 fd;
	__u8 addr[16];  /* IPv4 in the first 4 bytes, network order; IPv6 as is */
	char unix_path[108]; /* AF_UNIX: sun_path (abstract names keep their leading NUL) */
	__u16 lport;    /* VG_F_INBOUND: the agent's (destination) port, host order (ABI 1.5;
			 * was padding) */
	__u8 proto;     /* VG_F_INBOUND: IPPROTO_TCP (6) or IPPROTO_UDP (17) (ABI 1.5) */
	__u8 pad;
};

/* Key of map vg_egress (LPM trie): the profile id and the address are both prefix bits, so one
 * trie serves every profile. IPv4 is stored IPv4-mapped (::ffff:a.b.c.d), so a mapped IPv6
 * destination meets the IPv4 rule it stands for. */
struct vg_egress_key {
	__u32 prefixlen;  /* 32 + prefix length in the IPv6 space */
	__u32 profile_id; /* big-endian, so it is the leading 32 bits of the match */
	__u8 addr[16];    /* network byte order */
};

#define VG_PORT_RANGES 16
struct vg_port_range {
	__u16 lo; /* host byte order, inclusive */
	__u16 hi;
};
/* Value of vg_egress. Userspace merges into each prefix the ports of every shorter prefix that
 * contains it, so the longest-prefix match alone gives the whole answer. */
struct vg_egress_val {
	__u16 nranges; /* 0: any port */
	__u16 pad[3];
	struct vg_port_range ranges[VG_PORT_RANGES];
};

/* Key of map vg_file_inodes: a protected file or directory, by identity. */
struct vg_file_key {
	__u64 ino;
	__u32 dev;        /* kernel dev_t of the super block: (major << 20) | minor */
	__u32 profile_id;
};

/* vg_event_hdr.rule_id of a file decision taken because the file lies deeper than the kernel's
 * directory walk reaches (VG_F_PATH_TRUNC is set too): no rule matched, the check failed closed
 * (ABI 1.4). */
#define VG_RULE_TOO_DEEP 0xffffffffu

/* vg_file_rule.flags */
#define VG_FILE_SELF (1u << 0)     /* the object itself is protected */
#define VG_FILE_CHILDREN (1u << 1) /* direct children whose name matches name_pat */
#define VG_FILE_SUBTREE (1u << 2)  /* everything below, at any depth */

/* Value of vg_file_inodes. */
struct vg_file_rule {
	__u32 rule_id;  /* index of the credential pattern in the profile, + 1 */
	__u16 flags;    /* VG_FILE_* */
	__u16 name_pat; /* VG_FILE_CHILDREN: the vg_name_pat.group a child's name must match;
			 * 0: any name */
};

/* vg_persist_rule.flags: what the persistence guard refuses an agent (ABI 1.7). */
#define VG_PERSIST_SELF (1u << 0)     /* the object: writing, truncating, chmod, chown, unlinking,
				       * renaming it or replacing it by rename */
#define VG_PERSIST_SUBTREE (1u << 1)  /* a directory: every object below it, and every name
				       * created in it or below */
#define VG_PERSIST_ANCESTOR (1u << 2) /* a directory on the way to a protected path: renaming it
				       * away, replacing it, removing it */
#define VG_PERSIST_WAY (1u << 3)      /* a name (vg_persist_names): a directory on the way to a
				       * protected path that does not exist yet; the agent may
				       * make it with mkdir, nothing else; the directory made
				       * becomes node `node` (map vg_persist_alias), whose names
				       * are keyed {ino = node, dev = 0} */

/* Value of maps vg_persist_inodes (key: vg_file_key) and vg_persist_names. */
struct vg_persist_rule {
	__u32 rule_id; /* index of the entry in the profile's persistence paths, + 1 */
	__u8 flags;    /* VG_PERSIST_* */
	__u8 mode;     /* enum vg_mode of the entry: VG_MODE_ENFORCE denies, VG_MODE_AUDIT reports */
	__u16 pad;
	__u32 node;    /* VG_PERSIST_WAY: the node the directory made under this name becomes */
	__u32 pad2;
};

/* Slots of map vg_persist_profiles (array of __u32 profile ids, 0: unused): the profiles with
 * persistence paths, whose missing directories d_instantiate follows whoever makes them. */
#define VG_PERSIST_PROFILES 4

/* Key of map vg_persist_names: a protected name in a directory, whether or not it exists (a
 * ~/.bashrc created later, .git/info + "attributes"), by the directory's identity, or by its
 * node (dev = 0, ino = node) for a directory not made yet (~/.ssh + "authorized_keys" in a
 * home without ~/.ssh). Names of VG_PERSIST_NAME bytes or more are not keyed. name is
 * NUL-padded. */
#define VG_PERSIST_NAME 32
struct vg_persist_name_key {
	__u64 ino;        /* the directory */
	__u32 dev;
	__u32 profile_id;
	char name[VG_PERSIST_NAME];
};

/* A basename pattern: prefix*suffix (either may be empty; no '*' means exact: whole = 1).
 * Entries of map vg_name_pats (array). Profile 0 marks an unused slot. */
#define VG_NAME_PATS 128
#define VG_NAME_PART 32
struct vg_name_pat {
	__u32 profile_id;
	__u32 rule_id;    /* as in vg_file_rule */
	__u8 prefix_len;
	__u8 suffix_len;
	__u8 whole;       /* 1: the name must equal prefix exactly (suffix_len is then 0) */
	__u8 anywhere;    /* 1: a global basename rule (any directory) */
	__u16 group;      /* != 0: a directory rule's child-name pattern (vg_file_rule.name_pat) */
	__u16 pad;
	char prefix[VG_NAME_PART];
	char suffix[VG_NAME_PART];
};

/* Key of map vg_fifo_owner: a FIFO an agent created; value: the agent root cgroup id. */
struct vg_inode_key {
	__u64 ino;
	__u32 dev;
	__u32 pad;
};

/* Key of map vg_env_names (an LPM trie): a watched variable name with its terminating NUL
 * (prefixlen = 8 * (strlen + 1): only that exact name matches), or a name prefix without it
 * (prefixlen = 8 * strlen: every name that starts with it). Lookups pass the whole name and its
 * NUL, so one lookup serves both. */
struct vg_env_key {
	__u32 prefixlen;
	char name[VG_ENV_NAME_MAX];
};

/* Value of map vg_env_cfg (array, one entry): whether the exec scan runs at all. */
struct vg_env_cfg {
	__u8 enabled; /* 0: no rule watches the environment: skip the scan */
	__u8 pad[7];
};

/* Key of map vg_egress_bytes: bytes leaving an agent cgroup, per destination. Written by the
 * cgroup_skb/egress program attached to every agent cgroup; read and summed by the daemon. */
struct vg_flow_key {
	__u64 cgroup_id;  /* cgroup v2 id of the sending socket */
	__u8 addr[16];    /* destination, IPv4 as IPv4-mapped IPv6 */
	__u16 port;       /* destination port, host order; 0 for protocols without ports */
	__u8 proto;       /* IPPROTO_TCP, IPPROTO_UDP, ... */
	__u8 pad[5];
};
struct vg_flow_val {
	__u64 bytes;      /* IP bytes (headers included) */
	__u64 packets;
};

/* Value of map vg_profiles (array indexed by profile id). */
struct vg_profile_cfg {
	__u8 net_mode;    /* enum vg_mode */
	__u8 file_mode;   /* enum vg_mode */
	__u8 raw_ok;      /* 1: raw (SOCK_RAW) and packet (AF_PACKET) sockets may be created */
	__u8 tamper_mode; /* enum vg_mode: self-protection (ABI 1.3; was padding, so 0 = off) */
	__u32 rate;       /* observation events per second per agent cgroup; 0: unlimited (ABI 1.3) */
};

/* What a self-protection event reports (vg_event_tamper.kind). */
enum vg_tamper_kind {
	VG_TAMPER_CGROUP_WRITE = 1,   /* open for write of a cgroupfs file outside the agent's subtree
				       * (cgroup.procs of another cgroup, the root's controllers) */
	VG_TAMPER_CGROUP_MKDIR = 2,   /* mkdir/rmdir in cgroupfs outside the agent's subtree */
	VG_TAMPER_CGROUP_ESCAPE = 3,  /* an agent task was moved out of its subtree (seen after the fact) */
	VG_TAMPER_CLONE_CGROUP = 4,   /* clone3(CLONE_INTO_CGROUP) */
	VG_TAMPER_BPF = 5,            /* the bpf() syscall; arg: the command */
	VG_TAMPER_BPFFS = 6,          /* write, unlink or rename under a bpffs (pins) */
	VG_TAMPER_SIGNAL = 7,         /* a signal to a task outside the agent's subtree; arg: signal */
	VG_TAMPER_MOUNT = 8,          /* mount in a mount namespace the agent did not create */
	VG_TAMPER_UMOUNT = 9,         /* umount likewise */
	VG_TAMPER_MOVE_MOUNT = 10,    /* move_mount likewise */
	VG_TAMPER_PIVOT_ROOT = 11,    /* pivot_root likewise */
	VG_TAMPER_MODULE = 12,        /* init_module/finit_module/kexec: kernel code or image loads */
	VG_TAMPER_SYSCTL = 13,        /* open for write under /proc/sys (or /proc/sysrq-trigger) */
};

/* An agent reached for vigil itself or for the boundary that confines it. Tail: none; name holds
 * the object's last path component, the file system type, or the target's comm. */
struct vg_event_tamper {
	struct vg_event_hdr hdr;
	__u16 kind;          /* enum vg_tamper_kind */
	__u16 pad;
	__s32 arg;           /* kind-specific: bpf command, signal number, clone flags' high word */
	__u32 target_tgid;   /* the task acted on (signal target, task moved), or 0 */
	__u32 pad2;
	__u64 target_cgroup; /* the cgroup acted on (move destination, cgroupfs directory), or 0 */
	char name[64];
};

/* An agent cgroup exceeded its observation-event rate: its observation events (verdict none;
 * exits excepted) are dropped for the rest of the second. Decisions (deny, audit, kill) are never
 * dropped. Emitted at the first drop of each second in which the cgroup is over its rate. */
struct vg_event_throttle {
	struct vg_event_hdr hdr; /* cgroup_id: the agent root cgroup */
	__u64 suppressed;        /* events dropped for this cgroup so far (a running total) */
	__u32 rate;              /* the limit in force */
	__u32 pad;
};

/* Value of map vg_rate (key: agent root cgroup id): a one-second window. */
struct vg_rate_state {
	__u64 window_ns; /* start of the current window (CLOCK_BOOTTIME) */
	__u64 count;     /* observation events in this window */
	__u64 suppressed;/* events dropped for this cgroup so far */
};

/* An agent reached for another process's memory or environment (ptrace, /proc/PID/mem,
 * /proc/PID/environ, process_vm_readv: all pass ptrace_access_check). */
struct vg_event_ptrace {
	struct vg_event_hdr hdr;
	__u32 target_tgid;
	__u32 mode;          /* PTRACE_MODE_* bits as the kernel passed them */
	__u64 target_cgroup; /* cgroup v2 id of the target */
	char target_comm[VG_COMM_LEN];
};

/* Longest unix socket name: sizeof(sun_path). */
#define VG_UNIX_NAME_MAX 108

/* Key of maps vg_unix_allow and vg_unix_bound: a unix socket address as the cgroup
 * connect_unix / sendmsg_unix programs see it. A path name is its bytes up to the first NUL (len
 * = strlen); an abstract name keeps its leading NUL and is len bytes long (addrlen - 2: embedded
 * NULs count). name is zero-padded. owner is a profile id (vg_unix_allow: the profile's
 * allowlist) or an agent root cgroup id (vg_unix_bound: a name an agent's own socket holds). */
struct vg_unix_key {
	__u64 owner;
	__u32 len;
	__u32 pad;
	char name[VG_UNIX_NAME_MAX];
	__u32 pad2;
};

/* A raw or packet socket an agent tried to create (they bypass every address check). */
struct vg_event_socket {
	struct vg_event_hdr hdr;
	__s32 family;   /* AF_* */
	__s32 type;     /* SOCK_* (without flags) */
	__s32 protocol;
	__s32 ret;      /* 0 or -EPERM */
};

/* Value of map vg_ingress (array indexed by profile id): connections into an agent from outside
 * it (ABI 1.5). */
struct vg_ingress_cfg {
	__u8 mode;   /* enum vg_mode: off lets everything in; audit reports; enforce drops */
	__u8 pad[7];
};

/* Key of map vg_udp_peers: an agent UDP socket sent a datagram to addr:port, so datagrams from
 * there to that socket are replies, not inbound (ABI 1.5). Written by the egress packet program. */
struct vg_udp_peer {
	__u64 cookie;  /* socket cookie of the agent's socket */
	__u8 addr[16]; /* the peer, IPv4 as IPv4-mapped IPv6 */
	__u16 port;    /* the peer's port, host order */
	__u16 pad[3];
};

/* Key of map vg_inbound_seen: one refused inbound flow, so its retransmitted SYNs or further
 * datagrams raise no second report (ABI 1.5). Value: __u64 CLOCK_BOOTTIME of the report. */
struct vg_inbound_key {
	__u64 cgroup_id; /* the agent root cgroup */
	__u8 addr[16];   /* source, IPv4 as IPv4-mapped IPv6 */
	__u16 sport;     /* host order */
	__u16 dport;     /* host order */
	__u8 proto;
	__u8 pad[3];
};

/* Bytes of a DNS message a VG_EV_DNS record carries: a classic UDP answer's limit (RFC 1035). */
#define VG_DNS_MAX 512

/* A DNS message from port 53 delivered to an agent's socket (ABI 1.10): the first VG_DNS_MAX
 * bytes of its UDP or TCP payload, copied as received and parsed in userspace (hostile bytes:
 * an agent may answer itself). Made by the cgroup_skb/ingress program in softirq, so the header
 * names the receiving socket's cgroup and no process (tgid 0). Observation only: a packet is
 * copied after the ingress check let it through, and the copy never changes that. A full ring
 * or one filled to its reserved quarter loses the record, counted. */
struct vg_event_dns {
	struct vg_event_hdr hdr;
	__u8 addr[16];   /* the sender (the resolver), IPv4 as IPv4-mapped IPv6 */
	__u16 port;      /* the sender's port, host order (53) */
	__u16 len;       /* bytes of data that hold the payload's start, <= VG_DNS_MAX */
	__u16 total;     /* bytes of payload in the packet (more than len: the copy was cut) */
	__u8 proto;      /* IPPROTO_UDP (17), or IPPROTO_TCP (6): the segment's payload, whose
			  * first segment starts with the message's 2-byte length (RFC 1035 4.2.2) */
	__u8 pad;
	__u8 data[VG_DNS_MAX];
};

/* Value of map vg_agent_cgroups (key: __u64 cgroup id). */
struct vg_agent {
	__u32 profile_id;
	__u32 flags; /* VG_AGENT_* bits (ABI 1.8; was reserved, so 0 = none) */
};

/* vg_agent.flags: VG_AGENT_ISOLATED denies every IP egress of the agent (the response action
 * `isolate`), whatever its profile's allowlist says; the allowlist stays in its map, so clearing
 * the bit restores it. One map update flips it, so no connect sees half a switch. */
#define VG_AGENT_ISOLATED (1u << 0)

VG_ABI_ASSERT(sizeof(struct vg_event_hdr) == 72, "ABI break: vg_event_hdr");
VG_ABI_ASSERT(sizeof(struct vg_event_exec) == 104, "ABI break: vg_event_exec");
VG_ABI_ASSERT(sizeof(struct vg_event_fork) == 80, "ABI break: vg_event_fork");
VG_ABI_ASSERT(sizeof(struct vg_event_exit) == 80, "ABI break: vg_event_exit");
VG_ABI_ASSERT(sizeof(struct vg_event_open) == 112, "ABI break: vg_event_open");
VG_ABI_ASSERT(sizeof(struct vg_event_connect) == 216, "ABI break: vg_event_connect");
VG_ABI_ASSERT(sizeof(struct vg_open_seen_key) == 24, "ABI break: vg_open_seen_key");
VG_ABI_ASSERT(sizeof(struct vg_open_seen_val) == 40, "ABI break: vg_open_seen_val");
VG_ABI_ASSERT(sizeof(struct vg_agent) == 8, "ABI break: vg_agent");
VG_ABI_ASSERT(sizeof(struct vg_egress_key) == 24, "ABI break: vg_egress_key");
VG_ABI_ASSERT(sizeof(struct vg_egress_val) == 72, "ABI break: vg_egress_val");
VG_ABI_ASSERT(sizeof(struct vg_profile_cfg) == 8, "ABI break: vg_profile_cfg");
VG_ABI_ASSERT(sizeof(struct vg_file_key) == 16, "ABI break: vg_file_key");
VG_ABI_ASSERT(sizeof(struct vg_inode_key) == 16, "ABI break: vg_inode_key");
VG_ABI_ASSERT(sizeof(struct vg_event_socket) == 88, "ABI break: vg_event_socket");
VG_ABI_ASSERT(sizeof(struct vg_unix_key) == 128, "ABI break: vg_unix_key");
VG_ABI_ASSERT(sizeof(struct vg_event_ptrace) == 104, "ABI break: vg_event_ptrace");
VG_ABI_ASSERT(sizeof(struct vg_file_rule) == 8, "ABI break: vg_file_rule");
VG_ABI_ASSERT(sizeof(struct vg_persist_rule) == 16, "ABI break: vg_persist_rule");
VG_ABI_ASSERT(sizeof(struct vg_persist_name_key) == 48, "ABI break: vg_persist_name_key");
VG_ABI_ASSERT(sizeof(struct vg_name_pat) == 80, "ABI break: vg_name_pat");
VG_ABI_ASSERT(sizeof(struct vg_env_key) == 32, "ABI break: vg_env_key");
VG_ABI_ASSERT(sizeof(struct vg_env_cfg) == 8, "ABI break: vg_env_cfg");
VG_ABI_ASSERT(sizeof(struct vg_flow_key) == 32, "ABI break: vg_flow_key");
VG_ABI_ASSERT(sizeof(struct vg_flow_val) == 16, "ABI break: vg_flow_val");
VG_ABI_ASSERT(sizeof(struct vg_event_tamper) == 160, "ABI break: vg_event_tamper");
VG_ABI_ASSERT(sizeof(struct vg_event_throttle) == 88, "ABI break: vg_event_throttle");
VG_ABI_ASSERT(sizeof(struct vg_rate_state) == 24, "ABI break: vg_rate_state");
VG_ABI_ASSERT(sizeof(struct vg_ingress_cfg) == 8, "ABI break: vg_ingress_cfg");
VG_ABI_ASSERT(sizeof(struct vg_udp_peer) == 32, "ABI break: vg_udp_peer");
VG_ABI_ASSERT(sizeof(struct vg_inbound_key) == 32, "ABI break: vg_inbound_key");
VG_ABI_ASSERT(sizeof(struct vg_event_dns) == 608, "ABI break: vg_event_dns");

/* Largest record: exec with a full path and argv. Sizes the per-CPU scratch buffer. */
#define VG_EVENT_MAX (sizeof(struct vg_event_exec) + VG_PATH_MAX + VG_ARGS_MAX + VG_ENV_MAX)

#endif /* VG_ABI_H */
