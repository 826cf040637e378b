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
#include "support/dns_server.h"

namespace vigil::test {
namespace {

constexpr const char *kServer = "127.0.0.153";
constexpr const char *kSlowName = "slow.vigil.test";

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
  // kSlowName's A lookups wait at the server until release().
  DnsServer dns(kServer, {{kSlowName, "127.0.0.1"}}, kSlowName);
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
  EXPECT_GE(dns.held_lookups(), 1u) << "vigil asked for " << kSlowName;
  EXPECT_EQ(dns.answered(kSlowName), 0u);
  dns.release();
  ProcResult r = vigil.wait(std::chrono::seconds(90));
  ::close(lfd);
  EXPECT_EQ(r.status, 0) << r.err;
  // "ok N": the connect after the answer went through; N connects before it were refused.
  ASSERT_TRUE(r.out.starts_with("ok ")) << r.out << r.err;
  const size_t refused = std::stoul(r.out.substr(3));
  EXPECT_GE(refused, 1u);
  EXPECT_GE(dns.answered(kSlowName), 1u);
  // The answer of the lookup in flight was installed when it came, not a later lookup's.
  EXPECT_EQ(dns.held_lookups(), 1u) << r.err;
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
