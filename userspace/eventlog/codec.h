// SPDX-License-Identifier: Apache-2.0
// The EVENT record payload: a pipeline::Event in a compact little-endian binary form.
//
// Layout (version 1), every integer little-endian, "str" = LEB128 length + bytes:
//   u8 version (1) | u16 event type | u16 flags | u8 verdict | u8 tier | u64 ts_ns (CLOCK_BOOTTIME)
//   | u64 cgroup_id | u32 tgid | u32 tid | u32 uid | u32 gid | u32 profile_id | u32 rule_id
//   | str comm | body | extensions
// Bodies, by event type:
//   exec    u32 ppid, old_tid, loginuid, exe_dev | u64 exe_ino | str exe | varint argc | argc x str
//   fork    u32 child_tgid
//   exit    i32 exit_code
//   open    i64 ret | u64 ino | u32 dev, flags, mode | i32 dfd | u16 call
//           | u8 bits (1 resolved, 2 truncated, 4 ipc) | str path | str pattern
//   connect i64 ret | u8 bits (1 sendmsg, 2 ipc) | u16 family | u16 port | i32 fd | 16 B addr
//           | str unix_path
//   ptrace  u32 target_tgid | u32 mode | u64 target_cgroup | str target_comm
//   socket  i32 family, type, protocol, ret
//   egress_volume  16 B addr | u16 port | u8 proto | u64 bytes | u64 packets
//   dns     16 B server | u16 port | u8 proto | u8 bits (1 cut, 2 truncated) | u8 rcode
//           | u16 qtype | u16 id | u32 ttl | str qname | str error | varint n | n x str cname
//           | varint n | n x 16 B addr
//   (the parsed answer, not the packet: the log never holds the raw DNS bytes)
// Extensions: zero or more (varint tag, varint length, bytes) up to the end of the payload.
//   tag 1 (exec): the watched environment: u8 truncated | varint n | n x str "NAME=VALUE"
//
// Bump rule. A field added to an event later (an `env` vector on ExecBody, say) becomes a new
// extension tag: older readers skip tags they do not know, so old and new logs stay readable
// both ways. Tags are never reused; tag 0 is reserved. The version byte changes only when the
// fixed part above changes meaning or layout; decode() refuses versions it does not know. A new
// event type is a new body; older readers report it as undecodable and skip that record.
#pragma once

#include <cstddef>
#include <array>
#include <span>
#include <string>

#include "common/result.h"
#include "pipeline/event.h"

namespace vigil::eventlog {

inline constexpr uint8_t kCodecVersion = 1;
// Bounds the decoder enforces (the encoder truncates to them): a corrupted length can never make
// the decoder allocate more than the payload it was given.
inline constexpr size_t kMaxComm = 256;
inline constexpr size_t kMaxString = 65536;
inline constexpr size_t kMaxArgs = 65536;
inline constexpr size_t kMaxDnsName = 1024; // a name or a parse error's text
inline constexpr size_t kMaxDnsItems = 256; // names of a CNAME chain, addresses of an answer

// Appends the encoding of ev to out.
void encode(const pipeline::Event &ev, std::string &out);
// Decodes one EVENT payload. The bytes are untrusted: every length is checked against the buffer
// before it is used; a short, overlong or malformed payload is an error, never an over-read.
Result<pipeline::Event> decode(std::span<const std::byte> payload);
// The same into ev, whose strings keep their capacity when ev held a body of the payload's
// type (replay decodes every record into one event per type, allocating nothing once warm).
// Every field of the header and of that body is assigned; on failure ev is unspecified.
// (Call it qualified: pipeline::decode_into has the same shape and is found by ADL.)
Result<> decode_into(std::span<const std::byte> payload, pipeline::Event &ev);

// Decodes into events of its own, one per event type, so that a type's strings keep their
// capacity from one record to the next. The event is valid until the next decode of its type.
class Decoder {
public:
  Result<pipeline::Event *> decode(std::span<const std::byte> payload);

private:
  std::array<pipeline::Event, 12> slots_; // exec..throttle, egress_volume, dns; 0: other types
};

} // namespace vigil::eventlog
