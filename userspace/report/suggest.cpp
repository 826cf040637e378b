// SPDX-License-Identifier: Apache-2.0
// Writes a suggested profile (suggest.h): the base profile re-serialised in full (allowlist
// files inlined, so the result stands alone), plus what the recording shows the agent needed.
#include "report/suggest.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "common/text.h"
#include "detect/alert.h"
#include "policy/capability.h"

namespace vigil::report {

namespace {

using policy::Profile;

// Comment text: one line, whatever the agent put in a name.
std::string c(std::string_view s)
{
  return escape_bounded(s, 300);
}

std::string where(const Count &n)
{
  return "first " + detect::format_time(n.first_ns) + " by " + c(n.first_comm) + " (pid " +
         std::to_string(n.first_pid) + "), " + std::to_string(n.n) + " time(s)" +
         (n.denied ? ", " + std::to_string(n.denied) + " denied in the recording" : "");
}

std::string ports_yaml(const std::vector<policy::PortRange> &ports)
{
  std::string s = "[";
  for (size_t i = 0; i < ports.size(); ++i) {
    if (i)
      s += ", ";
    s += ports[i].lo == ports[i].hi
             ? std::to_string(ports[i].lo)
             : "\"" + std::to_string(ports[i].lo) + "-" + std::to_string(ports[i].hi) + "\"";
  }
  return s + "]";
}

bool equal_nocase(std::string_view a, std::string_view b)
{
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view mode_name(policy::Mode m)
{
  return policy::to_string(m);
}

// 169.254.0.0/16 (cloud metadata lives at .169.254), fe80::/10, fd00:ec2::254.
bool metadata_or_link_local(const std::array<uint8_t, 16> &ip)
{
  if (policy::is_v4_mapped(ip))
    return ip[12] == 169 && ip[13] == 254;
  if (ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80)
    return true;
  static constexpr std::array<uint8_t, 16> ec2 = {0xfd, 0, 0x0e, 0xc2, 0, 0, 0,    0,
                                                  0,    0, 0,    0,    0, 0, 0x02, 0x54};
  return ip == ec2;
}

// What a profile's egress host entry may hold (yaml_read.cpp checks the same).
bool host_name_ok(std::string_view name)
{
  return !name.empty() && name.size() <= 253 && name.find('.') != std::string_view::npos &&
         name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-") == std::string_view::npos;
}

// Whether a host entry of the base already allows the name on the port.
bool base_host_allows(const Profile &b, const std::string &name, uint16_t port)
{
  for (const auto &a : b.egress_allow) {
    if (a.host.empty() || !equal_nocase(a.host, name))
      continue;
    if (a.ports.empty())
      return true;
    for (const auto &r : a.ports)
      if (r.lo <= port && port <= r.hi)
        return true;
  }
  return false;
}

void base_sections(std::string &y, const Profile &b)
{
  y += "mode: " + std::string(mode_name(b.mode)) + "\n";
  y += "require: " + std::string(policy::to_string(b.require)) + "\n";
  y += "\npersistence:\n  severity: " + std::string(policy::to_string(b.persistence_severity)) +
       "\n";
  if (b.persistence_mode)
    y += "  mode: " + std::string(mode_name(*b.persistence_mode)) + "\n";
  y += "  paths:" + std::string(b.persistence_paths.empty() ? " []\n" : "\n");
  for (const auto &p : b.persistence_paths)
    y += p.mode ? "    - {path: " + yaml_quote(p.pattern) +
                      ", mode: " + std::string(mode_name(*p.mode)) + "}\n"
                : "    - " + yaml_quote(p.pattern) + "\n";
  y += "\ningress:\n  mode: " +
       std::string(b.ingress_off ? "off" : mode_name(b.ingress_mode.value_or(b.mode))) +
       "\n  severity: " + std::string(policy::to_string(b.ingress_severity)) + "\n";
  y += "\nlaunch:\n  env_allow: [";
  for (size_t i = 0; i < b.env_allow.size(); ++i)
    y += (i ? ", " : "") + b.env_allow[i]; // names are [A-Za-z0-9_]+ (the parser checks)
  y += "]\n";
  if (b.keep_capabilities) {
    y += "  capabilities: [";
    bool first = true;
    for (int cap = 0; cap < 64; ++cap)
      if (*b.keep_capabilities & policy::cap_bit(cap)) {
        y += (first ? "" : ", ") + policy::capability_name(cap);
        first = false;
      }
    y += "]\n";
  }
  y += "  isolate: " + std::string(b.isolate ? "true" : "false") + "\n";
  y += "  pid_namespace: " + std::string(b.pid_namespace ? "true" : "false") + "\n";
  y += "  nested_namespaces: " + std::string(b.nested_namespaces ? "allow" : "deny") + "\n";
  y += "\nself_protection:\n  mode: " +
       std::string(b.self_protection ? mode_name(*b.self_protection) : "off") + "\n";
  y += "\nlimits:\n  events_per_second: " + std::to_string(b.events_per_second) + "\n";
}

} // namespace

std::string yaml_quote(std::string_view s)
{
  // escape_text leaves valid UTF-8 without controls, with backslashes doubled and controls as
  // \n, \t or \xNN: all of them escapes YAML's double-quoted style reads back the same way.
  const std::string t = escape_text(s);
  std::string out = "\"";
  for (char ch : t) {
    if (ch == '"')
      out += "\\\"";
    else
      out.push_back(ch);
  }
  return out + "\"";
}

bool credential_like(std::string_view path)
{
  const size_t slash = path.rfind('/');
  std::string name(slash == std::string_view::npos ? path : path.substr(slash + 1));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  for (const char *pattern : {"*.pem",
                              "*.key",
                              "*.p12",
                              "*.pfx",
                              "*.jks",
                              "*.kdbx",
                              "*.asc",
                              "*.gpg",
                              "id_rsa*",
                              "id_ed25519*",
                              "id_ecdsa*",
                              "id_dsa*",
                              ".env",
                              ".env.*",
                              "*.env",
                              ".netrc",
                              ".pgpass",
                              ".htpasswd",
                              ".git-credentials",
                              ".npmrc",
                              ".pypirc",
                              "*credential*",
                              "*secret*",
                              "*token*",
                              "*password*",
                              "*passwd*",
                              "*apikey*",
                              "*api_key*",
                              "shadow",
                              "gshadow"}) {
    if (policy::glob_match(pattern, name)) {
      // CA bundles and public halves are read by every TLS client and ssh: not secrets.
      if (name.ends_with(".pub") || path.find("/certs/") != std::string_view::npos ||
          name.starts_with("ca-") || name == "cacert.pem" || path.starts_with("/etc/ssl/") ||
          path.starts_with("/usr/share/") || path.starts_with("/proc/") ||
          path.starts_with("/sys/"))
        return false;
      return true;
    }
  }
  return false;
}

std::string suggest_profile(const Session &s, const Profile &base, const SuggestMeta &meta)
{
  std::string y;
  y += "# Suggested by `" + c(meta.command) + "`\n";
  y += "# from " + std::to_string(s.files.size()) + " segment(s) of host " + c(s.host) + ", " +
       detect::format_time(s.first_ns) + " to " + detect::format_time(s.last_ns) + ", " +
       std::to_string(s.kept_events) + " events, " + std::to_string(s.alerts_total) +
       " alert(s).\n";
  y += "# Base: " + c(meta.base_path) + " (profile " + c(base.name) +
       "): every protection of the base is kept, its allowlist files inlined.\n";
  y += "# Added: what the recorded agent reached that the base refuses, each entry with where it\n"
       "# was seen. REVIEW comments need a person: they are not allowed by this profile.\n";
  if (!s.read.clean())
    y += "# WARNING: the log has damage (run `vigil log verify`); the recording may be partial.\n";
  y += "profile: " + yaml_quote(base.name + "-suggested") + "\n";
  y += "description: " +
       yaml_quote("Suggested from a recording (" + detect::format_time(s.first_ns) + ")") + "\n";

  // Credentials: the base's patterns stay; reads of protected files are reported, and reads of
  // credential-like files the base does not protect are offered as entries to add.
  y += "\ncredentials:\n  severity: " + std::string(policy::to_string(base.credential_severity)) +
       "\n";
  if (base.credential_mode)
    y += "  mode: " + std::string(mode_name(*base.credential_mode)) + "\n";
  y += "  paths:" + std::string(base.credential_paths.empty() ? " []\n" : "\n");
  for (const auto &p : base.credential_paths)
    y += "    - " + yaml_quote(p) + "\n";
  const policy::PathMatcher protected_paths(base.credential_paths, s.home);
  std::vector<std::string> review_protected, review_new;
  std::set<std::string> seen;
  for (const auto &[path, n] : s.credentials)
    if (seen.insert(path).second)
      review_protected.push_back("#   " + c(path) + ": " + where(n) +
                                 (protected_paths.match(path) ? " (stays protected)" : ""));
  for (const auto &[pid, p] : s.procs) {
    if (!p.in_agent)
      continue;
    for (const auto &[path, n] : p.files)
      if (!s.credentials.count(path) && !protected_paths.match(path) && credential_like(path) &&
          seen.insert(path).second && n.n > n.denied)
        review_new.push_back("  #   - " + yaml_quote(path) + "   # " + where(n));
  }
  if (!review_protected.empty()) {
    y += "  # REVIEW: credential files the agent opened (they stay protected; remove a pattern\n"
         "  # above only if the agent must read the file):\n";
    for (const auto &l : review_protected)
      y += "  " + l + "\n";
  }
  if (!review_new.empty()) {
    y += "  # REVIEW: credential-like files the agent read that the base does not protect. They\n"
         "  # are NOT allowed by choice here: uncomment to protect them, or leave them readable.\n";
    for (const auto &l : review_new)
      y += l + "\n";
  }

  // Egress: the base's entries, then each destination the recording reached outside them.
  y += "\negress:\n  severity: " + std::string(policy::to_string(base.egress_severity)) + "\n";
  if (base.egress_mode)
    y += "  mode: " + std::string(mode_name(*base.egress_mode)) + "\n";
  y += "  raw_sockets: " + std::string(base.raw_sockets ? "allow" : "deny") + "\n";
  if (base.dns_system) {
    y += "  dns: system\n";
  } else if (base.dns.empty()) {
    y += "  dns: none\n";
  } else {
    y += "  dns:\n";
    for (const auto &d : base.dns)
      y += "    - " + d.to_string() + "\n";
  }
  y += "  allow:\n";
  for (const auto &a : base.egress_allow) {
    y += "    - {" +
         (a.host.empty() ? "cidr: " + a.cidr.to_string() : "host: " + yaml_quote(a.host));
    if (!a.ports.empty())
      y += ", ports: " + ports_yaml(a.ports);
    y += "}   # base\n";
  }
  struct Seen {
    std::set<uint16_t> ports;
    std::vector<std::string> why;
  };
  std::map<std::string, Seen> add;   // ip -> ports, comments
  std::map<std::string, Seen> hosts; // name a DNS answer gave the ip for -> ports, comments
  std::vector<std::string> review_dest, review_unix;
  for (const auto &[key, d] : s.dests) {
    if (d.unix_socket) {
      if (d.count.denied)
        review_unix.push_back("  #   - " + yaml_quote(d.addr) + "   # " + where(d.count));
      continue;
    }
    auto ip = policy::parse_ip(d.ip);
    if (!ip)
      continue;
    if (d.port == 53)
      continue; // DNS goes by egress.dns, never by an allowlist entry
    if (policy::egress_allowed(base, *ip, d.port) && !d.count.denied)
      continue;
    if (metadata_or_link_local(*ip)) {
      review_dest.push_back("  #   - {cidr: " + d.ip + "/" +
                            (policy::is_v4_mapped(*ip) ? "32" : "128") + ", ports: [" +
                            std::to_string(d.port) + "]}   # " + where(d.count));
      continue;
    }
    // Named by a DNS answer the agent received: the entry is the name (what the agent asked
    // for), so the profile follows the service when its addresses change. Names a profile
    // cannot hold (an underscore) leave the address as it is.
    bool named = false;
    if (auto it = s.names.find(d.ip); it != s.names.end()) {
      for (const auto &[name, rn] : it->second) {
        if (!host_name_ok(name))
          continue;
        named = true;
        if (base_host_allows(base, name, d.port) && !d.count.denied)
          continue;
        Seen &h = hosts[name];
        h.ports.insert(d.port);
        h.why.push_back(d.ip + " port " + std::to_string(d.port) + ": " + where(d.count));
        h.why.push_back(d.ip + " answered for it by " + c(rn.server) + ": first " +
                        detect::format_time(rn.count.first_ns) + ", " +
                        std::to_string(rn.count.n) + " time(s)");
      }
    }
    if (named)
      continue;
    Seen &e = add[d.ip];
    e.ports.insert(d.port);
    e.why.push_back(std::to_string(d.port) + ": " + where(d.count));
  }
  auto ports_of = [](const std::set<uint16_t> &set) {
    std::string ports;
    for (uint16_t p : set)
      ports += (ports.empty() ? "" : ", ") + std::to_string(p);
    return ports;
  };
  for (const auto &[name, e] : hosts) {
    y += "    - {host: " + yaml_quote(name) + ", ports: [" + ports_of(e.ports) +
         "]}   # named by a DNS answer the agent received\n";
    for (const auto &w : e.why)
      y += "      #   " + w + "\n";
  }
  for (const auto &[ip, e] : add) {
    auto parsed = policy::parse_ip(ip);
    const bool v4 = parsed && policy::is_v4_mapped(*parsed);
    // No DNS answer in the log gave this address: the address is what the agent used.
    y += "    - {cidr: " + ip + (v4 ? "/32" : "/128") + ", ports: [" + ports_of(e.ports) +
         "]}   # recorded address, no DNS answer in the log names it\n";
    for (const auto &w : e.why)
      y += "      #   port " + w + "\n";
  }
  if (!review_dest.empty()) {
    y += "  # REVIEW: link-local or cloud-metadata destinations the agent reached (instance\n"
         "  # credentials live there): not allowed here.\n";
    for (const auto &l : review_dest)
      y += l + "\n";
  }
  if (!base.ipc_allow.empty() || !review_unix.empty()) {
    y += "\nipc:\n  allow: [";
    for (size_t i = 0; i < base.ipc_allow.size(); ++i)
      y += (i ? ", " : "") + yaml_quote(base.ipc_allow[i]);
    y += "]\n";
    if (!review_unix.empty()) {
      y += "  # REVIEW: unix sockets served from outside the agent that it was refused (a docker\n"
           "  # or ssh-agent socket hands out the host): not allowed here.\n";
      for (const auto &l : review_unix)
        y += l + "\n";
    }
  }
  y += "\n";
  base_sections(y, base);
  return y;
}

} // namespace vigil::report
