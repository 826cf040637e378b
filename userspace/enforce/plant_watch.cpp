// SPDX-License-Identifier: Apache-2.0
#include "enforce/plant_watch.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <set>

namespace vigil::enforce {

namespace {

using Kind = PersistenceGate::Entry::Kind;

bool exists(const std::string &p)
{
  struct stat st{};
  return ::lstat(p.c_str(), &st) == 0;
}

bool is_dir(const std::string &p)
{
  struct stat st{};
  return ::lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string parent_of(const std::string &p)
{
  const size_t slash = p.rfind('/');
  return slash == 0 || slash == std::string::npos ? std::string("/") : p.substr(0, slash);
}

// The handle of a directory as fanotify reports it (type, then the bytes): the key of dirs_.
std::string handle_key(int type, const unsigned char *bytes, unsigned len)
{
  std::string k(reinterpret_cast<const char *>(&type), sizeof(type));
  k.append(reinterpret_cast<const char *>(bytes), len);
  return k;
}

std::string dir_key(const std::string &dir)
{
  struct {
    file_handle fh;
    unsigned char space[MAX_HANDLE_SZ];
  } h{};
  h.fh.handle_bytes = MAX_HANDLE_SZ;
  int mount_id = 0;
  if (::name_to_handle_at(AT_FDCWD, dir.c_str(), &h.fh, &mount_id, 0) != 0)
    return {};
  return handle_key(h.fh.handle_type, h.fh.f_handle, h.fh.handle_bytes);
}

} // namespace

std::vector<std::string> PlantWatch::watched_dirs(const PersistenceGate &gate,
                                                  const std::vector<std::string> &work_trees)
{
  std::set<std::string> out;
  for (const auto &e : gate.entries()) {
    if (e.kind == Kind::basename) {
      for (const auto &t : work_trees)
        if (is_dir(t))
          out.insert(t);
      continue;
    }
    if (e.kind == Kind::glob || exists(e.path))
      continue; // a glob's names are bound where they exist; an existing path is bound
    // The nearest existing directory on the way: a name made there may lead to the entry.
    for (std::string d = parent_of(e.path);; d = parent_of(d)) {
      if (is_dir(d)) {
        out.insert(d);
        break;
      }
      if (d == "/")
        break;
    }
  }
  return {out.begin(), out.end()};
}

Result<std::unique_ptr<PlantWatch>> PlantWatch::start(const PersistenceGate &gate,
                                                      const std::vector<std::string> &dirs,
                                                      OnPlant on_plant)
{
  std::unique_ptr<PlantWatch> w(new PlantWatch());
  w->gate_ = &gate;
  w->on_plant_ = std::move(on_plant);
  w->group_ = UniqueFd(::fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK |
                                           FAN_REPORT_DFID_NAME,
                                       O_RDONLY | O_CLOEXEC));
  if (!w->group_)
    return fail_errno(errno, "fanotify_init (directory events with names)");
  for (const auto &d : dirs) {
    const std::string key = dir_key(d);
    if (key.empty())
      continue;
    if (::fanotify_mark(w->group_.get(), FAN_MARK_ADD, FAN_CREATE | FAN_MOVED_TO | FAN_ONDIR,
                        AT_FDCWD, d.c_str()) != 0)
      return fail_errno(errno, "fanotify_mark " + d);
    w->dirs_[key] = d;
  }
  w->wake_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!w->wake_)
    return fail_errno(errno, "eventfd");
  w->thread_ = std::thread([p = w.get()] { p->loop(); });
  return w;
}

void PlantWatch::adopt(const std::string &dir, pid_t pid, int depth)
{
  const std::string k = dir_key(dir);
  if (k.empty() || dirs_.size() >= kMaxDirs ||
      ::fanotify_mark(group_.get(), FAN_MARK_ADD, FAN_CREATE | FAN_MOVED_TO | FAN_ONDIR,
                      AT_FDCWD, dir.c_str()) != 0)
    return;
  dirs_[k] = dir;
  if (depth >= 8)
    return;
  std::vector<std::string> names;
  if (DIR *d = ::opendir(dir.c_str())) {
    while (const dirent *e = ::readdir(d)) {
      const std::string n = e->d_name;
      if (n != "." && n != ".." && names.size() < 10000)
        names.push_back(n);
    }
    ::closedir(d);
  }
  for (const auto &n : names) {
    const std::string path = dir + "/" + n;
    const auto match = gate_->protects(path, true);
    if (!match)
      continue;
    if (!match->above)
      on_plant_(path, pid, true);
    else if (is_dir(path))
      adopt(path, pid, depth + 1);
  }
}

PlantWatch::~PlantWatch()
{
  stop_.store(true);
  const uint64_t one = 1;
  if (wake_)
    (void)!::write(wake_.get(), &one, sizeof(one));
  if (thread_.joinable())
    thread_.join();
}

void PlantWatch::loop() noexcept
{
  alignas(fanotify_event_metadata) char buf[16384];
  while (!stop_.load()) {
    pollfd p[2] = {{group_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
    if (::poll(p, 2, -1) <= 0 || !(p[0].revents & POLLIN))
      continue;
    ssize_t n = ::read(group_.get(), buf, sizeof(buf));
    if (n <= 0)
      continue;
    for (auto *m = reinterpret_cast<fanotify_event_metadata *>(buf); FAN_EVENT_OK(m, n);
         m = FAN_EVENT_NEXT(m, n)) {
      if (m->vers != FANOTIFY_METADATA_VERSION || (m->mask & FAN_Q_OVERFLOW))
        continue;
      // Info records follow the metadata: the directory's handle, then the name.
      const char *end = reinterpret_cast<const char *>(m) + m->event_len;
      for (const char *at = reinterpret_cast<const char *>(m) + m->metadata_len;
           at + sizeof(fanotify_event_info_header) <= end;) {
        const auto *hdr = reinterpret_cast<const fanotify_event_info_header *>(at);
        if (hdr->len == 0 || at + hdr->len > end)
          break;
        if (hdr->info_type == FAN_EVENT_INFO_TYPE_DFID_NAME &&
            hdr->len >= sizeof(fanotify_event_info_fid) + sizeof(file_handle)) {
          const auto *fid = reinterpret_cast<const fanotify_event_info_fid *>(at);
          const auto *fh = reinterpret_cast<const file_handle *>(fid->handle);
          const char *name = reinterpret_cast<const char *>(fh->f_handle) + fh->handle_bytes;
          if (name < at + hdr->len) {
            const std::string key = handle_key(
                fh->handle_type, reinterpret_cast<const unsigned char *>(fh->f_handle),
                fh->handle_bytes);
            const auto it = dirs_.find(key);
            const size_t name_len = strnlen(name, static_cast<size_t>(at + hdr->len - name));
            if (it != dirs_.end() && name_len > 0) {
              const std::string path = it->second + "/" + std::string(name, name_len);
              const auto match = gate_->protects(path, true);
              if (match && !match->above) {
                on_plant_(path, m->pid, (m->mask & FAN_MOVED_TO) != 0);
              } else if (match && is_dir(path)) {
                // A directory on the way to a protected name (~/.config for ~/.config/fish):
                // its names are watched from now on, and what it already holds (a tree
                // moved in whole) is looked at now.
                adopt(path, m->pid, 0);
              }
            }
          }
        }
        at += hdr->len;
      }
    }
  }
}

} // namespace vigil::enforce
