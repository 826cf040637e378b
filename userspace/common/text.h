// SPDX-License-Identifier: Apache-2.0
// Agent-controlled text (exec names, paths, argv, environment, comm) made safe where a human reads
// it: a terminal, a log line, an alert sentence, a metric label. The kernel hands over bytes, not
// text; a file name may hold a newline that forges a log line or an escape that recolours a
// terminal, and need not be UTF-8 at all.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace vigil {

// The bytes as printable, valid UTF-8 with nothing that moves the cursor or changes how the
// terminal draws: a backslash becomes "\\", a newline "\n", a tab "\t"; every other byte of a C0
// control (0x00-0x1f), DEL (0x7f), a C1 control (U+0080-U+009F, bytes c2 80..c2 9f), a Unicode
// line/paragraph separator or bidirectional override (U+2028, U+2029, U+200E, U+200F,
// U+202A-U+202E, U+2066-U+2069), and every byte that is not part of a valid UTF-8 sequence
// (overlong forms, surrogates, beyond U+10FFFF, truncated) becomes "\xNN" (lower-case hex).
// Printable ASCII and other valid UTF-8 pass unchanged. Never throws but for allocation.
std::string escape_text(std::string_view s);
void append_escaped(std::string &out, std::string_view s);

// escape_text() cut to at most max_bytes of output (never inside an escape or a UTF-8
// sequence); "..." replaces what was cut, within the bound. max_bytes < 3 gives "".
std::string escape_bounded(std::string_view s, size_t max_bytes);

// Whether s is well-formed UTF-8 (RFC 3629: no overlongs, surrogates or code points beyond
// U+10FFFF).
bool valid_utf8(std::string_view s);

// Lower-case hex of the bytes ("ff00"), and back; unhex fails (false) on odd length or a
// non-hex digit. For storing bytes losslessly in JSON, which holds only UTF-8 strings.
std::string to_hex(std::string_view s);
bool from_hex(std::string_view hex, std::string &out);

// A field of /proc/PID/mountinfo as the path it names: the kernel writes space, tab, newline and
// backslash as \ooo (octal).
std::string unescape_mountinfo(std::string_view s);

} // namespace vigil
