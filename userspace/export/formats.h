// SPDX-License-Identifier: Apache-2.0
// Alert encodings for the outputs that speak someone else's format: Falco's JSON output (what
// falcosidekick and Falco pipelines ingest) and Alertmanager's v2 API alerts.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "detect/alert.h"

namespace vigil::exporter {

// Falco's priority names: "Emergency", "Alert", "Critical", "Error", "Warning", "Notice",
// "Informational", "Debug".
std::string_view falco_priority(policy::Severity s);

// One alert as Falco's JSON output emits it (json_output with json_include_output_property and
// json_include_tags_property: Falco's defaults). The shape follows Falco's own serialisation,
// falco_formats::format_event() in falcosecurity/falco userspace/engine/formats.cpp, and
// falcosidekick's FalcoPayload (types/types.go):
//   time           string, RFC 3339 UTC with nanoseconds ("2026-11-23T02:15:04.123456789Z")
//   rule           string
//   priority       string, capitalised (falco_priority())
//   source         string, "syscall": Falco's source for kernel (syscall/LSM) events
//   hostname       string
//   output         string, "<HH:MM:SS.nnnnnnnnn>: <Priority> <sentence>" (Falco's prefix)
//   tags           array of strings, sorted and unique (Falco keeps them in a std::set)
//   output_fields  object of scalars keyed by Falco field names (evt.time is an integer of
//                  epoch nanoseconds, pids and uids integers, names and paths strings); what
//                  Falco has no field for is under "vigil.".
// "output" is escaped (common/text.h); output_fields hold the reported bytes (dump with
// error_handler_t::replace).
nlohmann::json to_falco_json(const detect::Alert &a);

// Longest Alertmanager label value; longer values are cut (escape_bounded()).
constexpr size_t kMaxAlertmanagerLabelBytes = 128;

// One alert in Alertmanager's v2 API shape (postableAlert: labels, annotations, startsAt,
// endsAt; POST /api/v2/alerts takes an array of them). Labels hold bounded values only (rule,
// severity, profile, hostname, verdict, process name; escaped and cut to
// kMaxAlertmanagerLabelBytes); the rest goes to annotations, escaped. An alert is
// a point event: it stays active for `hold` after its time, then Alertmanager resolves it.
nlohmann::json to_alertmanager_alert(const detect::Alert &a, std::chrono::seconds hold);

} // namespace vigil::exporter
