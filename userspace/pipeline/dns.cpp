// SPDX-License-Identifier: Apache-2.0
// DNS response parsing (RFC 1035 4.1), defensive: see dns.h.
#include "pipeline/dns.h"

#include <algorithm>

namespace vigil::pipeline {

namespace {

constexpr uint16_t kTypeA = 1, kTypeCname = 5, kTypeAaaa = 28, kClassIn = 1;

uint16_t be16(std::span<const uint8_t> m, size_t at)
{
  return static_cast<uint16_t>(m[at] << 8 | m[at + 1]);
}

uint32_t be32(std::span<const uint8_t> m, size_t at)
{
  return static_cast<uint32_t>(m[at]) << 24 | static_cast<uint32_t>(m[at + 1]) << 16 |
         static_cast<uint32_t>(m[at + 2]) << 8 | m[at + 3];
}

// Why a name could not be read: the bytes ended (a cut copy), or they are malformed.
enum class NameError { none, short_bytes, bad };

// Reads the name at `at` into out (lower case, labels joined by '.'); next is the offset just
// past it where it sits (past its first pointer, when it has one). Compression pointers must
// point before where the name started and each before the one followed last: the walk can only
// go backwards, so it ends. Labels hold only host-name bytes ([a-z0-9_-]).
NameError read_name(std::span<const uint8_t> m, size_t at, std::string &out, size_t &next,
                    std::string &error)
{
  out.clear();
  size_t pos = at, limit = at;
  bool jumped = false;
  while (true) {
    if (pos >= m.size()) {
      error = "a name runs past the bytes";
      return NameError::short_bytes;
    }
    const uint8_t len = m[pos];
    if ((len & 0xc0) == 0xc0) {
      if (pos + 1 >= m.size()) {
        error = "a name runs past the bytes";
        return NameError::short_bytes;
      }
      const size_t target = static_cast<size_t>(len & 0x3f) << 8 | m[pos + 1];
      if (target >= limit) {
        error = "a compression pointer that does not point backwards";
        return NameError::bad;
      }
      if (!jumped)
        next = pos + 2;
      jumped = true;
      pos = limit = target;
      continue;
    }
    if (len & 0xc0) {
      error = "a label of an unknown type";
      return NameError::bad;
    }
    if (len == 0) {
      if (!jumped)
        next = pos + 1;
      return NameError::none;
    }
    if (pos + 1 + len > m.size()) {
      error = "a name runs past the bytes";
      return NameError::short_bytes;
    }
    if (out.size() + (out.empty() ? 0 : 1) + len > kDnsMaxName) {
      error = "a name longer than 253 characters";
      return NameError::bad;
    }
    if (!out.empty())
      out.push_back('.');
    for (size_t i = 0; i < len; ++i) {
      auto ch = static_cast<char>(m[pos + 1 + i]);
      if (ch >= 'A' && ch <= 'Z')
        ch = static_cast<char>(ch - 'A' + 'a');
      if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_')) {
        error = "a name with a byte no host name holds";
        return NameError::bad;
      }
      out.push_back(ch);
    }
    pos += 1 + len;
  }
}

struct Record {
  std::string owner;
  uint16_t type = 0;
  uint32_t ttl = 0;
  std::array<uint8_t, 16> addr{};
  std::string target; // CNAME
};

} // namespace

bool parse_dns_response(std::span<const uint8_t> bytes, bool tcp, DnsMessage &out,
                        std::string &error)
{
  out = DnsMessage{};
  std::span<const uint8_t> m = bytes;
  if (tcp) {
    if (bytes.size() < 2) {
      error = "a TCP segment shorter than the message length";
      return false;
    }
    const size_t len = be16(bytes, 0);
    m = bytes.subspan(2, std::min(len, bytes.size() - 2));
    out.cut = len > bytes.size() - 2;
  }
  if (m.size() < 12) {
    error = "shorter than a DNS header";
    return false;
  }
  out.id = be16(m, 0);
  const uint16_t flags = be16(m, 2);
  if (!(flags & 0x8000)) {
    error = "a query, not a response";
    return false;
  }
  if ((flags >> 11 & 0xf) != 0) {
    error = "not a standard query's response (opcode " + std::to_string(flags >> 11 & 0xf) + ")";
    return false;
  }
  out.truncated = flags & 0x0200;
  out.rcode = flags & 0xf;
  const uint16_t qdcount = be16(m, 4), ancount = be16(m, 6);
  if (qdcount != 1) {
    error = std::to_string(qdcount) + " questions, not 1";
    return false;
  }
  size_t pos = 12;
  if (auto e = read_name(m, pos, out.qname, pos, error); e != NameError::none) {
    error = "question: " + error;
    return false;
  }
  if (pos + 4 > m.size()) {
    error = "question: its type and class run past the bytes";
    return false;
  }
  out.qtype = be16(m, pos);
  pos += 4;

  std::vector<Record> records;
  for (size_t i = 0; i < std::min<size_t>(ancount, kDnsMaxRecords); ++i) {
    Record r;
    const NameError e = read_name(m, pos, r.owner, pos, error);
    if (e == NameError::short_bytes || (e == NameError::none && pos + 10 > m.size())) {
      out.cut = true;
      break;
    }
    if (e == NameError::bad) {
      error = "answer " + std::to_string(i + 1) + ": " + error;
      return false;
    }
    r.type = be16(m, pos);
    const uint16_t cls = be16(m, pos + 2);
    r.ttl = be32(m, pos + 4);
    const size_t rdlen = be16(m, pos + 8);
    const size_t rdata = pos + 10;
    if (rdata + rdlen > m.size()) {
      out.cut = true;
      break;
    }
    pos = rdata + rdlen;
    if (cls != kClassIn)
      continue;
    if (r.type == kTypeA && rdlen == 4) {
      r.addr[10] = r.addr[11] = 0xff;
      std::copy_n(m.begin() + static_cast<ptrdiff_t>(rdata), 4, r.addr.begin() + 12);
    } else if (r.type == kTypeAaaa && rdlen == 16) {
      std::copy_n(m.begin() + static_cast<ptrdiff_t>(rdata), 16, r.addr.begin());
    } else if (r.type == kTypeCname) {
      size_t end = 0;
      // The target lies in the record's data (its pointers may reach back into the message).
      if (read_name(m.first(rdata + rdlen), rdata, r.target, end, error) != NameError::none) {
        error = "answer " + std::to_string(i + 1) + ": CNAME: " + error;
        return false;
      }
    } else {
      continue; // another type, or an A/AAAA of the wrong size: not an address
    }
    records.push_back(std::move(r));
  }

  // The chain: qname, then each CNAME whose owner is the chain's last name. Only addresses owned
  // by a name of the chain answer the question; anything else in the section is ignored.
  std::vector<std::string> chain{out.qname};
  while (out.cnames.size() < kDnsMaxCnames) {
    const auto link = std::find_if(records.begin(), records.end(), [&](const Record &r) {
      return r.type == kTypeCname && r.owner == chain.back();
    });
    if (link == records.end() ||
        std::find(chain.begin(), chain.end(), link->target) != chain.end())
      break;
    chain.push_back(link->target);
    out.cnames.push_back(link->target);
  }
  for (const auto &r : records) {
    if ((r.type != kTypeA && r.type != kTypeAaaa) || out.addrs.size() >= kDnsMaxAddrs ||
        std::find(chain.begin(), chain.end(), r.owner) == chain.end() ||
        std::find(out.addrs.begin(), out.addrs.end(), r.addr) != out.addrs.end())
      continue;
    out.ttl = out.addrs.empty() ? r.ttl : std::min(out.ttl, r.ttl);
    out.addrs.push_back(r.addr);
  }
  error.clear();
  return true;
}

} // namespace vigil::pipeline
