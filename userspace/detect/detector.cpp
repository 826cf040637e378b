// SPDX-License-Identifier: Apache-2.0
// Rule evaluation per event; see detector.h.
#include "detect/detector.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>

#include "detect/enrich.h"

namespace vigil::detect {

using policy::EgressMatch;
using policy::Rule;
using policy::RuleKind;

namespace {

constexpr size_t kMaxPendingText = 512;

// Which event body each rule kind looks at (index into pipeline::Event::body).
constexpr size_t kExec = 0, kOpen = 3, kConnect = 4, kPtrace = 5, kSocket = 6, kVolume = 7,
                 kTamper = 8, kThrottle = 9;

bool kind_reads(RuleKind k, const Rule &r, size_t body)
{
  switch (k) {
  case RuleKind::credential_read:
  case RuleKind::persistence_write:
    return body == kOpen;
  case RuleKind::egress:
    return r.egress == EgressMatch::volume ? body == kVolume : body == kConnect;
  case RuleKind::exec_context:
  case RuleKind::process:
    return body == kExec;
  case RuleKind::process_access:
    // kOpen: a /proc/PID/environ or mem that the agent cannot see (its PID namespace).
    return body == kPtrace || body == kOpen;
  case RuleKind::ipc:
    return body == kOpen || body == kConnect;
  case RuleKind::raw_socket:
    return body == kSocket;
  case RuleKind::tamper:
    return body == kTamper;
  case RuleKind::throttle:
    return body == kThrottle;
  case RuleKind::inbound:
    return body == kConnect;
  case RuleKind::sequence:
    return false;
  }
  return false;
}

// The rule lists' groups in the matcher's path index.
constexpr size_t kCredentialGroup = 0, kPersistenceGroup = 1;

// Whether a credential_read rule matches this open against its own paths: not an IPC object, a
// persistence guard's report or a summary of repeats, an open that read something or was
// refused (an attempt on the file), an absolute path. The same for every such rule.
bool reads_by_path(const pipeline::Event &ev, const pipeline::OpenBody &o)
{
  if (o.ipc || o.persist || o.repeats)
    return false;
  const bool decided =
      ev.hdr.verdict == pipeline::Verdict::deny || ev.hdr.verdict == pipeline::Verdict::audit;
  // A failed open read nothing, unless it was refused (an attempt on the file).
  if (!decided && o.ret < 0 && o.ret != -EPERM && o.ret != -EACCES)
    return false;
  return !o.path.empty() && o.path.front() == '/';
}

// Whether a persistence_write rule matches this open against its paths (before what depends on
// the rule: fallback, a guard's decision): an open for writing, or a change of the name itself
// (link, rename, unlink, chmod, ...), that happened or that the kernel refused (a read-only
// bind: EROFS; a permission check: EPERM, EACCES); other failures (ENOENT of a missing
// directory) wrote nothing.
bool writes_by_path(const pipeline::OpenBody &o)
{
  constexpr uint32_t kWriteFlags = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND;
  const bool change = o.call >= pipeline::OpenCall::link;
  if (o.ipc || o.repeats || !(change || (o.flags & kWriteFlags)) || o.path.empty() ||
      o.path.front() != '/')
    return false;
  return o.ret >= 0 || o.ret == -EROFS || o.ret == -EPERM || o.ret == -EACCES;
}

bool in_destinations(const std::vector<policy::Destination> &dests,
                     const std::array<uint8_t, 16> &addr, uint16_t port)
{
  for (const auto &d : dests) {
    if (!d.cidr.contains(addr))
      continue;
    if (d.ports.empty())
      return true;
    for (const auto &r : d.ports)
      if (r.lo <= port && port <= r.hi)
        return true;
  }
  return false;
}

std::string env_name(const std::string &var)
{
  return var.substr(0, var.find('='));
}

bool env_watched(const std::vector<std::string> &names, const std::string &name)
{
  for (const auto &n : names) {
    if (n.ends_with('*') ? std::string_view(name).starts_with(std::string_view(n).substr(
                               0, n.size() - 1))
                         : n == name)
      return true;
  }
  return false;
}

std::string summarize(const Finding &f, const pipeline::Event &ev)
{
  std::string s = f.rule;
  if (!f.path.empty())
    s += " " + f.path;
  if (const auto *c = std::get_if<pipeline::ConnectBody>(&ev.body))
    s += " " + policy::ip_to_string(c->addr) + ":" + std::to_string(c->port);
  s += " by pid " + std::to_string(ev.hdr.tgid) + " (" + ev.hdr.comm + ")";
  return s;
}

} // namespace

Detector::Detector(Options opts)
    : opts_(std::move(opts)), matcher_(opts_.dirs, opts_.homes)
{
}

void Detector::set_rules(policy::RuleSet rules)
{
  rules_ = std::move(rules);
  compiled_.clear();
  compiled_.reserve(rules_.rules.size());
  std::vector<const std::vector<std::string> *> lists;
  std::vector<std::vector<uint32_t>> groups(2); // kCredentialGroup, kPersistenceGroup
  for (const auto &r : rules_.rules) {
    CompiledRule c{&r};
    // eval_rule returns at once for these when hit is empty.
    c.needs_hit = r.kind == RuleKind::process_access || r.kind == RuleKind::ipc ||
                  r.kind == RuleKind::raw_socket || r.kind == RuleKind::inbound ||
                  (r.kind == RuleKind::egress && r.egress == EgressMatch::outside_allowlist) ||
                  (r.kind == RuleKind::credential_read && r.profile_paths && r.paths.empty());
    if ((r.kind == RuleKind::credential_read || r.kind == RuleKind::persistence_write) &&
        !r.paths.empty()) {
      c.paths = static_cast<uint32_t>(lists.size());
      groups[r.kind == RuleKind::credential_read ? kCredentialGroup : kPersistenceGroup].push_back(
          c.paths);
      lists.push_back(&r.paths);
    }
    compiled_.push_back(c);
  }
  matcher_.set_rule_paths(std::move(lists), std::move(groups));
  // Per event body, the enabled rules that read it: an event visits only those.
  reading_by_profile_.clear();
  for (size_t body = 0; body < reading_.size(); ++body) {
    reading_[body].clear();
    for (size_t i = 0; i < compiled_.size(); ++i)
      if (compiled_[i].rule->enabled && kind_reads(compiled_[i].rule->kind, *compiled_[i].rule, body))
        reading_[body].push_back(i);
  }
  // Indices name rules: state of the old set does not carry over.
  pending_.clear();
  pending_order_.clear();
  volume_.clear();
  volume_order_.clear();
}

void Detector::set_profile(uint32_t id, policy::Profile p)
{
  matcher_.set_profile(id, std::move(p));
  reading_by_profile_.erase(id);
}

void Detector::remove_profile(uint32_t id)
{
  matcher_.remove_profile(id);
  reading_by_profile_.erase(id);
}

const Detector::Reading &Detector::reading_for(uint32_t profile_id,
                                               const policy::Profile &profile)
{
  auto [it, added] = reading_by_profile_.try_emplace(profile_id);
  if (!added)
    return it->second;
  Reading &reading = it->second;
  for (size_t body = 0; body < reading_.size(); ++body)
    for (size_t i : reading_[body])
      if (compiled_[i].rule->applies_to(profile.name))
        reading.by_body[body].push_back(i);
  for (size_t mask = 0; mask < reading.open.size(); ++mask)
    for (size_t i : reading.by_body[kOpen]) {
      const CompiledRule &c = compiled_[i];
      const bool by_paths = c.paths != UINT32_MAX;
      if (by_paths && (mask & kSkipCredential) && c.rule->kind == RuleKind::credential_read)
        continue;
      if (by_paths && (mask & kSkipPersistence) && c.rule->kind == RuleKind::persistence_write)
        continue;
      reading.open[mask].push_back(i);
    }
  return reading;
}

size_t Detector::open_skips(const pipeline::Event &ev, const pipeline::OpenBody &o,
                            const std::optional<PolicyHit> &hit)
{
  size_t skips = 0;
  // A profile's credential hit fires rules without their own lists: those visit every rule.
  if (!(hit && hit->rule == kRuleCredentialRead) &&
      (!reads_by_path(ev, o) ||
       !matcher_.rule_paths_any(kCredentialGroup, o.path, ev.hdr.uid, ev.hdr.ts_ns)))
    skips |= kSkipCredential;
  if (!writes_by_path(o) ||
      !matcher_.rule_paths_any(kPersistenceGroup, o.path, ev.hdr.uid, ev.hdr.ts_ns))
    skips |= kSkipPersistence;
  return skips;
}

void Detector::normalize(pipeline::Event &ev)
{
  auto *o = std::get_if<pipeline::OpenBody>(&ev.body);
  if (!o || o->resolved || o->path.empty())
    return;
  if (o->path.front() == '/') {
    if (!policy::is_normal_path(o->path)) // most are: no copy for them
      o->path = policy::normalize_path(o->path);
    return;
  }
  const std::string dir = opts_.dirs ? opts_.dirs(ev.hdr.tgid, o->dfd) : std::string();
  if (!dir.empty())
    o->path = policy::normalize_path(o->path, dir);
}

Finding Detector::make(const Rule &r, uint32_t profile_id) const
{
  Finding f;
  f.rule = r.id;
  f.description = r.description;
  f.kind = r.kind;
  f.severity = r.severity;
  f.tags = r.tags;
  f.profile_id = profile_id;
  f.fallback = r.fallback;
  return f;
}

bool Detector::excepted(const Rule &r, const pipeline::Event &ev, pipeline::ProcessTable &procs,
                        const Finding &f) const
{
  if (r.exceptions.empty())
    return false;
  const pipeline::ProcessInfo *self = procs.find(ev.hdr.tgid);
  const std::string exe = self ? self->exe : std::string();
  static const std::vector<std::string> kNoArgs;
  const std::vector<std::string> &argv = self ? self->argv : kNoArgs;
  std::vector<const pipeline::ProcessInfo *> ancestry;
  bool ancestry_read = false;
  for (const auto &ex : r.exceptions) {
    if (!ex.proc.empty() && !policy::proc_matches(ex.proc, exe, argv))
      continue;
    if (!ex.ancestor.empty()) {
      if (!ancestry_read) {
        ancestry = procs.ancestry(ev.hdr.tgid);
        ancestry_read = true;
      }
      bool any = false;
      for (const auto *a : ancestry)
        if (policy::proc_matches(ex.ancestor, a->exe, a->argv)) {
          any = true;
          break;
        }
      if (!any)
        continue;
    }
    if (!ex.paths.empty()) {
      if (f.path.empty())
        continue;
      policy::PathMatcher m(ex.paths, matcher_.home(ev.hdr.uid, ev.hdr.ts_ns));
      if (!m.match(f.path))
        continue;
    }
    if (!ex.destinations.empty()) {
      const std::array<uint8_t, 16> *addr = nullptr;
      uint16_t port = 0;
      if (const auto *c = std::get_if<pipeline::ConnectBody>(&ev.body)) {
        addr = &c->addr;
        port = c->port;
      } else if (const auto *v = std::get_if<pipeline::VolumeBody>(&ev.body)) {
        addr = &v->addr;
        port = v->port;
      }
      if (!addr || !in_destinations(ex.destinations, *addr, port))
        continue;
    }
    if (!ex.env.empty()) {
      // Every variable that fired must be one the exception names.
      bool all = !f.env.empty();
      for (const auto &var : f.env) {
        bool ok = false;
        for (const auto &pat : ex.env)
          if (policy::text_glob(pat, var)) {
            ok = true;
            break;
          }
        if (!ok) {
          all = false;
          break;
        }
      }
      if (!all)
        continue;
    }
    return true;
  }
  return false;
}

uint32_t Detector::match_rule_paths(const CompiledRule &c, const pipeline::Event &ev,
                                    const std::string &path)
{
  if (c.paths == UINT32_MAX)
    return policy::PathIndex::kNone;
  return matcher_.rule_path_match(c.paths, path, ev.hdr.uid, ev.hdr.ts_ns);
}

void Detector::eval_rule(CompiledRule &c, const pipeline::Event &ev,
                         const policy::Profile &profile, const std::optional<PolicyHit> &hit,
                         pipeline::ProcessTable &procs, std::vector<Finding> &out)
{
  const Rule &r = *c.rule;
  const size_t before = out.size();
  // Findings are built in place: most events match nothing, and they must not pay for one.
  Finding *f = nullptr;
  auto found = [&]() -> Finding * {
    out.push_back(make(r, ev.hdr.profile_id));
    return &out.back();
  };
  switch (r.kind) {
  case RuleKind::credential_read: {
    const auto &o = std::get<pipeline::OpenBody>(ev.body);
    if (o.ipc || o.persist || o.repeats)
      return;
    if (r.profile_paths && hit && hit->rule == kRuleCredentialRead) {
      f = found();
      f->path = hit->path;
      f->pattern = hit->pattern;
      break;
    }
    if (r.paths.empty() || !reads_by_path(ev, o))
      return;
    const uint32_t idx = match_rule_paths(c, ev, o.path);
    if (idx == policy::PathIndex::kNone)
      return;
    f = found();
    f->path = o.path;
    f->pattern = r.paths[idx];
    break;
  }
  case RuleKind::persistence_write: {
    const auto &o = std::get<pipeline::OpenBody>(ev.body);
    if (!writes_by_path(o))
      return;
    const bool change = o.call >= pipeline::OpenCall::link;
    // A fallback rule speaks for what a guard decided (a profile path no other rule names, a
    // directory above a protected path), not for every write the open tracepoint sees; and a
    // guard's decision that is not the persistence guard's (a credential renamed) is not one.
    const bool decided =
        ev.hdr.verdict == pipeline::Verdict::deny || ev.hdr.verdict == pipeline::Verdict::audit;
    if ((r.fallback && !decided) || (decided && change && !o.persist))
      return;
    const uint32_t idx = match_rule_paths(c, ev, o.path);
    if (idx == policy::PathIndex::kNone)
      return;
    f = found();
    f->path = o.path;
    f->pattern = r.paths[idx];
    break;
  }
  case RuleKind::egress: {
    if (r.egress == EgressMatch::volume) {
      const auto &v = std::get<pipeline::VolumeBody>(ev.body);
      // destinations, when given, narrow a volume rule (port 53 everywhere: DNS tunnelling)
      if (!r.destinations.empty() && !in_destinations(r.destinations, v.addr, v.port))
        return;
      VolumeWindow &w = volume_window(
          VolumeKey(static_cast<size_t>(&c - compiled_.data()), ev.hdr.cgroup_id, v.addr, v.port));
      if (w.start_ns == 0 || ev.hdr.ts_ns >= w.start_ns + r.window_ns)
        w = VolumeWindow{ev.hdr.ts_ns, 0, false, w.seq};
      w.bytes += v.bytes;
      if (w.alerted || w.bytes < r.volume_bytes)
        return;
      w.alerted = true;
      f = found();
      f->bytes = w.bytes;
      f->detail = std::to_string(w.bytes) + " bytes to " + policy::ip_to_string(v.addr) +
                  " port " + std::to_string(v.port) + " within " +
                  std::to_string(r.window_ns / 1'000'000'000ull) + " s (threshold " +
                  std::to_string(r.volume_bytes) + ")";
      break;
    }
    const auto &b = std::get<pipeline::ConnectBody>(ev.body);
    if (b.ipc || b.inbound || (b.family != 2 && b.family != 10) || (b.port == 0 && !b.srcroute))
      return;
    switch (r.egress) {
    case EgressMatch::outside_allowlist:
      if (!hit || hit->rule != kRuleEgressNotAllowed)
        return;
      f = found(); // the alert says "outside the egress allowlist"
      break;
    case EgressMatch::destinations:
      if (!in_destinations(r.destinations, b.addr, b.port))
        return;
      f = found();
      f->detail = r.description;
      break;
    case EgressMatch::new_destination: {
      if (ev.hdr.verdict == pipeline::Verdict::deny)
        return; // refused: no egress happened (and outside_allowlist reports it)
      auto it = baselines_.find(profile.name);
      if (it == baselines_.end())
        it = baselines_
                 .emplace(profile.name,
                          Baseline(opts_.state_dir.empty()
                                       ? std::string()
                                       : opts_.state_dir + "/baseline/" + profile.name + ".json",
                                   opts_.max_baseline_entries))
                 .first;
      const pipeline::ProcessInfo *p = procs.find(ev.hdr.tgid);
      const std::string exe = p && !p->exe.empty() ? p->exe : ev.hdr.comm;
      if (it->second.observe(exe, b.addr, b.port, Enricher::boot_to_realtime(ev.hdr.ts_ns),
                             r.learning_ns) != Baseline::Seen::fresh)
        return;
      f = found();
      f->detail = "first use of this destination by " + exe + " since the profile's baseline was "
                  "learned";
      break;
    }
    case EgressMatch::volume:
      return;
    }
    break;
  }
  case RuleKind::exec_context:
  case RuleKind::process: {
    const auto &x = std::get<pipeline::ExecBody>(ev.body);
    if (!r.proc.empty() && !policy::proc_matches(r.proc, x.exe, x.argv))
      return;
    if (!r.parent.empty()) {
      const pipeline::ProcessInfo *parent = procs.find(x.ppid);
      if (!parent || !policy::proc_matches(r.parent, parent->exe, parent->argv))
        return;
    }
    if (!r.ancestor.empty()) {
      // Ancestors up to the agent's root (as scope_key finds it): the process that launched
      // the agent (`vigil run -- bash -c 'pip install x'`) carries the agent's command line in
      // its own, but the agent's processes were not spawned by what that line runs.
      bool any = false;
      for (const auto *a : procs.ancestry(ev.hdr.tgid)) {
        if (a->profile_id != ev.hdr.profile_id)
          break;
        if (policy::proc_matches(r.ancestor, a->exe, a->argv)) {
          any = true;
          break;
        }
      }
      if (!any)
        return;
    }
    if (r.kind == RuleKind::process) {
      f = found();
      break;
    }
    std::vector<std::string> hits;
    const pipeline::ProcessInfo *self = procs.find(ev.hdr.tgid);
    for (const auto &var : x.env) {
      if (!env_watched(r.env, env_name(var)))
        continue;
      // A variable the previous image had was reported where it was introduced, but only a
      // rule that looks at every exec saw that: a filtered rule (exe: [git]) judges each
      // matching exec, or `X=evil sh -c 'git ...'` would slip through the shell.
      const bool filtered = !r.proc.empty() || !r.parent.empty() || !r.ancestor.empty();
      if (!r.inherited && !filtered && self &&
          std::find(self->env_before.begin(), self->env_before.end(), var) !=
              self->env_before.end())
        continue;
      hits.push_back(var);
    }
    if (hits.empty() && !(r.env_truncated && x.env_truncated))
      return;
    f = found();
    if (hits.empty())
      f->detail = "the kernel could not scan the whole environment (padding can hide variables)";
    f->env = std::move(hits);
    break;
  }
  case RuleKind::process_access:
    if (!hit || hit->rule != kRuleForeignProcess)
      return;
    f = found();
    break;
  case RuleKind::ipc:
    if (!hit || hit->rule != kRuleIpcNotAllowed)
      return;
    f = found();
    f->path = hit->path;
    break;
  case RuleKind::raw_socket:
    if (!hit || hit->rule != kRuleRawSocket)
      return;
    f = found();
    break;
  case RuleKind::inbound:
    if (!hit || hit->rule != kRuleInbound)
      return;
    f = found();
    break;
  case RuleKind::tamper: {
    const auto &t = std::get<pipeline::TamperBody>(ev.body);
    if (!r.actions.empty() && std::find(r.actions.begin(), r.actions.end(),
                                        static_cast<uint16_t>(t.kind)) == r.actions.end())
      return;
    f = found();
    f->detail = std::string(pipeline::to_string(t.kind));
    break;
  }
  case RuleKind::throttle: {
    const auto &t = std::get<pipeline::ThrottleBody>(ev.body);
    f = found();
    f->detail = std::to_string(t.suppressed) + " observation events dropped so far (limit " +
                std::to_string(t.rate) + "/s)";
    break;
  }
  case RuleKind::sequence:
    return;
  }
  if (f && out.size() > before && excepted(r, ev, procs, out.back()))
    out.pop_back();
}

uint64_t Detector::scope_key(policy::SequenceScope s, const pipeline::Event &ev,
                             pipeline::ProcessTable &procs) const
{
  switch (s) {
  case policy::SequenceScope::process:
    return (1ull << 32) | ev.hdr.tgid;
  case policy::SequenceScope::profile:
    return (2ull << 32) | ev.hdr.profile_id;
  case policy::SequenceScope::process_tree:
    break;
  }
  // The agent's root: the highest ancestor still inside the same agent profile.
  uint32_t root = ev.hdr.tgid;
  for (const auto *a : procs.ancestry(ev.hdr.tgid)) {
    if (a->profile_id != ev.hdr.profile_id)
      break;
    root = a->pid;
  }
  return (3ull << 32) | root;
}

void Detector::eval_sequences(const pipeline::Event &ev, const policy::Profile &profile,
                              pipeline::ProcessTable &procs, std::vector<Finding> &found)
{
  const size_t n = found.size();
  for (size_t i = 0; i < compiled_.size(); ++i) {
    const Rule &r = *compiled_[i].rule;
    if (r.kind != RuleKind::sequence || !r.enabled || !r.applies_to(profile.name))
      continue;
    const uint64_t key = scope_key(r.scope, ev, procs);
    for (size_t j = 0; j < n; ++j) {
      const Finding &f = found[j];
      if (r.then.matches(f.rule, f.kind, f.tags)) {
        auto it = pending_.find({i, key});
        if (it != pending_.end()) {
          const bool in_time = ev.hdr.ts_ns >= it->second.ts_ns &&
                               ev.hdr.ts_ns - it->second.ts_ns <= r.within_ns;
          if (in_time) {
            Finding s = make(r, ev.hdr.profile_id);
            s.path = f.path;
            s.pattern = f.pattern;
            s.detail = summarize(f, ev) + " after " + it->second.what;
            pending_.erase(it);
            if (!excepted(r, ev, procs, s))
              found.push_back(std::move(s));
            break;
          }
          pending_.erase(it);
        }
      }
      if (r.first.matches(f.rule, f.kind, f.tags)) {
        Pending &p = pending_[{i, key}];
        // One event, several findings: the specific rule names it better than a fallback.
        if (p.ts_ns == ev.hdr.ts_ns && !p.what.empty() && f.fallback)
          continue;
        p = Pending{ev.hdr.ts_ns, summarize(f, ev), ++pending_seq_};
        // Kept for the second step's alert text only: a 4 KiB path need not be kept whole in
        // each of max_sequence_state entries.
        if (p.what.size() > kMaxPendingText)
          p.what.resize(kMaxPendingText);
        pending_order_.emplace_back(std::make_pair(i, key), p.seq);
        // Bounded: the oldest first steps go. A queue entry whose step was refreshed, fired or
        // replaced since is stale and only dropped from the queue.
        while (pending_.size() > opts_.max_sequence_state && !pending_order_.empty()) {
          auto [old_key, seq] = pending_order_.front();
          pending_order_.pop_front();
          auto it = pending_.find(old_key);
          if (it != pending_.end() && it->second.seq == seq) {
            pending_.erase(it);
            ++pending_evictions_;
          }
        }
        if (pending_order_.size() > 4 * opts_.max_sequence_state + 64)
          std::erase_if(pending_order_, [&](const auto &q) {
            auto it = pending_.find(q.first);
            return it == pending_.end() || it->second.seq != q.second;
          });
      }
    }
  }
}

void Detector::evaluate(const pipeline::Event &ev, pipeline::ProcessTable &procs,
                        std::vector<Finding> &out)
{
  const policy::Profile *profile = matcher_.profile(ev.hdr.profile_id);
  if (!profile)
    return;
  const size_t body = ev.body.index();
  if (body != kExec && body != kOpen && body != kConnect && body != kPtrace && body != kSocket &&
      body != kVolume && body != kTamper && body != kThrottle)
    return;
  matcher_.next_event();
  // Initialised from the call, not assigned: GCC zero-filled the whole default-constructed
  // optional (96 bytes, a rep stos per event).
  const std::optional<PolicyHit> hit =
      body != kExec && body != kVolume && body != kTamper && body != kThrottle
          ? matcher_.match(ev)
          : std::nullopt;
  const size_t first = out.size();
  const Reading &reading = reading_for(ev.hdr.profile_id, *profile);
  const std::vector<size_t> *visit = &reading.by_body[body];
  const bool skip = opts_.skip_unmatched_path_rules;
  const auto *o = std::get_if<pipeline::OpenBody>(&ev.body);
  if (o && skip)
    visit = &reading.open[open_skips(ev, *o, hit)];
  for (size_t i : *visit)
    if (!(skip && compiled_[i].needs_hit && !hit))
      eval_rule(compiled_[i], ev, *profile, hit, procs, out);
  if (out.size() == first)
    return;
  // Sequences see every finding, fallbacks included: "then egress outside the allowlist" holds
  // even when a more specific egress rule is the one that reports the connect.
  std::vector<Finding> mine(std::make_move_iterator(out.begin() + static_cast<long>(first)),
                            std::make_move_iterator(out.end()));
  out.resize(first);
  eval_sequences(ev, *profile, procs, mine);
  for (RuleKind k : {RuleKind::credential_read, RuleKind::egress, RuleKind::persistence_write}) {
    const bool specific = std::any_of(mine.begin(), mine.end(), [&](const Finding &f) {
      return f.kind == k && !f.fallback;
    });
    if (specific)
      std::erase_if(mine, [&](const Finding &f) { return f.kind == k && f.fallback; });
  }
  for (auto &f : mine)
    out.push_back(std::move(f));
}

void Detector::flush()
{
  for (auto &[name, b] : baselines_)
    b.save();
}

// The window of key, made the most recently used. A new key over the bound pushes out the least
// recently updated window; queue entries of windows updated since are stale and skipped.
Detector::VolumeWindow &Detector::volume_window(const VolumeKey &key)
{
  auto [it, added] = volume_.try_emplace(key);
  it->second.seq = ++volume_seq_;
  volume_order_.emplace_back(key, it->second.seq);
  if (added) {
    while (volume_.size() > opts_.max_volume_state && !volume_order_.empty()) {
      auto [old_key, seq] = volume_order_.front();
      volume_order_.pop_front();
      auto old = volume_.find(old_key);
      if (old != volume_.end() && old->second.seq == seq && old != it) {
        volume_.erase(old);
        ++volume_evictions_;
      }
    }
  }
  if (volume_order_.size() > 2 * opts_.max_volume_state + 64)
    std::erase_if(volume_order_, [&](const auto &q) {
      auto w = volume_.find(q.first);
      return w == volume_.end() || w->second.seq != q.second;
    });
  return it->second;
}

Detector::Stats Detector::stats() const
{
  Stats s;
  s.sequence = {pending_.size(), pending_evictions_};
  s.volume = {volume_.size(), volume_evictions_};
  for (const auto &[name, b] : baselines_) {
    s.baseline.size += b.size();
    s.baseline.evictions += b.evictions();
    s.baseline_save_errors += b.save_errors();
  }
  return s;
}

} // namespace vigil::detect
