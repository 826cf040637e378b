// SPDX-License-Identifier: Apache-2.0
// Cutting a cgroup's established connections, as `ss -K` does: the kernel's sock_diag
// SOCK_DESTROY (CONFIG_INET_DIAG_DESTROY) on every TCP and connected UDP socket that a process
// of the cgroup subtree created. The response action `isolate` stops new connects in the BPF
// hooks; this ends the ones already open. No BPF here.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "common/result.h"

namespace vigil::cgroup {

struct SocketsCut {
  size_t destroyed = 0; // sockets the kernel aborted
  size_t namespaces = 0; // network namespaces searched (vigil's, and each the subtree's
                         // processes are in)
};

// Aborts the IPv4 and IPv6 TCP sockets (every state but LISTEN, TIME_WAIT and SYN_RECV) and
// connected UDP sockets whose cgroup (sock_diag's INET_DIAG_CGROUP_ID: the cgroup of the process
// that created them) is dir or below it, in vigil's network namespace and in each one the
// subtree's processes are in. The agent's next call on one fails (ECONNABORTED, EPIPE), a TCP
// peer gets a reset. Needs CAP_NET_ADMIN (and CAP_SYS_ADMIN to enter another namespace). Fails
// with EOPNOTSUPP when the kernel has no SOCK_DESTROY for a protocol it holds a socket of, or
// with the netlink error; sockets gone meanwhile are not errors.
Result<SocketsCut> destroy_sockets(const std::string &dir);

// Whether this kernel aborts sockets on request (for `vigil doctor`): a SOCK_DESTROY of a TCP
// socket that does not exist answers ENOENT where it can, EOPNOTSUPP where the kernel was built
// without CONFIG_INET_DIAG_DESTROY. Fails with that errno, or EPERM without CAP_NET_ADMIN.
Result<> probe_sock_destroy();

// The cgroup ids of dir and every cgroup below it (a bounded walk).
std::set<uint64_t> subtree_ids(const std::string &dir);

} // namespace vigil::cgroup
