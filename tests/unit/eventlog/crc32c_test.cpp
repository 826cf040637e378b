// SPDX-License-Identifier: Apache-2.0
// CRC32C against published vectors (RFC 3720 B.4), and the hardware and table paths against
// each other at every alignment and length.
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "eventlog/crc32c.h"
#include "eventlog/hash.h"

namespace vigil::eventlog {
namespace {

TEST(Crc32c, matches_known_vectors)
{
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c_portable("123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c("", 0), 0u);
  std::vector<unsigned char> zeros(32, 0), ones(32, 0xff), inc(32), dec(32);
  for (int i = 0; i < 32; ++i) {
    inc[i] = static_cast<unsigned char>(i);
    dec[i] = static_cast<unsigned char>(31 - i);
  }
  EXPECT_EQ(crc32c(zeros.data(), 32), 0x8A9136AAu);
  EXPECT_EQ(crc32c(ones.data(), 32), 0x62A8AB43u);
  EXPECT_EQ(crc32c(inc.data(), 32), 0x46DD794Eu);
  EXPECT_EQ(crc32c(dec.data(), 32), 0x113FDB5Cu);
  EXPECT_EQ(crc32c_portable(dec.data(), 32), 0x113FDB5Cu);
}

TEST(Crc32c, extends_incrementally)
{
  const std::string s = "The quick brown fox jumps over the lazy dog, twice over.";
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    uint32_t c = crc32c(s.data(), cut);
    EXPECT_EQ(crc32c(s.data() + cut, s.size() - cut, c), crc32c(s.data(), s.size())) << cut;
  }
}

TEST(Crc32c, hardware_and_portable_agree_at_every_alignment_and_length)
{
  std::mt19937 rng(7);
  std::vector<unsigned char> buf(4096 + 16);
  for (auto &b : buf)
    b = static_cast<unsigned char>(rng());
  for (size_t off = 0; off < 16; ++off)
    for (size_t len : {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15, 16, 17, 63, 64, 65, 255,
                       1000, 4096})
      ASSERT_EQ(crc32c(buf.data() + off, len, 0x1234),
                crc32c_portable(buf.data() + off, len, 0x1234))
          << "offset " << off << " length " << len << " hardware " << crc32c_hardware();
}

TEST(Sha256, matches_known_vectors)
{
  EXPECT_EQ(to_hex(sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(to_hex(sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 s; // reuse after finish() starts afresh
  s.update("ab", 2);
  (void)s.finish();
  s.update("abc", 3);
  EXPECT_EQ(to_hex(s.finish()), to_hex(sha256("abc")));
}

} // namespace
} // namespace vigil::eventlog
