// SPDX-License-Identifier: Apache-2.0
// SHA-256 through OpenSSL's EVP interface.
#include "eventlog/hash.h"

#include <cstdio>
#include <cstdlib>

#include <openssl/evp.h>

namespace vigil::eventlog {

namespace {

[[noreturn]] void die(const char *what)
{
  std::fprintf(stderr, "vigil: libcrypto: %s failed\n", what);
  std::abort();
}

const EVP_MD *sha256_md()
{
  // Fetched once: the implicit fetch of EVP_sha256() costs a lookup on every init.
  static EVP_MD *md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (!md)
    die("EVP_MD_fetch(SHA256)");
  return md;
}

EVP_MD_CTX *ctx_of(void *p)
{
  return static_cast<EVP_MD_CTX *>(p);
}

} // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new())
{
  if (!ctx_)
    die("EVP_MD_CTX_new");
  reset();
}

Sha256::~Sha256()
{
  EVP_MD_CTX_free(ctx_of(ctx_));
}

void Sha256::reset()
{
  if (EVP_DigestInit_ex(ctx_of(ctx_), sha256_md(), nullptr) != 1)
    die("EVP_DigestInit_ex");
}

void Sha256::update(const void *data, size_t len)
{
  if (len && EVP_DigestUpdate(ctx_of(ctx_), data, len) != 1)
    die("EVP_DigestUpdate");
}

void Sha256::update(std::span<const std::byte> data)
{
  update(data.data(), data.size());
}

Hash Sha256::finish()
{
  Hash h{};
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(ctx_of(ctx_), h.data(), &n) != 1 || n != h.size())
    die("EVP_DigestFinal_ex");
  reset();
  return h;
}

Hash sha256(std::string_view data)
{
  Sha256 s;
  s.update(data.data(), data.size());
  return s.finish();
}

std::string to_hex(const Hash &h)
{
  static const char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(64);
  for (uint8_t b : h) {
    s.push_back(kDigits[b >> 4]);
    s.push_back(kDigits[b & 0xf]);
  }
  return s;
}

} // namespace vigil::eventlog
