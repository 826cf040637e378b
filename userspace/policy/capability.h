// SPDX-License-Identifier: Apache-2.0
// Linux capability names for profiles (`launch.capabilities`), the set `vigil run` keeps by
// default, and the set no profile may keep because each one switches vigil off or reaches
// around it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vigil::policy {

// Bit n stands for capability number n (CAP_CHOWN = 0, ...).
using CapSet = uint64_t;

constexpr CapSet cap_bit(int cap)
{
  return CapSet{1} << cap;
}

// "CHOWN", "cap_chown" or "CAP_CHOWN" -> 0; nullopt for a name this build does not know.
std::optional<int> capability_from_name(std::string_view name);
// 0 -> "CAP_CHOWN"; "CAP_<n>" for a number without a name.
std::string capability_name(int cap);
// "CAP_A, CAP_B" in number order; "none" for an empty set.
std::string capability_names(CapSet set);

// What a coding agent launched by `vigil run` keeps unless its profile says otherwise: the
// capabilities container runtimes grant by default, without NET_RAW (raw sockets reach around
// the egress allowlist) and MKNOD (device nodes reach around file policy).
CapSet default_kept_capabilities();
// Never kept, whatever the profile says: each lets a root agent unload or blind vigil's programs
// (SYS_ADMIN, BPF, PERFMON, NET_ADMIN), leave its cgroup or mount namespace (SYS_ADMIN), read
// vigil's memory (SYS_PTRACE), load kernel code (SYS_MODULE), reach raw devices or memory
// (SYS_RAWIO), open files by handle around the mount table (DAC_READ_SEARCH), change the LSM or
// audit configuration (MAC_*, AUDIT_CONTROL), reboot or kexec (SYS_BOOT), or read kernel
// addresses (SYSLOG).
CapSet forbidden_capabilities();

struct Profile;
// What an agent under profile p keeps: its launch.capabilities, or the default set; plus NET_RAW
// where egress.raw_sockets is allow (a raw socket needs it, and the profile asked for them).
CapSet kept_capabilities(const Profile &p);

} // namespace vigil::policy
