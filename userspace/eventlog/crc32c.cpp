// SPDX-License-Identifier: Apache-2.0
// CRC32C: a slicing-by-8 table version and an SSE4.2 version chosen at run time.
#include "eventlog/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace vigil::eventlog {

namespace {

constexpr uint32_t kPoly = 0x82F63B78u; // reflected Castagnoli polynomial

// tables[k][b]: the CRC of byte b followed by k zero bytes, for slicing-by-8.
constexpr std::array<std::array<uint32_t, 256>, 8> make_tables()
{
  std::array<std::array<uint32_t, 256>, 8> t{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t c = b;
    for (int i = 0; i < 8; ++i)
      c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
    t[0][b] = c;
  }
  for (uint32_t b = 0; b < 256; ++b)
    for (size_t k = 1; k < 8; ++k)
      t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
  return t;
}

constexpr auto kTables = make_tables();

uint32_t portable_raw(const unsigned char *p, size_t len, uint32_t c)
{
  while (len >= 8) {
    uint32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
    lo ^= c; // little-endian host: the CRC register lines up with the first four bytes
    c = kTables[7][lo & 0xff] ^ kTables[6][(lo >> 8) & 0xff] ^ kTables[5][(lo >> 16) & 0xff] ^
        kTables[4][lo >> 24] ^ kTables[3][hi & 0xff] ^ kTables[2][(hi >> 8) & 0xff] ^
        kTables[1][(hi >> 16) & 0xff] ^ kTables[0][hi >> 24];
    p += 8;
    len -= 8;
  }
  while (len--)
    c = (c >> 8) ^ kTables[0][(c ^ *p++) & 0xff];
  return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t hardware_raw(const unsigned char *p, size_t len,
                                                        uint32_t c)
{
  uint64_t c64 = c;
  while (len >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c64 = _mm_crc32_u64(c64, v);
    p += 8;
    len -= 8;
  }
  c = static_cast<uint32_t>(c64);
  // The tail in at most three steps, not up to seven (each waits for the one before).
  if (len & 4) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    c = _mm_crc32_u32(c, v);
    p += 4;
  }
  if (len & 2) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    c = _mm_crc32_u16(c, v);
    p += 2;
  }
  if (len & 1)
    c = _mm_crc32_u8(c, *p);
  return c;
}

bool detect_hardware()
{
  __builtin_cpu_init(); // we run as a static initializer, possibly before libgcc's own
  return __builtin_cpu_supports("sse4.2");
}
#else
uint32_t hardware_raw(const unsigned char *p, size_t len, uint32_t c)
{
  return portable_raw(p, len, c);
}
bool detect_hardware()
{
  return false;
}
#endif

const bool kHardware = detect_hardware();

} // namespace

uint32_t crc32c_portable(const void *data, size_t len, uint32_t crc)
{
  return ~portable_raw(static_cast<const unsigned char *>(data), len, ~crc);
}

uint32_t crc32c(const void *data, size_t len, uint32_t crc)
{
  const auto *p = static_cast<const unsigned char *>(data);
  return ~(kHardware ? hardware_raw(p, len, ~crc) : portable_raw(p, len, ~crc));
}

uint32_t crc32c(std::span<const std::byte> data, uint32_t crc)
{
  return crc32c(data.data(), data.size(), crc);
}

bool crc32c_hardware()
{
  return kHardware;
}

} // namespace vigil::eventlog
