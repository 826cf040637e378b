// SPDX-License-Identifier: Apache-2.0
// fileprobe: one way of opening a file for reading, its outcome on stdout ("ok:<first line>" or
// the errno name), exit 0/1. The tests' "agent" for paths other than open(2):
//   fileprobe open PATH        openat(AT_FDCWD, PATH, O_RDONLY)
//   fileprobe openat2 PATH     openat2 with RESOLVE_NO_MAGICLINKS off (plain)
//   fileprobe handle PATH      name_to_handle_at + open_by_handle_at
//   fileprobe environ PID      read /proc/PID/environ
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

static int report(int fd)
{
  if (fd < 0) {
    std::printf("%s\n", strerrorname_np(errno));
    return 1;
  }
  char buf[256] = {};
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  if (n < 0) {
    std::printf("%s\n", strerrorname_np(errno));
    return 1;
  }
  for (ssize_t i = 0; i < n; ++i)
    if (buf[i] == '\n' || buf[i] == '\0')
      buf[i] = i + 1 < n ? ' ' : '\0';
  std::printf("ok:%s\n", buf);
  return 0;
}

int main(int argc, char **argv)
{
  if (argc != 3) {
    std::fprintf(stderr, "usage: fileprobe open|openat2|handle|environ ARG\n");
    return 2;
  }
  const std::string op = argv[1];
  const char *path = argv[2];
  if (op == "open")
    return report(openat(AT_FDCWD, path, O_RDONLY));
  if (op == "openat2") {
    open_how how{};
    how.flags = O_RDONLY;
    return report(static_cast<int>(syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how))));
  }
  if (op == "handle") {
    struct {
      file_handle fh;
      unsigned char data[MAX_HANDLE_SZ];
    } h{};
    h.fh.handle_bytes = MAX_HANDLE_SZ;
    int mount_id = 0;
    if (name_to_handle_at(AT_FDCWD, path, &h.fh, &mount_id, 0) != 0) {
      std::printf("%s\n", strerrorname_np(errno));
      return 1;
    }
    // The mount fd must be on the file's file system: its directory is.
    std::string dir(path);
    dir = dir.substr(0, dir.rfind('/'));
    int mfd = open(dir.empty() ? "/" : dir.c_str(), O_RDONLY | O_DIRECTORY);
    return report(open_by_handle_at(mfd, &h.fh, O_RDONLY));
  }
  if (op == "environ")
    return report(open((std::string("/proc/") + path + "/environ").c_str(), O_RDONLY));
  return 2;
}
