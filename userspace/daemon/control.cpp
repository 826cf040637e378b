// SPDX-License-Identifier: Apache-2.0
// The daemon's control socket (see control.h).

#include "daemon/control.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <spdlog/spdlog.h>

namespace vigil::daemon {

namespace {

Result<sockaddr_un> address_of(const std::string &path)
{
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(a.sun_path))
    return fail_errno(ENAMETOOLONG, "control socket path '" + path + "'");
  std::memcpy(a.sun_path, path.data(), path.size());
  return a;
}

// Waits for fd to become ready for events, up to timeout; ETIMEDOUT when it does not.
Result<> wait_for(int fd, short events, std::chrono::milliseconds timeout)
{
  pollfd p{fd, events, 0};
  for (;;) {
    const int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (n > 0)
      return {};
    if (n == 0)
      return fail_errno(ETIMEDOUT, "control socket");
    if (errno != EINTR)
      return fail_errno(errno, "poll control socket");
  }
}

} // namespace

Result<ControlSocket> ControlSocket::listen(const std::string &path)
{
  auto addr = address_of(path);
  if (!addr)
    return tl::unexpected(addr.error());
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty() && !fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec)
      return fail_errno(ec.value(), "create " + dir.string());
    ::chmod(dir.c_str(), 0700);
  }
  // A socket file that answers belongs to a live daemon: not ours to take. One that does not
  // is what a killed daemon left.
  struct stat st{};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return fail_errno(EEXIST, path + " exists and is not a socket");
    UniqueFd probe(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (probe && ::connect(probe.get(), reinterpret_cast<const sockaddr *>(&*addr),
                           sizeof(*addr)) == 0)
      return fail_errno(EADDRINUSE, "another daemon listens on " + path);
    ::unlink(path.c_str());
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd)
    return fail_errno(errno, "control socket");
  // 0600 from the start: no moment where another user could connect (and it would be refused
  // by its credentials anyway).
  const mode_t old = ::umask(0177);
  const int bound = ::bind(fd.get(), reinterpret_cast<const sockaddr *>(&*addr), sizeof(*addr));
  const int err = errno;
  ::umask(old);
  if (bound != 0)
    return fail_errno(err, "bind control socket " + path);
  if (::listen(fd.get(), 8) != 0) {
    const int e = errno;
    ::unlink(path.c_str());
    return fail_errno(e, "listen on control socket " + path);
  }
  return ControlSocket(std::move(fd), path);
}

ControlSocket::~ControlSocket()
{
  if (!path_.empty())
    ::unlink(path_.c_str());
}

size_t ControlSocket::serve(const std::function<std::string(std::string_view)> &handler)
{
  size_t answered = 0;
  for (;;) {
    UniqueFd conn(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn)
      return answered; // EAGAIN: nobody else waiting (or a transient error: next poll)
    ucred cred{};
    socklen_t len = sizeof(cred);
    const bool root =
        ::getsockopt(conn.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid == 0;
    // The request is read before any answer, a refused one too: a unix socket closed with
    // unread data resets its peer (ECONNRESET), which would hide the answer from it.
    char buf[kMaxMessage];
    ssize_t n = -1;
    if (wait_for(conn.get(), POLLIN, kRequestTimeout))
      n = ::recv(conn.get(), buf, sizeof(buf), MSG_DONTWAIT);
    std::string reply;
    if (!root) {
      spdlog::warn("control socket: refused a request from uid {} pid {} (root only)", cred.uid,
                   cred.pid);
      reply = "error: the vigil daemon takes requests from root only\n";
    } else if (n > 0) {
      std::string_view request(buf, static_cast<size_t>(n));
      while (!request.empty() && (request.back() == '\n' || request.back() == '\0'))
        request.remove_suffix(1);
      reply = handler(request);
      ++answered;
    }
    if (!reply.empty())
      (void)::send(conn.get(), reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    while (::recv(conn.get(), buf, sizeof(buf), MSG_DONTWAIT) > 0) {
      // more than one request: only the first is answered
    }
  }
}

Result<std::string> control_request(const std::string &path, const std::string &request,
                                    std::chrono::milliseconds timeout)
{
  auto addr = address_of(path);
  if (!addr)
    return tl::unexpected(addr.error());
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd)
    return fail_errno(errno, "socket");
  if (::connect(fd.get(), reinterpret_cast<const sockaddr *>(&*addr), sizeof(*addr)) != 0)
    return fail_errno(errno, "connect to the vigil daemon at " + path);
  if (request.size() > ControlSocket::kMaxMessage)
    return fail_errno(EMSGSIZE, "control request");
  // EPIPE: the daemon answered before reading (it refuses a peer that is not root without
  // reading it), and its answer is still queued for us.
  if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) < 0 && errno != EPIPE)
    return fail_errno(errno, "send to the vigil daemon at " + path);
  if (auto r = wait_for(fd.get(), POLLIN, timeout); !r)
    return fail_errno(ETIMEDOUT, "no answer from the vigil daemon at " + path);
  char buf[ControlSocket::kMaxMessage];
  const ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
  if (n < 0)
    return fail_errno(errno, "read the vigil daemon's answer");
  std::string out(buf, static_cast<size_t>(n));
  while (!out.empty() && out.back() == '\n')
    out.pop_back();
  return out;
}

} // namespace vigil::daemon
