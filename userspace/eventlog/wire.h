// SPDX-License-Identifier: Apache-2.0
// Little-endian byte writing and bounds-checked reading for the event log (internal). The reader
// side treats every byte as untrusted: each get checks the remaining length first and a failed
// get leaves the cursor in a failed state that every later get also reports.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

namespace vigil::eventlog::wire {

inline void put_u8(std::string &out, uint8_t v)
{
  out.push_back(static_cast<char>(v));
}

template <typename T> inline void put_le(std::string &out, T v)
{
  char b[sizeof(T)];
  for (size_t i = 0; i < sizeof(T); ++i)
    b[i] = static_cast<char>(static_cast<uint64_t>(v) >> (8 * i));
  out.append(b, sizeof(T));
}

inline void put_u16(std::string &out, uint16_t v)
{
  put_le(out, v);
}
inline void put_u32(std::string &out, uint32_t v)
{
  put_le(out, v);
}
inline void put_u64(std::string &out, uint64_t v)
{
  put_le(out, v);
}

// LEB128, at most 10 bytes for a u64.
inline void put_varint(std::string &out, uint64_t v)
{
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

inline void put_str(std::string &out, std::string_view s)
{
  put_varint(out, s.size());
  out.append(s);
}

template <typename T> inline T load_le(const std::byte *p)
{
  // GCC does not merge the byte loop below into one load (it kept a loop of byte loads and
  // shifts per u64 field of every record): on a little-endian host the bytes are the value.
  if constexpr (std::endian::native == std::endian::little) {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return v;
  } else {
    uint64_t v = 0;
    for (size_t i = 0; i < sizeof(T); ++i)
      v |= static_cast<uint64_t>(std::to_integer<uint8_t>(p[i])) << (8 * i);
    return static_cast<T>(v);
  }
}

template <typename T> inline void store_le(std::byte *p, T v)
{
  for (size_t i = 0; i < sizeof(T); ++i)
    p[i] = static_cast<std::byte>(static_cast<uint64_t>(v) >> (8 * i));
}

class Cursor {
public:
  explicit Cursor(std::span<const std::byte> data) : data_(data) {}

  bool ok() const { return ok_; }
  size_t pos() const { return pos_; }
  size_t remaining() const { return ok_ ? data_.size() - pos_ : 0; }

  template <typename T> T get_le()
  {
    if (!need(sizeof(T)))
      return T{};
    T v = load_le<T>(data_.data() + pos_);
    pos_ += sizeof(T);
    return v;
  }
  uint8_t u8() { return get_le<uint8_t>(); }
  uint16_t u16() { return get_le<uint16_t>(); }
  uint32_t u32() { return get_le<uint32_t>(); }
  uint64_t u64() { return get_le<uint64_t>(); }
  int32_t i32() { return static_cast<int32_t>(get_le<uint32_t>()); }
  int64_t i64() { return static_cast<int64_t>(get_le<uint64_t>()); }

  uint64_t varint()
  {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (!need(1))
        return 0;
      const auto b = std::to_integer<uint8_t>(data_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80))
        return v;
    }
    ok_ = false; // more than 10 bytes: not a varint we wrote
    return 0;
  }

  // A varint length, then that many bytes; fails when the length exceeds max or the buffer.
  // The same into out, whose capacity is reused.
  void str_into(std::string &out, size_t max)
  {
    const uint64_t n = varint();
    if (!ok_ || n > max || !need(n)) {
      ok_ = false;
      out.clear();
      return;
    }
    if (n == 0) // most open patterns: clear() is a store, assign() the general replace
      out.clear();
    else
      out.assign(reinterpret_cast<const char *>(data_.data() + pos_), n);
    pos_ += n;
  }

  std::string str(size_t max)
  {
    const uint64_t n = varint();
    if (!ok_ || n > max || !need(n)) {
      ok_ = false;
      return {};
    }
    std::string s(reinterpret_cast<const char *>(data_.data() + pos_), n);
    pos_ += n;
    return s;
  }

  // n bytes at once, or nullptr (and the cursor failed) when fewer are left: the fixed-size
  // fields read from them with load_le need no check each.
  const std::byte *take(size_t n)
  {
    if (!need(n))
      return nullptr;
    const std::byte *p = data_.data() + pos_;
    pos_ += n;
    return p;
  }

  std::span<const std::byte> bytes(size_t n)
  {
    if (!need(n))
      return {};
    auto s = data_.subspan(pos_, n);
    pos_ += n;
    return s;
  }

  void fail() { ok_ = false; }

private:
  bool need(uint64_t n)
  {
    if (!ok_ || n > data_.size() - pos_) {
      ok_ = false;
      return false;
    }
    return true;
  }

  std::span<const std::byte> data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

inline std::span<const std::byte> as_bytes(std::string_view s)
{
  return {reinterpret_cast<const std::byte *>(s.data()), s.size()};
}

} // namespace vigil::eventlog::wire
