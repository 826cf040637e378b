// SPDX-License-Identifier: Apache-2.0
// Fuzz target: pipeline::parse_dns_response on arbitrary bytes, as UDP and as TCP payloads (what
// an agent answering its own queries, or any resolver, can put in a DNS answer vigil copies).
// Properties: a refusal says why; what parses is bounded and holds only host-name text; every
// address kept came out of the bytes. Then the whole VG_EV_DNS record through pipeline::decode
// and the event log's codec, which must give the same event back.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "eventlog/codec.h"
#include "fuzz.h"
#include "pipeline/dns.h"
#include "pipeline/event.h"
#include "vigil/abi.h"

namespace {

using namespace vigil;

bool host_text(const std::string &s)
{
  return s.size() <= pipeline::kDnsMaxName &&
         s.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_.") == std::string::npos;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  for (const bool tcp : {false, true}) {
    pipeline::DnsMessage m;
    std::string error;
    if (!pipeline::parse_dns_response({data, size}, tcp, m, error)) {
      VG_FUZZ_CHECK(!error.empty());
      continue;
    }
    VG_FUZZ_CHECK(host_text(m.qname));
    VG_FUZZ_CHECK(m.cnames.size() <= pipeline::kDnsMaxCnames);
    for (const auto &c : m.cnames)
      VG_FUZZ_CHECK(host_text(c) && !c.empty());
    VG_FUZZ_CHECK(m.addrs.size() <= pipeline::kDnsMaxAddrs);
    // Each address is 4 or 16 bytes of the message: there are at least that many bytes.
    VG_FUZZ_CHECK(m.addrs.size() * 4 <= size);
  }

  vg_event_dns rec;
  std::memset(&rec, 0, sizeof(rec));
  rec.hdr.type = VG_EV_DNS;
  rec.hdr.size = sizeof(rec);
  rec.hdr.version = VG_ABI_VERSION;
  rec.port = 53;
  rec.proto = size > 0 && (data[0] & 1) ? 6 : 17;
  rec.len = static_cast<uint16_t>(std::min(size, sizeof(rec.data)));
  rec.total = static_cast<uint16_t>(std::min<size_t>(size, 0xffff));
  std::memcpy(rec.data, data, rec.len);
  auto ev = pipeline::decode({reinterpret_cast<const std::byte *>(&rec), sizeof(rec)});
  VG_FUZZ_CHECK(ev.has_value());
  std::string first;
  eventlog::encode(*ev, first);
  auto back = eventlog::decode(std::as_bytes(std::span(first.data(), first.size())));
  VG_FUZZ_CHECK(back.has_value());
  std::string second;
  eventlog::encode(*back, second);
  VG_FUZZ_CHECK(first == second);
  return 0;
}
