// SPDX-License-Identifier: Apache-2.0
// A tiny UDP DNS server for tests: answers A queries for the names it was given (one IPv4 address
// each), every other question of those names with an empty NOERROR (no AAAA), and the rest with
// NXDOMAIN. A name can be held: its A queries wait unanswered until release(). Bound to
// address:53 (root), serving on its own thread until destroyed.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace vigil::test {

class DnsServer {
public:
  // names: "pypi.vigil.test" -> "127.0.0.9".
  DnsServer(const std::string &address, std::map<std::string, std::string> names,
            std::string held = {})
      : names_(std::move(names)), held_name_(std::move(held))
  {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(53);
    ::inet_pton(AF_INET, address.c_str(), &a.sin_addr);
    ok_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr *>(&a), sizeof(a)) == 0;
    if (ok_)
      thread_ = std::thread([this] { serve(); });
  }
  ~DnsServer()
  {
    stop_.store(true);
    if (thread_.joinable())
      thread_.join();
    if (fd_ >= 0)
      ::close(fd_);
  }
  DnsServer(const DnsServer &) = delete;
  DnsServer &operator=(const DnsServer &) = delete;

  bool ok() const { return ok_; }
  // A queries answered with an address, by name.
  size_t answered(const std::string &name) const
  {
    std::lock_guard lock(mu_);
    auto it = answered_.find(name);
    return it == answered_.end() ? 0 : it->second;
  }
  // The held name's A queries are answered from now on (those waiting first).
  void release() { released_.store(true); }
  // Distinct lookups (query ids) of the held name's A record seen.
  size_t held_lookups() const
  {
    std::lock_guard lock(mu_);
    return held_ids_.size();
  }

private:
  // "\x04pypi\x05vigil\x04test\0" -> "pypi.vigil.test"; the offset past the name, or 0.
  static size_t qname(const std::string &q, size_t at, std::string &out)
  {
    while (at < q.size()) {
      const auto len = static_cast<unsigned char>(q[at]);
      if (len == 0)
        return at + 1;
      if (len > 63 || at + 1 + len > q.size())
        return 0;
      std::string label = q.substr(at + 1, len);
      for (auto &ch : label)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      out += (out.empty() ? "" : ".") + label;
      at += 1 + len;
    }
    return 0;
  }

  struct Held {
    std::string query;
    sockaddr_in from;
  };

  // The answer to query (its question ends at end), sent to from.
  void answer(const std::string &q, size_t end, const sockaddr_in &from)
  {
    std::string name;
    qname(q, 12, name);
    const int qtype =
        (static_cast<unsigned char>(q[end]) << 8) | static_cast<unsigned char>(q[end + 1]);
    auto it = names_.find(name);
    std::string r = q.substr(0, end + 4);
    r[2] = static_cast<char>(0x84 | (q[2] & 0x01)); // response, authoritative, RD copied
    r[3] = static_cast<char>(0x80 | (it == names_.end() ? 3 : 0)); // RA, NXDOMAIN or NOERROR
    std::memset(&r[6], 0, 6); // answers set below; no authority, no additional
    if (it != names_.end() && qtype == 1) {
      in_addr addr{};
      ::inet_pton(AF_INET, it->second.c_str(), &addr);
      r[7] = 1;
      const unsigned char rr[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4};
      r.append(reinterpret_cast<const char *>(rr), sizeof(rr));
      r.append(reinterpret_cast<const char *>(&addr), 4);
      std::lock_guard lock(mu_);
      ++answered_[name];
    }
    ::sendto(fd_, r.data(), r.size(), 0, reinterpret_cast<const sockaddr *>(&from),
             sizeof(from));
  }

  void serve()
  {
    std::vector<Held> held;
    while (!stop_.load()) {
      if (released_.load() && !held.empty()) {
        for (const Held &h : held) {
          std::string name;
          answer(h.query, qname(h.query, 12, name), h.from);
        }
        held.clear();
      }
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0)
        continue;
      char buf[512];
      sockaddr_in from{};
      socklen_t fl = sizeof(from);
      const ssize_t n =
          ::recvfrom(fd_, buf, sizeof(buf), 0, reinterpret_cast<sockaddr *>(&from), &fl);
      if (n < 17)
        continue;
      const std::string q(buf, static_cast<size_t>(n));
      std::string name;
      const size_t end = qname(q, 12, name);
      if (end == 0 || end + 4 > q.size())
        continue;
      const int qtype =
          (static_cast<unsigned char>(q[end]) << 8) | static_cast<unsigned char>(q[end + 1]);
      if (!held_name_.empty() && name == held_name_ && qtype == 1) {
        {
          std::lock_guard lock(mu_);
          held_ids_.insert(q.substr(0, 2));
        }
        if (!released_.load()) {
          held.push_back(Held{q, from});
          continue;
        }
      }
      answer(q, end, from);
    }
  }

  std::map<std::string, std::string> names_;
  std::string held_name_;
  int fd_ = -1;
  bool ok_ = false;
  std::atomic<bool> stop_{false}, released_{false};
  mutable std::mutex mu_;
  std::map<std::string, size_t> answered_;
  std::set<std::string> held_ids_;
  std::thread thread_;
};

} // namespace vigil::test
