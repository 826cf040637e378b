// SPDX-License-Identifier: Apache-2.0
// The profile matcher: what a profile's own policy says about an event (a credential path read,
// a connect outside the egress allowlist, and the kernel's decisions on processes, side channels
// and raw sockets). The Detector turns a PolicyHit into the findings of the rules that follow the
// profile (credential_read with profile_paths, egress outside_allowlist, ...).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "pipeline/event.h"
#include "policy/profile.h"

namespace vigil::detect {

inline constexpr std::string_view kRuleCredentialRead = "credential-read";
inline constexpr std::string_view kRuleEgressNotAllowed = "egress-not-allowed";
inline constexpr std::string_view kRuleForeignProcess = "foreign-process-access";
inline constexpr std::string_view kRuleIpcNotAllowed = "ipc-not-allowed";
inline constexpr std::string_view kRuleRawSocket = "raw-socket";
inline constexpr std::string_view kRuleInbound = "inbound-not-allowed";

// "/proc/<digits>/environ", "mem", "auxv" or "pagemap": another process's environment or memory.
bool foreign_proc_file(std::string_view path);

struct PolicyHit {
  std::string_view rule;
  policy::Severity severity;
  uint32_t profile_id;
  std::string path; // normalised absolute path (credential rules)
  std::string pattern; // the credential pattern that matched
};

class Matcher {
public:
  // Where relative paths of failed opens are resolved: returns the directory that dfd (or the
  // cwd for AT_FDCWD) of pid refers to, or "" when unknown.
  using DirResolver = std::function<std::string(uint32_t pid, int32_t dfd)>;
  // Home directory for "~/" patterns of a process with this uid.
  using HomeResolver = std::function<std::string(uint32_t uid)>;

  Matcher(DirResolver dirs, HomeResolver homes);

  void set_profile(uint32_t id, policy::Profile p);
  void remove_profile(uint32_t id);
  const policy::Profile *profile(uint32_t id) const;

  std::optional<PolicyHit> match(const pipeline::Event &ev);

  static constexpr size_t kMaxHomes = 256; // compiled matchers kept per profile, one per home

private:
  struct Compiled {
    policy::Profile profile;
    std::unordered_map<std::string, policy::PathMatcher> by_home;
  };
  std::optional<PolicyHit> match_open(Compiled &c, const pipeline::Event &ev,
                                    const pipeline::OpenBody &o);
  std::optional<PolicyHit> match_connect(Compiled &c, const pipeline::Event &ev,
                                       const pipeline::ConnectBody &b);

  DirResolver dirs_;
  HomeResolver homes_;
  std::map<uint32_t, Compiled> profiles_;
};

// Production resolvers: /proc/PID/cwd and /proc/PID/fd/N; the passwd database.
std::string proc_dir_of(uint32_t pid, int32_t dfd);
std::string passwd_home(uint32_t uid);

} // namespace vigil::detect
