// SPDX-License-Identifier: Apache-2.0
// The daemon's control socket: `vigil resume` asks a running daemon to lift an isolation, one
// request line in, one answer line out. A unix SOCK_SEQPACKET socket, mode 0600, in a directory
// made 0700 when missing; every peer's credentials (SO_PEERCRED) must say uid 0, so that file
// modes are not the only lock (a directory someone else could write would otherwise decide).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "common/result.h"
#include "common/unique_fd.h"

namespace vigil::daemon {

class ControlSocket {
public:
  // Binds and listens on path. A socket file nobody answers on (a daemon that died) is
  // replaced; one another process still listens on is left alone: EADDRINUSE.
  static Result<ControlSocket> listen(const std::string &path);
  ControlSocket(ControlSocket &&o) noexcept
      : fd_(std::move(o.fd_)), path_(std::exchange(o.path_, std::string()))
  {
  }
  ControlSocket &operator=(ControlSocket &&) = delete;
  ~ControlSocket(); // removes the socket file

  // Readable when a client connects (for poll).
  int fd() const { return fd_.get(); }
  // Takes the connections waiting now, without blocking: each peer that is uid 0 gets
  // handler(request) as its answer; any other is answered "error: ..." and closed. A peer that
  // sends nothing within kRequestTimeout is dropped. Returns how many requests were answered.
  size_t serve(const std::function<std::string(std::string_view request)> &handler);

  // Requests and answers are at most this long (a cgroup path is at most PATH_MAX).
  static constexpr size_t kMaxMessage = 8192;
  static constexpr std::chrono::milliseconds kRequestTimeout{1000};

private:
  ControlSocket(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  UniqueFd fd_;
  std::string path_; // empty once moved from
};

// Sends one request to the daemon at path and returns its answer; fails with the connect's
// errno (ENOENT, ECONNREFUSED: no daemon there) or ETIMEDOUT.
Result<std::string> control_request(const std::string &path, const std::string &request,
                                    std::chrono::milliseconds timeout);

} // namespace vigil::daemon
