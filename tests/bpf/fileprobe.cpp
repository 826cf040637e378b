// SPDX-License-Identifier: Apache-2.0
// fileprobe: one way of opening a file for reading, its outcome on stdout ("ok:<first line>" or
// the errno name), exit 0/1. The tests' "agent" for paths other than open(2):
//   fileprobe open PATH        openat(AT_FDCWD, PATH, O_RDONLY)
//   fileprobe openat2 PATH     openat2 with RESOLVE_NO_MAGICLINKS off (plain)
//   fileprobe handle PATH      name_to_handle_at + open_by_handle_at
//   fileprobe environ PID      read /proc/PID/environ
//   fileprobe uring PATH       an io_uring IORING_OP_OPENAT (no open syscall at all)
#include <fcntl.h>
#include <linux/io_uring.h>
#include <linux/openat2.h>
#include <sys/mman.h>
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

// One IORING_OP_OPENAT through a raw ring (no liburing): setup, map, submit, wait, reap.
static int uring_open(const char *path)
{
  io_uring_params p{};
  int ring = static_cast<int>(syscall(__NR_io_uring_setup, 1, &p));
  if (ring < 0)
    return -1;
  const size_t sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  const size_t cq_len = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
  auto *sq = static_cast<char *>(
      mmap(nullptr, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED, ring, IORING_OFF_SQ_RING));
  auto *cq = static_cast<char *>(
      mmap(nullptr, cq_len, PROT_READ | PROT_WRITE, MAP_SHARED, ring, IORING_OFF_CQ_RING));
  auto *sqes = static_cast<io_uring_sqe *>(mmap(nullptr, p.sq_entries * sizeof(io_uring_sqe),
                                                PROT_READ | PROT_WRITE, MAP_SHARED, ring,
                                                IORING_OFF_SQES));
  if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED)
    return -1;
  io_uring_sqe *sqe = &sqes[0];
  std::memset(sqe, 0, sizeof(*sqe));
  sqe->opcode = IORING_OP_OPENAT;
  sqe->fd = AT_FDCWD;
  sqe->addr = reinterpret_cast<uint64_t>(path);
  sqe->open_flags = O_RDONLY;
  auto *tail = reinterpret_cast<unsigned *>(sq + p.sq_off.tail);
  auto *array = reinterpret_cast<unsigned *>(sq + p.sq_off.array);
  array[*tail & *reinterpret_cast<unsigned *>(sq + p.sq_off.ring_mask)] = 0;
  __atomic_store_n(tail, *tail + 1, __ATOMIC_RELEASE);
  if (syscall(__NR_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, nullptr, 0) < 0)
    return -1;
  auto *head = reinterpret_cast<unsigned *>(cq + p.cq_off.head);
  auto *cqes = reinterpret_cast<io_uring_cqe *>(cq + p.cq_off.cqes);
  const int res = cqes[*head & *reinterpret_cast<unsigned *>(cq + p.cq_off.ring_mask)].res;
  __atomic_store_n(head, *head + 1, __ATOMIC_RELEASE);
  if (res < 0) {
    errno = -res;
    return -1;
  }
  return res;
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
  if (op == "uring")
    return report(uring_open(path));
  if (op == "environ")
    return report(open((std::string("/proc/") + path + "/environ").c_str(), O_RDONLY));
  return 2;
}
