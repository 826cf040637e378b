// SPDX-License-Identifier: Apache-2.0
// What an agent could reach before its first alert, for one uid and one profile: credential
// files (the rule packs' paths and files whose content looks like key material), secret-looking
// environment variables, mounted secrets, local sockets that hand out authority, and the breadth
// of the egress allowlist. Bounded (files, bytes, time) and never holding a secret's value: a
// finding names a path or a variable and what it looks like, nothing more.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "policy/profile.h"
#include "policy/rules.h"

namespace vigil::inventory {

struct Options {
  uint32_t uid = 0;
  std::vector<uint32_t> gids;   // the uid's groups (primary included); DAC checks use them
  std::string home;             // the uid's home ("~/")
  std::string project;          // the directory the agent works in; "" for none
  std::vector<std::string> env; // "NAME=VALUE": what the agent would be started with
  // Scan bounds: files looked at, bytes read per file (its head), files larger than max_size
  // skipped, the walk's depth, and the whole scan's time.
  size_t max_files = 20000;
  size_t read_bytes = 64 * 1024;
  uint64_t max_size = 4u << 20;
  int max_depth = 8;
  std::chrono::milliseconds budget{3000};
};

// One finding. `what` says what kind of authority it is ("aws-credentials", "pem-private-key",
// "docker-socket", ...), `why` how it was found (the rule id, "content line 3", the variable).
struct Finding {
  std::string category; // credential | environment | mounted_secret | socket | network
  std::string what;
  std::string where; // a path, a variable name, an address
  std::string why;
  bool reachable = false; // exists and the uid could use it, and the profile does not deny it
  std::string status; // "reachable", "denied by the profile (...)", "scrubbed by vigil run", ...
};

struct EgressBreadth {
  double ipv4_addresses = 0;     // addresses the IPv4 entries cover (overlaps counted twice)
  std::vector<std::string> ipv6; // IPv6 prefixes allowed
  size_t any_port_entries = 0;
  size_t host_entries = 0;
  std::vector<std::string> dns; // resolvers port 53 may reach ("system": the host's)
};

struct Inventory {
  uint32_t uid = 0;
  std::string home, project, profile;
  std::vector<Finding> findings;
  EgressBreadth egress;
  size_t files_scanned = 0;
  bool truncated = false; // a bound was hit: the scan is partial
  uint64_t elapsed_ms = 0;
  // Reachable findings by category, most dangerous first; the summary line says them.
  std::string summary() const;
};

Inventory take(const Options &opts, const policy::Profile &profile, const policy::RuleSet &rules);

std::string to_text(const Inventory &inv);
// Stable shape (docs/INVENTORY in the README): version 1.
nlohmann::json to_json(const Inventory &inv);

// What a file's head looks like, if it holds key material: "pem-private-key", "aws-access-key-id",
// "github-token", ... and the 1-based line of the first match; empty when nothing.
struct KeyMatch {
  std::string kind;
  size_t line = 0;
};
KeyMatch find_key_material(std::string_view text);

} // namespace vigil::inventory
