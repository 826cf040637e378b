// SPDX-License-Identifier: Apache-2.0
// Shared by the fuzz targets: a property check that fails loudly (libFuzzer and the corpus replay
// both treat an abort as a finding and keep the input).
#pragma once

#include <cstdio>
#include <cstdlib>

#define VG_FUZZ_CHECK(cond)                                                                      \
  do {                                                                                           \
    if (!(cond)) {                                                                               \
      std::fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond);        \
      std::abort();                                                                              \
    }                                                                                            \
  } while (0)

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace vigil::fuzz {

// Structured values from the fuzzer's bytes (libFuzzer's FuzzedDataProvider is clang-only, and
// the corpus replay also builds with g++). Reads past the end give zeros and empty strings.
class Input {
public:
  Input(const uint8_t *data, size_t size) : p_(data), n_(size) {}

  size_t remaining() const { return n_; }
  template <typename T> T take()
  {
    T v{};
    const size_t k = sizeof(T) < n_ ? sizeof(T) : n_;
    if (k > 0)
      std::memcpy(&v, p_, k);
    p_ += k;
    n_ -= k;
    return v;
  }
  bool flag() { return take<uint8_t>() & 1; }
  // A length byte (bounded by max and what is left), then that many bytes.
  std::string str(size_t max = 255)
  {
    size_t len = take<uint8_t>();
    if (len > max)
      len = max;
    if (len > n_)
      len = n_;
    std::string s(reinterpret_cast<const char *>(p_), len);
    p_ += len;
    n_ -= len;
    return s;
  }
  // Everything that is left.
  std::string rest()
  {
    std::string s(reinterpret_cast<const char *>(p_), n_);
    p_ += n_;
    n_ = 0;
    return s;
  }

private:
  const uint8_t *p_;
  size_t n_;
};

} // namespace vigil::fuzz
