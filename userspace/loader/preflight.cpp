// SPDX-License-Identifier: Apache-2.0
// Privilege, BTF and mount checks.
#include "loader/preflight.h"

#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>

namespace vigil::loader {

namespace {

constexpr int kCapSysAdmin = 21;
constexpr int kCapPerfmon = 38;
constexpr int kCapBpf = 39;
constexpr long kTracefsMagic = 0x74726163;
constexpr long kBpfFsMagic = 0xcafe4a11;

uint64_t effective_caps()
{
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("CapEff:", 0) == 0)
      return std::strtoull(line.c_str() + 7, nullptr, 16);
  return 0;
}

bool is_fs(const char *path, long magic)
{
  struct statfs st{};
  return ::statfs(path, &st) == 0 && static_cast<long>(st.f_type) == magic;
}

} // namespace

Result<> check_privileges()
{
  const uint64_t caps = effective_caps();
  auto has = [&](int cap) { return (caps >> cap) & 1; };
  if (has(kCapSysAdmin) && (has(kCapBpf) || ::geteuid() == 0) && (has(kCapPerfmon) || ::geteuid() == 0))
    return {};
  return fail("vigil needs root, or the capabilities CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN, to "
              "load BPF programs and manage cgroups (effective uid " +
              std::to_string(::geteuid()) + ")");
}

Result<> check_btf()
{
  struct stat st{};
  if (::stat("/sys/kernel/btf/vmlinux", &st) != 0)
    return fail("this kernel has no BTF (/sys/kernel/btf/vmlinux is missing): vigil's programs "
                "are CO-RE and need a kernel built with CONFIG_DEBUG_INFO_BTF=y");
  return {};
}

Result<std::string> ensure_mounts()
{
  std::string mounted;
  if (!is_fs("/sys/kernel/tracing", kTracefsMagic) &&
      !is_fs("/sys/kernel/debug/tracing", kTracefsMagic)) {
    if (::mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, nullptr) != 0)
      return fail_errno(errno, "mount tracefs on /sys/kernel/tracing (tracepoints need it)");
    mounted += "tracefs ";
  }
  if (!is_fs("/sys/fs/bpf", kBpfFsMagic)) {
    if (::mount("bpf", "/sys/fs/bpf", "bpf", 0, nullptr) != 0)
      return fail_errno(errno, "mount bpffs on /sys/fs/bpf");
    mounted += "bpffs ";
  }
  return mounted;
}

void raise_memlock()
{
  struct rlimit r = {RLIM_INFINITY, RLIM_INFINITY};
  ::setrlimit(RLIMIT_MEMLOCK, &r);
}

} // namespace vigil::loader
