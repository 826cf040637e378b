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
#include <span>
#include <string>
#include <unordered_map>

#include "pipeline/event.h"
#include "policy/path_index.h"
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

  // The path lists of the rules that share the credential-path index with the profiles
  // (credential_read, persistence_write): list k answers as rule_path_hits()[k]. The lists must outlive
  // the next call. groups[g] names lists asked together (rule_paths_any).
  void set_rule_paths(std::vector<const std::vector<std::string> *> lists,
                      std::vector<std::vector<uint32_t>> groups = {});
  // For path (absolute, normalised) and the home of uid at event time now_ns: the index of the
  // first pattern of rule list `list` that path matches, or PathIndex::kNone. One index serves
  // every rule and profile: the path is hashed once per event, and each glob runs at most once
  // per event whichever lists ask. Allocates nothing once warm.
  uint32_t rule_path_match(size_t list, std::string_view path, uint32_t uid, uint64_t now_ns)
  {
    return query(path, uid, now_ns).first(query_, list);
  }
  // Whether some list of group g (set_rule_paths) has a pattern that path matches: when not,
  // rule_path_match() answers PathIndex::kNone for every list of the group. Same costs.
  bool rule_paths_any(size_t group, std::string_view path, uint32_t uid, uint64_t now_ns)
  {
    return query(path, uid, now_ns).any(query_, group);
  }
  // A new event: the path lookups that follow start afresh (within one event, a lookup of the
  // same string object and uid reuses the current one without comparing the path again).
  void next_event() { same_event_ = false; }
  // The home of uid (the HomeResolver's answer, kept for kHomeTtlNs of event time).
  const std::string &home(uint32_t uid, uint64_t now_ns);

  static constexpr size_t kMaxHomes = 256; // indexes kept, one per home; and homes per uid
  static constexpr uint64_t kHomeTtlNs = 10'000'000'000ull;

private:
  struct Compiled {
    policy::Profile profile;
    uint32_t owner = 0; // its list in the index: after the rules' lists
  };
  // The same for list `owner` of the index (rules' lists, then profiles').
  uint32_t path_match(size_t owner, std::string_view path, uint32_t uid, uint64_t now_ns)
  {
    return query(path, uid, now_ns).first(query_, owner);
  }
  // The index of uid's home with query_ started on path.
  const policy::PathIndex &query(std::string_view path, uint32_t uid, uint64_t now_ns)
  {
    // Every rule of an open asks about the same path of the same event: answered in place.
    if (same_event_ && query_index_ && uid == event_uid_ && path.data() == event_path_ &&
        path.size() == event_path_size_)
      return *query_index_;
    return start_query(path, uid, now_ns);
  }
  const policy::PathIndex &start_query(std::string_view path, uint32_t uid, uint64_t now_ns);
  void policy_changed();
  std::optional<PolicyHit> match_open(Compiled &c, const pipeline::Event &ev,
                                    const pipeline::OpenBody &o);
  std::optional<PolicyHit> match_connect(Compiled &c, const pipeline::Event &ev,
                                       const pipeline::ConnectBody &b);

  DirResolver dirs_;
  HomeResolver homes_;
  std::map<uint32_t, Compiled> profiles_;
  std::vector<const std::vector<std::string> *> rule_lists_;
  std::vector<std::vector<uint32_t>> rule_groups_;
  std::unordered_map<std::string, policy::PathIndex> indexes_; // by home
  // The current path's lookup: the index it runs on and the path (which the query points into).
  const policy::PathIndex *query_index_ = nullptr;
  std::string query_path_;
  policy::PathIndex::Query query_;
  // Within one event: the string the query was started from (its data and size) and the uid.
  bool same_event_ = false;
  const char *event_path_ = nullptr;
  size_t event_path_size_ = 0;
  uint32_t event_uid_ = 0;
  std::unordered_map<uint32_t, std::string> home_of_uid_;
  // The last uid asked for and its entry in home_of_uid_ (every open asks), forgotten when the
  // cache starts over; a copied or moved matcher starts without it.
  struct LastHome {
    const std::string *home = nullptr;
    uint32_t uid = 0;
    LastHome() = default;
    LastHome(const LastHome &) {}
    LastHome &operator=(const LastHome &)
    {
      home = nullptr;
      return *this;
    }
  };
  LastHome last_home_;
  uint64_t homes_since_ns_ = 0; // event time when home_of_uid_ was started
};

// Production resolvers: /proc/PID/cwd and /proc/PID/fd/N; the passwd database.
std::string proc_dir_of(uint32_t pid, int32_t dfd);
std::string passwd_home(uint32_t uid);

} // namespace vigil::detect
