// SPDX-License-Identifier: Apache-2.0
// Helpers for the privileged tests: run real processes (vigil itself among them) with their
// output captured in files, temp directories, JSON-lines files, an HTTP GET via curl.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vigil::test {

// A temporary directory removed (recursively) when the object dies.
class TempDir {
public:
  TempDir();
  ~TempDir();
  const std::string &path() const { return path_; }
  std::string operator/(const std::string &rel) const { return path_ + "/" + rel; }

private:
  std::string path_;
};

struct ProcResult {
  int status = -1; // exit code, or 128 + signal
  std::string out;
  std::string err;
  bool timed_out = false;
};

// A child process with stdout/stderr going to files.
class Proc {
public:
  // env entries "K=V" are added to (and override) the test's environment.
  Proc(const std::vector<std::string> &argv, const std::vector<std::string> &env = {});
  ~Proc();
  pid_t pid() const { return pid_; }
  // Waits for exit; kills with SIGKILL and marks timed_out after the timeout.
  ProcResult wait(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  void signal(int sig);
  std::string err_so_far() const;
  // Polls stderr until it contains needle or the timeout passes.
  bool wait_for_err(const std::string &needle,
                    std::chrono::milliseconds timeout = std::chrono::seconds(20)) const;

private:
  pid_t pid_ = -1;
  std::string out_file_;
  std::string err_file_;
  bool reaped_ = false;
};

ProcResult run(const std::vector<std::string> &argv, const std::vector<std::string> &env = {},
               std::chrono::milliseconds timeout = std::chrono::seconds(60));

std::string read_file(const std::string &path);
void write_file(const std::string &path, const std::string &content);
std::vector<nlohmann::json> read_json_lines(const std::string &path);
bool is_root();
// The cgroup2 mount of this machine.
std::string cgroup2_mount();
// GET http://address/path with curl; "" on failure.
std::string http_get(const std::string &address, const std::string &path);
// A TCP port that was free a moment ago on 127.0.0.1.
int free_port();
// Writes home/.aws/credentials with a canary secret (unique to this test process) and returns
// its path: the credential an agent must not read.
std::string plant_aws_canary(const std::string &home);

// Paths of the binaries under test: the build's, or $VIGIL_BIN etc. where the tests run away
// from the build tree (inside the VM).
inline const char *env_or(const char *var, const char *dflt)
{
  const char *v = std::getenv(var);
  return v && *v ? v : dflt;
}
inline const char *vigil_bin()
{
  return env_or("VIGIL_BIN", VG_VIGIL_BIN);
}
inline const char *netprobe_bin()
{
  return env_or("VIGIL_NETPROBE", VG_NETPROBE);
}
inline const char *fileprobe_bin()
{
  return env_or("VIGIL_FILEPROBE", VG_FILEPROBE);
}
#ifdef VG_TAMPERPROBE
inline const char *tamperprobe_bin()
{
  return env_or("VIGIL_TAMPERPROBE", VG_TAMPERPROBE);
}
#endif
// The enforcement tiers the kernel under test gives: this host's by default; the VM run (a
// BPF-LSM kernel) sets both to "lsm".
inline std::string expected_file_tier()
{
  return env_or("VIGIL_EXPECT_FILE_TIER", "fanotify");
}
inline std::string expected_net_tier()
{
  return env_or("VIGIL_EXPECT_NET_TIER", "cgroup");
}

} // namespace vigil::test

#define VG_REQUIRE_ROOT()                                                                          \
  do {                                                                                             \
    if (!::vigil::test::is_root())                                                                 \
      GTEST_SKIP() << "needs root and BPF (load programs, create cgroups): run as root; CI does";   \
  } while (0)
