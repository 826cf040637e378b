// SPDX-License-Identifier: Apache-2.0
// Process, file and HTTP helpers of the privileged tests.
#include "harness.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char **environ;

namespace vigil::test {

namespace fs = std::filesystem;

TempDir::TempDir()
{
  std::string tmpl = (fs::temp_directory_path() / "vigil-test.XXXXXX").string();
  char *p = ::mkdtemp(tmpl.data());
  path_ = p ? p : "";
}

TempDir::~TempDir()
{
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string read_file(const std::string &path)
{
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string &path, const std::string &content)
{
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

Proc::Proc(const std::vector<std::string> &argv, const std::vector<std::string> &env)
{
  static int seq = 0;
  const std::string base = (fs::temp_directory_path() / ("vigil-proc-" + std::to_string(::getpid()) +
                                                          "-" + std::to_string(seq++)))
                               .string();
  out_file_ = base + ".out";
  err_file_ = base + ".err";
  std::vector<std::string> envs;
  for (char **e = environ; *e; ++e) {
    std::string kv(*e);
    bool overridden = false;
    for (const auto &o : env)
      if (kv.substr(0, kv.find('=') + 1) == o.substr(0, o.find('=') + 1))
        overridden = true;
    if (!overridden)
      envs.push_back(kv);
  }
  envs.insert(envs.end(), env.begin(), env.end());
  std::vector<char *> cargv, cenv;
  for (const auto &a : argv)
    cargv.push_back(const_cast<char *>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto &e : envs)
    cenv.push_back(const_cast<char *>(e.c_str()));
  cenv.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ == 0) {
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(out_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open(err_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::setpgid(0, 0);
    ::execvpe(cargv[0], cargv.data(), cenv.data());
    ::_exit(127);
  }
}

Proc::~Proc()
{
  if (!reaped_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  ::unlink(out_file_.c_str());
  ::unlink(err_file_.c_str());
}

void Proc::signal(int sig)
{
  if (!reaped_)
    ::kill(pid_, sig);
}

std::string Proc::err_so_far() const
{
  return read_file(err_file_);
}

bool Proc::wait_for_err(const std::string &needle, std::chrono::milliseconds timeout) const
{
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (err_so_far().find(needle) != std::string::npos)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

ProcResult Proc::wait(std::chrono::milliseconds timeout)
{
  ProcResult r;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int st = 0;
  while (true) {
    pid_t w = ::waitpid(pid_, &st, WNOHANG);
    if (w == pid_)
      break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &st, 0);
      r.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  reaped_ = true;
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.out = read_file(out_file_);
  r.err = read_file(err_file_);
  return r;
}

ProcResult run(const std::vector<std::string> &argv, const std::vector<std::string> &env,
               std::chrono::milliseconds timeout)
{
  Proc p(argv, env);
  return p.wait(timeout);
}

std::vector<nlohmann::json> read_json_lines(const std::string &path)
{
  std::vector<nlohmann::json> out;
  std::string text = read_file(path);
  // a line still being written (no newline yet) is read on the next call
  text.erase(text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1);
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty())
      out.push_back(nlohmann::json::parse(line));
  return out;
}

bool is_root()
{
  return ::geteuid() == 0;
}

std::string cgroup2_mount()
{
  std::istringstream in(read_file("/proc/self/mounts"));
  for (std::string line; std::getline(in, line);) {
    std::istringstream ss(line);
    std::string dev, dir, type;
    ss >> dev >> dir >> type;
    if (type == "cgroup2")
      return dir;
  }
  return {};
}

std::string http_get(const std::string &address, const std::string &path)
{
  ProcResult r = run({"curl", "-sf", "--max-time", "5", "http://" + address + path});
  return r.status == 0 ? r.out : std::string();
}

int free_port()
{
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

std::string plant_aws_canary(const std::string &home)
{
  const std::string path = home + "/.aws/credentials";
  write_file(path, "aws_secret_access_key = canary-" + std::to_string(::getpid()) + "\n");
  return path;
}

} // namespace vigil::test
