// SPDX-License-Identifier: Apache-2.0
// OpenDedup lives in pipeline/ (replay and the report use it too); the daemon's name for it.
#pragma once

#include "pipeline/open_dedup.h"

namespace vigil::daemon {
using pipeline::OpenDedup;
} // namespace vigil::daemon
