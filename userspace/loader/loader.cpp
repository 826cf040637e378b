// SPDX-License-Identifier: Apache-2.0
// Skeleton lifecycle: open -> set ring size -> load -> attach -> ring reader.
#include "loader/loader.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcntl.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <cstdarg>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "common/unique_fd.h"
#include "loader/probe.h"
#include "vigil/abi.h"
#include "vigil_bpf.skel.h"

namespace vigil::loader {

namespace {

bool kernel_has_path_hooks()
{
  const std::shared_ptr<const btf> vmlinux = kernel_btf();
  return vmlinux && btf__find_by_name_kind(vmlinux.get(), "bpf_lsm_path_link", BTF_KIND_FUNC) > 0 &&
         btf__find_by_name_kind(vmlinux.get(), "bpf_lsm_path_rename", BTF_KIND_FUNC) > 0;
}

// Value of enumerator `name` of the kernel's enum bpf_attach_type, or -1.
int kernel_attach_type(const btf *vmlinux, const char *name)
{
  const int id = btf__find_by_name_kind(vmlinux, "bpf_attach_type", BTF_KIND_ENUM);
  if (id <= 0)
    return -1;
  const btf_type *t = btf__type_by_id(vmlinux, id);
  const struct btf_enum *e = btf_enum(t);
  for (int i = 0; i < btf_vlen(t); ++i, ++e)
    if (std::strcmp(btf__name_by_offset(vmlinux, e->name_off), name) == 0)
      return e->val;
  return -1;
}

// VIGIL_VERIFIER_STATS=1: the verifier's own account of each program it checked (log level
// BPF_LOG_STATS), one info line each and a total, to see what loading costs on a kernel.
bool verifier_stats_wanted()
{
  const char *v = std::getenv("VIGIL_VERIFIER_STATS");
  return v && *v && std::strcmp(v, "0") != 0;
}

struct VerifierTotal {
  std::mutex mu;
  uint64_t usec = 0, insns = 0;
  int programs = 0;
};
VerifierTotal &verifier_total()
{
  static VerifierTotal t;
  return t;
}

// With VIGIL_VERIFIER_STATS: asks the verifier for its counts on every program of obj and starts
// a new total. Returns whether it did (verifier_stats_end then logs the total).
bool verifier_stats_begin(bpf_object *obj)
{
  if (!verifier_stats_wanted())
    return false;
  bpf_program *prog;
  bpf_object__for_each_program(prog, obj)
  {
    bpf_program__set_log_level(prog, 4); // BPF_LOG_STATS: the counts, not the trace
  }
  VerifierTotal &t = verifier_total();
  std::lock_guard lock(t.mu);
  t.usec = t.insns = 0;
  t.programs = 0;
  return true;
}

void verifier_stats_end()
{
  VerifierTotal &t = verifier_total();
  std::lock_guard lock(t.mu);
  spdlog::info("verifier: {} programs, {} instructions checked in {} ms", t.programs, t.insns,
               t.usec / 1000);
}

// A successful load's log at BPF_LOG_STATS, as libbpf hands it on: "prog 'NAME': -- BEGIN PROG
// LOAD LOG --", then "verification time N usec" and "processed N insns ... total_states N".
bool verifier_stats_line(const std::string &msg)
{
  const auto begin = msg.find("prog '");
  const auto time = msg.find("verification time ");
  const auto processed = msg.find("processed ");
  if (begin == std::string::npos || time == std::string::npos || processed == std::string::npos)
    return false;
  const auto name_end = msg.find('\'', begin + 6);
  if (name_end == std::string::npos)
    return false;
  const std::string name = msg.substr(begin + 6, name_end - begin - 6);
  const uint64_t usec = std::strtoull(msg.c_str() + time + 18, nullptr, 10);
  const uint64_t insns = std::strtoull(msg.c_str() + processed + 10, nullptr, 10);
  const auto states_at = msg.find("total_states ");
  const uint64_t states =
      states_at == std::string::npos ? 0 : std::strtoull(msg.c_str() + states_at + 13, nullptr, 10);
  spdlog::info("verifier: {} checked {} instructions, {} states, in {} µs", name, insns, states,
               usec);
  VerifierTotal &t = verifier_total();
  std::lock_guard lock(t.mu);
  t.usec += usec;
  t.insns += insns;
  ++t.programs;
  return true;
}

int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
  // Whole messages: a verifier log arrives as one message of many kilobytes, and its end (the
  // reason) is what matters.
  va_list again;
  va_copy(again, args);
  const int n = std::vsnprintf(nullptr, 0, fmt, args);
  std::string buf(n > 0 ? static_cast<size_t>(n) + 1 : 1, '\0');
  std::vsnprintf(buf.data(), buf.size(), fmt, again);
  va_end(again);
  buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
  while (!buf.empty() && buf.back() == '\n')
    buf.pop_back();
  switch (level) {
  case LIBBPF_WARN:
    spdlog::warn("libbpf: {}", buf);
    break;
  case LIBBPF_INFO:
    spdlog::debug("libbpf: {}", buf);
    break;
  case LIBBPF_DEBUG:
    if (!verifier_stats_line(buf))
      spdlog::trace("libbpf: {}", buf);
    break;
  }
  return n;
}

using KeyBytes = std::vector<uint8_t>;

// A map key as bytes, to remember which keys a replacement wrote.
template <typename Key> KeyBytes key_bytes(const Key &key)
{
  const auto *b = reinterpret_cast<const uint8_t *>(&key);
  return KeyBytes(b, b + sizeof(key));
}

// After a replacement wrote `fresh`: deletes the keys of `old` it did not write again, and
// remembers `fresh` as the map's keys.
void drop_stale_keys(bpf_map *map, std::vector<KeyBytes> &old, std::vector<KeyBytes> fresh)
{
  for (const auto &k : old)
    if (std::find(fresh.begin(), fresh.end(), k) == fresh.end())
      bpf_map__delete_elem(map, k.data(), k.size(), 0);
  old = std::move(fresh);
}

// Detaches links concurrently. Closing a tracepoint's perf link waits for an RCU grace period
// in the kernel (60-110 ms each on this host, measured), so thirteen of them one after another
// held `vigil run`'s exit for about a second; closed together they share the wait.
void destroy_links(std::vector<bpf_link *> links)
{
  std::erase(links, nullptr);
  std::vector<std::thread> threads;
  threads.reserve(links.size());
  for (bpf_link *link : links)
    threads.emplace_back([link]() noexcept { bpf_link__destroy(link); });
  for (auto &t : threads)
    t.join();
}

} // namespace

std::optional<UnixAttachTypes> kernel_cgroup_unix_hooks()
{
  const std::shared_ptr<const btf> vmlinux = kernel_btf();
  if (!vmlinux)
    return std::nullopt;
  const int connect = kernel_attach_type(vmlinux.get(), "BPF_CGROUP_UNIX_CONNECT");
  const int sendmsg = kernel_attach_type(vmlinux.get(), "BPF_CGROUP_UNIX_SENDMSG");
  if (connect < 0 || sendmsg < 0)
    return std::nullopt;
  return UnixAttachTypes{connect, sendmsg};
}

Result<size_t> unload_pinned(const std::string &pin_dir)
{
  std::error_code ec;
  if (!std::filesystem::exists(pin_dir, ec))
    return size_t{0};
  const auto n = std::filesystem::remove_all(pin_dir, ec);
  if (ec)
    return fail_errno(ec.value(), "remove " + pin_dir);
  return static_cast<size_t>(n);
}

void route_libbpf_logs()
{
  libbpf_set_print(libbpf_print);
}

namespace {

// A pinned object's fd reads as its bpffs path, not as "anon_inode:bpf_link": what it is shows
// in its fdinfo (a link's names its link_id).
bool fdinfo_says_link(int fd)
{
  std::ifstream in("/proc/self/fdinfo/" + std::to_string(fd));
  for (std::string line; std::getline(in, line);)
    if (line.rfind("link_id:", 0) == 0)
      return true;
  return false;
}

// The pin directory decides what a start adopts: whoever may write it could plant a link that
// makes vigil believe enforcement is attached (and attach none), or swap the ring the adopted
// programs write to (their denials then alert nowhere). So it must be root's alone: a directory
// owned by uid 0, writable by nobody else, under parents owned by root that others cannot write
// (a sticky directory such as bpffs's 1777 root excepted). One that is not is removed with
// whatever it holds, nothing of it adopted, and made again (mode 0700).
bool root_only(const struct stat &st)
{
  return st.st_uid == 0 && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

Result<> own_pin_dir(const std::string &dir, std::vector<std::string> &notes)
{
  namespace fs = std::filesystem;
  const fs::path path = fs::path(dir).lexically_normal();
  for (fs::path p = path.parent_path(); !p.empty(); p = p.parent_path()) {
    struct stat st{};
    if (::lstat(p.c_str(), &st) == 0) {
      if (S_ISLNK(st.st_mode))
        return fail("the pin directory's parent " + p.string() +
                    " is a symbolic link: name the real directory in pin_dir");
      if (!root_only(st) && !(st.st_uid == 0 && (st.st_mode & S_ISVTX)))
        return fail("the pin directory's parent " + p.string() +
                    " is not root's alone (another user could replace what vigil pins)");
    }
    if (p == p.root_path())
      break;
  }
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec)
    return fail_errno(ec.value(), "create " + path.parent_path().string());
  for (int attempt = 0; attempt < 2; ++attempt) {
    struct stat st{};
    if (::lstat(path.c_str(), &st) != 0) {
      if (errno != ENOENT)
        return fail_errno(errno, "stat pin directory " + dir);
      if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
        return fail_errno(errno, "create pin directory " + dir);
      continue; // made (or raced): looked at again
    }
    if (S_ISDIR(st.st_mode) && root_only(st))
      break;
    notes.push_back(fmt::format("the pin directory {} was not root's alone (owner uid {}, mode "
                                "{:o}): nothing in it was adopted; it was removed and made again",
                                dir, st.st_uid, st.st_mode & 07777));
    spdlog::warn("{}", notes.back());
    fs::remove_all(path, ec);
    if (ec)
      return fail_errno(ec.value(), "remove the untrusted pin directory " + dir);
  }
  struct stat st{};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || !root_only(st))
    return fail("the pin directory " + dir + " is not root's alone after vigil made it again "
                "(another user keeps making it): stopped, nothing attached");
  const std::string links = dir + "/links";
  if (::mkdir(links.c_str(), 0700) != 0 && errno != EEXIST)
    return fail_errno(errno, "create pin directory " + links);
  return {};
}

// A map another build pinned in a shape this build's object does not have (type, key or value
// size, entries, flags: a layout changed between versions). libbpf refuses to reuse such a map,
// and the load failed: the daemon could not start over that pin set, and in tier 2 its fanotify
// group (the credential files' enforcement) went with it until someone ran `vigil unload`.
// Returns what differs for the first such map, or "" when every pinned map fits.
std::string pinned_shape_mismatch(bpf_object *obj)
{
  bpf_map *m;
  bpf_object__for_each_map(m, obj)
  {
    const char *path = bpf_map__pin_path(m);
    if (!path)
      continue;
    UniqueFd fd(bpf_obj_get(path));
    if (!fd)
      continue; // nothing pinned there: made afresh
    bpf_map_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0)
      return fmt::format("{} is not a map vigil can read", path);
    if (info.type != static_cast<uint32_t>(bpf_map__type(m)) ||
        info.key_size != bpf_map__key_size(m) || info.value_size != bpf_map__value_size(m) ||
        info.max_entries != bpf_map__max_entries(m) || info.map_flags != bpf_map__map_flags(m))
      return fmt::format("{} is type {}, key {} B, value {} B, {} entries, flags {:#x}; this "
                         "build's is type {}, key {} B, value {} B, {} entries, flags {:#x}",
                         path, info.type, info.key_size, info.value_size, info.max_entries,
                         info.map_flags, static_cast<uint32_t>(bpf_map__type(m)),
                         bpf_map__key_size(m), bpf_map__value_size(m), bpf_map__max_entries(m),
                         bpf_map__map_flags(m));
  }
  return "";
}

// What adoption needs: links/vg_exec is a BPF link, and its program reports to the ring and the
// counters pinned beside it, which this instance reads. A pin set left half-made by a crash, or
// a ring replaced by a root process, fails this: its programs would report where nobody reads.
bool pins_consistent(const std::string &dir)
{
  UniqueFd link(bpf_obj_get((dir + "/links/vg_exec").c_str()));
  UniqueFd ring(bpf_obj_get((dir + "/vg_events").c_str()));
  UniqueFd stats(bpf_obj_get((dir + "/vg_stats").c_str()));
  if (!link || !ring || !stats || !fdinfo_says_link(link.get()))
    return false;
  bpf_link_info li{};
  uint32_t len = sizeof(li);
  bpf_map_info ri{}, si{};
  uint32_t rlen = sizeof(ri), slen = sizeof(si);
  if (bpf_obj_get_info_by_fd(link.get(), &li, &len) != 0 ||
      bpf_obj_get_info_by_fd(ring.get(), &ri, &rlen) != 0 ||
      bpf_obj_get_info_by_fd(stats.get(), &si, &slen) != 0 || ri.type != BPF_MAP_TYPE_RINGBUF)
    return false;
  UniqueFd prog(bpf_prog_get_fd_by_id(li.prog_id));
  if (!prog)
    return false;
  std::array<uint32_t, 64> ids{};
  bpf_prog_info pi{};
  pi.nr_map_ids = ids.size();
  pi.map_ids = reinterpret_cast<uint64_t>(ids.data());
  uint32_t plen = sizeof(pi);
  if (bpf_obj_get_info_by_fd(prog.get(), &pi, &plen) != 0)
    return false;
  const auto used = std::span(ids).first(std::min<size_t>(pi.nr_map_ids, ids.size()));
  return std::find(used.begin(), used.end(), ri.id) != used.end() &&
         std::find(used.begin(), used.end(), si.id) != used.end();
}

// The event ring's size for this start: the one asked for, or the size of the ring an earlier
// instance pinned (its programs, adopted, write to that map, and libbpf reuses a pinned map only
// when its size is the object's).
Result<uint32_t> ring_size(const Options &opts)
{
  const uint32_t want = opts.ringbuf_bytes;
  const auto page = static_cast<uint32_t>(::sysconf(_SC_PAGESIZE));
  if (want < kRingMin || want > kRingMax || (want & (want - 1)) != 0 || want % page != 0)
    return fail("event ring size " + std::to_string(want) +
                " is not a power of two between 256KiB and 256MiB");
  if (opts.pin_dir.empty())
    return want;
  const std::string path = opts.pin_dir + "/vg_events";
  UniqueFd fd(bpf_obj_get(path.c_str()));
  if (!fd)
    return want; // nothing pinned yet (or not readable: the load says why)
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0 || info.type != BPF_MAP_TYPE_RINGBUF)
    return want;
  if (info.max_entries != want)
    spdlog::info("the event ring pinned under {} is {} KiB (asked for {} KiB): kept, its "
                 "programs write to it; `vigil unload` before a start resizes it",
                 opts.pin_dir, info.max_entries >> 10, want >> 10);
  return info.max_entries;
}

} // namespace

Result<std::unique_ptr<Loader>> Loader::start(const Options &opts, SampleFn on_sample)
{
  // The kernel's BTF the probes parsed serves this start's questions, then goes (5 MiB).
  struct DropBtf {
    ~DropBtf() { drop_kernel_btf(); }
  } drop_btf;
  std::unique_ptr<Loader> l(new Loader());
  l->sample_ = std::move(on_sample);
  l->opts_ = opts;
  l->skel_ = vigil_bpf__open();
  if (!l->skel_)
    return fail_errno(errno, "open BPF object");
  const auto &p = l->skel_->progs;
  const std::vector<bpf_program *> sock_addr{p.vg_cg_connect4, p.vg_cg_connect6, p.vg_cg_sendmsg4,
                                             p.vg_cg_sendmsg6};
  const std::vector<bpf_program *> lsm_global{p.vg_file_open,     p.vg_sock_connect,
                                              p.vg_sock_sendmsg,  p.vg_ptrace_check,
                                              p.vg_unix_connect,  p.vg_unix_send,
                                              p.vg_sock_create};
  const std::vector<bpf_program *> lsm_cgroup{p.vg_lc_file_open, p.vg_lc_sock_conn,
                                              p.vg_lc_sock_send, p.vg_lc_ptrace,
                                              p.vg_lc_unix_conn, p.vg_lc_unix_send,
                                              p.vg_lc_sock_new};
  // Self-protection hooks: global in both attachments (the kernel has room for only ten
  // lsm_cgroup hooks, and the enforcing ones take seven).
  const std::vector<bpf_program *> lsm_tamper{
      p.vg_tp_bpf,       p.vg_tp_task_alloc, p.vg_tp_task_kill,  p.vg_tp_sb_mount,
      p.vg_tp_sb_umount, p.vg_tp_move_mount, p.vg_tp_pivotroot,  p.vg_tp_load_data,
      p.vg_tp_read_kfile, p.vg_tp_unlink,    p.vg_tp_rmdir,      p.vg_tp_mkdir,
      p.vg_tp_rename};
  for (bpf_program *prog : lsm_tamper)
    bpf_program__set_autoload(prog, opts.lsm);
  // Self-protection where no LSM program refuses first (tier 2): signals and bpf() are caught
  // by tracepoints that kill the caller. With LSM they would only report twice.
  bpf_program__set_autoload(p.vg_sig_gen, !opts.lsm);
  bpf_program__set_autoload(p.vg_sys_bpf, !opts.lsm && opts.syscall_tracepoints);
  // The syscall tracepoints: opt-in (see Options::syscall_tracepoints).
  for (bpf_program *prog : {p.vg_enter_open, p.vg_enter_openat, p.vg_enter_openat2,
                            p.vg_enter_obha, p.vg_exit_open, p.vg_exit_openat, p.vg_exit_openat2,
                            p.vg_exit_obha, p.vg_enter_connect, p.vg_exit_connect})
    bpf_program__set_autoload(prog, opts.syscall_tracepoints);
  // Programs of tiers not in use are not loaded: an older kernel's verifier never sees them.
  for (bpf_program *prog : sock_addr)
    bpf_program__set_autoload(prog, opts.cgroup_net);
  // Unix sockets in tier 2: the cgroup unix hooks (6.7+). libbpf 1.1 does not know their
  // section names, so the programs are declared as connect4/sendmsg4 and given the kernel's
  // attach type numbers here, read from its BTF.
  const auto unix_hooks =
      opts.cgroup_net && opts.cgroup_unix ? kernel_cgroup_unix_hooks() : std::nullopt;
  const std::vector<bpf_program *> cg_unix{p.vg_cg_conn_unix, p.vg_cg_send_unix};
  for (bpf_program *prog : cg_unix)
    bpf_program__set_autoload(prog, unix_hooks.has_value());
  for (bpf_program *prog : {p.vg_enter_bind, p.vg_exit_bind})
    bpf_program__set_autoload(prog, unix_hooks.has_value() && opts.syscall_tracepoints);
  bpf_program__set_autoload(p.vg_iter_unix, unix_hooks.has_value());
  if (unix_hooks) {
    bpf_program__set_expected_attach_type(
        p.vg_cg_conn_unix, static_cast<enum bpf_attach_type>(unix_hooks->connect));
    bpf_program__set_expected_attach_type(
        p.vg_cg_send_unix, static_cast<enum bpf_attach_type>(unix_hooks->sendmsg));
  } else if (opts.cgroup_net && opts.cgroup_unix) {
    spdlog::warn("this kernel has no cgroup unix socket hooks (6.7+): connects and datagrams "
                 "from agents to unix sockets served outside them are neither denied nor "
                 "reported");
  }
  for (bpf_program *prog : lsm_global)
    bpf_program__set_autoload(prog, opts.lsm && !opts.lsm_cgroup);
  for (bpf_program *prog : lsm_cgroup)
    bpf_program__set_autoload(prog, opts.lsm && opts.lsm_cgroup);
  bpf_program__set_autoload(p.vg_inode_init, opts.lsm); // observes only: always global
  // Links and renames of protected files: global like the self-protection hooks. The path_*
  // hooks exist with CONFIG_SECURITY_PATH (Debian's kernels have it: AppArmor selects it).
  const bool path_hooks = opts.lsm && kernel_has_path_hooks();
  if (opts.lsm && !path_hooks)
    spdlog::warn("this kernel has no path_link/path_rename LSM hooks (CONFIG_SECURITY_PATH): "
                 "inode_link/inode_rename refuse links and renames of protected files, and "
                 "report them with the path from the file's own file system");
  bpf_program__set_autoload(p.vg_path_link, path_hooks);
  bpf_program__set_autoload(p.vg_path_rename, path_hooks);
  // The persistence guard's hooks: global too (with file_open, path_link and path_rename they
  // make eleven deciding hooks; lsm_cgroup has room for ten), and d_instantiate, which follows
  // the directories an agent makes on the way to a protected path. Same CONFIG_SECURITY_PATH
  // requirement.
  const std::vector<bpf_program *> lsm_persist{p.vg_ps_mknod, p.vg_ps_mkdir,    p.vg_ps_symlink,
                                               p.vg_ps_unlink, p.vg_ps_rmdir,    p.vg_ps_chmod,
                                               p.vg_ps_chown,  p.vg_ps_truncate, p.vg_ps_dinst};
  for (bpf_program *prog : lsm_persist)
    bpf_program__set_autoload(prog, path_hooks);
  l->persist_hooks_ = path_hooks;
  bpf_program__set_autoload(p.vg_inode_link, opts.lsm);
  bpf_program__set_autoload(p.vg_inode_rename, opts.lsm);
  // Egress volume and source routing, and connections in from outside the agent: packet
  // programs on every agent cgroup, whatever the tier (cgroup_skb needs no BPF LSM).
  l->per_cgroup_.push_back(p.vg_skb_egress);
  l->per_cgroup_.push_back(p.vg_skb_ingress);
  if (opts.cgroup_net)
    l->per_cgroup_.insert(l->per_cgroup_.end(), sock_addr.begin(), sock_addr.end());
  if (unix_hooks)
    l->per_cgroup_.insert(l->per_cgroup_.end(), cg_unix.begin(), cg_unix.end());
  if (opts.lsm && opts.lsm_cgroup)
    l->per_cgroup_.insert(l->per_cgroup_.end(), lsm_cgroup.begin(), lsm_cgroup.end());
  const std::string links_dir = opts.pin_dir + "/links";
  // A pin set this instance will not adopt: said (the engine raises vigil-pins-untrusted),
  // removed, and the directory made again for a fresh attach.
  auto discard_pins = [&](const std::string &why) -> Result<> {
    l->pin_notes_.push_back(why + ": not adopted; removed, and attached afresh");
    spdlog::warn("{}", l->pin_notes_.back());
    if (auto r = unload_pinned(opts.pin_dir); !r)
      return tl::unexpected(r.error());
    l->adopted_ = false;
    return own_pin_dir(opts.pin_dir, l->pin_notes_);
  };
  // The event ring keeps the size of one pinned before (the adopted programs write to it).
  auto size_ring = [&]() -> Result<> {
    auto ring = ring_size(opts);
    if (!ring)
      return tl::unexpected(ring.error());
    if (int err = bpf_map__set_max_entries(l->skel_->maps.vg_events, *ring); err)
      return fail_errno(-err, "size the event ring");
    return {};
  };
  if (!opts.pin_dir.empty()) {
    if (auto owned = own_pin_dir(opts.pin_dir, l->pin_notes_); !owned)
      return tl::unexpected(owned.error());
    std::error_code ec;
    if (std::filesystem::exists(links_dir + "/vg_exec", ec) && !pins_consistent(opts.pin_dir)) {
      if (auto r = discard_pins(fmt::format("the enforcement pinned under {} did not report to "
                                            "the ring pinned there (a pin set left half-made, "
                                            "or replaced)",
                                            opts.pin_dir));
          !r)
        return tl::unexpected(r.error());
    }
    // Maps are pinned by name: a later instance reuses them, so the adopted programs and the
    // new daemon share one policy and one ring. Not the object's constants (.rodata): frozen
    // and read-only, a pinned one cannot be opened again, and each load brings its own. Nor the
    // per-CPU scratch, which holds nothing from one program run to the next: pinned, a build
    // that changed its layout could not load over an older build's pins.
    bpf_map *m;
    bpf_object__for_each_map(m, l->skel_->obj)
    {
      if (bpf_map__is_internal(m) || m == l->skel_->maps.vg_scratch_map)
        continue;
      const std::string path = opts.pin_dir + "/" + bpf_map__name(m);
      if (int err = bpf_map__set_pin_path(m, path.c_str()); err)
        return fail_errno(-err, "pin path for map " + path);
    }
    l->adopted_ = std::filesystem::exists(links_dir + "/vg_exec", ec);
  }
  if (auto r = size_ring(); !r)
    return tl::unexpected(r.error());
  if (!opts.pin_dir.empty()) {
    // After the ring's size: a pinned ring of the same shape is one this build reuses.
    if (const std::string odd = pinned_shape_mismatch(l->skel_->obj); !odd.empty()) {
      if (auto r = discard_pins(fmt::format("the maps pinned under {} are not this build's ({})",
                                            opts.pin_dir, odd));
          !r)
        return tl::unexpected(r.error());
      if (auto r = size_ring(); !r) // the configured size again: nothing is pinned now
        return tl::unexpected(r.error());
    }
  }
  const bool stats = verifier_stats_begin(l->skel_->obj);
  const int load_err = vigil_bpf__load(l->skel_);
  if (stats)
    verifier_stats_end();
  if (int err = load_err; err) {
    if (opts.lsm && opts.lsm_cgroup) {
      spdlog::warn("lsm_cgroup programs did not load ({}): attaching the LSM programs globally",
                   std::strerror(-err));
      Options global = opts;
      global.lsm_cgroup = false;
      return l->start_again(global);
    }
    if (unix_hooks) {
      spdlog::warn("the cgroup unix socket programs did not load ({}): unix sockets served "
                   "outside agents are neither denied nor reported",
                   std::strerror(-err));
      Options without = opts;
      without.cgroup_unix = false;
      return l->start_again(without);
    }
    return fail_errno(-err, "load BPF programs (run with --log-level debug for the verifier log; "
                            "a pinned map of another vigil version: vigil unload)");
  }
  if (l->adopted_) {
    spdlog::info("adopting the enforcement pinned under {}: programs stay attached, no gap",
                 opts.pin_dir);
  } else {
    if (int err = vigil_bpf__attach(l->skel_); err)
      return fail_errno(-err, "attach BPF programs (is tracefs mounted?)");
    if (!opts.pin_dir.empty()) {
      const bpf_object_skeleton *s = l->skel_->skeleton;
      for (int i = 0; i < s->prog_cnt; ++i) {
        bpf_link *link = *s->progs[i].link;
        if (!link)
          continue; // not loaded (another tier), or attached per cgroup
        const std::string path = links_dir + "/" + s->progs[i].name;
        if (int err = bpf_link__pin(link, path.c_str()); err)
          return fail_errno(-err, "pin link " + path);
      }
    }
  }
  if (l->skel_->links.vg_iter_unix)
    l->iter_unix_fd_ = ::dup(bpf_link__fd(l->skel_->links.vg_iter_unix));
  else if (l->adopted_ && unix_hooks)
    l->iter_unix_fd_ = bpf_obj_get((links_dir + "/vg_iter_unix").c_str()); // -1: an older pin set
  if (!opts.pin_dir.empty()) {
    // Closing our fds must not detach what the pins keep attached.
    const bpf_object_skeleton *s = l->skel_->skeleton;
    for (int i = 0; i < s->prog_cnt; ++i)
      if (bpf_link *link = *s->progs[i].link)
        bpf_link__disconnect(link);
  }
  l->ring_ = ring_buffer__new(bpf_map__fd(l->skel_->maps.vg_events), &Loader::on_sample, l.get(),
                              nullptr);
  if (!l->ring_)
    return fail_errno(errno, "create ring buffer reader");
  l->wake_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!l->wake_)
    return fail_errno(errno, "eventfd");
  l->map_ring_positions();
  return l;
}

namespace {

// "anon_inode:bpf_link" and "anon_inode:[perf_event]": what a link is made of (a BPF link, and
// for a tracepoint the perf event it hangs on). Async-signal-safe (runs between fork and exit).
bool is_link_fd(int fd)
{
  char path[32] = "/proc/self/fd/";
  char digits[12];
  int n = 0;
  for (unsigned v = static_cast<unsigned>(fd); n == 0 || v > 0; v /= 10)
    digits[n++] = static_cast<char>('0' + v % 10);
  size_t len = sizeof("/proc/self/fd/") - 1;
  while (n > 0)
    path[len++] = digits[--n];
  path[len] = '\0';
  char target[64];
  const ssize_t got = ::readlink(path, target, sizeof(target) - 1);
  if (got <= 0)
    return false;
  target[got] = '\0';
  return std::strcmp(target, "anon_inode:bpf_link") == 0 ||
         std::strcmp(target, "anon_inode:[perf_event]") == 0;
}

} // namespace

pid_t Loader::detach_in_background() const
{
  if (!opts_.pin_dir.empty())
    return -1; // pinned links stay attached anyway: nothing to wait for
  // The child holds the links until the caller is gone (the pipe's write end, which only the
  // caller keeps, reads EOF then), so that its closes, not the caller's, are the last ones.
  int gone[2];
  if (::pipe2(gone, O_CLOEXEC) != 0)
    return -1;
  const pid_t pid = ::fork();
  if (pid != 0) {
    ::close(gone[0]);
    if (pid < 0)
      ::close(gone[1]);
    return pid; // gone[1] stays open until the caller exits
  }
  const int max = static_cast<int>(::sysconf(_SC_OPEN_MAX) > 0 ? ::sysconf(_SC_OPEN_MAX) : 1024);
  const int limit = max < 65536 ? max : 65536;
  for (int fd = 0; fd < limit; ++fd)
    if (fd != gone[0] && ::fcntl(fd, F_GETFD) >= 0 && !is_link_fd(fd))
      ::close(fd);
  char byte;
  while (::read(gone[0], &byte, 1) < 0 && errno == EINTR) {
  }
  for (int fd = 0; fd < limit; ++fd)
    ::close(fd);
  ::_exit(0);
}

Loader::~Loader()
{
  std::vector<bpf_link *> links;
  for (auto &[id, cg] : cgroup_links_)
    links.insert(links.end(), cg.begin(), cg.end());
  if (skel_) {
    // The skeleton's own links, taken from it so that its destroy finds none left.
    const bpf_object_skeleton *s = skel_->skeleton;
    for (int i = 0; i < s->prog_cnt; ++i)
      if (bpf_link **link = s->progs[i].link; link && *link) {
        links.push_back(*link);
        *link = nullptr;
      }
  }
  destroy_links(std::move(links));
  if (iter_unix_fd_ >= 0)
    ::close(iter_unix_fd_);
  if (ring_)
    ring_buffer__free(ring_);
  if (ring_cons_)
    ::munmap(ring_cons_, ring_page_);
  if (ring_prod_)
    ::munmap(ring_prod_, ring_page_);
  if (skel_)
    vigil_bpf__destroy(skel_);
}

// A BPF ring buffer map's first page holds the consumer position, the second the producer
// position (both unsigned long at offset 0); read-only mappings of both are always allowed.
void Loader::map_ring_positions()
{
  const int fd = bpf_map__fd(skel_->maps.vg_events);
  ring_page_ = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  ring_size_ = bpf_map__max_entries(skel_->maps.vg_events);
  void *cons = ::mmap(nullptr, ring_page_, PROT_READ, MAP_SHARED, fd, 0);
  void *prod = ::mmap(nullptr, ring_page_, PROT_READ, MAP_SHARED, fd,
                      static_cast<off_t>(ring_page_));
  if (cons == MAP_FAILED || prod == MAP_FAILED) {
    spdlog::debug("ring buffer fill unavailable: mmap: {}", std::strerror(errno));
    if (cons != MAP_FAILED)
      ::munmap(cons, ring_page_);
    if (prod != MAP_FAILED)
      ::munmap(prod, ring_page_);
    return;
  }
  ring_cons_ = cons;
  ring_prod_ = prod;
}

int Loader::on_sample(void *ctx, void *data, size_t size) noexcept
{
  auto *self = static_cast<Loader *>(ctx);
  self->sample_({static_cast<const std::byte *>(data), size});
  return 0; // a negative return would abort ring_buffer__poll()
}

size_t Loader::drain_open_counts(const OpenCountFn &fn)
{
  if (!opts_.lsm)
    return 0; // only the file_open LSM program counts
  const int fd = bpf_map__fd(skel_->maps.vg_open_seen);
  // Batches of entries per system call (5.6+): one call per bucket run rather than two per
  // entry. Where the kernel refuses batches, the walk below does it entry by entry.
  constexpr uint32_t kChunk = 1024;
  seen_keys_.resize(kChunk);
  seen_vals_.resize(kChunk);
  LIBBPF_OPTS(bpf_map_batch_opts, bopts);
  uint32_t in = 0, out = 0;
  size_t n = 0;
  for (bool first = true;; first = false) {
    uint32_t count = kChunk;
    const int err = bpf_map_lookup_and_delete_batch(fd, first ? nullptr : &in, &out,
                                                    seen_keys_.data(), seen_vals_.data(), &count,
                                                    &bopts);
    const int e = err ? errno : 0;
    if (err && first && count == 0 && (e == EINVAL || e == ENOTSUP || e == EOPNOTSUPP))
      break; // no batches here: the walk
    for (uint32_t i = 0; i < count && i < kChunk; ++i)
      if (seen_vals_[i].count) {
        fn(seen_keys_[i], seen_vals_[i]);
        ++n;
      }
    if (err) // ENOENT: the whole map was read
      return n;
    in = out;
  }
  seen_keys_.clear();
  vg_open_seen_key key{}, next{};
  const vg_open_seen_key *prev = nullptr;
  // Keys first, then each taken: deleting while walking would restart the walk.
  while (seen_keys_.size() < bpf_map__max_entries(skel_->maps.vg_open_seen) &&
         bpf_map_get_next_key(fd, prev, &next) == 0) {
    seen_keys_.push_back(next);
    key = next;
    prev = &key;
  }
  for (const auto &k : seen_keys_) {
    vg_open_seen_val val{};
    if (bpf_map_lookup_and_delete_elem(fd, &k, &val) != 0 || val.count == 0)
      continue;
    fn(k, val);
    ++n;
  }
  return n;
}

Result<bool> Loader::rescan_unix_bound()
{
  if (iter_unix_fd_ < 0)
    return false;
  // One pass at a time: each pass rewrites every entry it finds, so two would only race.
  std::lock_guard lock(iter_mu_);
  UniqueFd it(bpf_iter_create(iter_unix_fd_));
  if (!it)
    return fail_errno(errno, "create the unix socket iterator");
  char buf[256];
  for (;;) { // the program prints nothing: read() runs it over every socket, then says EOF
    const ssize_t n = ::read(it.get(), buf, sizeof(buf));
    if (n == 0)
      return true;
    if (n < 0 && errno != EINTR && errno != EAGAIN)
      return fail_errno(errno, "run the unix socket iterator");
  }
}

// Processes already in an agent cgroup (and its sub-cgroups) when it is confined, recorded in
// vg_agent_tasks as the fork and exec programs record the ones that come later: the escape
// check knows a task belonged to the agent by this map, not by its cgroup of the moment. The map
// entry for the cgroup exists already, so a fork racing this walk is recorded by the kernel.
void Loader::track_tasks(const std::string &dir, uint64_t cgroup_id)
{
  std::error_code ec;
  auto note = [&](const std::filesystem::path &cg) {
    std::ifstream procs(cg / "cgroup.procs");
    for (uint32_t pid; procs >> pid;)
      bpf_map__update_elem(skel_->maps.vg_agent_tasks, &pid, sizeof(pid), &cgroup_id,
                           sizeof(cgroup_id), BPF_ANY);
  };
  note(dir);
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
    if (it->is_directory(ec))
      note(it->path());
}

Result<> Loader::set_agent_flags(uint64_t cgroup_id, uint32_t set, uint32_t clear)
{
  vg_agent value{};
  if (bpf_map__lookup_elem(skel_->maps.vg_agent_cgroups, &cgroup_id, sizeof(cgroup_id), &value,
                           sizeof(value), 0))
    return fail_errno(errno, "agent cgroup " + std::to_string(cgroup_id));
  value.flags = (value.flags & ~clear) | set;
  if (bpf_map__update_elem(skel_->maps.vg_agent_cgroups, &cgroup_id, sizeof(cgroup_id), &value,
                           sizeof(value), BPF_EXIST))
    return fail_errno(errno, "set flags of agent cgroup " + std::to_string(cgroup_id));
  return {};
}

Result<uint32_t> Loader::agent_flags(uint64_t cgroup_id) const
{
  vg_agent value{};
  if (bpf_map__lookup_elem(skel_->maps.vg_agent_cgroups, &cgroup_id, sizeof(cgroup_id), &value,
                           sizeof(value), 0))
    return fail_errno(errno, "agent cgroup " + std::to_string(cgroup_id));
  return value.flags;
}

Result<uint32_t> Loader::add_agent_cgroup(const std::string &dir, uint64_t cgroup_id,
                                          uint32_t profile_id)
{
  // Attach before the map entry exists would leave a window where the hooks see a non-agent;
  // harmless (they allow). Map first, then hooks: events start at once, enforcement follows.
  // An entry already there (adopted from a pinned map) keeps its flags: a daemon restarting
  // must not lift an isolation the operator has not lifted. The lookup and the update are two
  // calls, but only this process writes the map.
  vg_agent value{profile_id, 0};
  vg_agent old{};
  if (bpf_map__lookup_elem(skel_->maps.vg_agent_cgroups, &cgroup_id, sizeof(cgroup_id), &old,
                           sizeof(old), 0) == 0)
    value.flags = old.flags;
  if (bpf_map__update_elem(skel_->maps.vg_agent_cgroups, &cgroup_id, sizeof(cgroup_id), &value,
                           sizeof(value), BPF_ANY))
    return fail_errno(errno, "add agent cgroup " + dir);
  track_tasks(dir, cgroup_id);
  if (per_cgroup_.empty() || cgroup_links_.count(cgroup_id))
    return value.flags;
  const std::string pins =
      opts_.pin_dir.empty() ? "" : opts_.pin_dir + "/cgroups/" + std::to_string(cgroup_id);
  std::error_code ec;
  if (!pins.empty() && std::filesystem::exists(pins + "/" + bpf_program__name(per_cgroup_[0]), ec))
    return value.flags; // attached by an earlier instance and still in force: adopted
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return fail_errno(errno, "open cgroup " + dir);
  std::vector<bpf_link *> links;
  for (bpf_program *p : per_cgroup_) {
    bpf_link *link = bpf_program__attach_cgroup(p, fd);
    if (!link) {
      int err = errno;
      for (bpf_link *l : links)
        bpf_link__destroy(l);
      ::close(fd);
      return fail_errno(err, std::string("attach ") + bpf_program__name(p) + " to " + dir);
    }
    links.push_back(link);
  }
  ::close(fd); // the links hold the cgroup
  if (!pins.empty()) {
    std::filesystem::create_directories(pins, ec);
    for (size_t i = 0; i < links.size(); ++i) {
      bpf_link *link = links[i];
      const std::string path = pins + "/" + bpf_program__name(per_cgroup_[i]);
      if (int err = bpf_link__pin(link, path.c_str()); err)
        spdlog::warn("pin {}: {}", path, std::strerror(-err));
      bpf_link__disconnect(link);
    }
  }
  cgroup_links_[cgroup_id] = std::move(links);
  return value.flags;
}

Result<> Loader::set_env_watch(const std::vector<std::string> &names,
                               const std::vector<std::string> &prefixes)
{
  std::vector<std::vector<uint8_t>> fresh;
  auto put = [&](const std::string &name, bool prefix) -> Result<> {
    if (name.empty() || name.size() >= VG_ENV_NAME_MAX)
      return fail("environment variable name '" + name + "' must be 1.." +
                  std::to_string(VG_ENV_NAME_MAX - 1) + " bytes");
    vg_env_key key{};
    std::memcpy(key.name, name.data(), name.size());
    key.prefixlen = static_cast<__u32>(8 * (name.size() + (prefix ? 0 : 1)));
    const uint8_t kind = prefix ? 2 : 1;
    if (bpf_map__update_elem(skel_->maps.vg_env_names, &key, sizeof(key), &kind, sizeof(kind),
                             BPF_ANY))
      return fail_errno(errno, "watch environment variable " + name);
    fresh.push_back(key_bytes(key));
    return {};
  };
  for (const auto &n : names)
    if (auto r = put(n, false); !r)
      return r;
  for (const auto &pfx : prefixes)
    if (auto r = put(pfx, true); !r)
      return r;
  drop_stale_keys(skel_->maps.vg_env_names, env_keys_, std::move(fresh));
  vg_env_cfg cfg{};
  cfg.enabled = env_keys_.empty() ? 0 : 1;
  const uint32_t zero = 0;
  if (bpf_map__update_elem(skel_->maps.vg_env_cfg, &zero, sizeof(zero), &cfg, sizeof(cfg),
                           BPF_ANY))
    return fail_errno(errno, "write the environment scan switch");
  return {};
}

std::vector<Flow> Loader::egress_flows() const
{
  std::vector<Flow> out;
  const int fd = bpf_map__fd(skel_->maps.vg_egress_bytes);
  vg_flow_key key{};
  vg_flow_key next{};
  vg_flow_val val{};
  const void *prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    key = next;
    prev = &key;
    if (bpf_map_lookup_elem(fd, &key, &val) != 0)
      continue; // evicted between the two calls
    Flow f;
    f.cgroup_id = key.cgroup_id;
    std::memcpy(f.addr.data(), key.addr, 16);
    f.port = key.port;
    f.proto = key.proto;
    f.bytes = val.bytes;
    f.packets = val.packets;
    out.push_back(f);
  }
  return out;
}

Result<> Loader::set_profile(uint32_t profile_id, const ProfileSwitches &sw,
                             const std::vector<std::pair<vg_egress_key, vg_egress_val>> &egress)
{
  if (profile_id >= VG_MAX_PROFILES)
    return fail("profile id " + std::to_string(profile_id) + " exceeds the kernel's " +
                std::to_string(VG_MAX_PROFILES) + " profiles");
  // Allowlist first, switches last: tightening never passes through a moment where the new
  // mode applies to the old (or an empty) list.
  auto &old = egress_keys_[profile_id];
  std::vector<std::vector<uint8_t>> fresh;
  for (const auto &[key, val] : egress) {
    if (bpf_map__update_elem(skel_->maps.vg_egress, &key, sizeof(key), &val, sizeof(val),
                             BPF_ANY))
      return fail_errno(errno, "write egress entry of profile " + std::to_string(profile_id));
    fresh.push_back(key_bytes(key));
  }
  drop_stale_keys(skel_->maps.vg_egress, old, std::move(fresh));
  vg_profile_cfg cfg{};
  cfg.net_mode = sw.net_mode;
  cfg.file_mode = sw.file_mode;
  cfg.raw_ok = sw.raw_ok ? 1 : 0;
  cfg.tamper_mode = sw.tamper_mode;
  cfg.rate = sw.rate;
  if (bpf_map__update_elem(skel_->maps.vg_profiles, &profile_id, sizeof(profile_id), &cfg,
                           sizeof(cfg), BPF_ANY))
    return fail_errno(errno, "write switches of profile " + std::to_string(profile_id));
  vg_ingress_cfg in{};
  in.mode = sw.ingress_mode;
  if (bpf_map__update_elem(skel_->maps.vg_ingress, &profile_id, sizeof(profile_id), &in,
                           sizeof(in), BPF_ANY))
    return fail_errno(errno, "write inbound switch of profile " + std::to_string(profile_id));
  return {};
}

Result<> Loader::set_unix_allow(uint32_t profile_id, const std::vector<std::string> &paths)
{
  std::vector<KeyBytes> fresh;
  for (const auto &path : paths) {
    if (path.empty() || path.size() >= VG_UNIX_NAME_MAX)
      continue; // no socket can be bound to it
    vg_unix_key key{};
    key.owner = profile_id;
    key.len = static_cast<uint32_t>(path.size());
    std::memcpy(key.name, path.data(), path.size());
    const uint8_t one = 1;
    if (bpf_map__update_elem(skel_->maps.vg_unix_allow, &key, sizeof(key), &one, sizeof(one),
                             BPF_ANY))
      return fail_errno(errno, "write unix allowlist of profile " + std::to_string(profile_id));
    fresh.push_back(key_bytes(key));
  }
  drop_stale_keys(skel_->maps.vg_unix_allow, unix_keys_[profile_id], std::move(fresh));
  return {};
}

size_t Loader::prune_agents(const std::vector<uint64_t> &live)
{
  std::vector<uint64_t> gone;
  uint64_t key = 0, next = 0;
  const uint64_t *prev = nullptr;
  while (bpf_map__get_next_key(skel_->maps.vg_agent_cgroups, prev, &next, sizeof(next)) == 0) {
    if (std::find(live.begin(), live.end(), next) == live.end())
      gone.push_back(next);
    key = next;
    prev = &key;
  }
  for (uint64_t id : gone) {
    bpf_map__delete_elem(skel_->maps.vg_agent_cgroups, &id, sizeof(id), 0);
    if (!opts_.pin_dir.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(opts_.pin_dir + "/cgroups/" + std::to_string(id), ec);
    }
  }
  return gone.size();
}

Result<> Loader::set_file_rules(const std::vector<std::pair<vg_file_key, vg_file_rule>> &inodes,
                                const std::vector<vg_name_pat> &names,
                                const std::vector<vg_file_key> &ipc_allow)
{
  std::vector<std::vector<uint8_t>> ipc_fresh;
  for (const auto &key : ipc_allow) {
    const uint32_t one = 1;
    if (bpf_map__update_elem(skel_->maps.vg_ipc_allow, &key, sizeof(key), &one, sizeof(one),
                             BPF_ANY))
      return fail_errno(errno, "write ipc allow entry " + std::to_string(key.ino));
    ipc_fresh.push_back(key_bytes(key));
  }
  drop_stale_keys(skel_->maps.vg_ipc_allow, ipc_keys_, std::move(ipc_fresh));
  if (names.size() > VG_NAME_PATS)
    return fail(std::to_string(names.size()) + " basename patterns; the kernel table holds " +
                std::to_string(VG_NAME_PATS));
  std::vector<std::vector<uint8_t>> fresh;
  for (const auto &[key, rule] : inodes) {
    if (bpf_map__update_elem(skel_->maps.vg_file_inodes, &key, sizeof(key), &rule, sizeof(rule),
                             BPF_ANY))
      return fail_errno(errno, "write protected inode " + std::to_string(key.ino));
    fresh.push_back(key_bytes(key));
  }
  drop_stale_keys(skel_->maps.vg_file_inodes, file_keys_, std::move(fresh));
  const size_t slots = std::max(names.size(), name_slots_);
  for (uint32_t i = 0; i < slots; ++i) {
    vg_name_pat pat{}; // profile 0: an unused slot
    if (i < names.size())
      pat = names[i];
    if (bpf_map__update_elem(skel_->maps.vg_name_pats, &i, sizeof(i), &pat, sizeof(pat),
                             BPF_ANY))
      return fail_errno(errno, "write basename pattern " + std::to_string(i));
  }
  name_slots_ = names.size();
  return {};
}

Result<> Loader::set_persist_rules(
    uint32_t profile_id, const std::vector<std::pair<vg_file_key, vg_persist_rule>> &inodes,
    const std::vector<std::pair<vg_persist_name_key, vg_persist_rule>> &names)
{
  std::vector<KeyBytes> fresh;
  for (const auto &[key, rule] : inodes) {
    if (bpf_map__update_elem(skel_->maps.vg_persist_inodes, &key, sizeof(key), &rule,
                             sizeof(rule), BPF_ANY))
      return fail_errno(errno, "write persistence inode " + std::to_string(key.ino));
    fresh.push_back(key_bytes(key));
  }
  drop_stale_keys(skel_->maps.vg_persist_inodes, persist_keys_[profile_id], std::move(fresh));
  std::vector<KeyBytes> fresh_names;
  for (const auto &[key, rule] : names) {
    if (bpf_map__update_elem(skel_->maps.vg_persist_names, &key, sizeof(key), &rule,
                             sizeof(rule), BPF_ANY))
      return fail_errno(errno, "write persistence name " + std::string(key.name));
    fresh_names.push_back(key_bytes(key));
  }
  drop_stale_keys(skel_->maps.vg_persist_names, persist_name_keys_[profile_id],
                  std::move(fresh_names));
  // The profiles whose missing directories d_instantiate follows: slots filled from 0.
  if (std::find(persist_profiles_.begin(), persist_profiles_.end(), profile_id) ==
      persist_profiles_.end()) {
    if (persist_profiles_.size() >= VG_PERSIST_PROFILES)
      return fail("more than " + std::to_string(VG_PERSIST_PROFILES) +
                  " profiles with persistence paths");
    const uint32_t slot = static_cast<uint32_t>(persist_profiles_.size());
    if (bpf_map__update_elem(skel_->maps.vg_persist_profiles, &slot, sizeof(slot), &profile_id,
                             sizeof(profile_id), BPF_ANY))
      return fail_errno(errno, "write persistence profile slot");
    persist_profiles_.push_back(profile_id);
  }
  return {};
}

Result<> Loader::remove_agent_cgroup(uint64_t cgroup_id)
{
  if (!opts_.pin_dir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(opts_.pin_dir + "/cgroups/" + std::to_string(cgroup_id), ec);
  }
  if (auto it = cgroup_links_.find(cgroup_id); it != cgroup_links_.end()) {
    destroy_links(std::move(it->second));
    cgroup_links_.erase(it);
  }
  if (bpf_map__delete_elem(skel_->maps.vg_agent_cgroups, &cgroup_id, sizeof(cgroup_id), 0) &&
      errno != ENOENT)
    return fail_errno(errno, "remove agent cgroup " + std::to_string(cgroup_id));
  return {};
}

Result<int> Loader::poll(int timeout_ms)
{
  // The ring's epoll set is readable when a record woke it; the wake eventfd when a stop came.
  // Whatever ended the wait, every record there is read: a timeout's read takes the records
  // that did not wake the ring (vg_ring_flags).
  pollfd p[2] = {{ring_buffer__epoll_fd(ring_), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
  if (::poll(p, 2, timeout_ms) < 0 && errno != EINTR)
    return fail_errno(errno, "poll ring buffer");
  const int n = ring_buffer__consume(ring_);
  if (n < 0 && n != -EINTR)
    return fail_errno(-n, "poll ring buffer");
  return n < 0 ? 0 : n;
}

Result<std::unique_ptr<Loader>> Loader::start_again(const Options &opts)
{
  auto again = start(opts, std::move(sample_));
  if (again)
    (*again)->pin_notes_.insert((*again)->pin_notes_.begin(), pin_notes_.begin(),
                                pin_notes_.end());
  return again;
}

void Loader::wake_poll()
{
  const uint64_t one = 1;
  if (wake_)
    (void)!::write(wake_.get(), &one, sizeof(one));
}

bool Loader::ring_read_up_to_now() const
{
  if (!ring_cons_ || !ring_prod_)
    return false;
  // The producer position first: a consumer position at or past it means every record reserved
  // before that load was read (libbpf moves the consumer position after each callback returns).
  const auto prod = __atomic_load_n(static_cast<const unsigned long *>(ring_prod_),
                                    __ATOMIC_ACQUIRE);
  const auto cons = __atomic_load_n(static_cast<const unsigned long *>(ring_cons_),
                                    __ATOMIC_ACQUIRE);
  return cons >= prod;
}

KernelStats Loader::stats() const
{
  KernelStats out;
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0)
    return out;
  std::vector<uint64_t> values(static_cast<size_t>(ncpu));
  auto sum = [&](uint32_t slot) -> uint64_t {
    if (bpf_map__lookup_elem(skel_->maps.vg_stats, &slot, sizeof(slot), values.data(),
                             values.size() * sizeof(uint64_t), 0))
      return 0;
    uint64_t total = 0;
    for (uint64_t v : values)
      total += v;
    return total;
  };
  out.ringbuf_full = sum(VG_STAT_RINGBUF_FULL);
  out.stash_full = sum(VG_STAT_STASH_FULL);
  out.path_truncated = sum(VG_STAT_PATH_TRUNC);
  out.events = sum(VG_STAT_EVENTS);
  out.throttled = sum(VG_STAT_THROTTLED);
  out.reserved = sum(VG_STAT_RESERVED);
  out.tamper = sum(VG_STAT_TAMPER);
  out.inbound = sum(VG_STAT_INBOUND);
  out.ring_size_bytes = ring_size_;
  if (ring_cons_ && ring_prod_) {
    const auto cons = __atomic_load_n(static_cast<const unsigned long *>(ring_cons_),
                                      __ATOMIC_ACQUIRE);
    const auto prod = __atomic_load_n(static_cast<const unsigned long *>(ring_prod_),
                                      __ATOMIC_ACQUIRE);
    out.ring_used_bytes = prod > cons ? prod - cons : 0;
  }
  return out;
}

} // namespace vigil::loader
