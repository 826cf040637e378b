// SPDX-License-Identifier: Apache-2.0
// Credential patterns -> the BPF LSM tier's file maps: protected inodes (files, and directories
// whose children or subtree are protected) and basename patterns, all by identity.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "policy/profile.h"
#include "vigil/abi.h"

namespace vigil::daemon {

struct LsmFileRules {
  std::vector<std::pair<vg_file_key, vg_file_rule>> inodes;
  std::vector<vg_name_pat> names;
  std::vector<std::string> unsupported; // patterns the kernel tier cannot express (observed only)
  std::vector<vg_file_key> ipc_allow;    // sockets and FIFOs a profile lets its agents use
  bool expanded_full = false; // more files matched glob/subtree patterns than are keyed by inode
};

// For each profile and each home ("~/" patterns): a literal path protects its own inode (and
// its subtree when it is a directory) and, through its parent directory, any file later created
// or renamed to that name there, so a credentials file replaced by rename stays protected with
// no refresh. "D/**" protects D's subtree; a glob in the last component ("~/.ssh/id_*")
// protects matching children of D; a bare pattern (".env", "*.key") matches names anywhere.
// Name patterns are prefix*suffix or exact; anything else is unsupported. Every regular file
// that a glob or subtree pattern matches at compile time is keyed by its inode as well (at most
// 32768; expanded_full says when more matched), so its other names (hard links, a moved copy)
// are protected too. Directories with the same child patterns share one pattern group, so the
// name table's size does not depend on the number of homes.
LsmFileRules compile_lsm_files(const std::map<uint32_t, policy::Profile> &profiles,
                               const std::vector<std::string> &homes);

} // namespace vigil::daemon
