// SPDX-License-Identifier: Apache-2.0
// Escaping of untrusted bytes for human readers; see text.h.
#include "common/text.h"

#include <cstdint>

namespace vigil {

namespace {

constexpr char kHex[] = "0123456789abcdef";

// Length of the well-formed UTF-8 sequence at s[i] (1..4), or 0 when the byte there does not
// start one. *cp gets the code point.
size_t utf8_len(std::string_view s, size_t i, uint32_t *cp)
{
  const auto b = [&](size_t k) { return static_cast<uint8_t>(s[i + k]); };
  const uint8_t c = b(0);
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  size_t n = 0;
  uint32_t v = 0, min = 0;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
    v = c & 0x1fu;
    min = 0x80;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    v = c & 0x0fu;
    min = 0x800;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    v = c & 0x07u;
    min = 0x10000;
  } else {
    return 0; // a continuation byte, c0/c1 (always overlong) or f5..ff
  }
  if (i + n > s.size())
    return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xc0u) != 0x80u)
      return 0;
    v = (v << 6) | (b(k) & 0x3fu);
  }
  if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
    return 0;
  *cp = v;
  return n;
}

// Code points that are valid but change how a terminal or an editor shows the rest of a line.
bool invisible_control(uint32_t cp)
{
  return (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 || cp == 0x200e ||
         cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

void hex_byte(std::string &out, uint8_t c)
{
  out += '\\';
  out += 'x';
  out += kHex[c >> 4];
  out += kHex[c & 0xf];
}

// Appends the escaped form of the sequence at s[i]; returns how many input bytes it took.
size_t escape_one(std::string &out, std::string_view s, size_t i)
{
  const auto c = static_cast<uint8_t>(s[i]);
  if (c == '\\') {
    out += "\\\\";
    return 1;
  }
  if (c == '\n') {
    out += "\\n";
    return 1;
  }
  if (c == '\t') {
    out += "\\t";
    return 1;
  }
  if (c < 0x20 || c == 0x7f) {
    hex_byte(out, c);
    return 1;
  }
  uint32_t cp = 0;
  const size_t n = utf8_len(s, i, &cp);
  if (n == 0) {
    hex_byte(out, c);
    return 1;
  }
  if (invisible_control(cp)) {
    for (size_t k = 0; k < n; ++k)
      hex_byte(out, static_cast<uint8_t>(s[i + k]));
  } else {
    out.append(s.substr(i, n));
  }
  return n;
}

} // namespace

void append_escaped(std::string &out, std::string_view s)
{
  for (size_t i = 0; i < s.size();)
    i += escape_one(out, s, i);
}

std::string escape_text(std::string_view s)
{
  std::string out;
  out.reserve(s.size());
  append_escaped(out, s);
  return out;
}

std::string escape_bounded(std::string_view s, size_t max_bytes)
{
  std::string out;
  if (max_bytes < 3)
    return out;
  size_t room = 0; // the longest whole-piece prefix that leaves room for "..."
  for (size_t i = 0; i < s.size();) {
    if (out.size() + 3 <= max_bytes)
      room = out.size();
    i += escape_one(out, s, i);
    if (out.size() > max_bytes) {
      out.resize(room);
      out += "...";
      return out;
    }
  }
  return out;
}

bool valid_utf8(std::string_view s)
{
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    const size_t n = utf8_len(s, i, &cp);
    if (n == 0)
      return false;
    i += n;
  }
  return true;
}

std::string to_hex(std::string_view s)
{
  std::string out;
  out.reserve(2 * s.size());
  for (char ch : s) {
    const auto c = static_cast<uint8_t>(ch);
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
  }
  return out;
}

bool from_hex(std::string_view hex, std::string &out)
{
  if (hex.size() % 2)
    return false;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
      return c - 'A' + 10;
    return -1;
  };
  out.clear();
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = digit(hex[i]), lo = digit(hex[i + 1]);
    if (hi < 0 || lo < 0)
      return false;
    out += static_cast<char>((hi << 4) | lo);
  }
  return true;
}

std::string unescape_mountinfo(std::string_view s)
{
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' &&
        s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
      continue;
    }
    out += s[i];
  }
  return out;
}

} // namespace vigil
