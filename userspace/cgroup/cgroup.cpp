// SPDX-License-Identifier: Apache-2.0
// cgroup v2 file-system operations.
#include "cgroup/cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "policy/profile.h"

namespace vigil::cgroup {

namespace fs = std::filesystem;

namespace {

// The mounts table escapes space, tab, newline and backslash as \ooo (octal).
std::string unescape_mount_field(const std::string &s)
{
  auto octal = [](char c) { return c >= '0' && c <= '7'; };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && octal(s[i + 1]) &&
        octal(s[i + 2]) && octal(s[i + 3])) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

} // namespace

Result<std::string> find_cgroup2_mount(const std::string &mounts_file)
{
  std::ifstream in(mounts_file);
  if (!in)
    return fail_errno(errno, "read " + mounts_file);
  for (std::string line; std::getline(in, line);) {
    std::istringstream ss(line);
    std::string dev, dir, type;
    ss >> dev >> dir >> type;
    if (type == "cgroup2")
      return unescape_mount_field(dir);
  }
  return fail("no cgroup2 file system is mounted (" + mounts_file +
              "); vigil needs cgroup v2: mount -t cgroup2 none /sys/fs/cgroup/unified");
}

size_t level_below(std::string_view mount, std::string_view dir)
{
  if (dir.starts_with(mount))
    dir.remove_prefix(mount.size());
  size_t level = 0;
  for (size_t pos = 0; pos < dir.size();) {
    size_t end = dir.find('/', pos);
    if (end == std::string_view::npos)
      end = dir.size();
    const std::string_view c = dir.substr(pos, end - pos);
    if (!c.empty() && c != ".")
      ++level;
    pos = end + 1;
  }
  return level;
}

Result<uint64_t> cgroup_id(const std::string &dir)
{
  struct stat st{};
  if (::stat(dir.c_str(), &st) != 0)
    return fail_errno(errno, "stat cgroup " + dir);
  return static_cast<uint64_t>(st.st_ino);
}

namespace {

// Where this process's cgroup namespace is rooted, as a path under the cgroup2 mount: "" when
// there is no namespace to account for (the mount shows "/" as its root, as on a host). In a
// namespace (a pod, `unshare --cgroup`) /proc/PID/cgroup paths are relative to that root, and
// the names above it are hidden behind ".."; the root is the cgroup this process sat in when the
// namespace was made, found once by looking for this process in the mount.
std::string namespace_root()
{
  std::string mount_point, root = "/";
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    const size_t dash = line.find(" - ");
    if (dash == std::string::npos || line.compare(dash + 3, 8, "cgroup2 ") != 0)
      continue;
    std::istringstream f(line.substr(0, dash));
    std::string id, parent, devno;
    f >> id >> parent >> devno >> root >> mount_point;
    break;
  }
  if (root == "/" || mount_point.empty())
    return {};
  auto own = [&]() -> std::string {
    std::ifstream self("/proc/self/cgroup");
    for (std::string line; std::getline(self, line);)
      if (line.rfind("0::", 0) == 0)
        return line.substr(3);
    return "/";
  }();
  const std::string me = std::to_string(::getpid());
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(mount_point, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_directory(ec))
      continue;
    std::ifstream procs(it->path() / "cgroup.procs");
    for (std::string pid; std::getline(procs, pid);)
      if (pid == me) {
        // This directory is `own` (relative to the namespace root): strip it to get the root.
        std::string dir = it->path().string().substr(mount_point.size());
        std::string rel = own == "/" ? std::string() : own;
        if (!rel.empty() && dir.size() >= rel.size() &&
            dir.compare(dir.size() - rel.size(), rel.size(), rel) == 0)
          dir.resize(dir.size() - rel.size());
        return dir.empty() ? "/" : dir;
      }
  }
  return {};
}

} // namespace

std::string host_cgroup_path(std::string_view ns_root, std::string_view ns_path)
{
  if (ns_root.empty() || ns_root == "/")
    return policy::normalize_path(ns_path);
  return policy::normalize_path(std::string(ns_root) + "/" + std::string(ns_path));
}

uint32_t nearest_agent(const std::map<std::string, uint32_t> &agents, std::string path)
{
  while (!path.empty()) {
    if (auto it = agents.find(path); it != agents.end())
      return it->second;
    const size_t slash = path.rfind('/');
    if (slash == 0 || slash == std::string::npos)
      break;
    path.resize(slash);
  }
  return 0;
}

Result<std::string> cgroup_of_pid(pid_t pid)
{
  const std::string file = "/proc/" + std::to_string(pid) + "/cgroup";
  std::ifstream in(file);
  if (!in)
    return fail_errno(errno, "read " + file);
  // Paths in /proc/PID/cgroup are relative to the reader's cgroup namespace.
  static const std::string root = namespace_root();
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("0::", 0) == 0)
      return root.empty() ? line.substr(3) : host_cgroup_path(root, line.substr(3));
  }
  return fail(file + " has no cgroup v2 entry");
}

Result<> create(const std::string &dir)
{
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    return fail_errno(ec.value(), "create cgroup " + dir);
  return {};
}

namespace {

Result<> write_file(const std::string &path, const std::string &value)
{
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return fail_errno(errno, "open " + path);
  ssize_t n = ::write(fd, value.data(), value.size());
  int err = errno;
  ::close(fd);
  if (n < 0)
    return fail_errno(err, "write '" + value + "' to " + path);
  return {};
}

// Sub-cgroups of dir, deepest first.
std::vector<std::string> subtree_deepest_first(const std::string &dir)
{
  std::vector<std::string> dirs;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec))
      dirs.push_back(it->path().string());
  }
  std::sort(dirs.begin(), dirs.end(),
            [](const std::string &a, const std::string &b) { return a.size() > b.size(); });
  dirs.push_back(dir);
  return dirs;
}

} // namespace

Result<> attach(const std::string &dir, pid_t pid)
{
  return write_file(dir + "/cgroup.procs", std::to_string(pid));
}

std::vector<pid_t> procs(const std::string &dir)
{
  std::vector<pid_t> out;
  std::ifstream in(dir + "/cgroup.procs");
  for (pid_t p; in >> p;)
    out.push_back(p);
  return out;
}

std::vector<pid_t> subtree_procs(const std::string &dir)
{
  std::vector<pid_t> out;
  for (const auto &d : subtree_deepest_first(dir))
    for (pid_t p : procs(d))
      out.push_back(p);
  return out;
}

Result<> set_frozen(const std::string &dir, bool on)
{
  return write_file(dir + "/cgroup.freeze", on ? "1" : "0");
}

namespace {
// The first whitespace-separated value after "key " in a cgroup key-value file, or the whole
// first line with an empty key.
Result<std::string> read_key(const std::string &path, std::string_view key)
{
  std::ifstream in(path);
  if (!in)
    return fail_errno(errno ? errno : ENOENT, "read " + path);
  for (std::string line; std::getline(in, line);) {
    if (key.empty())
      return line;
    if (line.size() > key.size() && line.compare(0, key.size(), key) == 0 &&
        line[key.size()] == ' ')
      return line.substr(key.size() + 1);
  }
  return fail_errno(ENOENT, std::string(key) + " in " + path);
}
} // namespace

Result<bool> freeze_requested(const std::string &dir)
{
  auto v = read_key(dir + "/cgroup.freeze", "");
  if (!v)
    return tl::unexpected(v.error());
  return *v == "1";
}

Result<bool> frozen(const std::string &dir)
{
  auto v = read_key(dir + "/cgroup.events", "frozen");
  if (!v)
    return tl::unexpected(v.error());
  return *v == "1";
}

Result<> kill_all(const std::string &dir)
{
  return write_file(dir + "/cgroup.kill", "1");
}

Result<> destroy(const std::string &dir, int timeout_ms)
{
  std::error_code ec;
  if (!fs::exists(dir, ec))
    return {};
  const auto dirs = subtree_deepest_first(dir);
  auto populated = [&] {
    for (const auto &d : dirs)
      if (!procs(d).empty())
        return true;
    return false;
  };
  if (populated() && !write_file(dir + "/cgroup.kill", "1")) {
    for (const auto &d : dirs) // kernels before 5.14 have no cgroup.kill
      for (pid_t p : procs(d))
        ::kill(p, SIGKILL);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (populated() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  for (const auto &d : dirs) {
    // rmdir can briefly fail with EBUSY while the last task's exit is still being accounted.
    int tries = 0;
    while (::rmdir(d.c_str()) != 0) {
      if (errno == ENOENT)
        break;
      if (errno != EBUSY || ++tries > 100)
        return fail_errno(errno, "remove cgroup " + d);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  return {};
}

std::vector<std::string> glob_dirs(const std::string &mount, const std::string &pattern)
{
  std::vector<std::string> out;
  std::string pat = pattern.empty() || pattern[0] != '/' ? "/" + pattern : pattern;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(mount, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_directory(ec) || it->is_symlink(ec))
      continue;
    std::string rel = it->path().string().substr(mount.size());
    if (policy::glob_match(pat, rel))
      out.push_back(it->path().string());
  }
  return out;
}

void Namer::add_root(const std::string &dir)
{
  roots_.push_back(dir);
  if (auto id = cgroup_id(dir)) {
    std::string rel = dir.substr(std::min(mount_.size(), dir.size()));
    root_names_[*id] = rel.empty() ? "/" : rel;
    cache_[*id] = root_names_[*id];
  }
}

void Namer::remember(uint64_t id, std::string name)
{
  if (cache_.size() >= max_cached_) {
    evictions_ += cache_.size() - std::min(cache_.size(), root_names_.size());
    cache_ = root_names_;
  }
  cache_[id] = std::move(name);
}

std::string Namer::name(uint64_t id)
{
  if (auto it = cache_.find(id); it != cache_.end())
    return it->second;
  for (const auto &root : roots_) {
    std::error_code ec;
    std::vector<std::string> dirs{root};
    for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
         it.increment(ec))
      if (it->is_directory(ec))
        dirs.push_back(it->path().string());
    for (const auto &d : dirs) {
      auto cid = cgroup_id(d);
      if (cid && *cid == id) {
        std::string rel = d.substr(std::min(mount_.size(), d.size()));
        if (rel.empty())
          rel = "/";
        remember(id, rel);
        return rel;
      }
    }
  }
  return {};
}

} // namespace vigil::cgroup
