// SPDX-License-Identifier: Apache-2.0
// Start-up of `vigil run`: the agent starts as soon as enforcement is in place, without waiting
// for the host names of its egress allowlist. A real DNS server (this test's, on 127.0.0.153:53,
// named by a resolv.conf bound over /etc/resolv.conf in a private mount namespace) holds its
// answer for one name until the agent has run: the agent's connect to that name's address
// before the answer is denied and alerted once, as any destination outside the allowlist; the
// answer, when it comes, is enforced as it arrives (the same lookup, not a later retry), and
// the agent's next connect goes through.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>

#include "harness.h"

namespace vigil::test {
namespace {

constexpr const char *kServer = "127.0.0.153";
constexpr const char *kSlowName = "slow.vigil.test";

// A UDP DNS server answering A queries for kSlowName with 127.0.0.1 once released (holding them
// until then), every other question with an empty NOERROR (AAAA of kSlowName) or NXDOMAIN.
class SlowDns {
public:
  SlowDns()
  {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(53);
    ::inet_pton(AF_INET, kServer, &a.sin_addr);
    ok_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr *>(&a), sizeof(a)) == 0;
    if (ok_)
      thread_ = std::thread([this] { serve(); });
  }
  ~SlowDns()
  {
    stop_.store(true);
    if (thread_.joinable())
      thread_.join();
    if (fd_ >= 0)
      ::close(fd_);
  }
  bool ok() const { return ok_; }
  void release() { released_.store(true); }
  // Distinct lookups (query ids) of kSlowName's A record seen, and whether one was answered.
  size_t a_lookups() const
  {
    std::lock_guard lock(mu_);
    return a_ids_.size();
  }
  bool answered() const { return answered_.load(); }

private:
  struct Held {
    std::string query;
    sockaddr_in from;
  };

  // "\x04slow\x05vigil\x04test\0" -> "slow.vigil.test"; the offset past the name, or 0.
  static size_t qname(const std::string &q, size_t at, std::string &out)
  {
    while (at < q.size()) {
      const auto len = static_cast<unsigned char>(q[at]);
      if (len == 0)
        return at + 1;
      if (len > 63 || at + 1 + len > q.size())
        return 0;
      out += (out.empty() ? "" : ".") + q.substr(at + 1, len);
      at += 1 + len;
    }
    return 0;
  }

  void answer(const std::string &query, size_t question_end, const sockaddr_in &to, int rcode,
              bool with_a)
  {
    std::string r = query.substr(0, question_end);
    r[2] = static_cast<char>(0x84 | (query[2] & 0x01)); // response, authoritative, RD copied
    r[3] = static_cast<char>(0x80 | rcode);              // RA, rcode
    r[6] = 0;
    r[7] = with_a ? 1 : 0; // answers
    std::memset(&r[8], 0, 4); // no authority, no additional
    if (with_a) {
      const unsigned char rr[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x01, 0x2c, 0, 4, 127, 0, 0, 1};
      r.append(reinterpret_cast<const char *>(rr), sizeof(rr));
    }
    ::sendto(fd_, r.data(), r.size(), 0, reinterpret_cast<const sockaddr *>(&to), sizeof(to));
  }

  void serve()
  {
    std::vector<Held> held;
    while (!stop_.load()) {
      if (released_.load() && !held.empty()) {
        for (const auto &h : held) {
          std::string name;
          answer(h.query, qname(h.query, 12, name) + 4, h.from, 0, true);
        }
        held.clear();
        answered_.store(true);
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
      const int qtype = (static_cast<unsigned char>(q[end]) << 8) |
                        static_cast<unsigned char>(q[end + 1]);
      if (name != kSlowName) {
        answer(q, end + 4, from, 3, false); // NXDOMAIN
        continue;
      }
      if (qtype != 1) {
        answer(q, end + 4, from, 0, false); // no AAAA: an empty answer
        continue;
      }
      {
        std::lock_guard lock(mu_);
        a_ids_.insert(q.substr(0, 2));
      }
      if (released_.load())
        answer(q, end + 4, from, 0, true);
      else
        held.push_back(Held{q, from});
    }
  }

  int fd_ = -1;
  bool ok_ = false;
  std::atomic<bool> stop_{false}, released_{false}, answered_{false};
  mutable std::mutex mu_;
  std::set<std::string> a_ids_;
  std::thread thread_;
};

struct Agent {
  const char *name;
  std::string prefix; // in front of each probe
};

class StartupTest : public ::testing::TestWithParam<Agent> {
protected:
  void SetUp() override
  {
    VG_REQUIRE_ROOT();
    if (run({"unshare", "-m", "true"}).status != 0)
      GTEST_SKIP() << "unshare -m is not available: the test binds its own resolv.conf";
    ::chmod(tmp_.path().c_str(), 0755);
  }
  TempDir tmp_;
};

TEST_P(StartupTest, agent_starts_before_its_allowlisted_names_resolve_and_each_answer_is_enforced)
{
  SlowDns dns;
  if (!dns.ok())
    GTEST_SKIP() << "cannot bind " << kServer << ":53 (in use?)";
  const int port = free_port();
  const int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in la{};
  la.sin_family = AF_INET;
  la.sin_port = htons(static_cast<uint16_t>(port));
  la.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr *>(&la), sizeof(la)), 0);
  ASSERT_EQ(::listen(lfd, 64), 0);

  const std::string resolv = tmp_ / "resolv.conf";
  write_file(resolv, std::string("nameserver ") + kServer + "\n");
  const std::string profile = tmp_ / "slowdns.yaml";
  write_file(profile, std::string("profile: slowdns\negress:\n  allow:\n    - {host: ") +
                          kSlowName + ", ports: [" + std::to_string(port) + "]}\n");
  const std::string alerts = tmp_ / "alerts.jsonl";
  const std::string probe = GetParam().prefix + netprobe_bin() + " tcp 127.0.0.1 " +
                            std::to_string(port);
  // First connect: before the answer (the test holds it until it has seen this line). Then
  // poll, bounded, until the answer is in force; the agent counts its refused connects, each of
  // which must have raised its alert.
  const std::string agent = "r=$(" + probe + "); echo first=$r >&2; n=0; [ \"$r\" = EPERM ] && " +
                            "n=1; i=0; while [ \"$r\" != ok ] && [ $i -lt 400 ]; do sleep 0.05; " +
                            "r=$(" + probe + "); [ \"$r\" = EPERM ] && n=$((n+1)); i=$((i+1)); " +
                            "done; echo \"$r $n\"";
  // Without an /etc/resolv.conf to bind over (the VM's root), a copy of /etc with one is bound
  // over /etc, in the private mount namespace only.
  Proc vigil({"unshare", "-m", "--propagation", "private", "sh", "-c",
              "if [ -e /etc/resolv.conf ]; then mount --bind \"$0\" /etc/resolv.conf; else "
              "cp -a /etc \"$1/etc\" && cp \"$0\" \"$1/etc/resolv.conf\" && "
              "mount --bind \"$1/etc\" /etc; fi && shift && exec \"$@\"",
              resolv, tmp_.path(), vigil_bin(), "run", "--profile", profile, "--alerts-json",
              alerts, "--", "sh", "-c", agent});
  ASSERT_TRUE(vigil.wait_for_err("first=", std::chrono::seconds(60))) << vigil.err_so_far();
  // The agent has run while its name's lookup was still waiting at the server.
  EXPECT_NE(vigil.err_so_far().find("first=EPERM"), std::string::npos) << vigil.err_so_far();
  EXPECT_GE(dns.a_lookups(), 1u) << "vigil asked for " << kSlowName;
  EXPECT_FALSE(dns.answered());
  dns.release();
  ProcResult r = vigil.wait(std::chrono::seconds(90));
  ::close(lfd);
  EXPECT_EQ(r.status, 0) << r.err;
  // "ok N": the connect after the answer went through; N connects before it were refused.
  ASSERT_TRUE(r.out.starts_with("ok ")) << r.out << r.err;
  const size_t refused = std::stoul(r.out.substr(3));
  EXPECT_GE(refused, 1u);
  EXPECT_TRUE(dns.answered());
  // The answer of the lookup in flight was installed when it came, not a later lookup's.
  EXPECT_EQ(dns.a_lookups(), 1u) << r.err;
  // Each connect before the answer: one alert, outside the allowlist, denied by the network tier.
  auto list = read_json_lines(alerts);
  ASSERT_EQ(list.size(), refused) << read_file(alerts);
  for (const auto &a : list) {
    EXPECT_EQ(a["rule"], "egress-not-allowed");
    EXPECT_EQ(a["verdict"], "denied");
    EXPECT_EQ(a["tier"], expected_net_tier());
    EXPECT_EQ(a["destination"]["port"], port);
    EXPECT_EQ(a["uid"], GetParam().prefix.empty() ? 0 : 65534);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Users, StartupTest,
    ::testing::Values(Agent{"root", ""},
                      Agent{"nobody", "setpriv --reuid=65534 --regid=65534 --clear-groups "}),
    [](const auto &p) { return std::string(p.param.name); });

} // namespace
} // namespace vigil::test
