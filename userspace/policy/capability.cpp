// SPDX-License-Identifier: Apache-2.0
// Capability names and the launch defaults. Numbers are the kernel's (linux/capability.h).
#include "policy/capability.h"
#include "policy/profile.h"

#include <linux/capability.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace vigil::policy {

namespace {

// Indexed by capability number, as in linux/capability.h (CAP_LAST_CAP is 40 in 6.x).
constexpr std::array<std::string_view, 41> kNames = {
    "CHOWN",          "DAC_OVERRIDE",    "DAC_READ_SEARCH", "FOWNER",
    "FSETID",         "KILL",            "SETGID",          "SETUID",
    "SETPCAP",        "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
    "NET_ADMIN",      "NET_RAW",         "IPC_LOCK",        "IPC_OWNER",
    "SYS_MODULE",     "SYS_RAWIO",       "SYS_CHROOT",      "SYS_PTRACE",
    "SYS_PACCT",      "SYS_ADMIN",       "SYS_BOOT",        "SYS_NICE",
    "SYS_RESOURCE",   "SYS_TIME",        "SYS_TTY_CONFIG",  "MKNOD",
    "LEASE",          "AUDIT_WRITE",     "AUDIT_CONTROL",   "SETFCAP",
    "MAC_OVERRIDE",   "MAC_ADMIN",       "SYSLOG",          "WAKE_ALARM",
    "BLOCK_SUSPEND",  "AUDIT_READ",      "PERFMON",         "BPF",
    "CHECKPOINT_RESTORE"};
static_assert(kNames.size() == CAP_LAST_CAP + 1, "a capability without a name");

} // namespace

std::optional<int> capability_from_name(std::string_view name)
{
  std::string upper(name);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  std::string_view bare = upper;
  if (bare.starts_with("CAP_"))
    bare.remove_prefix(4);
  for (size_t i = 0; i < kNames.size(); ++i)
    if (kNames[i] == bare)
      return static_cast<int>(i);
  return std::nullopt;
}

std::string capability_name(int cap)
{
  if (cap >= 0 && static_cast<size_t>(cap) < kNames.size())
    return "CAP_" + std::string(kNames[static_cast<size_t>(cap)]);
  return "CAP_" + std::to_string(cap);
}

std::string capability_names(CapSet set)
{
  std::string out;
  for (int cap = 0; cap < 64; ++cap)
    if (set & cap_bit(cap))
      out += (out.empty() ? "" : ", ") + capability_name(cap);
  return out.empty() ? "none" : out;
}

CapSet default_kept_capabilities()
{
  return cap_bit(CAP_CHOWN) | cap_bit(CAP_DAC_OVERRIDE) | cap_bit(CAP_FOWNER) |
         cap_bit(CAP_FSETID) | cap_bit(CAP_KILL) | cap_bit(CAP_SETGID) | cap_bit(CAP_SETUID) |
         cap_bit(CAP_SETPCAP) | cap_bit(CAP_SETFCAP) | cap_bit(CAP_NET_BIND_SERVICE) |
         cap_bit(CAP_SYS_CHROOT) | cap_bit(CAP_AUDIT_WRITE);
}

CapSet forbidden_capabilities()
{
  return cap_bit(CAP_SYS_ADMIN) | cap_bit(CAP_BPF) | cap_bit(CAP_PERFMON) |
         cap_bit(CAP_SYS_MODULE) | cap_bit(CAP_SYS_PTRACE) | cap_bit(CAP_SYS_RAWIO) |
         cap_bit(CAP_NET_ADMIN) | cap_bit(CAP_MAC_ADMIN) | cap_bit(CAP_MAC_OVERRIDE) |
         cap_bit(CAP_AUDIT_CONTROL) | cap_bit(CAP_SYS_BOOT) | cap_bit(CAP_SYSLOG) |
         cap_bit(CAP_DAC_READ_SEARCH);
}

CapSet kept_capabilities(const Profile &p)
{
  CapSet keep = p.keep_capabilities.value_or(default_kept_capabilities());
  if (p.raw_sockets)
    keep |= cap_bit(CAP_NET_RAW);
  return keep;
}

} // namespace vigil::policy
