// SPDX-License-Identifier: Apache-2.0
// The agent's launch: environment scrubbing and the seccomp filter.
#include "enforce/launch.h"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>

namespace vigil::enforce {

namespace {

bool contains(std::string_view s, std::string_view part)
{
  return s.find(part) != std::string_view::npos;
}

// Non-secret variables that share a secret-looking prefix or word.
constexpr std::string_view kNotSecret[] = {
    "AWS_REGION",       "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_OUTPUT",
    "AWS_CONFIG_FILE",  "AWS_PAGER",          "AWS_CA_BUNDLE", "AWS_SHARED_CREDENTIALS_FILE",          "SSH_AUTH_SOCK", "GPG_AGENT_INFO",
    "KEYTIMEOUT",       "XAUTHORITY"};

constexpr uint32_t kX32Bit = 0x40000000u;

sock_filter stmt(uint16_t code, uint32_t k)
{
  return sock_filter{code, 0, 0, k};
}
sock_filter jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf)
{
  return sock_filter{code, jt, jf, k};
}

} // namespace

bool secret_like(std::string_view name)
{
  if (std::find(std::begin(kNotSecret), std::end(kNotSecret), name) != std::end(kNotSecret))
    return false;
  std::string upper(name);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  const std::string_view u = upper;
  return u.starts_with("AWS_") || u.ends_with("_TOKEN") || contains(u, "_TOKEN_") ||
         u == "TOKEN" || contains(u, "SECRET") || u.ends_with("_KEY") ||
         contains(u, "_KEY_") || u.ends_with("APIKEY") || contains(u, "PASSWORD") ||
         contains(u, "PASSWD") || u.ends_with("_PASS") || contains(u, "CREDENTIAL") ||
         u.ends_with("_AUTH") || u == "DOCKER_AUTH_CONFIG" || u.ends_with("_PAT") ||
         u.ends_with("_COOKIE") || u.ends_with("_DSN") || u.starts_with("VAULT_");
}

ScrubbedEnv scrub_environment(const char *const *envp, const std::vector<std::string> &allow)
{
  ScrubbedEnv out;
  for (; envp && *envp; ++envp) {
    const std::string_view var = *envp;
    const std::string_view name = var.substr(0, var.find('='));
    if (secret_like(name) && std::find(allow.begin(), allow.end(), name) == allow.end())
      out.removed.emplace_back(name);
    else
      out.kept.emplace_back(var);
  }
  return out;
}

std::vector<sock_filter> launch_filter(bool block_raw_sockets)
{
  std::vector<sock_filter> f;
  const uint32_t deny = SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA);
  const uint32_t nosys = SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA);
  // Only the native x86-64 entry point: int 0x80 from a 64-bit task arrives as i386.
  f.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
  f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0));
  f.push_back(stmt(BPF_RET | BPF_K, nosys));
  f.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
  // x32 numbers share the architecture and carry bit 30.
  f.push_back(jump(BPF_JMP | BPF_JGE | BPF_K, kX32Bit, 0, 1));
  f.push_back(stmt(BPF_RET | BPF_K, nosys));
  if (block_raw_sockets) {
    f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, SYS_socket, 0, 7));
    // args[0] low word: the family.
    f.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])));
    f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, AF_PACKET, 4, 0));
    // args[1] low word: the type, without SOCK_NONBLOCK / SOCK_CLOEXEC.
    f.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[1])));
    f.push_back(stmt(BPF_ALU | BPF_AND | BPF_K, 0xf));
    f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, SOCK_RAW, 1, 0));
    f.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    f.push_back(stmt(BPF_RET | BPF_K, deny));
  }
  f.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  return f;
}

int apply_launch_filter(const sock_fprog &prog)
{
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return -errno;
  if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0)
    return -errno;
  return 0;
}

} // namespace vigil::enforce
