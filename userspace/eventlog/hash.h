// SPDX-License-Identifier: Apache-2.0
// SHA-256 (OpenSSL libcrypto, EVP) for the event log's hash chain and the policy hash.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace vigil::eventlog {

using Hash = std::array<uint8_t, 32>;

// One reusable SHA-256 context. Aborts with a message only if libcrypto cannot give SHA-256 at
// all (a broken installation: it cannot start failing after the first successful use).
class Sha256 {
public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256 &) = delete;
  Sha256 &operator=(const Sha256 &) = delete;

  void reset();
  void update(std::span<const std::byte> data);
  void update(const void *data, size_t len);
  Hash finish(); // also resets

private:
  void *ctx_; // EVP_MD_CTX, kept opaque so callers need no OpenSSL headers
};

Hash sha256(std::string_view data);
// Lower-case hex, 64 characters.
std::string to_hex(const Hash &h);

} // namespace vigil::eventlog
