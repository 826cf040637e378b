// SPDX-License-Identifier: Apache-2.0
// Credential-read and egress matching for the walking skeleton's two rules.
#include "detect/matcher.h"

#include <pwd.h>
#include <unistd.h>

#include <cerrno>

#include "vigil/abi.h"

namespace vigil::detect {

bool foreign_proc_file(std::string_view path)
{
  constexpr std::string_view kProc = "/proc/";
  if (!path.starts_with(kProc))
    return false;
  path.remove_prefix(kProc.size());
  const size_t digits = path.find_first_not_of("0123456789");
  if (digits == 0 || digits == std::string_view::npos || path[digits] != '/')
    return false;
  const std::string_view file = path.substr(digits + 1);
  for (std::string_view f : {"environ", "mem", "auxv", "pagemap"})
    if (file == f)
      return true;
  return false;
}

Matcher::Matcher(DirResolver dirs, HomeResolver homes)
    : dirs_(std::move(dirs)), homes_(std::move(homes))
{
}

void Matcher::set_profile(uint32_t id, policy::Profile p)
{
  profiles_[id] = Compiled{std::move(p), 0};
  policy_changed();
}

void Matcher::remove_profile(uint32_t id)
{
  profiles_.erase(id);
  policy_changed();
}

void Matcher::set_rule_paths(std::vector<const std::vector<std::string> *> lists,
                             std::vector<std::vector<uint32_t>> groups)
{
  rule_lists_ = std::move(lists);
  rule_groups_ = std::move(groups);
  policy_changed();
}

void Matcher::policy_changed()
{
  indexes_.clear();
  query_index_ = nullptr;
  same_event_ = false;
  uint32_t owner = static_cast<uint32_t>(rule_lists_.size());
  for (auto &[id, c] : profiles_)
    c.owner = owner++;
}

const std::string &Matcher::home(uint32_t uid, uint64_t now_ns)
{
  // passwd is asked again now and then (a home can change), and the cache is bounded. Events of
  // different CPUs arrive slightly out of order: only a jump back by the TTL starts over.
  if (now_ns > homes_since_ns_ + kHomeTtlNs || now_ns + kHomeTtlNs < homes_since_ns_ ||
      home_of_uid_.size() >= kMaxHomes) {
    home_of_uid_.clear();
    homes_since_ns_ = now_ns;
    last_home_.home = nullptr;
  }
  if (last_home_.home && last_home_.uid == uid)
    return *last_home_.home;
  auto it = home_of_uid_.find(uid);
  if (it == home_of_uid_.end())
    it = home_of_uid_.emplace(uid, homes_ ? homes_(uid) : std::string()).first;
  last_home_.uid = uid;
  last_home_.home = &it->second;
  return it->second;
}

const policy::PathIndex &Matcher::start_query(std::string_view path, uint32_t uid,
                                              uint64_t now_ns)
{
  const std::string &h = home(uid, now_ns);
  auto it = indexes_.find(h);
  if (it == indexes_.end()) {
    if (indexes_.size() >= kMaxHomes) {
      indexes_.clear(); // homes come from passwd: a handful; a bound anyway
      query_index_ = nullptr;
      same_event_ = false;
    }
    std::vector<const std::vector<std::string> *> lists = rule_lists_;
    for (const auto &[id, c] : profiles_)
      lists.push_back(&c.profile.credential_paths);
    it = indexes_.emplace(h, policy::PathIndex(lists, h, rule_groups_)).first;
  }
  if (query_index_ != &it->second || query_path_ != path) {
    query_path_.assign(path);
    it->second.start(query_, query_path_);
    query_index_ = &it->second;
  }
  same_event_ = true;
  event_path_ = path.data();
  event_path_size_ = path.size();
  event_uid_ = uid;
  return it->second;
}

const policy::Profile *Matcher::profile(uint32_t id) const
{
  auto it = profiles_.find(id);
  return it == profiles_.end() ? nullptr : &it->second.profile;
}

std::optional<PolicyHit> Matcher::match(const pipeline::Event &ev)
{
  next_event();
  auto it = profiles_.find(ev.hdr.profile_id);
  if (it == profiles_.end())
    return std::nullopt;
  if (const auto *o = std::get_if<pipeline::OpenBody>(&ev.body))
    return match_open(it->second, ev, *o);
  if (const auto *c = std::get_if<pipeline::ConnectBody>(&ev.body))
    return match_connect(it->second, ev, *c);
  if (std::holds_alternative<pipeline::SocketBody>(ev.body) &&
      ev.hdr.verdict != pipeline::Verdict::none)
    return PolicyHit{kRuleRawSocket, it->second.profile.egress_severity, ev.hdr.profile_id, {}, {}};
  // Only the kernel reports these, and only for access outside the agent's own cgroup subtree.
  if (std::holds_alternative<pipeline::PtraceBody>(ev.body) &&
      ev.hdr.verdict != pipeline::Verdict::none)
    return PolicyHit{kRuleForeignProcess, it->second.profile.credential_severity, ev.hdr.profile_id,
                   {}, {}};
  return std::nullopt;
}

std::optional<PolicyHit> Matcher::match_open(Compiled &c, const pipeline::Event &ev,
                                           const pipeline::OpenBody &o)
{
  // Another process's environment or memory, named by a pid that does not exist where the agent
  // looks: outside its PID namespace (vigil run), or gone. Refusals the kernel itself reports
  // (EACCES from its ptrace check) come from the BPF LSM's ptrace hook where it runs.
  if (o.ret == -ENOENT && !o.resolved && foreign_proc_file(o.path))
    return PolicyHit{kRuleForeignProcess, c.profile.credential_severity, ev.hdr.profile_id,
                     o.path, {}};
  if (o.persist) // the persistence rules report it
    return std::nullopt;
  if (o.ipc && ev.hdr.verdict != pipeline::Verdict::none)
    return PolicyHit{kRuleIpcNotAllowed, c.profile.egress_severity, ev.hdr.profile_id, o.path, {}};
  // An enforcing tier decided on a protected object: report its decision as it stands.
  if (ev.hdr.verdict == pipeline::Verdict::deny || ev.hdr.verdict == pipeline::Verdict::audit) {
    std::string pattern = o.pattern;
    std::string path = o.path;
    const uint32_t rule = ev.hdr.rule_id;
    if (pattern.empty() && rule > 0 && rule <= c.profile.credential_paths.size())
      pattern = c.profile.credential_paths[rule - 1];
    if (pattern.empty() && rule == VG_RULE_TOO_DEEP)
      pattern = "(deeper than the kernel's directory walk: refused, fail closed)";
    // The kernel names the file as it was opened (a hardlink, a bind mount); a literal pattern
    // names the protected file itself, which is what a responder wants to read first.
    if (ev.hdr.tier == pipeline::Tier::lsm && pattern.find('/') != std::string::npos &&
        pattern.find_first_of("*?[") == std::string::npos) {
      if (pattern.starts_with("~/")) {
        const std::string &home = this->home(ev.hdr.uid, ev.hdr.ts_ns);
        if (!home.empty())
          path = policy::normalize_path(home + pattern.substr(1));
      } else {
        path = pattern;
      }
    }
    return PolicyHit{kRuleCredentialRead, c.profile.credential_severity, ev.hdr.profile_id,
                   std::move(path), pattern.empty() ? std::string("(protected object)") : pattern};
  }
  // An open that failed because the file is not there read nothing; one that was refused
  // (EPERM, EACCES) is an attempt on the credential and is reported.
  if (o.ret < 0 && o.ret != -EPERM && o.ret != -EACCES)
    return std::nullopt;
  // The pipeline normalised the path already (Detector::normalize); the copy is made only for
  // a path that still needs it, and for a hit.
  std::string normalized;
  if (!o.resolved && (o.path.empty() || o.path[0] != '/')) {
    std::string dir = dirs_ ? dirs_(ev.hdr.tgid, o.dfd) : std::string();
    if (dir.empty())
      return std::nullopt;
    normalized = policy::normalize_path(o.path, dir);
  } else if (!o.resolved && !policy::is_normal_path(o.path)) {
    normalized = policy::normalize_path(o.path);
  }
  const std::string &path = normalized.empty() ? o.path : normalized;
  const uint32_t idx = path_match(c.owner, path, ev.hdr.uid, ev.hdr.ts_ns);
  if (idx == policy::PathIndex::kNone)
    return std::nullopt;
  return PolicyHit{kRuleCredentialRead, c.profile.credential_severity, ev.hdr.profile_id, path,
                   c.profile.credential_paths[idx]};
}

std::optional<PolicyHit> Matcher::match_connect(Compiled &c, const pipeline::Event &ev,
                                              const pipeline::ConnectBody &b)
{
  // Only the ingress packet program reports inbound flows, and only refused or audited ones.
  if (b.inbound)
    return ev.hdr.verdict == pipeline::Verdict::deny || ev.hdr.verdict == pipeline::Verdict::audit
               ? std::optional<PolicyHit>(PolicyHit{kRuleInbound, c.profile.ingress_severity,
                                                    ev.hdr.profile_id, {}, {}})
               : std::nullopt;
  if (b.ipc && ev.hdr.verdict != pipeline::Verdict::none)
    return PolicyHit{kRuleIpcNotAllowed, c.profile.egress_severity, ev.hdr.profile_id,
                   b.unix_path, {}};
  if (b.family != 2 && b.family != 10)
    return std::nullopt;
  // A source-routed packet goes past its first hop: denied whatever the address and port.
  if (b.srcroute)
    return PolicyHit{kRuleEgressNotAllowed, c.profile.egress_severity, ev.hdr.profile_id, {}, {}};
  // AF_UNSPEC-style disconnects of UDP sockets pass an all-zero address with port 0.
  if (b.port == 0)
    return std::nullopt;
  // A verdict from an enforcing hook is the kernel's decision on the compiled allowlist; the
  // tracepoint's observation (verdict none) is judged here against the same profile.
  if (ev.hdr.verdict == pipeline::Verdict::allow)
    return std::nullopt;
  if (ev.hdr.verdict == pipeline::Verdict::none && policy::egress_allowed(c.profile, b.addr, b.port))
    return std::nullopt;
  return PolicyHit{kRuleEgressNotAllowed, c.profile.egress_severity, ev.hdr.profile_id, {}, {}};
}

std::string proc_dir_of(uint32_t pid, int32_t dfd)
{
  std::string link = "/proc/" + std::to_string(pid) +
                     (dfd == -100 ? std::string("/cwd") : "/fd/" + std::to_string(dfd));
  char buf[4096];
  ssize_t n = ::readlink(link.c_str(), buf, sizeof(buf) - 1);
  if (n <= 0)
    return {};
  return std::string(buf, static_cast<size_t>(n));
}

std::string passwd_home(uint32_t uid)
{
  struct passwd pw;
  struct passwd *res = nullptr;
  char buf[4096];
  if (::getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || !res || !res->pw_dir)
    return {};
  return res->pw_dir;
}

} // namespace vigil::detect
