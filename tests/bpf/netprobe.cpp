// SPDX-License-Identifier: Apache-2.0
// netprobe: one network operation, its outcome on stdout ("ok" or the errno name), exit 0/1.
// Used by the privileged tests as the "agent" so each test controls exactly one syscall path.
//   netprobe tcp ADDR PORT       connect(2)
//   netprobe tcpmany ADDR PORT   connect(2) to ADDR:PORT 20,000 times on fresh sockets (PORT's
//                                number of times when PORT is written "PORT*COUNT"); prints
//                                "EPERM N" with N the number of calls refused so
//   netprobe tfo ADDR PORT       sendto(2) with MSG_FASTOPEN (TCP fast open)
//   netprobe udp ADDR PORT       sendto(2) on an unconnected UDP socket
//   netprobe udpconn ADDR PORT   connect(2) then send(2) on a UDP socket
//   netprobe v6mapped ADDR PORT  connect(2) from an AF_INET6 socket to ::ffff:ADDR
//   netprobe udp6mapped ADDR PORT sendto(2) from an AF_INET6 UDP socket to ::ffff:ADDR
//   netprobe tcp24|udp24|tfo24 ADDR PORT  as tcp/udp/tfo with an IPv6 address 24 bytes long
//                                (RFC 2133's sockaddr_in6, no scope id: the kernel accepts it)
//   netprobe udpunspec ADDR PORT sendto(2) on an IPv4 UDP socket with sin_family AF_UNSPEC
//                                (udp_sendmsg takes it as IPv4)
//   netprobe sendmmsg ADDR PORT  sendmmsg(2) of two datagrams on an unconnected UDP socket
//   netprobe udp6srh ADDR PORT   UDP sendto with an IPv6 segment routing header (IPV6_RTHDR,
//                                type 4) whose segments are ADDR: source routing
//   netprobe udp4opt ADDR PORT   UDP sendto with IPv4 options (IP_OPTIONS: record route)
//   netprobe listen ADDR PORT    a TCP listener that accepts until killed
//   netprobe listen-hold ADDR PORT  the same, holding every connection open (reading what comes)
//   netprobe unix-listen PATH 0  a unix stream listener (and a datagram socket at PATH.dgram)
//   netprobe unix PATH 0         connect(2) to a unix stream socket
//   netprobe unixdgram PATH 0    sendto(2) to a unix datagram socket
//   netprobe unix-dgram-listen PATH 0  a unix datagram socket printing what it receives (stderr)
//   (every unix PATH: "@name" is the abstract name "name")
//   netprobe raw icmp 0          socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)
//   netprobe raw packet 0        socket(AF_PACKET, SOCK_RAW, 0)
//   netprobe raw netlink 0       socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE) (getifaddrs's)
//   netprobe int80 getpid 0      getpid through the 32-bit entry point (int 0x80): "ok" or errno
//   netprobe int80 socketcall 0  socketcall(SYS_SOCKET) there: the errno
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

int main(int argc, char **argv)
{
  if (argc != 4) {
    std::fprintf(stderr, "usage: netprobe tcp|tfo|udp|udpconn|v6mapped ADDR PORT\n");
    return 2;
  }
  const std::string op = argv[1];
  std::string addr = argv[2];
  if (op == "int80") {
    // __NR_getpid on i386, or socketcall(SYS_SOCKET, args): the 32-bit multiplexer that the
    // 64-bit socket filters never see.
    long ret = addr == "socketcall" ? 102 : 20;
    long call = 1;
    asm volatile("int $0x80" : "+a"(ret) : "b"(call), "c"(0L) : "memory");
    if (ret == getpid()) {
      std::printf("ok\n");
      return 0;
    }
    std::printf("%s\n", ret < 0 ? strerrorname_np(static_cast<int>(-ret)) : "?");
    return 1;
  }
  if (op == "tcpmany") {
    const std::string spec = argv[3];
    const auto star = spec.find('*');
    const int port = std::atoi(spec.substr(0, star).c_str());
    const long count = star == std::string::npos ? 20000 : std::atol(spec.c_str() + star + 1);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, addr.c_str(), &sa.sin_addr) != 1)
      return 2;
    long refused = 0;
    for (long i = 0; i < count; ++i) {
      const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0)
        return 1;
      if (connect(fd, reinterpret_cast<const sockaddr *>(&sa), sizeof(sa)) != 0 && errno == EPERM)
        ++refused;
      close(fd);
    }
    std::printf("EPERM %ld\n", refused);
    return 0;
  }
  if (op == "raw") {
    int fd = addr == "packet"    ? socket(17 /* AF_PACKET */, SOCK_RAW, 0)
             : addr == "netlink" ? socket(16 /* AF_NETLINK */, SOCK_RAW, 0 /* NETLINK_ROUTE */)
                                 : socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    std::printf("%s\n", fd < 0 ? strerrorname_np(errno) : "ok");
    return fd < 0 ? 1 : 0;
  }
  if (op.rfind("unix", 0) == 0) {
    // "@name": an abstract address, exactly as long as its name (no trailing NUL).
    const bool abstract = !addr.empty() && addr[0] == '@';
    auto make = [&](const std::string &a, sockaddr_un &u) {
      u = sockaddr_un{};
      u.sun_family = AF_UNIX;
      if (!abstract) {
        std::snprintf(u.sun_path, sizeof(u.sun_path), "%s", a.c_str());
        unlink(u.sun_path);
        return static_cast<socklen_t>(sizeof(u));
      }
      const size_t n = std::min(a.size() - 1, sizeof(u.sun_path) - 1);
      std::memcpy(u.sun_path + 1, a.data() + 1, n);
      return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + n);
    };
    sockaddr_un un{};
    auto *sa = reinterpret_cast<sockaddr *>(&un);
    socklen_t unlen = 0;
    if (op == "unix-dgram-listen") { // prints each datagram received on PATH, one a line
      unlen = make(addr, un);
      int dfd = socket(AF_UNIX, SOCK_DGRAM, 0);
      if (bind(dfd, sa, unlen) != 0)
        return 1;
      if (!abstract)
        chmod(un.sun_path, 0666);
      char buf[4096];
      for (;;) {
        ssize_t n = recv(dfd, buf, sizeof(buf), 0);
        if (n > 0) {
          std::fwrite(buf, 1, static_cast<size_t>(n), stderr);
          std::fputc('\n', stderr);
          std::fflush(stderr);
        }
      }
    }
    if (op == "unix-listen") {
      unlen = make(addr, un);
      int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
      if (bind(lfd, sa, unlen) != 0 || listen(lfd, 16) != 0)
        return 1;
      sockaddr_un dg{};
      socklen_t dglen = make(addr + ".dgram", dg);
      int dfd = socket(AF_UNIX, SOCK_DGRAM, 0);
      if (bind(dfd, reinterpret_cast<sockaddr *>(&dg), dglen) != 0)
        return 1;
      if (!abstract) { // reachable by any uid: only vigil may stand in the way
        chmod(un.sun_path, 0666);
        chmod(dg.sun_path, 0666);
      }
      for (;;) {
        int c = accept(lfd, nullptr, nullptr);
        if (c >= 0)
          close(c);
      }
    }
    const bool dgram = op == "unixdgram";
    un = sockaddr_un{};
    un.sun_family = AF_UNIX;
    if (abstract) {
      const size_t n = std::min(addr.size() - 1, sizeof(un.sun_path) - 1);
      std::memcpy(un.sun_path + 1, addr.data() + 1, n);
      unlen = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + n);
    } else {
      std::snprintf(un.sun_path, sizeof(un.sun_path), "%s", addr.c_str());
      unlen = sizeof(un);
    }
    int fd = socket(AF_UNIX, dgram ? SOCK_DGRAM : SOCK_STREAM, 0);
    long rc = dgram ? sendto(fd, "x", 1, 0, sa, unlen) : connect(fd, sa, unlen);
    std::printf("%s\n", rc < 0 ? strerrorname_np(errno) : "ok");
    return rc < 0 ? 1 : 0;
  }
  const int port = std::atoi(argv[3]);
  if (op == "v6mapped" || op == "udp6mapped")
    addr = "::ffff:" + addr;
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_INET;
  if (addr.find(':') != std::string::npos) {
    auto *in6 = reinterpret_cast<sockaddr_in6 *>(&ss);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, addr.c_str(), &in6->sin6_addr) != 1)
      return 2;
    len = sizeof(*in6);
    family = AF_INET6;
  } else {
    auto *in = reinterpret_cast<sockaddr_in *>(&ss);
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, addr.c_str(), &in->sin_addr) != 1)
      return 2;
    len = sizeof(*in);
  }
  if (op == "listen" || op == "listen-hold") {
    signal(SIGCHLD, SIG_IGN); // the holders reap themselves
    int lfd = socket(family, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(lfd, reinterpret_cast<sockaddr *>(&ss), len) != 0 || listen(lfd, 64) != 0) {
      std::printf("%s\n", strerrorname_np(errno));
      return 1;
    }
    for (;;) {
      int c = accept(lfd, nullptr, nullptr);
      if (c >= 0 && op == "listen")
        close(c);
      else if (c >= 0 && fork() == 0) { // holds c until the peer ends it
        close(lfd);
        char buf[256];
        while (read(c, buf, sizeof(buf)) > 0) {
        }
        _exit(0);
      } else if (c >= 0) {
        close(c);
      }
    }
  }
  const bool short6 = op == "tcp24" || op == "udp24" || op == "tfo24";
  if (short6) {
    if (family != AF_INET6)
      return 2;
    len = 24; // SIN6_LEN_RFC2133
  }
  if (op == "udpunspec") {
    if (family != AF_INET)
      return 2;
    reinterpret_cast<sockaddr_in *>(&ss)->sin_family = AF_UNSPEC;
  }
  const bool udp = op == "udp" || op == "udpconn" || op == "udp24" || op == "udpunspec" ||
                   op == "sendmmsg" || op == "udp6mapped" || op == "udp6srh" || op == "udp4opt";
  int fd = socket(family, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
  if (fd >= 0 && op == "udp6srh") {
    // ipv6_sr_hdr with two segments (both ADDR): nexthdr, hdrlen (8-byte units past the first
    // 8), type 4, segments_left 1, last_entry 1, flags, tag, then the segments.
    uint8_t srh[8 + 2 * 16] = {0, 4, 4, 1, 1, 0, 0, 0};
    const auto *in6 = reinterpret_cast<const sockaddr_in6 *>(&ss);
    std::memcpy(srh + 8, &in6->sin6_addr, 16);
    std::memcpy(srh + 24, &in6->sin6_addr, 16);
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_RTHDR, srh, sizeof(srh)) != 0) {
      std::printf("setsockopt:%s\n", strerrorname_np(errno));
      return 1;
    }
  }
  if (fd >= 0 && op == "udp4opt") {
    const uint8_t rr[8] = {7 /* IPOPT_RR */, 7, 4, 0, 0, 0, 0, 1 /* IPOPT_NOOP */};
    if (setsockopt(fd, IPPROTO_IP, IP_OPTIONS, rr, sizeof(rr)) != 0) {
      std::printf("setsockopt:%s\n", strerrorname_np(errno));
      return 1;
    }
  }
  if (fd < 0) {
    std::printf("%s\n", strerrorname_np(errno));
    return 1;
  }
  auto *sa = reinterpret_cast<sockaddr *>(&ss);
  long rc;
  if (op == "tcp" || op == "v6mapped" || op == "tcp24")
    rc = connect(fd, sa, len);
  else if (op == "tfo" || op == "tfo24")
    rc = sendto(fd, "x", 1, MSG_FASTOPEN, sa, len);
  else if (op == "udp" || op == "udp24" || op == "udpunspec" || op == "udp6mapped" ||
           op == "udp6srh" || op == "udp4opt")
    rc = sendto(fd, "x", 1, 0, sa, len);
  else if (op == "sendmmsg") {
    char payload[2] = {'x', 'y'};
    iovec iov[2] = {{&payload[0], 1}, {&payload[1], 1}};
    mmsghdr msgs[2]{};
    for (int i = 0; i < 2; ++i) {
      msgs[i].msg_hdr.msg_name = sa;
      msgs[i].msg_hdr.msg_namelen = len;
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    rc = sendmmsg(fd, msgs, 2, 0);
    if (rc >= 0 && rc != 2) {
      std::printf("partial\n");
      return 1;
    }
  }
  else if (op == "udpconn")
    rc = connect(fd, sa, len) == 0 ? send(fd, "x", 1, 0) : -1;
  else
    return 2;
  if (rc < 0) {
    std::printf("%s\n", strerrorname_np(errno));
    return 1;
  }
  std::printf("ok\n");
  close(fd);
  return 0;
}
