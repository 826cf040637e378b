// SPDX-License-Identifier: Apache-2.0
// Network enforcement on this host (cgroup sock_addr tier): connect, TCP fast open, UDP sendto
// and connected UDP, IPv4, IPv6 and IPv4-mapped IPv6, denied outside the allowlist with EPERM and
// exactly one alert each; the same operations from outside the agent cgroup all succeed.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sstream>

#include "harness.h"

namespace vigil::test {
namespace {

// A dual-stack listener (TCP) or receiver (UDP) on [::]:port, so IPv4, IPv6 and mapped
// destinations on any loopback address reach a real socket: a denial is vigil's, not a
// missing peer's.
class Listener {
public:
  Listener(int type, int port)
  {
    fd_ = ::socket(AF_INET6, type, 0);
    int zero = 0, one = 1;
    ::setsockopt(fd_, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (type == SOCK_STREAM)
      ::setsockopt(fd_, IPPROTO_TCP, 23 /* TCP_FASTOPEN */, &one, sizeof(one));
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(static_cast<uint16_t>(port));
    a.sin6_addr = in6addr_any;
    ok_ = ::bind(fd_, reinterpret_cast<sockaddr *>(&a), sizeof(a)) == 0 &&
          (type != SOCK_STREAM || ::listen(fd_, 128) == 0);
  }
  ~Listener() { ::close(fd_); }
  bool ok() const { return ok_; }

private:
  int fd_ = -1;
  bool ok_ = false;
};

struct Case {
  std::string op, addr;
  bool allowed_port;
  bool expect_ok; // inside the agent cgroup, enforcing
};

class NetEnforceTest : public ::testing::Test {
protected:
  void SetUp() override
  {
    VG_REQUIRE_ROOT();
    pa_ = free_port();
    pd_ = free_port();
    while (pd_ == pa_)
      pd_ = free_port();
    for (int type : {SOCK_STREAM, SOCK_DGRAM})
      for (int port : {pa_, pd_})
        listeners_.push_back(std::make_unique<Listener>(type, port));
    for (auto &l : listeners_)
      ASSERT_TRUE(l->ok()) << "cannot bind test listeners";
    cases_ = {
        {"tcp", "127.0.0.1", true, true},     {"tcp", "127.0.0.1", false, false},
        {"tcp", "127.0.0.2", true, false},    {"tcp", "::1", true, true},
        {"tcp", "::1", false, false},         {"v6mapped", "127.0.0.1", true, true},
        {"v6mapped", "127.0.0.1", false, false}, {"v6mapped", "127.0.0.2", true, false},
        {"tfo", "127.0.0.1", true, true},     {"tfo", "127.0.0.1", false, false},
        {"udp", "127.0.0.1", true, true},     {"udp", "127.0.0.1", false, false},
        {"udp", "::1", true, true},           {"udp", "::1", false, false},
        {"udpconn", "127.0.0.1", false, false},
        // Every address form the kernel accepts is decided: IPv6 in 24 bytes (RFC 2133), an
        // AF_UNSPEC address that udp_sendmsg reads as IPv4, sendmmsg, mapped sends.
        {"tcp24", "::1", true, true},         {"tcp24", "::1", false, false},
        {"udp24", "::1", true, true},         {"udp24", "::1", false, false},
        {"tfo24", "::1", false, false},       {"udpunspec", "127.0.0.1", true, true},
        {"udpunspec", "127.0.0.1", false, false}, {"sendmmsg", "127.0.0.1", true, true},
        {"sendmmsg", "127.0.0.1", false, false},  {"sendmmsg", "::1", false, false},
        {"udp6mapped", "127.0.0.1", false, false},
    };
  }

  std::string profile(const std::string &mode)
  {
    const std::string p = tmp_ / ("net-" + mode + ".yaml");
    write_file(p, "profile: net-test\nmode: " + mode + "\negress:\n  allow:\n" +
                      "    - {cidr: 127.0.0.1/32, ports: [" + std::to_string(pa_) + "]}\n" +
                      "    - {cidr: ::1/128, ports: [" + std::to_string(pa_) + "]}\n");
    return p;
  }

  std::string script() const
  {
    std::ostringstream s;
    for (const auto &c : cases_)
      s << "printf '%s %s %s ' " << c.op << " " << c.addr << " " << port(c) << "; " << netprobe_bin()
        << " " << c.op << " " << c.addr << " " << port(c) << "; ";
    s << "true";
    return s.str();
  }
  int port(const Case &c) const { return c.allowed_port ? pa_ : pd_; }

  // "op addr port" -> "ok" | errno name, from the script's stdout.
  std::map<std::string, std::string> outcomes(const std::string &out) const
  {
    std::map<std::string, std::string> m;
    std::istringstream in(out);
    for (std::string op, addr, port, result; in >> op >> addr >> port >> result;)
      m[op + " " + addr + " " + port] = result;
    return m;
  }
  std::string key(const Case &c) const { return c.op + " " + c.addr + " " + std::to_string(port(c)); }

  TempDir tmp_;
  int pa_ = 0, pd_ = 0;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::vector<Case> cases_;
};

TEST_F(NetEnforceTest, outside_allowlist_fails_with_eperm_and_one_alert_each)
{
  const std::string alerts = tmp_ / "alerts.jsonl";
  ProcResult r = run({vigil_bin(), "run", "--profile", profile("enforce"), "--alerts-json", alerts,
                      "--", "sh", "-c", script()});
  ASSERT_EQ(r.status, 0) << r.err;
  auto got = outcomes(r.out);
  size_t denied = 0;
  for (const auto &c : cases_) {
    EXPECT_EQ(got[key(c)], c.expect_ok ? "ok" : "EPERM") << key(c) << "\n" << r.out;
    denied += !c.expect_ok;
  }
  auto list = read_json_lines(alerts);
  ASSERT_EQ(list.size(), denied) << read_file(alerts);
  std::map<std::string, int> per_dest;
  for (const auto &a : list) {
    EXPECT_EQ(a["rule"], "egress-not-allowed");
    EXPECT_EQ(a["verdict"], "denied");
    EXPECT_EQ(a["tier"], expected_net_tier());
    EXPECT_EQ(a["result_name"], "EPERM");
    per_dest[a["destination"]["ip"].get<std::string>() + ":" +
             std::to_string(a["destination"]["port"].get<int>())]++;
  }
  EXPECT_EQ(per_dest["127.0.0.2:" + std::to_string(pa_)], 2) << "tcp + v6mapped to 127.0.0.2";
  EXPECT_EQ(per_dest["::1:" + std::to_string(pd_)], 6)
      << "tcp, udp, tcp24, udp24, tfo24, sendmmsg to [::1]";
  // Mapped destinations are reported as the IPv4 address they stand for.
  EXPECT_EQ(per_dest["127.0.0.1:" + std::to_string(pd_)], 8)
      << "tcp, v6mapped, tfo, udp, udpconn, udpunspec, sendmmsg, udp6mapped";
}

TEST_F(NetEnforceTest, the_same_operations_outside_the_agent_cgroup_all_succeed)
{
  const std::string alerts = tmp_ / "alerts.jsonl";
  Proc vigil({vigil_bin(), "run", "--profile", profile("enforce"), "--alerts-json", alerts, "--",
              "sleep", "4"});
  ASSERT_TRUE(vigil.wait_for_err("confines cgroup")) << vigil.err_so_far();
  ProcResult r = run({"sh", "-c", script()});
  auto got = outcomes(r.out);
  for (const auto &c : cases_)
    EXPECT_EQ(got[key(c)], "ok") << key(c) << "\n" << r.out;
  EXPECT_EQ(vigil.wait().status, 0);
  EXPECT_EQ(read_json_lines(alerts).size(), 0u) << read_file(alerts);
}

TEST_F(NetEnforceTest, audit_mode_allows_and_reports_would_deny)
{
  const std::string alerts = tmp_ / "alerts.jsonl";
  ProcResult r = run({vigil_bin(), "run", "--profile", profile("audit"), "--alerts-json", alerts,
                      "--", "sh", "-c", script()});
  ASSERT_EQ(r.status, 0) << r.err;
  auto got = outcomes(r.out);
  size_t would = 0, mmsg = 0;
  for (const auto &c : cases_) {
    EXPECT_EQ(got[key(c)], "ok") << key(c) << "\n" << r.out;
    would += !c.expect_ok;
    mmsg += !c.expect_ok && c.op == "sendmmsg";
  }
  auto list = read_json_lines(alerts);
  // connect(2) in audit mode is reported once by the hook (would-deny), never again by the
  // tracepoint; UDP sends are reported by the hook only. sendmmsg sends both datagrams when
  // nothing denies, and the hook may report each of them.
  ASSERT_GE(list.size(), would) << read_file(alerts);
  ASSERT_LE(list.size(), would + mmsg) << read_file(alerts);
  for (const auto &a : list) {
    EXPECT_EQ(a["verdict"], "would-deny");
    EXPECT_EQ(a["tier"], expected_net_tier());
  }
}

TEST_F(NetEnforceTest, host_names_in_the_allowlist_are_resolved_by_the_daemon)
{
  const std::string p = tmp_ / "hosts.yaml";
  write_file(p, "profile: hosts\negress:\n  allow:\n    - {host: localhost, ports: [" +
                    std::to_string(pa_) + "]}\n");
  const std::string np = netprobe_bin();
  ProcResult r = run({vigil_bin(), "run", "-v", "--profile", p, "--", "sh", "-c",
                      np + " tcp 127.0.0.1 " + std::to_string(pa_) + "; " + np + " tcp 127.0.0.1 " +
                          std::to_string(pd_) + "; true"});
  EXPECT_EQ(r.out, "ok\nEPERM\n") << r.err;
  EXPECT_NE(r.err.find("egress host localhost:"), std::string::npos) << r.err;
}

} // namespace
} // namespace vigil::test
