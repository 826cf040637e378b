// SPDX-License-Identifier: Apache-2.0
// Compilation of credential patterns into the LSM tier's inode and name maps.
#include "daemon/lsm_files.h"

#include "common/kernel_ids.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cstring>
#include <optional>

namespace vigil::daemon {

namespace {

bool has_glob(const std::string &s)
{
  return s.find_first_of("*?[") != std::string::npos;
}

// "pre*suf" or "exact" into a vg_name_pat; nullopt for anything else.
std::optional<vg_name_pat> name_pattern(const std::string &name)
{
  vg_name_pat p{};
  if (name.find_first_of("?[") != std::string::npos)
    return std::nullopt;
  const size_t star = name.find('*');
  std::string pre = star == std::string::npos ? name : name.substr(0, star);
  std::string suf = star == std::string::npos ? "" : name.substr(star + 1);
  if (suf.find('*') != std::string::npos || pre.size() > VG_NAME_PART ||
      suf.size() > VG_NAME_PART || name.empty())
    return std::nullopt;
  p.whole = star == std::string::npos ? 1 : 0;
  p.prefix_len = static_cast<uint8_t>(pre.size());
  p.suffix_len = static_cast<uint8_t>(suf.size());
  std::memcpy(p.prefix, pre.data(), pre.size());
  std::memcpy(p.suffix, suf.data(), suf.size());
  return p;
}

struct Builder {
  std::map<std::pair<uint64_t, uint64_t>, vg_file_rule> by_key; // (dev<<32|profile, ino)
  std::map<std::pair<uint64_t, uint64_t>, vg_file_key> keys;
  std::vector<vg_name_pat> names;
  uint16_t next_group = 1;

  // The rule for a path's inode, created on first use; nullptr when the path does not exist.
  vg_file_rule *rule_for(const std::string &path, uint32_t profile, uint32_t rule_id,
                         bool *is_dir = nullptr)
  {
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0)
      return nullptr;
    if (is_dir)
      *is_dir = S_ISDIR(st.st_mode);
    vg_file_key k{};
    k.ino = st.st_ino;
    k.dev = kernel_dev(st.st_dev);
    k.profile_id = profile;
    auto id = std::make_pair((static_cast<uint64_t>(k.dev) << 32) | profile, k.ino);
    keys[id] = k;
    auto [it, fresh] = by_key.try_emplace(id, vg_file_rule{rule_id, 0, 0});
    (void)fresh;
    return &it->second;
  }

  void add_child_name(vg_file_rule *dir, uint32_t profile, uint32_t rule_id, vg_name_pat pat)
  {
    dir->flags |= VG_FILE_CHILDREN;
    if (dir->name_pat == 0)
      dir->name_pat = next_group++;
    pat.profile_id = profile;
    pat.rule_id = rule_id;
    pat.group = dir->name_pat;
    pat.anywhere = 0;
    names.push_back(pat);
  }
};

} // namespace

LsmFileRules compile_lsm_files(const std::map<uint32_t, policy::Profile> &profiles,
                               const std::vector<std::string> &homes)
{
  Builder b;
  LsmFileRules out;
  for (const auto &[profile, p] : profiles) {
    for (size_t i = 0; i < p.credential_paths.size(); ++i) {
      const std::string &pat = p.credential_paths[i];
      const uint32_t rule_id = static_cast<uint32_t>(i + 1);
      if (pat.find('/') == std::string::npos) { // basename, anywhere
        auto np = name_pattern(pat);
        if (!np) {
          out.unsupported.push_back(pat);
          continue;
        }
        np->profile_id = profile;
        np->rule_id = rule_id;
        np->anywhere = 1;
        b.names.push_back(*np);
        continue;
      }
      for (const auto &path : policy::expand_home(pat, homes)) {
        const size_t slash = path.rfind('/');
        const std::string dir = slash == 0 ? "/" : path.substr(0, slash);
        const std::string last = path.substr(slash + 1);
        if (has_glob(dir)) { // a wildcard above the last component
          out.unsupported.push_back(pat);
          continue;
        }
        if (last == "**") {
          if (vg_file_rule *r = b.rule_for(dir, profile, rule_id))
            r->flags |= VG_FILE_SELF | VG_FILE_SUBTREE;
          continue;
        }
        if (has_glob(last)) {
          auto np = name_pattern(last);
          vg_file_rule *r = b.rule_for(dir, profile, rule_id);
          if (!r)
            continue;
          if (np) {
            b.add_child_name(r, profile, rule_id, *np);
          } else {
            out.unsupported.push_back(pat);
          }
          continue;
        }
        bool is_dir = false;
        if (vg_file_rule *r = b.rule_for(path, profile, rule_id, &is_dir))
          r->flags |= VG_FILE_SELF | (is_dir ? VG_FILE_SUBTREE : 0);
        // Names longer than VG_NAME_PART keep only their inode rule (no rename coverage).
        if (auto np = name_pattern(last)) {
          if (vg_file_rule *d = b.rule_for(dir, profile, rule_id))
            b.add_child_name(d, profile, rule_id, *np);
        }
      }
    }
  }
  for (const auto &[profile, p] : profiles) {
    for (const auto &pat : p.ipc_allow) {
      for (const auto &path : policy::expand_home(pat, homes)) {
        struct stat st{};
        if (::stat(path.c_str(), &st) != 0)
          continue; // not there (yet): nothing to allow
        vg_file_key k{};
        k.ino = st.st_ino;
        k.dev = kernel_dev(st.st_dev);
        k.profile_id = profile;
        out.ipc_allow.push_back(k);
      }
    }
  }
  for (const auto &[id, rule] : b.by_key)
    out.inodes.emplace_back(b.keys[id], rule);
  out.names = std::move(b.names);
  return out;
}

} // namespace vigil::daemon
