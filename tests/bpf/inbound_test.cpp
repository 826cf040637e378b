// SPDX-License-Identifier: Apache-2.0
// Connections into the agent from outside it (issue 15, class 4): the agent serves on loopback
// (python3 -m http.server, a UDP echo socket) on 127.0.0.1 and ::1, and a process outside the
// agent tries to fetch from it. The ingress packet program drops what comes from outside, once
// per flow alerted; clients inside the agent, the agent's own outbound connection and the
// replies to its datagrams (a DNS-like exchange), and processes outside the agent talking to each
// other are untouched. Runs as root and as uid 65534, on this host (cgroup tier) and in the VM.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>

#include <filesystem>
#include <thread>

#include "harness.h"

namespace vigil::test {
namespace {

namespace fs = std::filesystem;

// The agent side: two HTTP servers (127.0.0.1 and ::1) and two UDP echo sockets, reached from
// inside the agent first (controls), then a DNS-like exchange with a server outside the agent
// (an unconnected and a connected socket) and an outbound TCP connection to it; then "ready",
// and it serves until the test writes "done" (polled, 90 s at most).
constexpr const char *kAgentPy = R"PY(
import os, socket, subprocess, sys, threading, time, urllib.request
d, tport, uport, oport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
servers = [subprocess.Popen([sys.executable, '-m', 'http.server', str(tport), '--bind', a,
                             '--directory', d], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL) for a in ('127.0.0.1', '::1')]
def echo(s):
    while True:
        data, peer = s.recvfrom(512)
        s.sendto(b'echo:' + data, peer)
for fam, a in ((socket.AF_INET, '127.0.0.1'), (socket.AF_INET6, '::1')):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((a, uport))
    threading.Thread(target=echo, args=(s,), daemon=True).start()
def get(host):
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            return urllib.request.urlopen('http://%s:%d/workspace.txt' % (host, tport),
                                          timeout=5).read().decode().strip()
        except OSError:
            time.sleep(0.05)
    return 'unreachable'
print('inside-tcp4', get('127.0.0.1'))
print('inside-tcp6', get('[::1]'))
for fam, a in ((socket.AF_INET, '127.0.0.1'), (socket.AF_INET6, '::1')):
    c = socket.socket(fam, socket.SOCK_DGRAM)
    c.settimeout(5)
    c.sendto(b'hi', (a, uport))
    try:
        print('inside-udp', fam == socket.AF_INET and 4 or 6, c.recvfrom(512)[0].decode())
    except OSError as e:
        print('inside-udp', fam == socket.AF_INET and 4 or 6, 'no answer', e)
q = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
q.settimeout(5)
q.sendto(b'query', ('127.0.0.1', oport))
try:
    print('reply-unconnected', q.recvfrom(512)[0].decode())
except OSError as e:
    print('reply-unconnected none', e)
q = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
q.settimeout(5)
q.connect(('::1', oport))
q.send(b'query')
try:
    print('reply-connected', q.recv(512).decode())
except OSError as e:
    print('reply-connected none', e)
def dns():
    try:
        socket.getaddrinfo('vigil-inbound-test.invalid', 80)
        return 'answered'
    except socket.gaierror as e:
        return 'answered' if e.errno == socket.EAI_NONAME else 'unanswered %d' % e.errno
print('dns', dns())
try:
    t = socket.create_connection(('127.0.0.1', oport), timeout=5)
    print('outbound', t.recv(64).decode())
except OSError as e:
    print('outbound failed', e)
sys.stdout.flush()
open(os.path.join(d, 'ready'), 'w').close()
deadline = time.time() + 90
while not os.path.exists(os.path.join(d, 'done')) and time.time() < deadline:
    time.sleep(0.05)
for p in servers:
    p.kill()
)PY";

// The outside side. "serve PORT": a UDP answerer ("answer:" + datagram) on 127.0.0.1 and ::1
// and a TCP server that greets ("hello") on 127.0.0.1, until killed. "tcp HOST PORT": connect
// with a 3 s deadline and GET /workspace.txt ("connected:<body>" or "refused"/"timeout").
// "udp HOST PORT": three datagrams, an answer awaited for 1 s after each. "dns": whether this
// host's resolver answers a lookup (NXDOMAIN counts).
constexpr const char *kOutsidePy = R"PY(
import socket, sys, threading
op = sys.argv[1]
if op == 'dns':
    try:
        socket.getaddrinfo('vigil-inbound-test.invalid', 80)
        print('answered')
    except socket.gaierror as e:
        print('answered' if e.errno == socket.EAI_NONAME else 'unanswered')
    sys.exit(0)
if op == 'serve':
    port = int(sys.argv[2])
    def answer(s):
        while True:
            data, peer = s.recvfrom(512)
            s.sendto(b'answer:' + data, peer)
    for fam, a in ((socket.AF_INET, '127.0.0.1'), (socket.AF_INET6, '::1')):
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.bind((a, port))
        threading.Thread(target=answer, args=(s,), daemon=True).start()
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(('127.0.0.1', port))
    l.listen(16)
    print('serving', flush=True)
    while True:
        c, _ = l.accept()
        c.sendall(b'hello')
        c.close()
host, port = sys.argv[2], int(sys.argv[3])
fam = socket.AF_INET6 if ':' in host else socket.AF_INET
if op == 'tcp':
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        s.connect((host, port))
        s.sendall(b'GET /workspace.txt HTTP/1.0\r\n\r\n')
        reply = b''
        while True:  # to the server's close: headers and body may come apart
            try:
                chunk = s.recv(4096)
            except ConnectionResetError:  # a server that greets and closes
                break
            if not chunk:
                break
            reply += chunk
        print('connected:' + reply.decode().split('\r\n\r\n')[-1].strip())
    except socket.timeout:
        print('timeout')
    except ConnectionRefusedError:
        print('refused')
elif op == 'udp':
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(1)
    got = 'no answer'
    for i in range(3):
        s.sendto(b'x%d' % i, (host, port))
        try:
            got = s.recvfrom(512)[0].decode()
            break
        except socket.timeout:
            pass
    print(got)
)PY";

// A python3 that uid 65534 may run (root's PATH can lead to a per-user install).
std::string agent_python()
{
  return fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

class InboundTest : public ::testing::TestWithParam<bool> {
protected:
  void SetUp() override
  {
    VG_REQUIRE_ROOT();
    if (run({agent_python(), "-c", "import http.server"}).status != 0)
      GTEST_SKIP() << "python3 with http.server is needed to serve from inside the agent";
    ::chmod(tmp_.path().c_str(), 0777); // the agent may run as uid 65534
    agent_py_ = tmp_ / "agent.py";
    outside_py_ = tmp_ / "outside.py";
    write_file(agent_py_, kAgentPy);
    write_file(outside_py_, kOutsidePy);
    write_file(tmp_ / "workspace.txt", "workspace-contents\n");
    profile_ = tmp_ / "profile.yaml";
    // dns: system: the agent's lookups go to this host's resolvers, and their answers must
    // come back in (replies, not inbound).
    write_file(profile_, "profile: inbound\negress:\n  dns: system\n  allow: [127.0.0.1/32, "
                         "\"::1/128\"]\n");
    alerts_ = tmp_ / "alerts.jsonl";
  }

  std::string outside(const std::vector<std::string> &args)
  {
    std::vector<std::string> argv{"python3", outside_py_};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcResult r = run(argv, {}, std::chrono::seconds(30));
    return r.out.empty() ? "exit " + std::to_string(r.status) + ": " + r.err : r.out;
  }

  TempDir tmp_;
  std::string agent_py_, outside_py_, profile_, alerts_;
};

TEST_P(InboundTest, connections_from_outside_the_agent_are_dropped_and_alerted_once)
{
  const bool unprivileged = GetParam();
  const std::string tport = std::to_string(free_port());
  const std::string uport = std::to_string(free_port() + 1);
  const std::string oport = std::to_string(free_port() + 2);
  const std::string dns_outside = outside({"dns"});
  Proc server({"python3", outside_py_, "serve", oport});
  ASSERT_TRUE([&] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      if (outside({"tcp", "127.0.0.1", oport}).find("connected:hello") != std::string::npos)
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }()) << "the outside server did not come up";

  std::vector<std::string> argv{vigil_bin(), "run", "--profile", profile_, "--alerts-json", alerts_,
                                "--"};
  if (unprivileged)
    argv.insert(argv.end(), {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"});
  argv.insert(argv.end(), {agent_python(), agent_py_, tmp_.path(), tport, uport, oport});
  Proc agent(argv);
  const std::string ready = tmp_ / "ready";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (!fs::exists(ready) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const bool was_ready = fs::exists(ready);

  // From outside: TCP to 127.0.0.1, ::1 and (an IPv6 socket's) ::ffff:127.0.0.1; UDP to both.
  const std::string tcp4 = outside({"tcp", "127.0.0.1", tport});
  const std::string tcp6 = outside({"tcp", "::1", tport});
  const std::string tcpm = outside({"tcp", "::ffff:127.0.0.1", tport});
  const std::string udp4 = outside({"udp", "127.0.0.1", uport});
  const std::string udp6 = outside({"udp", "::1", uport});
  // Processes outside the agent still talk to each other.
  const std::string control = outside({"tcp", "127.0.0.1", oport});
  const std::string control_udp = outside({"udp", "::1", oport});
  write_file(tmp_ / "done", "");
  ProcResult r = agent.wait(std::chrono::seconds(120));
  server.signal(SIGKILL);
  ASSERT_TRUE(was_ready) << r.out << r.err;
  ASSERT_EQ(r.status, 0) << r.out << r.err;

  EXPECT_NE(r.out.find("inside-tcp4 workspace-contents"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("inside-tcp6 workspace-contents"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("inside-udp 4 echo:hi"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("inside-udp 6 echo:hi"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("reply-unconnected answer:query"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("reply-connected answer:query"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("outbound hello"), std::string::npos) << r.out;
  if (dns_outside == "answered\n") {
    EXPECT_NE(r.out.find("dns answered"), std::string::npos) << r.out;
  }

  EXPECT_EQ(tcp4, "timeout\n");
  EXPECT_EQ(tcp6, "timeout\n");
  EXPECT_EQ(tcpm, "timeout\n");
  EXPECT_EQ(udp4, "no answer\n");
  EXPECT_EQ(udp6, "no answer\n");
  EXPECT_EQ(control, "connected:hello\n");
  EXPECT_EQ(control_udp, "answer:x0\n");

  // One alert per refused flow: three connections (their SYNs retransmitted within the 3 s
  // deadline) and two UDP flows of three datagrams each.
  std::vector<nlohmann::json> inbound;
  for (const auto &a : read_json_lines(alerts_)) {
    if (a["rule"] == "inbound-not-allowed")
      inbound.push_back(a);
    else
      ADD_FAILURE() << "unexpected alert: " << a.dump();
  }
  ASSERT_EQ(inbound.size(), 5u) << read_file(alerts_);
  size_t tcp = 0, udp = 0, v6 = 0;
  for (const auto &a : inbound) {
    EXPECT_EQ(a["verdict"], "denied") << a.dump();
    EXPECT_EQ(a["tier"], "cgroup") << a.dump();
    const std::string out = a["output"];
    EXPECT_NE(out.find("from outside the agent [denied by cgroup ingress packet program"),
              std::string::npos)
        << out;
    const std::string proto = a["destination"]["protocol"];
    const int port = a["destination"]["port"];
    tcp += proto == "tcp" && std::to_string(port) == tport;
    udp += proto == "udp" && std::to_string(port) == uport;
    v6 += a["source"]["ip"] == "::1";
    EXPECT_NE(a["source"]["port"], 0) << a.dump();
  }
  EXPECT_EQ(tcp, 3u) << read_file(alerts_);
  EXPECT_EQ(udp, 2u) << read_file(alerts_);
  EXPECT_EQ(v6, 2u) << read_file(alerts_);
}

// ingress: {mode: off} lets the outside in (a profile for an agent that must serve).
TEST_P(InboundTest, mode_off_lets_connections_in)
{
  const bool unprivileged = GetParam();
  write_file(profile_, "profile: inbound\negress:\n  allow: [127.0.0.1/32, \"::1/128\"]\n"
                       "ingress:\n  mode: off\n");
  const std::string tport = std::to_string(free_port());
  const std::string uport = std::to_string(free_port() + 1);
  const std::string oport = std::to_string(free_port() + 2);
  Proc server({"python3", outside_py_, "serve", oport});
  std::vector<std::string> argv{vigil_bin(), "run", "--profile", profile_, "--alerts-json", alerts_,
                                "--"};
  if (unprivileged)
    argv.insert(argv.end(), {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"});
  argv.insert(argv.end(), {agent_python(), agent_py_, tmp_.path(), tport, uport, oport});
  Proc agent(argv);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (!fs::exists(tmp_ / "ready") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const std::string tcp4 = outside({"tcp", "127.0.0.1", tport});
  const std::string udp6 = outside({"udp", "::1", uport});
  write_file(tmp_ / "done", "");
  ProcResult r = agent.wait(std::chrono::seconds(120));
  server.signal(SIGKILL);
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(tcp4, "connected:workspace-contents\n");
  EXPECT_EQ(udp6, "echo:x0\n");
  for (const auto &a : read_json_lines(alerts_))
    EXPECT_NE(a["rule"], "inbound-not-allowed") << a.dump();
}

// An agent's own client that resets its connection before the handshake is over (a listener with
// TCP_DEFER_ACCEPT keeps the request until data comes, so the reset reaches it after the client
// is gone): not a connection from outside, no alert. Before, each reset was dropped and alerted as
// inbound; a connect loop that resets at once showed the same about once in 10,000 connects.
TEST_P(InboundTest, an_agents_client_that_resets_at_once_is_not_inbound)
{
  const bool unprivileged = GetParam();
  const std::string script = tmp_ / "reset.py";
  write_file(script, R"PY(import socket, struct
n = 0
for fam, host in ((socket.AF_INET, '127.0.0.1'), (socket.AF_INET6, '::1')):
    for i in range(10):
        l = socket.socket(fam)
        l.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 5)
        l.bind((host, 0))
        l.listen(16)
        c = socket.socket(fam)
        c.connect(l.getsockname()[:2])
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        c.close()
        l.close()
        n += 1
print('reset', n)
)PY");
  std::vector<std::string> argv{vigil_bin(), "run", "--profile", profile_, "--alerts-json", alerts_,
                                "--"};
  if (unprivileged)
    argv.insert(argv.end(), {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"});
  argv.insert(argv.end(), {agent_python(), script});
  ProcResult r = run(argv, {}, std::chrono::seconds(120));
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "reset 20\n") << r.err;
  for (const auto &a : read_json_lines(alerts_))
    ADD_FAILURE() << "unexpected alert: " << a.dump();
}

// The sender is found by the packet's 4-tuple on the packet's device. A process outside binds its
// socket to another device (SO_BINDTODEVICE needs no privilege) on the 4-tuple that an agent's
// socket, bound to lo and left in SYN_SENT, holds; its SYN to a host address travels over lo and
// the lookup finds the agent's socket. A socket bound to a device is not taken for the sender.
TEST_P(InboundTest, a_sender_bound_to_another_device_is_not_taken_for_the_agent)
{
  const bool unprivileged = GetParam();
  std::string addr, dev;
  ifaddrs *ifs = nullptr;
  if (::getifaddrs(&ifs) == 0) {
    for (ifaddrs *i = ifs; i && addr.empty(); i = i->ifa_next)
      if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && !(i->ifa_flags & IFF_LOOPBACK) &&
          (i->ifa_flags & IFF_UP)) {
        char buf[INET_ADDRSTRLEN];
        ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in *>(i->ifa_addr)->sin_addr, buf,
                    sizeof(buf));
        addr = buf;
        dev = i->ifa_name;
      }
    ::freeifaddrs(ifs);
  }
  if (addr.empty())
    GTEST_SKIP() << "no IPv4 address of this host beyond loopback";
  // The agent may reach the host's own address (the precondition: the shipped profile allows
  // only loopback, where the outside socket cannot bind).
  write_file(profile_, "profile: inbound\negress:\n  allow: [127.0.0.1/32, " + addr +
                           "/32]\ningress:\n  mode: enforce\n");
  const std::string sport = std::to_string(free_port()), cport = std::to_string(free_port() + 7);
  const std::string agent = tmp_ / "hold.py", outside = tmp_ / "bound.py";
  write_file(agent, R"PY(import socket, sys, time, os
addr, sport, cport, ready, done = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(('0.0.0.0', sport)); srv.listen(8)
b = socket.socket(); b.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b'lo')
b.bind((addr, cport)); b.setblocking(False); b.connect_ex((addr, sport))
open(ready, 'w').close()
srv.settimeout(1)
for _ in range(60):
    if os.path.exists(done): break
    try:
        c, _ = srv.accept(); c.sendall(b'workspace-contents'); c.close()
    except socket.timeout:
        pass
)PY");
  write_file(outside, R"PY(import socket, sys
addr, dev, sport, cport = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
a = socket.socket(); a.settimeout(5)
a.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
a.bind((addr, cport))
try:
    a.connect((addr, sport)); print('connected:' + a.recv(64).decode())
except OSError as e:
    print('refused' if not isinstance(e, socket.timeout) else 'timeout')
)PY");
  const std::string ready = tmp_ / "ready2", done = tmp_ / "done2";
  std::vector<std::string> argv{vigil_bin(), "run", "--profile", profile_, "--alerts-json", alerts_,
                                "--"};
  if (unprivileged)
    argv.insert(argv.end(), {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"});
  argv.insert(argv.end(), {agent_python(), agent, addr, sport, cport, ready, done});
  Proc vigil(argv);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (!fs::exists(ready) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(fs::exists(ready)) << vigil.err_so_far();
  ProcResult out = run({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        agent_python(), outside, addr, dev, sport, cport},
                       {}, std::chrono::seconds(30));
  write_file(done, "");
  ProcResult r = vigil.wait(std::chrono::seconds(120));
  EXPECT_EQ(out.out, "timeout\n") << out.err;
  int inbound = 0;
  for (const auto &a : read_json_lines(alerts_))
    inbound += a["rule"] == "inbound-not-allowed";
  EXPECT_EQ(inbound, 1) << read_file(alerts_);
}

INSTANTIATE_TEST_SUITE_P(Agent, InboundTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool> &p) {
                           return p.param ? "uid65534" : "root";
                         });

} // namespace
} // namespace vigil::test
