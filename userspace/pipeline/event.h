// SPDX-License-Identifier: Apache-2.0
// pipeline::Event: a kernel record decoded into C++ types. Events own their strings and move by
// value between threads; nothing here points into the ring buffer.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/result.h"

namespace vigil::pipeline {

enum class EventType : uint16_t {
  exec = 1,
  fork = 2,
  exit = 3,
  open = 4,
  connect = 5,
  ptrace = 6,
  socket = 7,
  tamper = 8,   // an agent reached for vigil or its own boundary (self-protection)
  throttle = 9, // an agent cgroup went over its event rate; observation events were dropped
  dns = 10,     // a DNS answer an agent's socket received (parsed: the name and its addresses)
  // Made in userspace, not by the kernel: bytes an agent cgroup sent to one destination since
  // the previous report (from the cgroup_skb counters).
  egress_volume = 64,
};
std::string_view to_string(EventType t);

// kill: the kernel could not refuse (no BPF LSM), so the acting task was sent SIGKILL before its
// syscall returned.
enum class Verdict : uint8_t { none = 0, allow = 1, audit = 2, deny = 3, kill = 4 };
std::string_view to_string(Verdict v);

// What decided a verdict (enum vg_tier).
// launch: vigil run's seccomp filter, whose supervisor decided the call (made in userspace).
enum class Tier : uint8_t { none = 0, lsm = 1, cgroup = 2, fanotify = 3, launch = 4 };
std::string_view to_string(Tier t);

struct Header {
  EventType type{};
  uint16_t flags = 0;
  uint64_t ts_ns = 0; // CLOCK_BOOTTIME
  uint64_t cgroup_id = 0;
  uint32_t tgid = 0;
  uint32_t tid = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t profile_id = 0;
  uint32_t rule_id = 0;
  Verdict verdict = Verdict::none;
  Tier tier = Tier::none;
  std::string comm;
};

struct ExecBody {
  uint32_t ppid = 0;
  uint32_t old_tid = 0;
  uint32_t loginuid = 0;
  uint32_t exe_dev = 0;
  uint64_t exe_ino = 0;
  std::string exe;
  std::vector<std::string> argv;
  // The watched variables of the new environment ("NAME=VALUE"), in envp order. Only names the
  // rules watch are reported; the rest of the environment never leaves the kernel.
  std::vector<std::string> env;
  bool env_truncated = false; // the kernel could not scan the whole environment
};

struct ForkBody {
  uint32_t child_tgid = 0;
};

struct ExitBody {
  int32_t exit_code = 0;
};

enum class OpenCall : uint16_t {
  open = 1,
  openat = 2,
  openat2 = 3,
  open_by_handle_at = 4,
  hook = 5,   // reported by the file_open LSM hook, whatever the syscall
  link = 6,   // a hard link of the file (the path_link LSM hook)
  rename = 7, // the file moved or renamed (the path_rename LSM hook)
  // What the persistence guard also decides (the path is the name changed):
  unlink = 8,   // unlink, rmdir
  chmod = 9,    // chmod, fchmod, fchmodat
  chown = 10,   // chown, fchown, lchown, fchownat
  symlink = 11, // a symbolic link made at the name
  mknod = 12,   // a directory, device or FIFO made at the name
  truncate = 13, // truncate(2)
  mkdir = 14,    // the path_mkdir LSM hook (BPF LSM's own; the gate reports mknod)
  rmdir = 15,    // the path_rmdir LSM hook (BPF LSM's own; the gate reports unlink)
};
std::string_view to_string(OpenCall c);

struct OpenBody {
  int64_t ret = 0;
  uint64_t ino = 0;
  uint32_t dev = 0;
  uint32_t flags = 0;
  uint32_t mode = 0;
  int32_t dfd = 0;
  OpenCall call{};
  bool resolved = false; // path came from the kernel's dentries
  bool truncated = false;
  std::string path;
  std::string pattern; // userspace enforcement decisions: the profile pattern protecting the file
  bool ipc = false;    // a FIFO served from outside the agent, not a credential
  bool persist = false; // a persistence guard's decision (call says what), not a credential
  // A count of repeated opens, not an open (tier 1 aggregates in the kernel): the same process
  // opened the same inode with the same access this many more times after the open reported
  // before (at repeat_first_ns), the last of them at repeat_last_ns (= hdr.ts_ns). The
  // rules saw the first open; they do not run again on a count.
  uint64_t repeats = 0;
  uint64_t repeat_first_ns = 0; // CLOCK_BOOTTIME of the reported open the count follows
  uint64_t repeat_last_ns = 0;  // of the last open counted
};

// The LSM hook an OpenCall of an LSM record stands for ("path_rename"); "" for the syscalls.
std::string_view lsm_hook(OpenCall c);

struct ConnectBody {
  int64_t ret = 0;
  bool sendmsg = false; // a sendto/sendmsg destination, not a connect
  bool srcroute = false; // a source-routed packet (IPv6 routing header, IPv4 options); addr is
                         // its first hop
  bool ipc = false;     // a unix socket served from outside the agent
  bool isolated = false; // refused because the agent is isolated (the `isolate` response)
  bool inbound = false; // a connection or datagram into the agent from outside it: addr/port is
                        // the source, lport the agent's port, proto IPPROTO_TCP or _UDP
  uint16_t family = 0;
  uint16_t port = 0;
  uint16_t lport = 0;
  uint8_t proto = 0;
  int32_t fd = 0;
  std::array<uint8_t, 16> addr{}; // IPv4 as IPv4-mapped IPv6
  std::string unix_path;
};

struct PtraceBody {
  uint32_t target_tgid = 0;
  uint32_t mode = 0; // PTRACE_MODE_* bits
  uint64_t target_cgroup = 0;
  std::string target_comm;
};

struct SocketBody {
  int32_t family = 0;
  int32_t type = 0;
  int32_t protocol = 0;
  int32_t ret = 0;
};

// enum vg_tamper_kind, by name.
enum class TamperKind : uint16_t {
  cgroup_write = 1,
  cgroup_mkdir = 2,
  cgroup_escape = 3,
  clone_into_cgroup = 4,
  bpf = 5,
  bpffs = 6,
  signal = 7,
  mount = 8,
  umount = 9,
  move_mount = 10,
  pivot_root = 11,
  module = 12,
  sysctl = 13,
};
inline constexpr std::string_view kTamperNames[] = {
    "",           "cgroup_write", "cgroup_mkdir", "cgroup_escape", "clone_into_cgroup",
    "bpf",        "bpffs",        "signal",       "mount",         "umount",
    "move_mount", "pivot_root",   "module",       "sysctl"};
inline std::string_view to_string(TamperKind k)
{
  const auto i = static_cast<size_t>(k);
  return i > 0 && i < std::size(kTamperNames) ? kTamperNames[i] : "unknown";
}
// The kind named s ("bpf", "cgroup_escape", ...), or 0 when none is.
inline uint16_t tamper_kind_from(std::string_view s)
{
  for (size_t i = 1; i < std::size(kTamperNames); ++i)
    if (kTamperNames[i] == s)
      return static_cast<uint16_t>(i);
  return 0;
}

struct TamperBody {
  TamperKind kind{};
  int32_t arg = 0;           // bpf command, signal number, module load id
  uint32_t target_tgid = 0;  // task acted on, or 0
  uint64_t target_cgroup = 0; // cgroup acted on, or 0
  std::string name;          // last path component, file system type or target comm
};

struct ThrottleBody {
  uint64_t suppressed = 0; // events this agent cgroup has had dropped so far
  uint32_t rate = 0;       // the limit in force (events per second)
};

struct VolumeBody {
  std::array<uint8_t, 16> addr{}; // IPv4 as IPv4-mapped IPv6
  uint16_t port = 0;
  uint8_t proto = 0;
  uint64_t bytes = 0;
  uint64_t packets = 0;
};

// A DNS message from port 53 that an agent's socket received (VG_EV_DNS), parsed (dns.h). The
// header names the receiving socket's cgroup and no process (tgid 0: the kernel copied it while
// delivering the packet). What the agent learnt: the addresses the answer gave for the name it
// asked for. Hostile: an agent may answer its own queries, so this names what it was told, not
// what the name is.
struct DnsBody {
  std::array<uint8_t, 16> server{}; // the sender, IPv4 as IPv4-mapped IPv6
  uint16_t port = 0;                // the sender's port (53)
  uint8_t proto = 0;                // IPPROTO_UDP (17) or IPPROTO_TCP (6)
  bool cut = false;       // the bytes ended before the message did: later records are lost
  bool truncated = false; // the server set TC (the answer is incomplete; a TCP retry follows)
  uint8_t rcode = 0;
  uint16_t qtype = 0;
  uint16_t id = 0;
  std::string qname;                // "" when the message did not parse
  std::vector<std::string> cnames;  // the CNAME chain from qname
  std::vector<std::array<uint8_t, 16>> addrs; // A/AAAA answers for qname (IPv4 mapped)
  uint32_t ttl = 0;                 // the smallest TTL of addrs, seconds
  std::string error;                // why the message did not parse ("" when it did)
};

struct Event {
  Header hdr;
  std::variant<ExecBody, ForkBody, ExitBody, OpenBody, ConnectBody, PtraceBody, SocketBody,
               VolumeBody, TamperBody, ThrottleBody, DnsBody>
      body;
};

// Heap bytes the event holds (its strings), roughly, plus its own size: what a queue of events
// costs.
size_t footprint(const Event &ev);

// Decodes one ring-buffer record. The bytes are untrusted: sizes are checked against the record
// and the ABI before every copy, strings are bounded, and a record from an object with another
// ABI major version is refused. Never reads in place (records may be unaligned).
Result<Event> decode(std::span<const std::byte> data);
// The same into ev, whose strings keep their capacity when ev held a body of the record's type:
// every field of the header and of that body is assigned. On failure ev is unspecified.
Result<> decode_into(std::span<const std::byte> data, Event &ev);

// Decodes into events of its own, one per record type, so that a type's strings keep their
// capacity from one record to the next: once warm, decoding allocates only for a string longer
// than its type ever had (or an argv entry past 15 characters that the previous record lacked).
// The event is valid until the next decode of the same type; the hot path reads it in place.
class Decoder {
public:
  Result<Event *> decode(std::span<const std::byte> data);

private:
  std::array<Event, 16> slots_; // by vg_event_type; 0 for types it does not know
};

} // namespace vigil::pipeline
