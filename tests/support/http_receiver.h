// SPDX-License-Identifier: Apache-2.0
// Test helpers for HTTP on loopback: a receiver that records requests and answers with scripted
// status codes (to make a webhook fail, then accept), and a minimal GET client. Plain sockets,
// one connection at a time, Connection: close: enough for tests, not a server.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace vigil::test {

struct HttpRequest {
  std::string method;
  std::string path;
  std::string headers; // raw header block
  std::string body;
};

namespace detail {

inline bool read_request(int fd, HttpRequest &req)
{
  std::string data;
  char buf[4096];
  size_t header_end = std::string::npos;
  while (header_end == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0)
      return false;
    data.append(buf, static_cast<size_t>(n));
    header_end = data.find("\r\n\r\n");
  }
  req.headers = data.substr(0, header_end);
  const size_t sp1 = req.headers.find(' ');
  const size_t sp2 = req.headers.find(' ', sp1 + 1);
  req.method = req.headers.substr(0, sp1);
  req.path = req.headers.substr(sp1 + 1, sp2 - sp1 - 1);
  size_t length = 0;
  std::string lower = req.headers;
  for (auto &c : lower)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (auto p = lower.find("content-length:"); p != std::string::npos)
    length = std::strtoul(lower.c_str() + p + 15, nullptr, 10);
  req.body = data.substr(header_end + 4);
  while (req.body.size() < length) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0)
      return false;
    req.body.append(buf, static_cast<size_t>(n));
  }
  return true;
}

} // namespace detail

class HttpReceiver {
public:
  // statuses[i] answers request i; later requests get the last entry (200 when empty).
  explicit HttpReceiver(std::vector<int> statuses = {}) : statuses_(std::move(statuses))
  {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr *>(&a), sizeof(a));
    ::listen(fd_, 16);
    socklen_t len = sizeof(a);
    ::getsockname(fd_, reinterpret_cast<sockaddr *>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~HttpReceiver()
  {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  HttpReceiver(const HttpReceiver &) = delete;
  HttpReceiver &operator=(const HttpReceiver &) = delete;

  int port() const { return port_; }
  std::string url(const std::string &path = "/") const
  {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<HttpRequest> requests() const
  {
    std::lock_guard lock(mu_);
    return requests_;
  }
  // Waits until at least n requests arrived.
  bool wait_for(size_t n, std::chrono::milliseconds timeout) const
  {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
  }

private:
  void serve()
  {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0)
        continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0)
        continue;
      HttpRequest req;
      if (detail::read_request(c, req)) {
        int status = 200;
        {
          std::lock_guard lock(mu_);
          const size_t i = requests_.size();
          if (!statuses_.empty())
            status = statuses_[std::min(i, statuses_.size() - 1)];
          requests_.push_back(req);
        }
        cv_.notify_all();
        const std::string resp = "HTTP/1.1 " + std::to_string(status) +
                                 (status < 300 ? " OK" : " Error") +
                                 "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        (void)!::send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
      }
      ::close(c);
    }
  }

  std::vector<int> statuses_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<HttpRequest> requests_;
  std::thread thread_;
};

struct HttpResponse {
  int status = 0; // 0: no answer
  std::string body;
};

// GET http://127.0.0.1:port/path.
inline HttpResponse http_get_local(int port, const std::string &path)
{
  HttpResponse r;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return r;
  }
  const std::string req =
      "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  (void)!::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string data;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0)
    data.append(buf, static_cast<size_t>(n));
  ::close(fd);
  if (data.rfind("HTTP/1.", 0) != 0)
    return r;
  r.status = std::atoi(data.c_str() + 9);
  if (auto p = data.find("\r\n\r\n"); p != std::string::npos)
    r.body = data.substr(p + 4);
  return r;
}

} // namespace vigil::test
