// SPDX-License-Identifier: Apache-2.0
// Bytes of heap in use (glibc's mallinfo2: arena chunks in use plus mmap'ed chunks), for tests
// that check a bounded table's memory stays flat however much an agent feeds it.
#pragma once

#include <malloc.h>

#include <cstddef>

namespace vigil::test {

inline size_t heap_in_use()
{
  const struct mallinfo2 m = ::mallinfo2();
  return m.uordblks + m.hblkhd;
}

} // namespace vigil::test
