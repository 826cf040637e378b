// SPDX-License-Identifier: Apache-2.0
// Agent profiles: what an agent cgroup must not read and where it may connect.
// Pure: parsing and matching only, no libbpf, no privileges. The loader turns a Profile into maps.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "policy/response.h"

namespace vigil::policy {

// Falco's priorities, most severe first.
enum class Severity : uint8_t {
  emergency,
  alert,
  critical,
  error,
  warning,
  notice,
  informational,
  debug,
};
std::string_view to_string(Severity s);
std::optional<Severity> severity_from_string(std::string_view s);

// An IP prefix. IPv4 is stored as an IPv4-mapped IPv6 address (::ffff:a.b.c.d) with the prefix
// length shifted by 96, so one matcher (and later one LPM trie) serves both families and a mapped
// address written by an agent matches the IPv4 rule it stands for.
struct Cidr {
  std::array<uint8_t, 16> addr{}; // network byte order, host bits zero
  uint8_t prefix_len = 0;         // 0..128, in the IPv6 space
  bool is_v4 = false;             // as written in the profile (for printing)
  bool contains(const std::array<uint8_t, 16> &ip) const;
  std::string to_string() const;
};
// "10.0.0.0/8", "::1/128", "127.0.0.1" (a host), "::ffff:10.0.0.0/104". Error text says what is wrong.
Result<Cidr> parse_cidr(std::string_view text);
// An address as 16 bytes in the IPv6 space (IPv4 mapped). Returns nullopt for a bad string.
std::optional<std::array<uint8_t, 16>> parse_ip(std::string_view text);
std::array<uint8_t, 16> ipv4_mapped(uint32_t addr_be);
// True for an IPv4 address in the IPv6 space (::ffff:a.b.c.d).
bool is_v4_mapped(const std::array<uint8_t, 16> &ip);
std::string ip_to_string(const std::array<uint8_t, 16> &ip);

struct PortRange {
  uint16_t lo = 0;
  uint16_t hi = 0;
};

struct EgressAllow {
  Cidr cidr;
  // A host name instead of a CIDR: resolved by the daemon, refreshed on its DNS TTL. Until it
  // resolves it allows nothing; cidr is unused.
  std::string host;
  std::vector<PortRange> ports; // empty: any port
  int line = 0;                 // 1-based line in the profile file, for messages
};

// What vigil does when a rule matches: deny and alert, or allow and alert as would-deny.
enum class Mode : uint8_t { enforce, audit };
std::string_view to_string(Mode m);

// persistence.paths: one path an agent must not change, because something outside vigil runs or
// trusts it later (a git hook, a shell start-up file, an editor's task list).
struct PersistencePath {
  std::string pattern;      // as written: see PersistenceScope for how it is anchored
  std::optional<Mode> mode; // the entry's own mode; nullopt: persistence.mode, else the profile's
  int line = 0;             // 1-based line in the profile file, for messages
};

// Where a persistence pattern is anchored.
//   absolute  "/var/spool/cron/crontabs/*"
//   home      "~/.bashrc"                      (the agent's home, as for credentials)
//   basename  ".envrc"                         (that name in any directory)
//   git_dir   ".git/hooks/**"                  (inside each git directory git would use for the
//                                               project: .git dirs, gitdir: targets, worktrees'
//                                               common dirs, submodules' git dirs, nested repos)
//   project   ".vscode/**", ".claude/commands/**" (relative to the project directory and to the
//                                               work tree of each repository found in it)
enum class PersistenceScope : uint8_t { absolute, home, basename, git_dir, project };
PersistenceScope persistence_scope(std::string_view pattern);

// The weakest enforcement a profile accepts; vigil refuses to start it on a kernel that cannot
// give it. none: monitor-only is acceptable; enforce: some enforcing tier (BPF LSM, or the
// fanotify / cgroup sock_addr fallbacks); lsm: BPF LSM only.
enum class Requirement : uint8_t { none, enforce, lsm };
std::string_view to_string(Requirement r);

struct Profile {
  std::string name;
  Mode mode = Mode::enforce;
  Requirement require = Requirement::none;
  std::string description;
  std::string source; // file the profile came from ("<string>" when parsed from memory)
  std::vector<std::string> included; // allowlist files read through egress.allow_files
  Severity credential_severity = Severity::critical;
  std::vector<std::string> credential_paths; // as written (may start with ~/)
  // persistence: paths the agent must not write, create, rename, link, chmod or unlink.
  Severity persistence_severity = Severity::critical;
  std::optional<Mode> persistence_mode;
  std::vector<PersistencePath> persistence_paths;
  Severity egress_severity = Severity::warning;
  std::vector<EgressAllow> egress_allow;
  // egress.dns: port 53 to these resolvers only. dns_system: the host's own (resolv.conf),
  // added to the allowlist when the profile is installed (daemon::expand_hosts).
  bool dns_system = false;
  std::vector<Cidr> dns;
  // Unix sockets and FIFOs served from outside the agent that it may use anyway (absolute or
  // ~/ paths). Every other such side channel is denied where BPF LSM runs.
  std::vector<std::string> ipc_allow;
  // Per-kind modes override the profile's mode: credentials.mode, egress.mode.
  std::optional<Mode> credential_mode;
  std::optional<Mode> egress_mode;
  // ingress: connections (TCP) and datagrams (UDP) into the agent's sockets from outside the
  // agent (host processes over loopback, other hosts). ingress.mode overrides the profile's mode;
  // ingress_off (mode: off) lets them in. A client inside the agent, and replies to what the
  // agent sent, are never inbound.
  std::optional<Mode> ingress_mode;
  bool ingress_off = false;
  Severity ingress_severity = Severity::error;
  bool raw_sockets = false; // egress.raw_sockets: allow: raw and packet sockets may be created
  // launch.env_allow: variables that look like secrets but `vigil run` passes to the agent.
  std::vector<std::string> env_allow;
  // self_protection.mode: what the kernel does when an agent reaches for vigil or its own
  // boundary (bpf(), cgroup escape, signals out, mount games, module loads). Default enforce,
  // whatever the profile's mode: an agent switching vigil off is never a false positive worth
  // allowing. nullopt: off.
  std::optional<Mode> self_protection = Mode::enforce;
  // limits.events_per_second: observation events per agent cgroup per second before the kernel
  // drops the rest of that second's (counted, THROTTLE event); 0: unlimited. Decisions are never
  // dropped.
  uint32_t events_per_second = 50000;
  // launch.capabilities: what the agent keeps (bit n = capability n); nullopt: the default set.
  // Never holds a policy::forbidden_capabilities() bit. policy::kept_capabilities() is the set
  // a launch applies (it adds NET_RAW for raw_sockets).
  std::optional<uint64_t> keep_capabilities;
  // launch.isolate: the agent gets its own cgroup and mount namespaces, with /sys, /proc/sys and
  // the kernel's control files read-only in them.
  bool isolate = true;
  // launch.pid_namespace (with isolate): the agent gets its own pid namespace and a /proc of its
  // own, where no process outside it is visible.
  bool pid_namespace = true;
  // launch.nested_namespaces: allow lets the agent create namespaces (user and mount ones among
  // them) and mount inside them; deny (default) fails those calls with an alert. Allowing weakens
  // tier 2: a mount namespace made inside the agent copies the mounts the file tier marks.
  bool nested_namespaces = false;
  // response: what vigil does to the agent's cgroup when an alert fires (policy/response.h).
  // Empty by default: alerts only.
  Response response;

  Mode file_mode() const { return credential_mode.value_or(mode); }
  Mode net_mode() const { return egress_mode.value_or(mode); }
  // nullopt: inbound connections are let in.
  std::optional<Mode> inbound_mode() const
  {
    return ingress_off ? std::nullopt : std::optional<Mode>(ingress_mode.value_or(mode));
  }
  Mode persistence_mode_of(const PersistencePath &p) const
  {
    return p.mode.value_or(persistence_mode.value_or(mode));
  }
};

// Parses a profile. Every error names the file, line and column and the field that is wrong:
//   "rules/x.yaml:12:7: egress.allow[2].cidr: '10.0.0.0/33' prefix length 33 is out of range 0..32"
// Unknown keys are errors (a typo must not silently drop a protection).
Result<Profile> parse_profile(std::string_view yaml_text, const std::string &source_name);
Result<Profile> load_profile(const std::string &path);

// An egress allowlist file (referenced from profiles by egress.allow_files):
//   allowlist: NAME
//   allow: [ <cidr> | {cidr|host, ports} ... ]
Result<std::vector<EgressAllow>> parse_allowlist(std::string_view yaml_text,
                                                 const std::string &source_name);
Result<std::vector<EgressAllow>> load_allowlist(const std::string &path);

// True when (ip, port) is allowed by the profile's egress allowlist.
bool egress_allowed(const Profile &p, const std::array<uint8_t, 16> &ip, uint16_t port);

// Shell-style glob on '/'-separated paths: '*', '?' and '[...]' (with '!' or '^' negation and
// ranges) never match '/'; '**' as a whole component matches zero or more components.
bool glob_match(std::string_view pattern, std::string_view path);
// "~/x" -> prefix + "/x" when home is not empty, any other pattern as it is; prefix is
// home_prefix(home): the normalised home, "" for "/" (PathMatcher and PathIndex expand alike).
std::string home_prefix(const std::string &home);
std::string expand_pattern(const std::string &pattern, const std::string &home,
                           const std::string &prefix);

// Compiled credential patterns for one home directory. Patterns starting with "~/" are expanded
// against home; patterns without '/' match the basename of any path; others match whole absolute
// paths. Paths given to match() are absolute and normalised by the caller.
class PathMatcher {
public:
  PathMatcher() = default;
  PathMatcher(const std::vector<std::string> &patterns, const std::string &home);
  // Index into the pattern list of the first pattern that matches, or nullopt.
  std::optional<size_t> match(std::string_view abs_path) const;
  const std::string &pattern(size_t i) const { return expanded_[i]; }
  size_t size() const { return expanded_.size(); }

private:
  struct Entry {
    std::string pattern;
    std::string prefix; // literal text before the first wildcard
    std::string suffix; // literal text after the last '*' or '?'
    bool basename_only;
    bool literal;
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::vector<Entry> entries_;
  std::vector<std::string> expanded_;
  // Literal patterns by the text they must equal (first pattern index), so a path costs two
  // lookups plus the wildcard patterns, whose literal prefix and suffix are checked first.
  std::unordered_map<std::string, size_t, Hash, std::equal_to<>> exact_, base_exact_;
  std::vector<size_t> globs_;
};

// Unix sockets of the system that ordinary programs reach and that every agent may use, on top
// of ipc.allow: journald's sockets (syslog(3) writes to /dev/log, sd_journal_* and systemd-cat
// to the others) and nscd's (glibc's name service cache). Root-owned names.
inline constexpr std::string_view kSystemUnixSockets[] = {
    "/dev/log",
    "/run/systemd/journal/dev-log",
    "/run/systemd/journal/socket",
    "/run/systemd/journal/stdout",
    "/run/nscd/socket",
    "/var/run/nscd/socket",
};

// The unix socket names a profile lets its agents reach: the system's, then ipc.allow with ~/
// expanded for every home in homes (see expand_home).
std::vector<std::string> unix_allow_paths(const Profile &p, const std::vector<std::string> &homes);

// A profile path for each home: "~/x" -> "<home>/x" per home; any other pattern as it is.
std::vector<std::string> expand_home(const std::string &pattern,
                                     const std::vector<std::string> &homes);

// Lexically normalises an absolute path: collapses "//", removes "." and resolves ".." (without
// touching the file system). A relative path is joined to cwd first.
std::string normalize_path(std::string_view path, std::string_view cwd = "/");
// True when normalize_path(path) == path (checked without building it).
bool is_normal_path(std::string_view path);

} // namespace vigil::policy
