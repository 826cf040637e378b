// SPDX-License-Identifier: Apache-2.0
// The persistence guard's targets for one agent -> the BPF LSM tier's persistence maps: what
// the agent may not change (by inode), which names it may not make (by directory and name),
// and which directories it may not rename away or remove (the ancestors of both).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "enforce/persistence.h"
#include "policy/profile.h"
#include "vigil/abi.h"

namespace vigil::daemon {

struct LsmPersistRules {
  std::vector<std::pair<vg_file_key, vg_persist_rule>> inodes;
  std::vector<std::pair<vg_persist_name_key, vg_persist_rule>> names;
  std::vector<std::string> unkeyed; // names of VG_PERSIST_NAME bytes or more: inode rules only
  std::vector<std::string> unreachable; // absent paths with a component too long to key
};

// present: existing paths (enforce::resolve_guard_targets); absent: literal paths that do not
// exist (enforce::resolve_absent_targets). An existing path protects its inode (VG_PERSIST_SELF;
// a directory also VG_PERSIST_SUBTREE), its symlink target's inode likewise, and its name in
// its directory (so a file replaced from outside the agent is still protected). An absent path
// whose directory exists protects its name there. For one whose directory is missing too, each
// missing directory is a node (1, 2, ... per profile; shared by paths below the same one): its
// name, in the deepest existing directory or in the node above, is a VG_PERSIST_WAY name that
// the agent may make with mkdir only, and the path's last component is protected under the
// last node; the kernel gives each directory its node when the agent makes it. A path with a
// component of VG_PERSIST_NAME bytes or more is listed in unreachable and not protected. Every
// existing directory above, up to "/" (excluded), gets VG_PERSIST_ANCESTOR. rule_id is the
// target's entry in profile.persistence_paths, + 1. Where two targets share an inode their
// flags add up and enforce wins over audit.
LsmPersistRules compile_lsm_persistence(uint32_t profile_id, const policy::Profile &profile,
                                        const std::vector<enforce::GuardTarget> &present,
                                        const std::vector<enforce::GuardTarget> &absent);

} // namespace vigil::daemon
