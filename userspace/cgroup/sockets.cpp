// SPDX-License-Identifier: Apache-2.0
// SOCK_DESTROY of a cgroup subtree's sockets (see sockets.h).

#include "cgroup/sockets.h"

#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <thread>
#include <vector>

#include "cgroup/cgroup.h"
#include "common/unique_fd.h"

namespace vigil::cgroup {

namespace {

// TCP states worth aborting: connections, and those on their way up or down. LISTEN is not a
// connection; TIME_WAIT and SYN_RECV (request) sockets carry no cgroup in sock_diag.
constexpr uint32_t kStates = (1u << TCP_ESTABLISHED) | (1u << TCP_SYN_SENT) |
                             (1u << TCP_FIN_WAIT1) | (1u << TCP_FIN_WAIT2) |
                             (1u << TCP_CLOSE_WAIT) | (1u << TCP_LAST_ACK) | (1u << TCP_CLOSING);

struct Found {
  uint8_t family = 0, protocol = 0;
  inet_diag_sockid id{};
};

struct Request {
  nlmsghdr nlh;
  inet_diag_req_v2 req;
};

// Netlink's NLMSG_* and RTA_* macros cast in C style; the same walks, typed.
const nlmsghdr *next_msg(const nlmsghdr *h, size_t &left)
{
  const size_t step = NLMSG_ALIGN(h->nlmsg_len);
  left = step < left ? left - step : 0;
  return reinterpret_cast<const nlmsghdr *>(reinterpret_cast<const char *>(h) + step);
}
bool msg_ok(const nlmsghdr *h, size_t left)
{
  return left >= sizeof(nlmsghdr) && h->nlmsg_len >= sizeof(nlmsghdr) && h->nlmsg_len <= left;
}
template <typename T> const T *msg_data(const nlmsghdr *h)
{
  return reinterpret_cast<const T *>(reinterpret_cast<const char *>(h) + NLMSG_HDRLEN);
}

Request request(uint16_t type, uint16_t flags, uint8_t family, uint8_t protocol)
{
  Request r{};
  r.nlh.nlmsg_len = sizeof(r);
  r.nlh.nlmsg_type = type;
  r.nlh.nlmsg_flags = flags;
  r.req.sdiag_family = family;
  r.req.sdiag_protocol = protocol;
  r.req.idiag_states = kStates;
  return r;
}

// One dump of (family, protocol): the sockets whose cgroup is one of ids.
Result<> dump(int nl, uint8_t family, uint8_t protocol, const std::set<uint64_t> &ids,
              std::vector<Found> &out)
{
  Request r = request(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, family, protocol);
  if (::send(nl, &r, sizeof(r), 0) < 0)
    return fail_errno(errno, "sock_diag dump");
  alignas(nlmsghdr) char buf[32768];
  for (;;) {
    const ssize_t n = ::recv(nl, buf, sizeof(buf), 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return fail_errno(errno, "sock_diag dump");
    }
    size_t left = static_cast<size_t>(n);
    for (auto *h = reinterpret_cast<const nlmsghdr *>(buf); msg_ok(h, left);
         h = next_msg(h, left)) {
      if (h->nlmsg_type == NLMSG_DONE)
        return {};
      if (h->nlmsg_type == NLMSG_ERROR) {
        const auto *e = msg_data<nlmsgerr>(h);
        // No diag module for this protocol: a kernel without UDP diag has nothing to find; one
        // without TCP diag (tcp_diag neither built in nor loadable) cannot list the agent's
        // connections, which the caller must say rather than report none cut.
        if (e->error == -ENOENT && protocol != IPPROTO_TCP)
          return {};
        if (e->error == -ENOENT)
          return fail_errno(ENOENT, "sock_diag lists no TCP sockets here (no tcp_diag module)");
        return fail_errno(-e->error, "sock_diag dump");
      }
      if (h->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg)))
        continue;
      const auto *m = msg_data<inet_diag_msg>(h);
      // The attributes follow the message, each {len, type} then its payload, 4-byte aligned.
      const char *at = reinterpret_cast<const char *>(m) + NLMSG_ALIGN(sizeof(*m));
      const char *end = reinterpret_cast<const char *>(h) + h->nlmsg_len;
      while (at + sizeof(rtattr) <= end) {
        rtattr a{};
        std::memcpy(&a, at, sizeof(a));
        if (a.rta_len < sizeof(rtattr) || at + a.rta_len > end)
          break;
        if (a.rta_type == INET_DIAG_CGROUP_ID && a.rta_len >= RTA_LENGTH(sizeof(uint64_t))) {
          uint64_t cg = 0;
          std::memcpy(&cg, at + RTA_LENGTH(0), sizeof(cg));
          if (ids.count(cg))
            out.push_back({family, protocol, m->id});
        }
        at += RTA_ALIGN(a.rta_len);
      }
    }
  }
}

// Sends one request and returns the errno its acknowledgement carries (0: done).
Result<int> acked(int nl, const Request &r)
{
  if (::send(nl, &r, sizeof(r), 0) < 0)
    return fail_errno(errno, "sock_diag");
  alignas(nlmsghdr) char buf[1024];
  const ssize_t n = ::recv(nl, buf, sizeof(buf), 0);
  if (n < static_cast<ssize_t>(NLMSG_LENGTH(sizeof(nlmsgerr))))
    return fail_errno(n < 0 ? errno : EPROTO, "sock_diag");
  const auto *h = reinterpret_cast<const nlmsghdr *>(buf);
  if (h->nlmsg_type != NLMSG_ERROR)
    return 0;
  return -msg_data<nlmsgerr>(h)->error;
}

Result<size_t> destroy_here(const std::set<uint64_t> &ids)
{
  UniqueFd nl(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!nl)
    return fail_errno(errno, "sock_diag socket");
  std::vector<Found> found;
  for (uint8_t family : {AF_INET, AF_INET6})
    for (uint8_t protocol : {IPPROTO_TCP, IPPROTO_UDP})
      if (auto r = dump(nl.get(), family, protocol, ids, found); !r)
        return tl::unexpected(r.error());
  size_t destroyed = 0;
  for (const Found &f : found) {
    Request r = request(SOCK_DESTROY, NLM_F_REQUEST | NLM_F_ACK, f.family, f.protocol);
    r.req.idiag_states = ~0u;
    r.req.id = f.id;
    auto err = acked(nl.get(), r);
    if (!err)
      return tl::unexpected(err.error());
    if (*err == 0)
      ++destroyed;
    else if (*err != ENOENT) // ENOENT: closed meanwhile
      return fail_errno(*err, "sock_diag destroy");
  }
  return destroyed;
}

uint64_t netns_of(const std::string &proc_ns)
{
  struct stat st{};
  return ::stat(proc_ns.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_ino) : 0;
}

} // namespace

Result<> probe_sock_destroy()
{
  UniqueFd nl(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!nl)
    return fail_errno(errno, "sock_diag socket");
  Request r = request(SOCK_DESTROY, NLM_F_REQUEST | NLM_F_ACK, AF_INET, IPPROTO_TCP);
  r.req.idiag_states = ~0u; // id all zero: no such socket
  auto err = acked(nl.get(), r);
  if (!err)
    return tl::unexpected(err.error());
  if (*err == ENOENT || *err == 0)
    return {};
  return fail_errno(*err, "SOCK_DESTROY");
}

std::set<uint64_t> subtree_ids(const std::string &dir)
{
  namespace fs = std::filesystem;
  std::set<uint64_t> ids;
  if (auto id = cgroup_id(dir); id)
    ids.insert(*id);
  std::error_code ec;
  constexpr size_t kMaxCgroups = 4096; // an agent making more does not slow vigil down
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied,
                                                  ec);
       !ec && it != fs::recursive_directory_iterator() && ids.size() < kMaxCgroups;
       it.increment(ec)) {
    if (!it->is_directory(ec))
      continue;
    if (auto id = cgroup_id(it->path().string()); id)
      ids.insert(*id);
  }
  return ids;
}

Result<SocketsCut> destroy_sockets(const std::string &dir)
{
  const std::set<uint64_t> ids = subtree_ids(dir);
  if (ids.empty())
    return fail_errno(ENOENT, "cgroup " + dir);
  // One process per network namespace the subtree's processes are in (a pod has its own).
  const uint64_t own = netns_of("/proc/self/ns/net");
  std::map<uint64_t, pid_t> others;
  for (pid_t pid : subtree_procs(dir))
    if (const uint64_t ns = netns_of("/proc/" + std::to_string(pid) + "/ns/net"); ns && ns != own)
      others.emplace(ns, pid);
  SocketsCut cut;
  auto here = destroy_here(ids);
  if (!here)
    return tl::unexpected(here.error());
  cut.destroyed += *here;
  ++cut.namespaces;
  for (const auto &[ns, pid] : others) {
    // A namespace is entered by one thread of its own (setns(CLONE_NEWNET) changes only the
    // calling thread), which then ends: vigil's threads stay where they are.
    Result<size_t> there = fail_errno(ESRCH, "process " + std::to_string(pid));
    std::thread t([&, pid = pid] {
      UniqueFd fd(::open(("/proc/" + std::to_string(pid) + "/ns/net").c_str(),
                         O_RDONLY | O_CLOEXEC));
      if (!fd)
        return; // gone meanwhile
      if (::setns(fd.get(), CLONE_NEWNET) != 0) {
        there = fail_errno(errno, "enter the network namespace of pid " + std::to_string(pid));
        return;
      }
      there = destroy_here(ids);
    });
    t.join();
    if (!there) {
      if (there.error().code == std::errc::no_such_process)
        continue;
      return tl::unexpected(there.error());
    }
    cut.destroyed += *there;
    ++cut.namespaces;
  }
  return cut;
}

} // namespace vigil::cgroup
