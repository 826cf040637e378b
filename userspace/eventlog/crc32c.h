// SPDX-License-Identifier: Apache-2.0
// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every event-log frame.
// SSE4.2's crc32 instruction where the CPU has it (checked once at run time), else slicing-by-8.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace vigil::eventlog {

// Extends crc (0 for a fresh checksum) over data. crc32c("123456789") == 0xE3069283.
uint32_t crc32c(std::span<const std::byte> data, uint32_t crc = 0);
uint32_t crc32c(const void *data, size_t len, uint32_t crc = 0);

// The portable table version, whatever the CPU offers (tests compare both paths).
uint32_t crc32c_portable(const void *data, size_t len, uint32_t crc = 0);
// True when crc32c() uses the SSE4.2 instruction.
bool crc32c_hardware();

} // namespace vigil::eventlog
