// SPDX-License-Identifier: Apache-2.0
// escape_text() and friends: what reaches a terminal or a log line from agent-controlled bytes.

#include <string>

#include <gtest/gtest.h>

#include "common/text.h"

namespace vigil {
namespace {

// No byte a terminal acts on: C0, DEL, and no C1 control (c2 80..c2 9f) or ESC.
bool terminal_safe(const std::string &s)
{
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f)
      return false;
    if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) <= 0x9f &&
        static_cast<unsigned char>(s[i + 1]) >= 0x80)
      return false;
  }
  return true;
}

TEST(EscapeText, printable_ascii_and_utf8_pass_unchanged)
{
  EXPECT_EQ(escape_text("/home/dev/.aws/credentials"), "/home/dev/.aws/credentials");
  EXPECT_EQ(escape_text("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91"),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91");
  EXPECT_EQ(escape_text(""), "");
}

TEST(EscapeText, a_forged_log_line_stays_on_one_line)
{
  const std::string path = "/tmp/x\n vigil: INFO fake\x1b[31m";
  const std::string out = escape_text(path);
  EXPECT_EQ(out, "/tmp/x\\n vigil: INFO fake\\x1b[31m");
  EXPECT_TRUE(terminal_safe(out));
}

TEST(EscapeText, controls_backslash_and_tab)
{
  EXPECT_EQ(escape_text(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(escape_text("\r\t\x7f\\"), "\\x0d\\t\\x7f\\\\");
  EXPECT_EQ(escape_text("\x01\x1f"), "\\x01\\x1f");
  // C1 controls are valid UTF-8 but act like ESC sequences (U+009B is CSI).
  EXPECT_EQ(escape_text("a\xc2\x9b" "31m"), "a\\xc2\\x9b31m");
  // Bidirectional overrides and line separators rearrange what is shown.
  EXPECT_EQ(escape_text("x\xe2\x80\xaey"), "x\\xe2\\x80\\xaey");
  EXPECT_EQ(escape_text("x\xe2\x80\xa8y"), "x\\xe2\\x80\\xa8y");
}

TEST(EscapeText, invalid_utf8_bytes_become_hex)
{
  EXPECT_EQ(escape_text("bad\xff\xfe"), "bad\\xff\\xfe");
  EXPECT_EQ(escape_text("\xc3"), "\\xc3");                 // truncated sequence
  EXPECT_EQ(escape_text("\xc0\xaf"), "\\xc0\\xaf");        // overlong '/'
  EXPECT_EQ(escape_text("\xed\xa0\x80"), "\\xed\\xa0\\x80"); // a surrogate
  EXPECT_EQ(escape_text("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80"); // beyond U+10FFFF
  EXPECT_EQ(escape_text("\x80" "a"), "\\x80a");             // a lone continuation byte
  // A bad lead byte does not swallow the valid text after it.
  EXPECT_EQ(escape_text("\xe2\x82" "abc\xc3\xa9"), "\\xe2\\x82abc\xc3\xa9");
}

TEST(EscapeText, every_byte_value_gives_safe_valid_utf8)
{
  std::string all;
  for (int i = 0; i < 256; ++i)
    all += static_cast<char>(i);
  const std::string out = escape_text(all + all);
  EXPECT_TRUE(valid_utf8(out));
  EXPECT_TRUE(terminal_safe(out));
}

TEST(EscapeBounded, cuts_on_whole_escapes_within_the_bound)
{
  EXPECT_EQ(escape_bounded("short", 64), "short");
  EXPECT_EQ(escape_bounded("abcdefghij", 8), "abcde...");
  // "\x1b" is 4 bytes of output and is never split.
  EXPECT_EQ(escape_bounded("ab\x1b" "cdefgh", 8), "ab...");
  EXPECT_EQ(escape_bounded("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 6), "\xc3\xa9...");
  EXPECT_EQ(escape_bounded("anything", 2), "");
  const std::string big(1 << 20, '\x01');
  const std::string out = escape_bounded(big, 128);
  EXPECT_LE(out.size(), 128u);
  EXPECT_TRUE(out.ends_with("..."));
  EXPECT_TRUE(terminal_safe(out));
}

TEST(ValidUtf8, accepts_rfc3629_only)
{
  EXPECT_TRUE(valid_utf8("plain"));
  EXPECT_TRUE(valid_utf8("\xf0\x9f\x94\x91"));
  EXPECT_FALSE(valid_utf8("\xff"));
  EXPECT_FALSE(valid_utf8("\xc0\x80"));
  EXPECT_FALSE(valid_utf8("\xed\xbf\xbf"));
}

TEST(Hex, round_trips_every_byte)
{
  std::string all;
  for (int i = 0; i < 256; ++i)
    all += static_cast<char>(i);
  std::string back;
  ASSERT_TRUE(from_hex(to_hex(all), back));
  EXPECT_EQ(back, all);
  EXPECT_EQ(to_hex("\xff\x00" "a"), "ff");
  EXPECT_EQ(to_hex(std::string("\xff\x00" "a", 3)), "ff0061");
  EXPECT_FALSE(from_hex("abc", back));
  EXPECT_FALSE(from_hex("zz", back));
}

} // namespace
TEST(UnescapeMountinfo, turns_octal_escapes_back_into_bytes_and_leaves_the_rest)
{
  EXPECT_EQ(unescape_mountinfo("/mnt/a\\040b\\011c\\012d\\134e"), "/mnt/a b\tc\nd\\e");
  EXPECT_EQ(unescape_mountinfo("/plain"), "/plain");
  // Not an escape: too short, not octal, above \377.
  EXPECT_EQ(unescape_mountinfo("/x\\04"), "/x\\04");
  EXPECT_EQ(unescape_mountinfo("/x\\09a"), "/x\\09a");
  EXPECT_EQ(unescape_mountinfo("/x\\400"), "/x\\400");
}

} // namespace vigil
