// SPDX-License-Identifier: Apache-2.0
// Helpers for the privileged tests: run real processes (vigil itself among them) with their
// output captured in files, temp directories, JSON-lines files, an HTTP GET via curl.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
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

// Path of the vigil binary under test.
inline const char *vigil_bin()
{
  return VG_VIGIL_BIN;
}

} // namespace vigil::test

#define VG_REQUIRE_ROOT()                                                                          \
  do {                                                                                             \
    if (!::vigil::test::is_root())                                                                 \
      GTEST_SKIP() << "needs root and BPF (load programs, create cgroups): run as root; CI does";   \
  } while (0)
