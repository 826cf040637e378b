// SPDX-License-Identifier: Apache-2.0
// Compilation of the persistence guard's targets into the LSM tier's persistence maps.
#include "daemon/lsm_persist.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>

#include "common/kernel_ids.h"

namespace vigil::daemon {

namespace {

std::string parent_of(const std::string &p)
{
  const size_t slash = p.rfind('/');
  return slash == 0 || slash == std::string::npos ? std::string("/") : p.substr(0, slash);
}

std::string name_of(const std::string &p)
{
  return p.substr(p.rfind('/') + 1);
}

uint8_t kernel_mode(policy::Mode m)
{
  return m == policy::Mode::enforce ? VG_MODE_ENFORCE : VG_MODE_AUDIT;
}

void merge(vg_persist_rule &into, const vg_persist_rule &r)
{
  if (into.rule_id == 0)
    into.rule_id = r.rule_id;
  if (into.node == 0)
    into.node = r.node;
  into.flags |= r.flags;
  if (r.mode == VG_MODE_ENFORCE)
    into.mode = VG_MODE_ENFORCE;
  else if (into.mode == 0)
    into.mode = r.mode;
}

struct Builder {
  uint32_t profile;
  std::map<std::pair<uint32_t, uint64_t>, vg_persist_rule> inodes; // (dev, ino)
  std::map<std::pair<std::pair<uint32_t, uint64_t>, std::string>, vg_persist_rule> names;
  std::map<std::string, uint32_t> nodes; // a missing directory -> its node (1, 2, ...)
  std::vector<std::string> unkeyed;
  std::vector<std::string> unreachable;

  bool id_of(const std::string &path, bool follow, std::pair<uint32_t, uint64_t> &id,
             bool *is_dir = nullptr, bool *is_link = nullptr)
  {
    struct stat st{};
    if ((follow ? ::stat(path.c_str(), &st) : ::lstat(path.c_str(), &st)) != 0)
      return false;
    id = {kernel_dev(st.st_dev), st.st_ino};
    if (is_dir)
      *is_dir = S_ISDIR(st.st_mode);
    if (is_link)
      *is_link = S_ISLNK(st.st_mode);
    return true;
  }

  void object(const std::string &path, bool follow, const vg_persist_rule &base)
  {
    std::pair<uint32_t, uint64_t> id;
    bool dir = false;
    if (!id_of(path, follow, id, &dir))
      return;
    vg_persist_rule r = base;
    r.flags = VG_PERSIST_SELF | (dir ? VG_PERSIST_SUBTREE : 0);
    merge(inodes[id], r);
  }

  void name(const std::string &dir, const std::string &leaf, const std::string &shown,
            const vg_persist_rule &base)
  {
    std::pair<uint32_t, uint64_t> id;
    if (!id_of(dir, true, id))
      return;
    if (leaf.empty() || leaf.size() >= VG_PERSIST_NAME) {
      unkeyed.push_back(shown);
      return;
    }
    vg_persist_rule r = base;
    r.flags = VG_PERSIST_SELF;
    merge(names[{id, leaf}], r);
  }

  // An absent path below the existing directory dir: rest holds its components from the
  // first missing one on. Each missing directory is a node: its name (in dir, or in the node
  // above) is a VG_PERSIST_WAY name, and the kernel gives the directory the node when the agent
  // makes it; the last component is the protected name. false: a component is too long.
  bool chain(const std::string &dir, const std::vector<std::string> &rest,
             const vg_persist_rule &base)
  {
    std::pair<uint32_t, uint64_t> parent;
    if (!id_of(dir, true, parent))
      return false;
    for (const auto &c : rest)
      if (c.empty() || c.size() >= VG_PERSIST_NAME)
        return false;
    std::string path = dir == "/" ? "" : dir;
    for (size_t i = 0; i < rest.size(); ++i) {
      path += "/" + rest[i];
      vg_persist_rule r = base;
      if (i + 1 == rest.size()) {
        r.flags = VG_PERSIST_SELF;
        merge(names[{parent, rest[i]}], r);
        break;
      }
      auto [it, fresh] = nodes.try_emplace(path, static_cast<uint32_t>(nodes.size() + 1));
      (void)fresh;
      r.flags = VG_PERSIST_WAY;
      r.node = it->second;
      merge(names[{parent, rest[i]}], r);
      parent = {0, it->second};
    }
    return true;
  }

  // dir and every directory above it, "/" excluded, as the kernel's dentries have them (a
  // symlinked component resolved).
  void ancestors(const std::string &path, const vg_persist_rule &base)
  {
    char *real = ::realpath(path.c_str(), nullptr);
    std::string dir = real ? std::string(real) : path;
    std::free(real);
    for (; dir != "/" && !dir.empty(); dir = parent_of(dir)) {
      std::pair<uint32_t, uint64_t> id;
      if (!id_of(dir, false, id))
        continue;
      vg_persist_rule r = base;
      r.flags = VG_PERSIST_ANCESTOR;
      merge(inodes[id], r);
    }
  }
};

uint32_t rule_of(const policy::Profile &profile, const std::string &pattern)
{
  for (size_t i = 0; i < profile.persistence_paths.size(); ++i)
    if (profile.persistence_paths[i].pattern == pattern)
      return static_cast<uint32_t>(i + 1);
  return 0;
}

} // namespace

LsmPersistRules compile_lsm_persistence(uint32_t profile_id, const policy::Profile &profile,
                                        const std::vector<enforce::GuardTarget> &present,
                                        const std::vector<enforce::GuardTarget> &absent)
{
  Builder b{profile_id, {}, {}, {}, {}, {}};
  for (const auto &t : present) {
    const vg_persist_rule base{rule_of(profile, t.pattern), 0, kernel_mode(t.mode), 0, 0, 0};
    b.object(t.path, false, base);
    b.object(t.path, true, base); // a symlinked dotfile: its target too
    b.name(parent_of(t.path), name_of(t.path), t.path, base);
    b.ancestors(parent_of(t.path), base);
  }
  for (const auto &t : absent) {
    const vg_persist_rule base{rule_of(profile, t.pattern), 0, kernel_mode(t.mode), 0, 0, 0};
    // Its name in its directory. Where the directory is missing too, refusing the first missing
    // name would refuse the agent a directory of general use (~/.config, ~/.ssh in a fresh
    // home): the missing directories may be made by mkdir, and the kernel protects the names
    // below each as it is made.
    std::string dir = parent_of(t.path);
    std::vector<std::string> rest{name_of(t.path)};
    struct stat st{};
    while (dir != "/" && ::stat(dir.c_str(), &st) != 0) {
      rest.insert(rest.begin(), name_of(dir));
      dir = parent_of(dir);
    }
    if (rest.size() == 1) {
      b.name(dir, rest[0], t.path, base);
    } else if (!b.chain(dir, rest, base)) {
      b.unreachable.push_back(t.path);
      continue;
    }
    b.ancestors(dir, base);
  }
  LsmPersistRules out;
  for (const auto &[id, rule] : b.inodes) {
    vg_file_key k{};
    k.dev = id.first;
    k.ino = id.second;
    k.profile_id = profile_id;
    out.inodes.emplace_back(k, rule);
  }
  for (const auto &[key, rule] : b.names) {
    vg_persist_name_key k{};
    k.dev = key.first.first;
    k.ino = key.first.second;
    k.profile_id = profile_id;
    std::memcpy(k.name, key.second.data(), key.second.size());
    out.names.emplace_back(k, rule);
  }
  out.unkeyed = std::move(b.unkeyed);
  out.unreachable = std::move(b.unreachable);
  return out;
}

} // namespace vigil::daemon
