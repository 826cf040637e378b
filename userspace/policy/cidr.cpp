// SPDX-License-Identifier: Apache-2.0
// IP prefixes in one address space: IPv4 lives at ::ffff:0:0/96, so one matcher (and later one
// LPM trie) serves both families, including IPv4-mapped addresses from dual-stack sockets.

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "policy/profile.h"

namespace vigil::policy {

namespace {

constexpr uint8_t kV4PrefixShift = 96;
constexpr std::array<uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

// inet_pton needs a NUL-terminated string; an address never exceeds INET6_ADDRSTRLEN, so anything
// longer is rejected without copying.
std::optional<std::array<uint8_t, 16>> parse_address(std::string_view text, bool &is_v4)
{
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof(buf))
    return std::nullopt;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';

  std::array<uint8_t, 16> ip{};
  if (text.find(':') == std::string_view::npos) {
    in_addr v4{};
    if (inet_pton(AF_INET, buf, &v4) != 1)
      return std::nullopt;
    is_v4 = true;
    return ipv4_mapped(v4.s_addr);
  }
  if (inet_pton(AF_INET6, buf, ip.data()) != 1)
    return std::nullopt;
  is_v4 = false;
  return ip;
}

void clear_host_bits(std::array<uint8_t, 16> &ip, unsigned prefix_len)
{
  for (unsigned i = 0; i < ip.size(); ++i) {
    unsigned first_bit = i * 8;
    if (first_bit >= prefix_len)
      ip[i] = 0;
    else if (prefix_len - first_bit < 8)
      ip[i] &= static_cast<uint8_t>(0xff00u >> (prefix_len - first_bit));
  }
}

} // namespace

bool Cidr::contains(const std::array<uint8_t, 16> &ip) const
{
  if (prefix_len > 128)
    return false;
  unsigned full = prefix_len / 8;
  if (std::memcmp(addr.data(), ip.data(), full) != 0)
    return false;
  unsigned rest = prefix_len % 8;
  if (rest == 0)
    return true;
  auto mask = static_cast<uint8_t>(0xff00u >> rest);
  return (ip[full] & mask) == addr[full];
}

bool is_v4_mapped(const std::array<uint8_t, 16> &ip)
{
  return std::equal(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), ip.begin());
}

std::string Cidr::to_string() const
{
  if (is_v4 && prefix_len >= kV4PrefixShift && is_v4_mapped(addr))
    return ip_to_string(addr) + "/" + std::to_string(prefix_len - kV4PrefixShift);
  char buf[INET6_ADDRSTRLEN];
  // Force the IPv6 spelling: a mapped network written as IPv6 in the profile stays IPv6.
  if (!inet_ntop(AF_INET6, addr.data(), buf, sizeof(buf)))
    return "?";
  return std::string(buf) + "/" + std::to_string(prefix_len);
}

Result<Cidr> parse_cidr(std::string_view text)
{
  if (text.empty())
    return fail("empty CIDR");
  auto slash = text.find('/');
  std::string_view addr_text = text.substr(0, slash);

  Cidr cidr;
  auto ip = parse_address(addr_text, cidr.is_v4);
  if (!ip)
    return fail("'" + std::string(text) + "': '" + std::string(addr_text) +
                "' is not an IPv4 or IPv6 address");

  unsigned max_len = cidr.is_v4 ? 32 : 128;
  unsigned len = max_len;
  if (slash != std::string_view::npos) {
    std::string_view len_text = text.substr(slash + 1);
    const char *end = len_text.data() + len_text.size();
    // from_chars accepts neither sign nor space, so "/ 8" and "/+8" fail here as they should.
    auto [ptr, ec] = std::from_chars(len_text.data(), end, len);
    if (len_text.empty() || ec == std::errc::invalid_argument || ptr != end)
      return fail("'" + std::string(text) + "' prefix length '" + std::string(len_text) +
                  "' is not a number");
    if (ec == std::errc::result_out_of_range || len > max_len)
      return fail("'" + std::string(text) + "' prefix length " + std::string(len_text) +
                  " is out of range 0.." + std::to_string(max_len));
  }

  cidr.prefix_len = static_cast<uint8_t>(cidr.is_v4 ? len + kV4PrefixShift : len);
  cidr.addr = *ip;
  // Host bits are masked off rather than rejected, as iptables and nftables do.
  clear_host_bits(cidr.addr, cidr.prefix_len);
  return cidr;
}

std::optional<std::array<uint8_t, 16>> parse_ip(std::string_view text)
{
  bool is_v4 = false;
  return parse_address(text, is_v4);
}

std::array<uint8_t, 16> ipv4_mapped(uint32_t addr_be)
{
  std::array<uint8_t, 16> ip{};
  std::copy(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), ip.begin());
  std::memcpy(ip.data() + kV4MappedPrefix.size(), &addr_be, sizeof(addr_be));
  return ip;
}

std::string ip_to_string(const std::array<uint8_t, 16> &ip)
{
  char buf[INET6_ADDRSTRLEN];
  const char *ok = is_v4_mapped(ip) ? inet_ntop(AF_INET, ip.data() + 12, buf, sizeof(buf))
                                    : inet_ntop(AF_INET6, ip.data(), buf, sizeof(buf));
  return ok ? std::string(buf) : std::string("?");
}

} // namespace vigil::policy
