// SPDX-License-Identifier: Apache-2.0
// `vigil profile suggest`: a least-privilege profile from a recorded session. It starts from a
// base profile (every protection of the base is kept) and allows what the recorded agent did
// that the base would refuse: the egress destinations it reached, each with its ports and a
// comment saying where it came from (first seen, count, process). A destination whose address a
// DNS answer the agent received gave is written as that answer's name (a host entry, with the
// answer in its comment); the others stay addresses. What must not be allowed
// without a person looking is written as a REVIEW comment, never as an entry: credential files
// the agent read (protected ones stay protected; credential-like ones the base does not name are
// offered as entries to add), cloud-metadata and link-local destinations, unix sockets served
// from outside the agent.
#pragma once

#include <string>

#include "policy/profile.h"
#include "report/session.h"

namespace vigil::report {

struct SuggestMeta {
  std::string base_path; // where the base profile came from
  std::string command;   // how the suggestion was made
};

// The profile as YAML text (parse_profile accepts it; `vigil check-profile` says ok).
std::string suggest_profile(const Session &s, const policy::Profile &base, const SuggestMeta &meta);

// A YAML double-quoted scalar of s (escapes \ " and every control or invalid byte).
std::string yaml_quote(std::string_view s);

// Whether a path looks like it holds a secret (keys, tokens, password stores, .env files), by
// its name: the heuristic behind the REVIEW list of files outside the base profile.
bool credential_like(std::string_view path);

} // namespace vigil::report
