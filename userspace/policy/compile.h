// SPDX-License-Identifier: Apache-2.0
// Profile -> kernel map contents. Pure: produces the entries; the loader writes them.
#pragma once

#include <cstdint>
#include <vector>

#include "common/result.h"
#include "policy/profile.h"
#include "vigil/abi.h"

namespace vigil::policy {

struct EgressEntry {
  vg_egress_key key{};
  vg_egress_val val{};
};

// The LPM-trie entries of a profile's egress allowlist. Each prefix carries the union of its own
// ports and those of every shorter prefix containing it (allow rules add up, and an LPM lookup
// only sees the longest match). Error when an entry would need more than VG_PORT_RANGES ranges.
Result<std::vector<EgressEntry>> compile_egress(const Profile &p, uint32_t profile_id);

} // namespace vigil::policy
