// SPDX-License-Identifier: Apache-2.0
// Feature probes with hand-assembled two-instruction programs (r0 = K; exit): each probe loads,
// attaches, then closes everything, so a probe's answer is the kernel's own, errno included.
#include "loader/probe.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <sys/fanotify.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>

#include "cgroup/cgroup.h"
#include "common/unique_fd.h"

namespace vigil::loader {

namespace {

constexpr long kBpfFsMagic = 0xcafe4a11;
constexpr long kSecurityFsMagic = 0x73636673;
constexpr int kEnotsupp = 524; // kernel-internal ENOTSUPP, which bpf(2) leaks to userspace
constexpr const char *kLsmList = "/sys/kernel/security/lsm";

struct Insns {
  bpf_insn insn[2];
};

// r0 = ret; exit
Insns return_imm(int32_t ret)
{
  Insns p{};
  p.insn[0].code = BPF_ALU64 | BPF_MOV | BPF_K;
  p.insn[0].dst_reg = BPF_REG_0;
  p.insn[0].imm = ret;
  p.insn[1].code = BPF_JMP | BPF_EXIT;
  return p;
}

// "EPERM", or "errno N" for numbers glibc has no name for.
std::string errno_name(int err)
{
  if (err == kEnotsupp)
    return "ENOTSUPP";
  if (const char *n = ::strerrorname_np(err))
    return n;
  return "errno " + std::to_string(err);
}

// "ENAME (strerror)" for errors that need no further explanation.
std::string errno_text(int err)
{
  if (err == kEnotsupp)
    return "ENOTSUPP (operation not supported by this kernel)";
  return errno_name(err) + " (" + std::strerror(err) + ")";
}

Probe ok(std::string detail)
{
  return Probe{true, std::move(detail)};
}

Probe missing(std::string detail)
{
  return Probe{false, std::move(detail)};
}

// A program that failed to load or attach: errno, its meaning, and the verifier's last line.
Probe prog_failure(const std::string &step, int err, const std::string &meaning,
                   const char *log = nullptr)
{
  std::string d = errno_name(err) + ": " + (meaning.empty() ? std::strerror(err) : meaning) +
                  " (" + step + ")";
  if (log && *log) {
    std::string last(log);
    while (!last.empty() && last.back() == '\n')
      last.pop_back();
    if (auto nl = last.rfind('\n'); nl != std::string::npos)
      last = last.substr(nl + 1);
    d += "; verifier: " + last;
  }
  return missing(std::move(d));
}

// What an errno from loading or attaching a BPF LSM program means.
std::string lsm_meaning(int err, bool cgroup)
{
  switch (err) {
  case EPERM:
    return "the kernel refuses BPF trampoline programs (lsm/, fentry/): BPF LSM enforcement is "
           "unavailable";
  case EINVAL:
    return cgroup ? "the kernel rejects lsm_cgroup programs (needs 6.0+ with CONFIG_BPF_LSM)"
                  : "the kernel rejects BPF LSM programs (needs CONFIG_BPF_LSM=y)";
  case kEnotsupp:
  case EOPNOTSUPP:
    return "this kernel or architecture has no BPF trampoline";
  case E2BIG:
    return "the kernel does not know this program type (too old for BPF LSM)";
  default:
    return {};
  }
}

std::string cgroup_prog_meaning(int err)
{
  switch (err) {
  case EPERM:
    return "the kernel refuses cgroup BPF programs (needs CAP_NET_ADMIN and CAP_BPF)";
  case EINVAL:
    return "the kernel rejects this cgroup program or attach type (CONFIG_CGROUP_BPF off?)";
  default:
    return {};
  }
}

struct LoadSpec {
  bpf_prog_type type;
  bpf_attach_type attach;
  const char *name;
  int32_t ret;
  uint32_t attach_btf_id = 0;
};

// Loads a two-instruction program; on failure returns -errno and fills log.
int load_prog(const LoadSpec &s, char *log, uint32_t log_size)
{
  const Insns p = return_imm(s.ret);
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = s.attach,
              .attach_btf_id = s.attach_btf_id, .log_level = 1, .log_size = log_size,
              .log_buf = log);
  int fd = bpf_prog_load(s.type, s.name, "GPL", p.insn, 2, &opts);
  return fd >= 0 ? fd : -errno;
}

// A cgroup created for the probes and removed, with its parent when we created that too.
class TempCgroup {
public:
  explicit TempCgroup(const std::string &mount)
  {
    const std::string parent = mount + "/vigil";
    if (::mkdir(parent.c_str(), 0755) == 0)
      created_parent_ = parent;
    else if (errno != EEXIST) {
      err_ = errno;
      return;
    }
    path_ = parent + "/probe-" + std::to_string(::getpid());
    if (::mkdir(path_.c_str(), 0755) != 0 && errno != EEXIST) {
      err_ = errno;
      path_.clear();
      return;
    }
    fd_.reset(::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd_)
      err_ = errno;
  }
  ~TempCgroup()
  {
    fd_.reset();
    if (!path_.empty())
      ::rmdir(path_.c_str());
    if (!created_parent_.empty())
      ::rmdir(created_parent_.c_str()); // fails harmlessly if someone else uses it by now
  }
  TempCgroup(const TempCgroup &) = delete;
  TempCgroup &operator=(const TempCgroup &) = delete;

  int fd() const { return fd_.get(); }
  // Why the cgroup could not be made, for the details of the probes that needed it.
  std::string error() const
  {
    return "cannot create a probe cgroup: " + errno_text(err_);
  }

private:
  std::string path_;
  std::string created_parent_;
  UniqueFd fd_;
  int err_ = 0;
};

Probe probe_btf(const btf *vmlinux, int load_err)
{
  if (!vmlinux)
    return missing("/sys/kernel/btf/vmlinux: " + errno_text(load_err) +
                   ": vigil's programs are CO-RE and need CONFIG_DEBUG_INFO_BTF=y");
  return ok("/sys/kernel/btf/vmlinux (" + std::to_string(btf__type_cnt(vmlinux)) + " types)");
}

Probe probe_bpffs()
{
  struct statfs st{};
  if (::statfs("/sys/fs/bpf", &st) == 0 && static_cast<long>(st.f_type) == kBpfFsMagic)
    return ok("mounted on /sys/fs/bpf");
  return missing("not mounted on /sys/fs/bpf (vigil mounts it when it starts)");
}

std::string read_first_line(const std::string &path, int &err)
{
  std::ifstream in(path);
  if (!in) {
    err = errno;
    return {};
  }
  std::string line;
  std::getline(in, line);
  err = 0;
  return line;
}

// Reads the active LSM list, mounting securityfs for the read when it is not mounted.
Probe probe_securityfs_lsm()
{
  int err = 0;
  std::string list = read_first_line(kLsmList, err);
  if (err == 0)
    return ok(list);
  struct statfs st{};
  const bool mounted = ::statfs("/sys/kernel/security", &st) == 0 &&
                       static_cast<long>(st.f_type) == kSecurityFsMagic;
  if (mounted || err != ENOENT)
    return missing(std::string(kLsmList) + ": " + errno_text(err));
  if (::mount("securityfs", "/sys/kernel/security", "securityfs", 0, nullptr) != 0)
    return missing("securityfs is not mounted and mounting it failed: " + errno_text(errno));
  list = read_first_line(kLsmList, err);
  ::umount2("/sys/kernel/security", MNT_DETACH);
  if (err != 0)
    return missing(std::string(kLsmList) + ": " + errno_text(err) +
                   " (kernel without CONFIG_SECURITY?)");
  return ok(list);
}

Probe probe_bpf_lsm_listed(const Probe &lsm_list)
{
  if (!lsm_list.ok)
    return missing("cannot tell whether the bpf LSM is active: the LSM list is unreadable");
  std::istringstream ss(lsm_list.detail);
  for (std::string name; std::getline(ss, name, ',');)
    if (name == "bpf")
      return ok("bpf is in " + std::string(kLsmList));
  return missing("bpf not in " + std::string(kLsmList) + " (" + lsm_list.detail +
                 "): boot with lsm=" + lsm_list.detail + ",bpf");
}

// The BTF id of the file_open LSM hook (bpf_lsm_file_open). Looked up here rather than with
// libbpf_find_vmlinux_btf_id("file_open", BPF_LSM_MAC) (libbpf 1.1 adds the bpf_lsm_ prefix
// itself) to parse vmlinux BTF once and to keep libbpf's "not found" warning out of the output.
int file_open_btf_id(const btf *vmlinux)
{
  return vmlinux ? btf__find_by_name_kind(vmlinux, "bpf_lsm_file_open", BTF_KIND_FUNC) : -ENOENT;
}

Probe lsm_hook_missing(const btf *vmlinux)
{
  if (!vmlinux)
    return missing("needs kernel BTF to find the LSM hook");
  return missing("bpf_lsm_file_open is not in the kernel's BTF: built without CONFIG_BPF_LSM");
}

Probe probe_lsm_prog(const btf *vmlinux)
{
  const int btf_id = file_open_btf_id(vmlinux);
  if (btf_id < 0)
    return lsm_hook_missing(vmlinux);
  char log[4096] = "";
  const LoadSpec spec{BPF_PROG_TYPE_LSM, BPF_LSM_MAC, "vg_probe_lsm", 0,
                      static_cast<uint32_t>(btf_id)};
  int fd = load_prog(spec, log, sizeof(log));
  if (fd < 0)
    return prog_failure("load lsm/file_open", -fd, lsm_meaning(-fd, false), log);
  UniqueFd prog(fd);
  // The raw tracepoint open attaches LSM programs on every kernel since 5.7; bpf_link_create
  // learned them only later.
  UniqueFd link(bpf_raw_tracepoint_open(nullptr, prog.get()));
  if (!link)
    return prog_failure("attach lsm/file_open", errno, lsm_meaning(errno, false));
  return ok("lsm/file_open loaded and attached (detached again)");
}

Probe probe_lsm_cgroup(const btf *vmlinux, const TempCgroup *cg)
{
  const int btf_id = file_open_btf_id(vmlinux);
  if (btf_id < 0)
    return lsm_hook_missing(vmlinux);
  if (!cg || cg->fd() < 0)
    return missing(cg ? cg->error() : "no cgroup2 mount to attach to");
  char log[4096] = "";
  // lsm_cgroup programs return 1 to allow, 0 to deny.
  const LoadSpec spec{BPF_PROG_TYPE_LSM, BPF_LSM_CGROUP, "vg_probe_lsmcg", 1,
                      static_cast<uint32_t>(btf_id)};
  int fd = load_prog(spec, log, sizeof(log));
  if (fd < 0)
    return prog_failure("load lsm_cgroup/file_open", -fd, lsm_meaning(-fd, true), log);
  UniqueFd prog(fd);
  int link = bpf_link_create(prog.get(), cg->fd(), BPF_LSM_CGROUP, nullptr);
  if (link < 0)
    return prog_failure("attach lsm_cgroup/file_open", -link, lsm_meaning(-link, true));
  UniqueFd closer(link);
  return ok("lsm_cgroup/file_open loaded and attached to a probe cgroup (detached again)");
}

Probe probe_cgroup_prog(const TempCgroup *cg, bpf_prog_type type, bpf_attach_type attach,
                        const char *name, const std::string &section)
{
  if (!cg || cg->fd() < 0)
    return missing(cg ? cg->error() : "no cgroup2 mount to attach to");
  char log[4096] = "";
  // cgroup sock_addr and skb programs return 1 to allow.
  int fd = load_prog(LoadSpec{type, attach, name, 1}, log, sizeof(log));
  if (fd < 0)
    return prog_failure("load " + section, -fd, cgroup_prog_meaning(-fd), log);
  UniqueFd prog(fd);
  int link = bpf_link_create(prog.get(), cg->fd(), attach, nullptr);
  if (link < 0)
    return prog_failure("attach " + section, -link, cgroup_prog_meaning(-link));
  UniqueFd closer(link);
  return ok(section + " loaded and attached to a probe cgroup (detached again)");
}

Probe probe_ringbuf()
{
  const auto page = static_cast<uint32_t>(::sysconf(_SC_PAGESIZE));
  int fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "vg_probe_rb", 0, 0, page, nullptr);
  if (fd < 0) {
    const int err = errno;
    return missing(errno_name(err) + ": " +
                   (err == EINVAL ? std::string("no BPF ring buffer (kernel older than 5.8)")
                                  : std::string(std::strerror(err))));
  }
  UniqueFd closer(fd);
  return ok("BPF_MAP_TYPE_RINGBUF created");
}

Probe probe_bpf_loop()
{
  int r = libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_loop, nullptr);
  if (r == 1)
    return ok("bpf_loop available to tracepoint programs");
  if (r == 0)
    return missing("no bpf_loop helper (kernel older than 5.17): vigil's path walk needs it");
  return missing("cannot probe bpf_loop: " + errno_text(-r));
}

std::string fanotify_meaning(int err, bool mark)
{
  switch (err) {
  case ENOSYS:
    return "kernel built without CONFIG_FANOTIFY";
  case EINVAL:
    return "kernel built without CONFIG_FANOTIFY_ACCESS_PERMISSIONS";
  case EPERM:
    return "needs CAP_SYS_ADMIN";
  default:
    return mark ? "this file system refuses permission marks" : std::strerror(err);
  }
}

Probe probe_fanotify_perm()
{
  const int group = ::fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY);
  if (group < 0)
    return missing(errno_name(errno) + ": fanotify_init(FAN_CLASS_CONTENT) refused: " +
                   fanotify_meaning(errno, false));
  UniqueFd fan(group);
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::temp_directory_path(ec);
  std::string file = ((ec ? std::filesystem::path("/tmp") : dir) / "vigil-probe-XXXXXX").string();
  UniqueFd tmp(::mkstemp(file.data()));
  if (!tmp)
    return missing("cannot create a file to mark: " + errno_text(errno));
  const int rc = ::fanotify_mark(fan.get(), FAN_MARK_ADD, FAN_OPEN_PERM, AT_FDCWD, file.c_str());
  const int err = errno;
  fan.reset(); // closing the group removes the mark (and allows anything it held)
  ::unlink(file.c_str());
  if (rc != 0)
    return missing(errno_name(err) + ": FAN_OPEN_PERM mark on " + file +
                   " refused: " + fanotify_meaning(err, true));
  return ok("FAN_CLASS_CONTENT group with a FAN_OPEN_PERM mark on a temporary file");
}

// The probes that attach to a cgroup share one temporary cgroup, removed before returning.
void probe_cgroup_attach(Features &f, const btf *vmlinux, const char *cgroup2_mount)
{
  std::unique_ptr<TempCgroup> cg;
  if (cgroup2_mount)
    cg = std::make_unique<TempCgroup>(cgroup2_mount);
  f.lsm_cgroup = probe_lsm_cgroup(vmlinux, cg.get());
  f.cgroup_sock_addr = probe_cgroup_prog(cg.get(), BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
                                         BPF_CGROUP_INET4_CONNECT, "vg_probe_conn4",
                                         "cgroup/connect4");
  f.cgroup_skb = probe_cgroup_prog(cg.get(), BPF_PROG_TYPE_CGROUP_SKB, BPF_CGROUP_INET_EGRESS,
                                   "vg_probe_skb", "cgroup_skb/egress");
}

// Why the BPF LSM tier is out: the LSM list, the program probe, or both.
std::string lsm_unavailable(const Features &f)
{
  std::string why = "lsm tier unavailable: ";
  if (!f.bpf_lsm_listed.ok)
    why += f.bpf_lsm_listed.detail;
  if (!f.bpf_lsm_listed.ok && !f.lsm_prog.ok)
    why += "; ";
  if (!f.lsm_prog.ok)
    why += f.lsm_prog.detail;
  return why;
}

} // namespace

void choose_tiers(Features &f)
{
  const bool lsm = f.bpf_lsm_listed.ok && f.lsm_prog.ok;
  if (lsm) {
    f.file_tier = f.net_tier = Tier::lsm;
    f.file_reason = f.net_reason = "bpf is an active LSM and lsm/file_open loads and attaches";
    return;
  }
  const std::string no_lsm = lsm_unavailable(f);
  if (f.fanotify_perm.ok) {
    f.file_tier = Tier::fallback;
    f.file_reason = no_lsm + "; fanotify permission events work";
  } else {
    f.file_tier = Tier::monitor;
    f.file_reason = no_lsm + "; no fanotify permission events: " + f.fanotify_perm.detail;
  }
  if (f.cgroup_sock_addr.ok) {
    f.net_tier = Tier::fallback;
    f.net_reason = no_lsm + "; cgroup sock_addr programs attach";
  } else {
    f.net_tier = Tier::monitor;
    f.net_reason = no_lsm + "; no cgroup sock_addr programs: " + f.cgroup_sock_addr.detail;
  }
}

namespace {
std::mutex g_btf_mu;
std::shared_ptr<const btf> g_btf;
int g_btf_err = 0;
} // namespace

std::shared_ptr<const btf> kernel_btf()
{
  std::lock_guard lock(g_btf_mu);
  if (!g_btf) {
    btf *b = btf__load_vmlinux_btf();
    g_btf_err = b ? 0 : errno;
    if (b)
      g_btf = std::shared_ptr<const btf>(b, [](const btf *p) { btf__free(const_cast<btf *>(p)); });
  }
  errno = g_btf_err;
  return g_btf;
}

void drop_kernel_btf()
{
  std::lock_guard lock(g_btf_mu);
  g_btf.reset();
}

Features probe_features()
{
  Features f;
  struct utsname u{};
  if (::uname(&u) == 0)
    f.kernel_release = u.release;

  const std::shared_ptr<const btf> kernel = kernel_btf();
  const int btf_err = kernel ? 0 : errno;
  const btf *vmlinux = kernel.get();
  f.btf = probe_btf(vmlinux, btf_err);

  auto mount = cgroup::find_cgroup2_mount();
  f.cgroup2 = mount ? ok(*mount) : missing(mount.error().message());
  f.bpffs = probe_bpffs();
  f.securityfs_lsm = probe_securityfs_lsm();
  f.bpf_lsm_listed = probe_bpf_lsm_listed(f.securityfs_lsm);
  f.lsm_prog = probe_lsm_prog(vmlinux);
  probe_cgroup_attach(f, vmlinux, mount ? mount->c_str() : nullptr);
  f.ringbuf = probe_ringbuf();
  f.bpf_loop = probe_bpf_loop();
  f.fanotify_perm = probe_fanotify_perm();
  choose_tiers(f);
  return f;
}

std::string_view tier_name(Tier t, bool file)
{
  switch (t) {
  case Tier::lsm:
    return "lsm";
  case Tier::fallback:
    return file ? "fanotify" : "cgroup";
  case Tier::monitor:
    break;
  }
  return "monitor";
}

std::vector<Protection> self_protection(bool lsm)
{
  if (lsm)
    return {
        {"cgroup_escape", "refused", "cgroupfs writes and mkdir outside the agent's subtree"},
        {"clone_into_cgroup", "refused", "clone3(CLONE_INTO_CGROUP) by an agent"},
        {"bpf", "refused", "the bpf() syscall"},
        {"bpffs", "refused", "writes, unlink and rename on a bpffs (pinned programs and maps)"},
        {"signal", "refused", "signals to tasks outside the agent's subtree"},
        {"mount", "refused", "mount, umount, move_mount, pivot_root outside the agent's own "
                             "user and mount namespaces"},
        {"module", "refused", "module, kexec and firmware loads"},
        {"sysctl", "refused", "writes under /proc/sys and to /proc/sysrq-trigger"},
        {"process_memory", "refused", "ptrace and /proc/PID/mem|environ of tasks outside"},
        {"event_flood", "rate-limited", "observation events over limits.events_per_second"},
    };
  return {
      {"cgroup_escape", "killed", "a move out of the subtree kills the mover (and the moved task)"},
      {"clone_into_cgroup", "killed", "the parent and the child are killed"},
      {"bpf", "none", "vigil run's launch filter refuses bpf() (alerted); daemon mode: only "
                      "with syscall_tracepoints, which kill the caller before bpf() returns"},
      {"bpffs", "none", "vigil run mounts /sys read-only for its agent; daemon mode: nothing"},
      {"signal", "killed", "the sender dies, but the signal is delivered (SIGKILL of the daemon "
                           "takes effect; pinned enforcement stays)"},
      {"mount", "none", "vigil run drops CAP_SYS_ADMIN and locks its mounts; daemon mode: "
                        "nothing"},
      {"module", "none", "vigil run drops CAP_SYS_MODULE and filters the calls; daemon mode: "
                         "nothing"},
      {"sysctl", "none", "vigil run mounts /proc/sys read-only; daemon mode: nothing"},
      {"process_memory", "none", "vigil is not dumpable and vigil run drops CAP_SYS_PTRACE; a "
                                 "root agent with CAP_SYS_PTRACE in daemon mode reads it"},
      {"event_flood", "rate-limited", "observation events over limits.events_per_second"},
  };
}

} // namespace vigil::loader
