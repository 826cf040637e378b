// SPDX-License-Identifier: Apache-2.0
// How `vigil run` starts an agent: without the caller's secrets in its environment (no file
// policy can see a secret passed in the environment), with no_new_privs, and under a seccomp
// filter that closes syscall doors the BPF tiers do not watch: the 32-bit entry points (int 0x80
// and x32 numbers, which the 64-bit tracepoints and filters never see the same way), and, where
// no BPF LSM decides socket creation, raw and packet sockets (which bypass the egress allowlist).
#pragma once

#include <linux/filter.h>

#include <string>
#include <string_view>
#include <vector>

namespace vigil::enforce {

// Names that look like they hold a secret: AWS_*, *_TOKEN, *SECRET*, *_KEY, *PASSWORD*, ...
bool secret_like(std::string_view name);

struct ScrubbedEnv {
  std::vector<std::string> kept;    // "NAME=VALUE", in the original order
  std::vector<std::string> removed; // names only
};
// The environment without secret-looking variables, except those named in allow.
ScrubbedEnv scrub_environment(const char *const *envp, const std::vector<std::string> &allow);

// The launch filter (classic BPF for seccomp). block_raw_sockets: socket(AF_PACKET, ...) and
// socket(*, SOCK_RAW, ...) fail with EPERM.
std::vector<sock_filter> launch_filter(bool block_raw_sockets);

// In the child between fork and exec (async-signal-safe): no_new_privs, then the filter.
// Returns 0 or -errno.
int apply_launch_filter(const sock_fprog &prog);

} // namespace vigil::enforce
