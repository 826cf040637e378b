// SPDX-License-Identifier: Apache-2.0
// One JSON object per record, for `vigil log export --format json` (jq, SIEM ingestion).
#pragma once

#include <nlohmann/json.hpp>

#include "eventlog/reader.h"

namespace vigil::eventlog {

// EVENT records become the decoded event with named fields ("record":"event", "type", "time"
// as RFC 3339 UTC from the segment's clock pair, "pid", "tid", "uid", "comm", "cgroup_id",
// "profile_id", "verdict", "tier" and the body's fields); JSON records (policy, process, cgroup,
// note) their own fields under "record":"<type>"; alerts nest under "alert". Every object names
// its "segment" and block "offset". A payload that does not decode gives "error" instead of
// the fields; this never throws.
nlohmann::ordered_json to_json(const RecordView &r);

} // namespace vigil::eventlog
