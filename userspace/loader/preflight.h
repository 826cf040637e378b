// SPDX-License-Identifier: Apache-2.0
// Preflight: what must hold before programs load, each failure one clear sentence saying what
// is missing and what to do.
#pragma once

#include <string>

#include "common/result.h"

namespace vigil::loader {

// Root or CAP_BPF + CAP_PERFMON + CAP_SYS_ADMIN (cgroups, tracepoints, BPF).
Result<> check_privileges();
// Kernel BTF (/sys/kernel/btf/vmlinux), needed for CO-RE relocation.
Result<> check_btf();
// Mounts tracefs (tracepoint ids) and bpffs when they are missing. Returns what it mounted.
Result<std::string> ensure_mounts();
// Raises RLIMIT_MEMLOCK for kernels that still charge BPF memory to it (before 5.11).
void raise_memlock();

} // namespace vigil::loader
