// SPDX-License-Identifier: Apache-2.0
// Compilation of credential patterns into the LSM tier's inode and name maps.
#include "daemon/lsm_files.h"

#include "common/kernel_ids.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <optional>

namespace vigil::daemon {

namespace {

// Files keyed by identity for glob and subtree patterns, over all profiles and homes: the map
// holds 65536 keys, and directory and literal rules need room too.
constexpr size_t kMaxExpanded = 32768;

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
  // Child-name patterns per directory rule, grouped at the end: directories with the same
  // patterns (every home's ~/.ssh) share one group, so the table does not grow with homes.
  std::map<std::pair<uint64_t, uint64_t>, std::vector<vg_name_pat>> child_pats;
  size_t expanded = 0; // files keyed by identity for glob and subtree patterns (kMaxExpanded)

  // The rule for a path's inode, created on first use; nullptr when the path does not exist.
  vg_file_rule *rule_for(const std::string &path, uint32_t profile, uint32_t rule_id,
                         bool *is_dir = nullptr, std::pair<uint64_t, uint64_t> *id_out = nullptr)
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
    if (id_out)
      *id_out = id;
    auto [it, fresh] = by_key.try_emplace(id, vg_file_rule{rule_id, 0, 0});
    (void)fresh;
    return &it->second;
  }

  void add_child_name(const std::pair<uint64_t, uint64_t> &dir, vg_file_rule *rule,
                      uint32_t profile, uint32_t rule_id, vg_name_pat pat)
  {
    rule->flags |= VG_FILE_CHILDREN;
    pat.profile_id = profile;
    pat.rule_id = rule_id;
    pat.anywhere = 0;
    child_pats[dir].push_back(pat);
  }

  // A file that a glob or subtree pattern matches now is protected by its identity as well, so
  // a hard link or move made before vigil started (or by a process outside the agent) still
  // reads as the credential it is. Regular files only; the count is bounded.
  void key_file(const std::string &path, uint32_t profile, uint32_t rule_id, bool *full)
  {
    struct stat st{};
    // stat, not lstat: a credential that is a symlink (dotfile managers) is its target
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
      return;
    if (expanded >= kMaxExpanded) {
      *full = true;
      return;
    }
    ++expanded;
    if (vg_file_rule *r = rule_for(path, profile, rule_id))
      r->flags |= VG_FILE_SELF;
  }

  void key_children(const std::string &dir, const std::string &glob, uint32_t profile,
                    uint32_t rule_id, bool *full)
  {
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end;
         it.increment(ec))
      if (policy::glob_match(glob, it->path().filename().string()))
        key_file(it->path().string(), profile, rule_id, full);
  }

  void key_subtree(const std::string &dir, uint32_t profile, uint32_t rule_id, bool *full)
  {
    std::error_code ec;
    for (std::filesystem::recursive_directory_iterator
             it(dir, std::filesystem::directory_options::skip_permission_denied, ec),
         end;
         !ec && it != end && !*full; it.increment(ec))
      key_file(it->path().string(), profile, rule_id, full);
  }

  // Gives each directory rule its group of child-name patterns, one group per distinct set.
  void finish_groups()
  {
    std::map<std::string, uint16_t> groups; // the set's bytes -> group
    for (auto &[dir, pats] : child_pats) {
      std::sort(pats.begin(), pats.end(), [](const vg_name_pat &a, const vg_name_pat &b) {
        return std::memcmp(&a, &b, sizeof(a)) < 0;
      });
      pats.erase(std::unique(pats.begin(), pats.end(),
                             [](const vg_name_pat &a, const vg_name_pat &b) {
                               return std::memcmp(&a, &b, sizeof(a)) == 0;
                             }),
                 pats.end());
      std::string bytes(reinterpret_cast<const char *>(pats.data()), pats.size() * sizeof(pats[0]));
      auto [it, fresh] = groups.try_emplace(bytes, static_cast<uint16_t>(groups.size() + 1));
      if (fresh)
        for (vg_name_pat p : pats) {
          p.group = it->second;
          names.push_back(p);
        }
      by_key[dir].name_pat = it->second;
    }
  }
};

} // namespace

LsmFileRules compile_lsm_files(const std::map<uint32_t, policy::Profile> &profiles,
                               const std::vector<std::string> &homes)
{
  Builder b;
  LsmFileRules out;
  bool full = false;
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
          b.key_subtree(dir, profile, rule_id, &full);
          continue;
        }
        if (has_glob(last)) {
          auto np = name_pattern(last);
          std::pair<uint64_t, uint64_t> id;
          vg_file_rule *r = b.rule_for(dir, profile, rule_id, nullptr, &id);
          if (!r)
            continue;
          if (np) {
            b.add_child_name(id, r, profile, rule_id, *np);
          } else {
            out.unsupported.push_back(pat);
          }
          b.key_children(dir, last, profile, rule_id, &full);
          continue;
        }
        bool is_dir = false;
        if (vg_file_rule *r = b.rule_for(path, profile, rule_id, &is_dir))
          r->flags |= VG_FILE_SELF | (is_dir ? VG_FILE_SUBTREE : 0);
        // Names longer than VG_NAME_PART keep only their inode rule (no rename coverage).
        if (auto np = name_pattern(last)) {
          std::pair<uint64_t, uint64_t> id;
          if (vg_file_rule *d = b.rule_for(dir, profile, rule_id, nullptr, &id))
            b.add_child_name(id, d, profile, rule_id, *np);
        }
      }
    }
  }
  for (const auto &[profile, p] : profiles) {
    // The system's logging and nscd sockets, then ipc.allow: by the inode each name leads to
    // now (/dev/log is a symlink to journald's socket).
    for (const auto &path : policy::unix_allow_paths(p, homes)) {
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
  b.finish_groups();
  out.expanded_full = full;
  for (const auto &[id, rule] : b.by_key)
    out.inodes.emplace_back(b.keys[id], rule);
  out.names = std::move(b.names);
  return out;
}

} // namespace vigil::daemon
