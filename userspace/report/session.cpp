// SPDX-License-Identifier: Apache-2.0
// Reads an event log into a Session (session.h): one pass, bounded memory, the same record
// handling as replay (segment clocks, PROCESS/CGROUP/POLICY records), alerts as recorded live.
#include "report/session.h"

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <deque>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "common/progress.h"
#include "detect/alert.h"
#include "eventlog/codec.h"
#include "pipeline/open_dedup.h"
#include "policy/profile.h"

namespace vigil::report {

namespace {

using nlohmann::json;
using namespace pipeline;

std::string dest_of(const ConnectBody &c)
{
  if (c.family == 1)
    return c.unix_path;
  const std::string ip = policy::ip_to_string(c.addr);
  const bool v6 = !policy::is_v4_mapped(c.addr);
  return (v6 ? "[" + ip + "]" : ip) + ":" + std::to_string(c.port);
}

bool is_denied(const Event &ev)
{
  return ev.hdr.verdict == Verdict::deny || ev.hdr.verdict == Verdict::kill;
}

void bump(Count &c, uint64_t t, const Event &ev, bool denied)
{
  if (c.n++ == 0) {
    c.first_ns = t;
    c.first_pid = ev.hdr.tgid;
    c.first_comm = ev.hdr.comm;
  }
  c.denied += denied;
}

class Builder {
public:
  Builder(Session &s, const Filter &f, const Caps &c) : s_(s), f_(f), caps_(c)
  {
    if (f_.pid)
      wanted_.insert(*f_.pid);
  }

  void segment(const eventlog::SegmentInfo &info)
  {
    if (!info.header_ok)
      return;
    s_.host = info.header.host;
    offset_ = static_cast<int64_t>(info.header.created_realtime_ns) -
              static_cast<int64_t>(info.header.created_boottime_ns);
  }

  void record(const eventlog::RecordView &r)
  {
    using eventlog::RecordType;
    const auto type = static_cast<RecordType>(r.type);
    if (type == RecordType::event) {
      auto decoded = decoder_.decode(r.payload);
      if (!decoded) {
        ++s_.undecodable;
        return;
      }
      if (!dedup_.duplicate(**decoded)) // a fanotify decision's open, reported again
        event(**decoded);
      return;
    }
    json j;
    try {
      j = json::parse(
          std::string(reinterpret_cast<const char *>(r.payload.data()), r.payload.size()));
      if (type == RecordType::process)
        process_record(j);
      else if (type == RecordType::cgroup)
        cgroup_record(j);
      else if (type == RecordType::policy)
        policy_record(j);
      else if (type == RecordType::alert)
        alert_record(j);
      else if (type == RecordType::note && s_.notes.size() < 100)
        s_.notes.push_back(j.value("text", std::string()));
    } catch (const std::exception &) {
      ++s_.undecodable; // a record the recorder wrote whole but that does not parse: damage
    }
  }

  void finish()
  {
    // PROCESS records snapshot the whole host: keep the agents' processes and the chain of
    // their ancestors (the launcher), drop the rest.
    for (auto &[pid, p] : snapshot_) // agent processes that did nothing while recorded
      if (p.in_agent && s_.procs.size() < caps_.processes)
        s_.procs.emplace(pid, std::move(p));
    std::unordered_set<uint32_t> keep;
    std::vector<uint32_t> agents;
    for (const auto &[pid, p] : s_.procs)
      if (p.in_agent)
        agents.push_back(pid);
    for (uint32_t pid : agents) {
      for (uint32_t q = pid; keep.insert(q).second;) {
        auto it = s_.procs.find(q);
        if (it == s_.procs.end()) {
          auto snap = snapshot_.find(q); // an ancestor from the snapshot (the launcher)
          if (snap == snapshot_.end() || snap->second.pid != q)
            break;
          it = s_.procs.emplace(q, std::move(snap->second)).first;
        }
        q = it->second.ppid;
      }
    }
    std::erase_if(s_.procs, [&](const auto &kv) { return !keep.count(kv.first); });
    for (auto &[pid, p] : s_.procs)
      if (p.ppid != pid)
        if (auto it = s_.procs.find(p.ppid); it != s_.procs.end())
          it->second.children.push_back(pid);
    for (const Alert &a : s_.alerts) {
      Line l{a.time_ns, a.pid,  a.comm,    a.output, a.verdict == "denied" || a.verdict == "killed",
             true,      a.rule, a.severity};
      s_.timeline.push_back(std::move(l));
    }
    std::stable_sort(s_.timeline.begin(), s_.timeline.end(),
                     [](const Line &a, const Line &b) { return a.time_ns < b.time_ns; });
  }

private:
  bool in_scope_pid(uint32_t pid) const { return !f_.pid || wanted_.count(pid); }

  std::string cgroup_path(uint64_t id) const
  {
    auto it = s_.agents.find(id);
    return it == s_.agents.end() ? std::string() : it->second.first;
  }

  bool keep_event(const Event &ev, uint64_t t) const
  {
    if (f_.since && t < *f_.since)
      return false;
    if (f_.until && t > *f_.until)
      return false;
    if (!in_scope_pid(ev.hdr.tgid))
      return false;
    if (f_.cgroup && !cgroup_path(ev.hdr.cgroup_id).starts_with(*f_.cgroup))
      return false;
    if (f_.profile) {
      auto it = s_.profiles.find(ev.hdr.profile_id);
      if (it == s_.profiles.end() || it->second.name != *f_.profile)
        return false;
    }
    return true;
  }

  Process *proc(uint32_t pid, const Event *ev)
  {
    auto it = s_.procs.find(pid);
    if (it != s_.procs.end())
      return &it->second;
    if (s_.procs.size() >= caps_.processes) {
      ++s_.procs_cut;
      return nullptr;
    }
    Process &p = s_.procs[pid];
    if (auto snap = snapshot_.find(pid); snap != snapshot_.end()) {
      p = std::move(snap->second); // it predates the log: its exec line is in the snapshot
      snapshot_.erase(snap);
    }
    p.pid = pid;
    if (ev) {
      p.comm = ev->hdr.comm;
      p.uid = ev->hdr.uid;
      p.cgroup_id = ev->hdr.cgroup_id;
      p.profile_id = ev->hdr.profile_id;
      p.in_agent = ev->hdr.profile_id != 0;
    }
    return &p;
  }

  void add_line(Line l, bool always)
  {
    // Context for alerts: a short ring of what happened, and the alerts still waiting for what
    // came after them.
    for (auto it = pending_after_.begin(); it != pending_after_.end();) {
      Alert &a = s_.alerts[*it];
      if (l.time_ns >= a.time_ns)
        a.after.push_back(l);
      it = a.after.size() >= caps_.context ? pending_after_.erase(it) : std::next(it);
    }
    ring_.push_back(l);
    if (ring_.size() > 4 * caps_.context + 4)
      ring_.pop_front();
    if (s_.timeline.size() < caps_.timeline || (always && s_.timeline.size() < 2 * caps_.timeline))
      s_.timeline.push_back(std::move(l));
    else
      ++s_.timeline_cut;
  }

  void event(const Event &ev)
  {
    ++s_.events;
    const uint64_t t = static_cast<uint64_t>(static_cast<int64_t>(ev.hdr.ts_ns) + offset_);
    // Descendants of --pid join before the time filter: the tree does not depend on the window.
    if (f_.pid) {
      if (const auto *f = std::get_if<ForkBody>(&ev.body); f && wanted_.count(ev.hdr.tgid))
        wanted_.insert(f->child_tgid);
      if (const auto *x = std::get_if<ExecBody>(&ev.body); x && wanted_.count(x->ppid))
        wanted_.insert(ev.hdr.tgid);
    }
    if (!keep_event(ev, t))
      return;
    ++s_.kept_events;
    if (!s_.first_ns || t < s_.first_ns)
      s_.first_ns = t;
    s_.last_ns = std::max(s_.last_ns, t);
    const bool denied = is_denied(ev);
    s_.denials += denied;
    if (const auto *d = std::get_if<DnsBody>(&ev.body)) { // no process: copied in softirq
      dns(ev, *d, t);
      return;
    }
    Process *p = proc(ev.hdr.tgid, &ev);
    if (p) {
      p->denials += denied;
      if (!p->start_ns || t < p->start_ns)
        p->start_ns = t;
      p->end_ns = std::max(p->end_ns, t);
      p->comm = ev.hdr.comm;
    }
    Line line{t, ev.hdr.tgid, ev.hdr.comm, "", denied, false, {}, {}};
    if (const auto *x = std::get_if<ExecBody>(&ev.body)) {
      if (p) {
        ++p->execs;
        p->exe = x->exe;
        p->argv = x->argv;
        p->env = x->env;
        p->ppid = x->ppid;
        p->in_agent = ev.hdr.profile_id != 0;
        p->profile_id = ev.hdr.profile_id;
      }
      line.text = describe(ev);
      add_line(std::move(line), denied);
    } else if (const auto *f = std::get_if<ForkBody>(&ev.body)) {
      if (p)
        ++p->forks;
      if (Process *c = proc(f->child_tgid, &ev)) {
        c->ppid = ev.hdr.tgid;
        c->start_ns = t;
        if (p && c->exe.empty()) {
          c->exe = p->exe;
          c->argv = p->argv;
        }
      }
    } else if (const auto *e = std::get_if<ExitBody>(&ev.body)) {
      if (p) {
        p->exit_code = e->exit_code;
        p->end_ns = t;
      }
      line.text = describe(ev);
      add_line(std::move(line), false);
    } else if (const auto *o = std::get_if<OpenBody>(&ev.body)) {
      open(ev, *o, t, p, std::move(line));
    } else if (const auto *c = std::get_if<ConnectBody>(&ev.body)) {
      connect(ev, *c, t, p, std::move(line));
    } else {
      if (p)
        ++p->other;
      if (!std::holds_alternative<SocketBody>(ev.body) || denied) {
        line.text = describe(ev);
        add_line(std::move(line), denied);
      }
    }
  }

  const policy::PathMatcher *matcher(uint32_t profile_id)
  {
    auto it = matchers_.find(profile_id);
    if (it != matchers_.end())
      return it->second.get();
    std::unique_ptr<policy::PathMatcher> m;
    if (auto pt = s_.profiles.find(profile_id); pt != s_.profiles.end()) {
      auto parsed = policy::parse_profile(pt->second.text, pt->second.source);
      if (parsed)
        m = std::make_unique<policy::PathMatcher>(parsed->credential_paths, s_.home);
    }
    return matchers_.emplace(profile_id, std::move(m)).first->second.get();
  }

  void open(const Event &ev, const OpenBody &o, uint64_t t, Process *p, Line line)
  {
    if (o.repeats) { // tier 1's count of repeated opens: it adds to the counts, no line
      if (p) {
        p->opens += o.repeats;
        if (auto it = p->files.find(o.path); it != p->files.end())
          it->second.n += o.repeats;
      }
      if (const Noise noise = classify_open(o.path, ev.hdr.tgid); noise != Noise::none) {
        s_.folded[static_cast<size_t>(noise)] += o.repeats;
        if (p)
          p->folded[static_cast<size_t>(noise)] += o.repeats;
      }
      return;
    }
    const bool denied = is_denied(ev);
    bool credential = !o.pattern.empty() && !o.persist && !o.ipc;
    if (!credential && ev.hdr.profile_id != 0)
      if (const auto *m = matcher(ev.hdr.profile_id))
        credential = m->match(o.path).has_value();
    if (credential) {
      auto it = s_.credentials.find(o.path);
      if (it != s_.credentials.end() || s_.credentials.size() < caps_.session_files)
        bump(s_.credentials[o.path], t, ev, denied);
    }
    const bool decided = ev.hdr.verdict != Verdict::none && ev.hdr.verdict != Verdict::allow;
    const Noise noise = decided || credential ? Noise::none : classify_open(o.path, ev.hdr.tgid);
    if (noise != Noise::none) {
      const auto k = static_cast<size_t>(noise);
      ++s_.folded[k];
      if (p) {
        ++p->opens;
        ++p->folded[k];
        auto &names = p->folded_paths[k];
        if (names.size() < caps_.folded_paths &&
            std::find(names.begin(), names.end(), o.path) == names.end())
          names.push_back(o.path);
      }
      return;
    }
    bool first = true;
    if (p) {
      ++p->opens;
      auto it = p->files.find(o.path);
      if (it != p->files.end()) {
        first = false;
        bump(it->second, t, ev, denied);
      } else if (p->files.size() < caps_.files_per_process ||
                 ((denied || decided || credential) &&
                  p->files.size() < 2 * caps_.files_per_process)) {
        bump(p->files[o.path], t, ev, denied); // what was refused or protected keeps a place
      } else {
        ++p->files_cut;
        ++p->files_cut_opens;
        first = false;
      }
    }
    if (first || denied || decided || credential) {
      line.text = describe(ev);
      add_line(std::move(line), denied || decided || credential);
    }
  }

  void dns(const Event &ev, const DnsBody &d, uint64_t t)
  {
    ++s_.dns_answers;
    if (!d.error.empty())
      ++s_.dns_unparsed;
    const std::string server = policy::ip_to_string(d.server) + ":" + std::to_string(d.port);
    for (const auto &a : d.addrs) {
      const std::string ip = policy::ip_to_string(a);
      auto it = s_.names.find(ip);
      if (it == s_.names.end()) {
        if (s_.names.size() >= caps_.session_files) {
          ++s_.names_cut;
          continue;
        }
        it = s_.names.emplace(ip, std::map<std::string, ResolvedName>{}).first;
      }
      auto n = it->second.find(d.qname);
      if (n == it->second.end()) {
        if (it->second.size() >= 8) {
          ++s_.names_cut;
          continue;
        }
        n = it->second.emplace(d.qname, ResolvedName{{}, server}).first;
      }
      bump(n->second.count, t, ev, false);
    }
    Line line{t, ev.hdr.tgid, ev.hdr.comm, describe(ev), false, false, {}, {}};
    add_line(std::move(line), false);
  }

  void connect(const Event &ev, const ConnectBody &c, uint64_t t, Process *p, Line line)
  {
    const bool denied = is_denied(ev);
    const std::string dest = dest_of(c);
    bool first = true;
    if (p) {
      ++p->connects;
      auto it = p->dests.find(dest);
      if (it != p->dests.end()) {
        first = false;
        bump(it->second, t, ev, denied);
      } else if (p->dests.size() < caps_.dests_per_process) {
        bump(p->dests[dest], t, ev, denied);
      } else {
        ++p->dests_cut;
        first = false;
      }
    }
    if (!c.inbound) {
      auto it = s_.dests.find(dest);
      if (it == s_.dests.end() && s_.dests.size() < caps_.session_files) {
        Destination d;
        d.addr = dest;
        d.unix_socket = c.family == 1;
        d.port = c.port;
        if (!d.unix_socket)
          d.ip = policy::ip_to_string(c.addr);
        it = s_.dests.emplace(dest, std::move(d)).first;
      }
      if (it != s_.dests.end())
        bump(it->second.count, t, ev, denied);
    }
    if (first || denied) {
      line.text = describe(ev);
      add_line(std::move(line), denied);
    }
  }

  void process_record(const json &j)
  {
    const uint32_t pid = j.at("pid");
    const uint32_t ppid = j.at("ppid");
    if (f_.pid && wanted_.count(ppid))
      wanted_.insert(pid);
    if (!in_scope_pid(pid))
      return;
    // PROCESS records snapshot the whole host: held aside (they do not count against the
    // process cap), taken in when an agent process or one of its ancestors turns out to be one.
    if (snapshot_.size() >= kMaxSnapshot)
      return;
    Process p;
    p.pid = pid;
    p.ppid = ppid;
    p.uid = j.at("uid");
    p.cgroup_id = j.at("cgroup_id");
    p.profile_id = j.at("profile_id");
    p.in_agent = p.profile_id != 0;
    p.comm = j.at("comm");
    p.exe = j.at("exe");
    p.argv = j.at("argv").get<std::vector<std::string>>();
    snapshot_[pid] = std::move(p);
  }

  void cgroup_record(const json &j)
  {
    std::string path = j.at("path");
    for (const char *mount : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"})
      if (path.starts_with(mount)) {
        path = path.substr(std::string_view(mount).size());
        break;
      }
    s_.agents[j.at("cgroup_id").get<uint64_t>()] = {path, j.value("profile", std::string())};
  }

  void policy_record(const json &j)
  {
    if (j.value("kind", "") == "rules")
      return;
    const uint32_t id = j.at("profile_id");
    s_.profiles[id] = {j.value("name", std::string()), j.value("source", std::string()),
                       j.value("text", std::string())};
    matchers_.erase(id);
    if (j.contains("home"))
      s_.home = j.at("home").get<std::string>();
  }

  void alert_record(const json &j)
  {
    Alert a;
    a.time_ns = parse_rfc3339(j.value("time", std::string())).value_or(0);
    a.rule = j.value("rule", std::string());
    a.severity = j.value("severity", std::string());
    a.verdict = j.value("verdict", std::string());
    a.tier = j.value("tier", std::string());
    a.output = j.value("output", std::string());
    a.comm = j.value("comm", std::string());
    a.event = j.value("event", std::string());
    a.pid = j.value("pid", 0u);
    a.path = j.value("path", std::string());
    if (j.contains("destination") && j["destination"].is_object()) {
      const auto &d = j["destination"];
      const std::string ip = d.value("ip", std::string());
      a.dest = (d.value("family", std::string()) == "ipv6" ? "[" + ip + "]" : ip) +
               (d.contains("port") ? ":" + std::to_string(d.value("port", 0)) : "");
    }
    if (f_.since && a.time_ns < *f_.since)
      return;
    if (f_.until && a.time_ns > *f_.until)
      return;
    if (f_.pid && !wanted_.count(a.pid))
      return;
    if (f_.cgroup && !j.value("cgroup", std::string()).starts_with(*f_.cgroup))
      return;
    if (f_.profile && j.value("profile", std::string()) != *f_.profile)
      return;
    ++s_.alerts_total;
    ++s_.by_severity[a.severity];
    ++s_.by_rule[a.rule];
    if (a.rule.starts_with("response-"))
      action_record(j, a);
    if (auto it = s_.procs.find(a.pid); it != s_.procs.end())
      ++it->second.alerts;
    if (s_.alerts.size() >= caps_.alerts)
      return;
    // The alert is recorded after its event (and maybe after a few more): the ring holds both.
    for (const Line &l : ring_) {
      if (l.time_ns <= a.time_ns)
        a.before.push_back(l);
      else if (a.after.size() < caps_.context)
        a.after.push_back(l);
    }
    if (a.before.size() > caps_.context)
      a.before.erase(a.before.begin(), a.before.end() - static_cast<std::ptrdiff_t>(caps_.context));
    s_.alerts.push_back(std::move(a));
    if (s_.alerts.back().after.size() < caps_.context)
      pending_after_.push_back(s_.alerts.size() - 1);
  }

  // A record of vigil's response (rule response-*). Logs written before records carried their
  // "response" object name the action by rule and their result by severity (error: failed).
  void action_record(const json &j, const Alert &a)
  {
    ++s_.actions_total;
    Action act;
    act.time_ns = a.time_ns;
    act.action = a.rule.substr(std::string_view("response-").size());
    act.result = a.severity == "error" ? "failed" : "done";
    act.target = j.value("cgroup", std::string());
    if (j.contains("response") && j["response"].is_object()) {
      const json &r = j["response"];
      act.action = r.value("action", act.action);
      act.result = r.value("result", act.result);
      act.target = r.value("target", act.target);
    }
    act.cause = j.value("detail", std::string());
    act.output = a.output;
    act.pid = a.pid;
    ++s_.actions_by_result[act.result];
    if (s_.actions.size() < caps_.actions)
      s_.actions.push_back(std::move(act));
  }

  Session &s_;
  const Filter &f_;
  const Caps &caps_;
  int64_t offset_ = 0;
  eventlog::Decoder decoder_;
  pipeline::OpenDedup dedup_;
  std::unordered_set<uint32_t> wanted_;
  std::deque<Line> ring_;
  std::vector<size_t> pending_after_;
  std::map<uint32_t, std::unique_ptr<policy::PathMatcher>> matchers_;
  static constexpr size_t kMaxSnapshot = 1 << 17; // the process table holds at most 65536
  std::unordered_map<uint32_t, Process> snapshot_;
};

} // namespace

std::optional<uint64_t> parse_rfc3339(const std::string &text)
{
  std::tm t{};
  const char *rest = ::strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &t);
  if (!rest)
    return std::nullopt;
  uint64_t frac = 0;
  if (*rest == '.') {
    ++rest;
    uint64_t scale = 1'000'000'000ull;
    while (*rest >= '0' && *rest <= '9') {
      scale /= 10;
      frac += static_cast<uint64_t>(*rest - '0') * scale;
      ++rest;
    }
  }
  if (*rest != 'Z' || rest[1] != '\0')
    return std::nullopt;
  return static_cast<uint64_t>(::timegm(&t)) * 1'000'000'000ull + frac;
}

std::string describe(const Event &ev)
{
  if (const auto *x = std::get_if<ExecBody>(&ev.body)) {
    std::string args;
    for (const auto &a : x->argv)
      args += (args.empty() ? "" : " ") + a;
    std::string s = "exec " + x->exe + " [" + args + "]";
    for (const auto &e : x->env)
      s += " " + e;
    return s;
  }
  if (const auto *f = std::get_if<ForkBody>(&ev.body))
    return "fork -> " + std::to_string(f->child_tgid);
  if (const auto *e = std::get_if<ExitBody>(&ev.body))
    return "exit " + std::to_string(e->exit_code);
  if (const auto *o = std::get_if<OpenBody>(&ev.body)) {
    const bool plain = o->call == OpenCall::open || o->call == OpenCall::openat ||
                       o->call == OpenCall::openat2 || o->call == OpenCall::hook ||
                       to_string(o->call) == "unknown";
    const std::string_view call = plain ? "open" : to_string(o->call);
    return std::string(call) + " " + o->path + " = " + detect::describe_errno(o->ret) +
           (is_denied(ev) ? " (" + std::string(to_string(ev.hdr.verdict)) + " by " +
                                std::string(to_string(ev.hdr.tier)) + ")"
                          : "");
  }
  if (const auto *c = std::get_if<ConnectBody>(&ev.body))
    return std::string(c->inbound   ? "inbound from "
                       : c->sendmsg ? "send "
                                    : "connect ") +
           dest_of(*c) + " = " + detect::describe_errno(c->ret) +
           (is_denied(ev) ? " (" + std::string(to_string(ev.hdr.verdict)) + " by " +
                                std::string(to_string(ev.hdr.tier)) + ")"
                          : "");
  if (const auto *v = std::get_if<VolumeBody>(&ev.body))
    return "sent " + std::to_string(v->bytes) + " bytes to " + policy::ip_to_string(v->addr) + ":" +
           std::to_string(v->port);
  if (const auto *p = std::get_if<PtraceBody>(&ev.body))
    return "access pid " + std::to_string(p->target_tgid) + " (" + p->target_comm + ")";
  if (const auto *k = std::get_if<SocketBody>(&ev.body))
    return "socket family " + std::to_string(k->family) + " type " + std::to_string(k->type);
  if (const auto *tb = std::get_if<TamperBody>(&ev.body))
    return "tamper " + std::string(to_string(tb->kind)) + " " + tb->name;
  if (const auto *th = std::get_if<ThrottleBody>(&ev.body))
    return "throttled: " + std::to_string(th->suppressed) + " events dropped";
  if (const auto *d = std::get_if<DnsBody>(&ev.body))
    return describe_dns(*d);
  return "?";
}

std::string describe_dns(const DnsBody &d)
{
  std::string s = "dns answer from " + policy::ip_to_string(d.server) + ":" +
                  std::to_string(d.port) + (d.proto == 6 ? "/tcp" : "");
  if (!d.error.empty())
    return s + ": not parsed (" + d.error + ")";
  s += ": " + (d.qname.empty() ? std::string(".") : d.qname);
  for (const auto &c : d.cnames)
    s += " -> " + c;
  if (d.rcode != 0)
    s += d.rcode == 3 ? " NXDOMAIN" : " rcode " + std::to_string(d.rcode);
  std::string addrs;
  for (const auto &a : d.addrs)
    addrs += (addrs.empty() ? "" : ", ") + policy::ip_to_string(a);
  s += addrs.empty() ? " (no address)" : " = " + addrs;
  if (d.cut)
    s += " (cut)";
  if (d.truncated)
    s += " (truncated)";
  return s;
}

Result<Session> load_session(const std::vector<std::string> &paths, const Filter &filter,
                             const Caps &caps, const ProgressFn &progress)
{
  auto files = eventlog::segment_files(paths);
  if (!files)
    return tl::unexpected(files.error());
  if (files->empty())
    return fail_errno(ENOENT, "no event log segments (seg-*.vglog) in the given paths");
  Session s;
  s.files = *files;
  std::vector<uint64_t> before(files->size() + 1, 0); // bytes of the segments before each
  for (size_t i = 0; i < files->size(); ++i) {
    before[i + 1] = before[i] + total_size({(*files)[i]});
  }
  s.bytes = before.back();
  Builder b(s, filter, caps);
  size_t seg = 0;
  std::string current;
  eventlog::Visitor v;
  v.on_segment = [&](const eventlog::SegmentInfo &info) {
    for (size_t i = 0; i < files->size(); ++i)
      if ((*files)[i] == info.path)
        seg = i;
    b.segment(info);
  };
  uint64_t n = 0;
  v.on_record = [&](const eventlog::RecordView &r) {
    b.record(r);
    if (progress && (++n & 1023) == 0)
      progress(before[seg] + r.block_offset, seg + 1);
    return true;
  };
  s.read = eventlog::read_log(*files, v);
  b.finish();
  return s;
}

} // namespace vigil::report
