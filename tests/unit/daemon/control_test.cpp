// SPDX-License-Identifier: Apache-2.0
// The daemon's control socket without a daemon: a request is answered by the handler for a root
// peer and refused for any other; a live socket is not taken over, a stale one is.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "daemon/control.h"

namespace fs = std::filesystem;
using namespace vigil;
using namespace vigil::daemon;

namespace {

class ControlTest : public ::testing::Test {
protected:
  void SetUp() override
  {
    std::string tmpl = (fs::temp_directory_path() / "vg_control_test_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/run/control.sock";
  }
  void TearDown() override
  {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // One request from another thread while this one serves it.
  Result<std::string> ask(ControlSocket &s, const std::string &request)
  {
    auto answer = std::async(std::launch::async, [&] {
      return control_request(path_, request, std::chrono::seconds(5));
    });
    // Bounded by the request's own timeout.
    while (answer.wait_for(std::chrono::milliseconds(5)) != std::future_status::ready)
      s.serve([](std::string_view req) { return "got " + std::string(req) + "\n"; });
    return answer.get();
  }
  std::string dir_, path_;
};

TEST_F(ControlTest, answers_a_root_peer_and_refuses_any_other)
{
  auto s = ControlSocket::listen(path_);
  ASSERT_TRUE(s) << s.error().message();
  struct stat st{};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "only root may connect";
  ASSERT_EQ(::stat((dir_ + "/run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u) << "a directory it made is root's alone";
  if (::geteuid() != 0) {
    // This process is the peer: not root, so refused whatever the socket's mode allowed.
    auto r = ask(*s, "resume /x");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, "error: the vigil daemon takes requests from root only");
    return;
  }
  auto r = ask(*s, "resume /sys/fs/cgroup/a\n");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, "got resume /sys/fs/cgroup/a");

  // Another uid, through modes loosened to let it connect: refused by its credentials, and the
  // client reads the refusal even though the daemon closed before reading its request.
  ::chmod(dir_.c_str(), 0755);
  ::chmod((dir_ + "/run").c_str(), 0755);
  ::chmod(path_.c_str(), 0666);
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(out[0]);
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0)
      ::_exit(2);
    auto answer = control_request(path_, "resume /x", std::chrono::seconds(5));
    const std::string text = answer ? *answer : "client error: " + answer.error().message();
    (void)!::write(out[1], text.data(), text.size());
    ::_exit(0);
  }
  ::close(out[1]);
  size_t handled = 0;
  for (int i = 0; i < 1000 && ::waitpid(child, nullptr, WNOHANG) == 0; ++i) {
    handled += s->serve([](std::string_view) { return std::string("must not be asked\n"); });
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::string got;
  char buf[256];
  for (ssize_t n; (n = ::read(out[0], buf, sizeof(buf))) > 0;)
    got.append(buf, static_cast<size_t>(n));
  ::close(out[0]);
  EXPECT_EQ(handled, 0u) << "the handler ran for a peer that is not root";
  EXPECT_EQ(got, "error: the vigil daemon takes requests from root only");
}

TEST_F(ControlTest, a_live_socket_is_not_taken_over_and_a_stale_one_is)
{
  {
    auto first = ControlSocket::listen(path_);
    ASSERT_TRUE(first) << first.error().message();
    auto second = ControlSocket::listen(path_);
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code, std::errc::address_in_use) << second.error().message();
    EXPECT_TRUE(fs::exists(path_)) << "the live daemon's socket stays";
  }
  EXPECT_FALSE(fs::exists(path_)) << "removed when the daemon stops";
  // What a killed daemon leaves: a socket file nobody listens on.
  {
    int fd = ::socket(AF_UNIX, SOCK_SEQPACKET, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof(a.sun_path), "%s", path_.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof(a)), 0);
    ::close(fd);
  }
  ASSERT_TRUE(fs::exists(path_));
  auto again = ControlSocket::listen(path_);
  EXPECT_TRUE(again) << again.error().message();
}

TEST_F(ControlTest, no_daemon_is_a_connect_error)
{
  auto r = control_request(path_, "resume /x", std::chrono::seconds(1));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, std::errc::no_such_file_or_directory) << r.error().message();
}

TEST_F(ControlTest, a_file_that_is_not_a_socket_is_left_alone)
{
  fs::create_directories(dir_ + "/run");
  { std::FILE *f = std::fopen(path_.c_str(), "w"); std::fclose(f); }
  auto s = ControlSocket::listen(path_);
  ASSERT_FALSE(s);
  EXPECT_TRUE(fs::is_regular_file(path_));
}

} // namespace
