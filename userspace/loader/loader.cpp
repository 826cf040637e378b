// SPDX-License-Identifier: Apache-2.0
// Skeleton lifecycle: open -> set ring size -> load -> attach -> ring reader.
#include "loader/loader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <vector>

#include <spdlog/spdlog.h>

#include "vigil/abi.h"
#include "vigil_bpf.skel.h"

namespace vigil::loader {

namespace {

int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
  char buf[2048];
  int n = std::vsnprintf(buf, sizeof(buf), fmt, args);
  if (n > 0 && buf[std::min<size_t>(static_cast<size_t>(n), sizeof(buf) - 1) - 1] == '\n')
    buf[std::min<size_t>(static_cast<size_t>(n), sizeof(buf) - 1) - 1] = '\0';
  switch (level) {
  case LIBBPF_WARN:
    spdlog::warn("libbpf: {}", buf);
    break;
  case LIBBPF_INFO:
    spdlog::debug("libbpf: {}", buf);
    break;
  case LIBBPF_DEBUG:
    spdlog::trace("libbpf: {}", buf);
    break;
  }
  return n;
}

} // namespace

void route_libbpf_logs()
{
  libbpf_set_print(libbpf_print);
}

Result<std::unique_ptr<Loader>> Loader::start(const Options &opts, SampleFn on_sample)
{
  std::unique_ptr<Loader> l(new Loader());
  l->sample_ = std::move(on_sample);
  l->skel_ = vigil_bpf__open();
  if (!l->skel_)
    return fail_errno(errno, "open BPF object");
  if (int err = bpf_map__set_max_entries(l->skel_->maps.vg_events, opts.ringbuf_bytes); err)
    return fail_errno(-err, "size ring buffer to " + std::to_string(opts.ringbuf_bytes));
  if (int err = vigil_bpf__load(l->skel_); err)
    return fail_errno(-err, "load BPF programs (run with --log-level debug for the verifier log)");
  if (int err = vigil_bpf__attach(l->skel_); err)
    return fail_errno(-err, "attach BPF programs (is tracefs mounted?)");
  l->ring_ = ring_buffer__new(bpf_map__fd(l->skel_->maps.vg_events), &Loader::on_sample, l.get(),
                              nullptr);
  if (!l->ring_)
    return fail_errno(errno, "create ring buffer reader");
  return l;
}

Loader::~Loader()
{
  if (ring_)
    ring_buffer__free(ring_);
  if (skel_)
    vigil_bpf__destroy(skel_);
}

int Loader::on_sample(void *ctx, void *data, size_t size) noexcept
{
  auto *self = static_cast<Loader *>(ctx);
  self->sample_({static_cast<const std::byte *>(data), size});
  return 0; // a negative return would abort ring_buffer__poll()
}

Result<> Loader::add_agent_cgroup(uint64_t cgroup_id, uint32_t profile_id)
{
  vg_agent value{profile_id, 0};
  if (bpf_map__update_elem(skel_->maps.vg_agent_cgroups, &cgroup_id, sizeof(cgroup_id), &value,
                           sizeof(value), BPF_ANY))
    return fail_errno(errno, "add agent cgroup " + std::to_string(cgroup_id));
  return {};
}

Result<> Loader::remove_agent_cgroup(uint64_t cgroup_id)
{
  if (bpf_map__delete_elem(skel_->maps.vg_agent_cgroups, &cgroup_id, sizeof(cgroup_id), 0) &&
      errno != ENOENT)
    return fail_errno(errno, "remove agent cgroup " + std::to_string(cgroup_id));
  return {};
}

Result<int> Loader::poll(int timeout_ms)
{
  int n = ring_buffer__poll(ring_, timeout_ms);
  if (n < 0 && n != -EINTR)
    return fail_errno(-n, "poll ring buffer");
  return n < 0 ? 0 : n;
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
  return out;
}

} // namespace vigil::loader
