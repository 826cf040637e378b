// SPDX-License-Identifier: Apache-2.0
// DNS answers an agent received (VG_EV_DNS records) parsed into what the agent learnt: which
// name it asked for and which addresses came back for it. The bytes are hostile (an agent can
// answer its own queries, a resolver can be anyone's): every length and count is checked against
// the bytes, compression pointers may only point backwards (no loops), names are bounded, and
// only addresses that answer the question (its name, or a CNAME chain from it in the same answer
// section) are kept; additional and authority records are never read.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace vigil::pipeline {

// Bounds of what a parse keeps (a hostile count cannot make it keep more).
inline constexpr size_t kDnsMaxName = 253;   // characters of a name in text form
inline constexpr size_t kDnsMaxAddrs = 32;   // addresses kept per answer
inline constexpr size_t kDnsMaxCnames = 8;   // CNAME chain links followed
inline constexpr size_t kDnsMaxRecords = 64; // answer records read

struct DnsMessage {
  uint16_t id = 0;
  uint8_t rcode = 0;       // 0 NOERROR, 3 NXDOMAIN, ...
  bool truncated = false;  // the TC bit: the server cut the answer (the client retries over TCP)
  bool cut = false;        // the bytes ended inside the answer section: records after it are lost
  std::string qname;       // the question, lower case, no trailing dot
  uint16_t qtype = 0;      // 1 A, 28 AAAA, ...
  std::vector<std::string> cnames; // the CNAME chain from qname, in order
  std::vector<std::array<uint8_t, 16>> addrs; // A (IPv4-mapped) and AAAA answers for qname
  uint32_t ttl = 0;        // the smallest TTL of the addresses kept (seconds)
};

// Parses a DNS response. tcp: the bytes are a TCP segment's payload, which starts with the
// message's 2-byte length. Returns false (and why, in error) for what is not a response with one
// well-formed question; a response whose answer section is cut short by the bytes keeps the
// records before the cut (cut = true).
bool parse_dns_response(std::span<const uint8_t> bytes, bool tcp, DnsMessage &out,
                        std::string &error);

} // namespace vigil::pipeline
