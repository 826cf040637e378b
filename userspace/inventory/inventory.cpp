// SPDX-License-Identifier: Apache-2.0
// The inventory: one bounded walk of the home and the project, plus the fixed places where
// secrets and authority sockets live.

#include "inventory/inventory.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "enforce/launch.h"

namespace vigil::inventory {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

bool is_token_char(char c)
{
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
}

// At pos, prefix followed by at least min characters of `ok`, and not preceded by a token char.
template <typename Ok>
bool token_at(std::string_view t, size_t pos, std::string_view prefix, size_t min, Ok ok)
{
  if (pos > 0 && is_token_char(t[pos - 1]))
    return false;
  if (t.compare(pos, prefix.size(), prefix) != 0)
    return false;
  size_t n = 0;
  for (size_t i = pos + prefix.size(); i < t.size() && ok(t[i]); ++i)
    ++n;
  return n >= min;
}

bool upper_or_digit(char c)
{
  return std::isupper(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c));
}
bool alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)); }

// A readable check for uid (DAC only: mode bits of the file and search bits of its ancestors);
// root reads everything that exists.
bool usable(const std::string &path, const Options &o, int want /* 4 read, 2 write */)
{
  auto allowed = [&](const struct stat &st, int bits) {
    if (o.uid == 0)
      return true;
    if (st.st_uid == o.uid)
      return (st.st_mode & (static_cast<mode_t>(bits) << 6)) != 0;
    if (std::find(o.gids.begin(), o.gids.end(), st.st_gid) != o.gids.end())
      return (st.st_mode & (static_cast<mode_t>(bits) << 3)) != 0;
    return (st.st_mode & static_cast<mode_t>(bits)) != 0;
  };
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !allowed(st, want))
    return false;
  for (fs::path p = fs::path(path).parent_path(); !p.empty() && p != p.root_path();
       p = p.parent_path()) {
    if (::stat(p.c_str(), &st) != 0 || !allowed(st, 1))
      return false;
  }
  return true;
}

bool exists(const std::string &p)
{
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

bool is_socket(const std::string &p)
{
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

std::string env_of(const Options &o, std::string_view name)
{
  for (const auto &kv : o.env)
    if (kv.size() > name.size() && kv.compare(0, name.size(), name) == 0 && kv[name.size()] == '=')
      return kv.substr(name.size() + 1);
  return {};
}

// Directories whose contents are build output or caches of public packages: skipped, they are
// large and hold no one's credentials.
bool skipped_dir(const std::string &name)
{
  static const std::set<std::string> skip = {
      "node_modules", "objects", "__pycache__", ".venv", "venv",          "target", ".rustup",
      "registry",     ".npm",    ".gradle",     ".m2",   "site-packages", "proc",   "sys"};
  return skip.count(name) != 0;
}

struct Walker {
  const Options &o;
  const policy::Profile &profile;
  policy::PathMatcher denied;
  std::vector<std::pair<policy::PathMatcher, const policy::Rule *>> rule_matchers;
  Inventory &inv;
  Clock::time_point deadline;
  std::set<std::string> seen; // paths already reported

  std::string deny_status(const std::string &path) const
  {
    if (auto i = denied.match(path))
      return "denied by the profile (credentials.paths " + profile.credential_paths[*i] + ")";
    return {};
  }

  void add_credential(const std::string &path, const std::string &what, const std::string &why)
  {
    if (!seen.insert(path).second)
      return;
    Finding f;
    f.category = "credential";
    f.what = what;
    f.where = path;
    f.why = why;
    const bool readable = usable(path, o, 4);
    const std::string deny = deny_status(path);
    f.reachable = readable && deny.empty();
    f.status = !readable      ? "not readable by uid " + std::to_string(o.uid)
               : deny.empty() ? "reachable"
                              : deny;
    inv.findings.push_back(std::move(f));
  }

  void look_at(const std::string &path, uint64_t size)
  {
    for (const auto &[m, rule] : rule_matchers)
      if (m.match(path)) {
        add_credential(path, rule->id, "rule " + rule->id);
        return;
      }
    if (denied.match(path)) {
      add_credential(path, "profile-credential", "the profile's credentials.paths");
      return;
    }
    if (size == 0 || size > o.max_size || !usable(path, o, 4))
      return;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOATIME);
    if (fd < 0)
      fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
      return;
    std::string buf(std::min<uint64_t>(size, o.read_bytes), '\0');
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    ::close(fd);
    if (n <= 0)
      return;
    buf.resize(static_cast<size_t>(n));
    if (buf.find('\0') < 512) // binary
      return;
    KeyMatch k = find_key_material(buf);
    if (!k.kind.empty())
      add_credential(path, k.kind, "content, line " + std::to_string(k.line));
  }

  void walk(const std::string &root)
  {
    std::error_code ec;
    if (root.empty() || !fs::is_directory(root, ec))
      return;
    auto it =
        fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::end(it); it.increment(ec)) {
      if (inv.files_scanned >= o.max_files || Clock::now() > deadline) {
        inv.truncated = true;
        return;
      }
      const fs::directory_entry &e = *it;
      if (e.is_symlink(ec))
        continue;
      if (e.is_directory(ec)) {
        if (it.depth() >= o.max_depth || skipped_dir(e.path().filename().string()))
          it.disable_recursion_pending();
        continue;
      }
      if (!e.is_regular_file(ec))
        continue;
      ++inv.files_scanned;
      look_at(e.path().string(), e.file_size(ec));
    }
  }
};

// Whether something listens on a local TCP port (/proc/net/tcp and tcp6, state 0A): the kubelet
// is only authority when it is there. Read, never connected to.
bool listening(uint16_t port)
{
  char want[8];
  std::snprintf(want, sizeof(want), ":%04X", port);
  for (const char *file : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::FILE *f = std::fopen(file, "r");
    if (!f)
      continue;
    char line[512];
    bool found = false;
    while (!found && std::fgets(line, sizeof(line), f)) {
      char local[64] = {}, remote[64] = {}, st[8] = {};
      if (std::sscanf(line, " %*d: %63s %63s %7s", local, remote, st) == 3 &&
          std::string_view(st) == "0A" && std::string_view(local).ends_with(want))
        found = true;
    }
    std::fclose(f);
    if (found)
      return true;
  }
  return false;
}

std::string human_count(double n)
{
  if (n >= 1e9)
    return std::to_string(static_cast<uint64_t>(n / 1e9)) + "G";
  if (n >= 1e6)
    return std::to_string(static_cast<uint64_t>(n / 1e6)) + "M";
  if (n >= 1e4)
    return std::to_string(static_cast<uint64_t>(n / 1e3)) + "k";
  return std::to_string(static_cast<uint64_t>(n));
}

void add(Inventory &inv, std::string category, std::string what, std::string where, std::string why,
         bool reachable, std::string status)
{
  inv.findings.push_back(Finding{std::move(category), std::move(what), std::move(where),
                                 std::move(why), reachable, std::move(status)});
}

void environment(const Options &o, const policy::Profile &profile, Inventory &inv)
{
  std::vector<const char *> envp;
  for (const auto &kv : o.env)
    envp.push_back(kv.c_str());
  envp.push_back(nullptr);
  const enforce::ScrubbedEnv s = enforce::scrub_environment(envp.data(), profile.env_allow);
  for (const auto &name : s.removed)
    add(inv, "environment", "secret-variable", name, "its name looks like a secret", false,
        "scrubbed by vigil run (passed as is in daemon mode)");
  for (const auto &kv : s.kept) {
    const std::string name = kv.substr(0, kv.find('='));
    const std::string value = kv.substr(kv.find('=') + 1);
    if (enforce::secret_like(name)) {
      add(inv, "environment", "secret-variable", name, "its name looks like a secret", true,
          "passed (launch.env_allow)");
      continue;
    }
    KeyMatch k = find_key_material(value);
    if (!k.kind.empty())
      add(inv, "environment", k.kind, name, "its value looks like a " + k.kind, true,
          "passed (the name does not look like a secret)");
  }
}

void mounted_secrets(const Options &o, Walker &w, Inventory &inv)
{
  std::vector<std::pair<std::string, std::string>> places = {
      {"/var/run/secrets/kubernetes.io/serviceaccount/token", "kubernetes-service-account-token"},
      {"/var/run/secrets/eks.amazonaws.com/serviceaccount/token", "eks-pod-identity-token"},
      {"/var/run/secrets/azure/tokens/azure-identity-token", "azure-workload-identity-token"},
      {w.o.home + "/.aws/credentials", "aws-credentials"},
      {w.o.home + "/.aws/config", "aws-config"},
      {w.o.home + "/.config/gcloud/application_default_credentials.json", "gcp-adc"},
      {w.o.home + "/.config/gcloud/credentials.db", "gcp-credentials"},
      {w.o.home + "/.azure/msal_token_cache.json", "azure-token-cache"},
      {w.o.home + "/.azure/accessTokens.json", "azure-access-tokens"},
  };
  for (const char *var : {"AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE",
                          "GOOGLE_APPLICATION_CREDENTIALS", "AWS_WEB_IDENTITY_TOKEN_FILE"})
    if (auto v = env_of(o, var); !v.empty())
      places.emplace_back(v, std::string("file named by ") + var);
  std::error_code ec;
  for (const char *dir : {"/run/secrets", "/var/run/secrets"})
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::end(it); it.increment(ec))
      if (it->is_regular_file(ec))
        places.emplace_back(it->path().string(), "mounted-secret");
  for (const auto &[path, what] : places) {
    if (!exists(path) || w.seen.count(path))
      continue;
    w.seen.insert(path);
    const bool readable = usable(path, o, 4);
    const std::string deny = w.deny_status(path);
    add(inv, "mounted_secret", what, path, "a standard credential location",
        readable && deny.empty(),
        !readable      ? "not readable by uid " + std::to_string(o.uid)
        : deny.empty() ? "reachable"
                       : deny);
  }
}

void sockets(const Options &o, const policy::Profile &profile, Inventory &inv)
{
  const std::string runtime = "/run/user/" + std::to_string(o.uid);
  std::vector<std::pair<std::string, std::string>> socks = {
      {"/var/run/docker.sock", "docker-socket"},
      {"/run/docker.sock", "docker-socket"},
      {runtime + "/docker.sock", "docker-socket"},
      {"/run/podman/podman.sock", "podman-socket"},
      {runtime + "/podman/podman.sock", "podman-socket"},
      {"/run/containerd/containerd.sock", "containerd-socket"},
      {o.home + "/.cache/git/credential/socket", "git-credential-cache"},
      {o.home + "/.git-credential-cache/socket", "git-credential-cache"},
  };
  for (const char *var : {"DOCKER_HOST", "CONTAINER_HOST"}) {
    const std::string v = env_of(o, var);
    if (v.rfind("unix://", 0) == 0)
      socks.emplace_back(v.substr(7), std::string(var[0] == 'D' ? "docker" : "podman") +
                                          "-socket (" + var + ")");
  }
  if (auto v = env_of(o, "SSH_AUTH_SOCK"); !v.empty())
    socks.emplace_back(v, "ssh-agent (SSH_AUTH_SOCK)");
  policy::PathMatcher ipc_allow(profile.ipc_allow, o.home);
  std::set<std::string> seen;
  for (const auto &[path, what] : socks) {
    std::error_code ec;
    const std::string real = fs::weakly_canonical(path, ec).string();
    if (!is_socket(path) || !seen.insert(ec ? path : real).second)
      continue;
    const bool connectable = usable(path, o, 2);
    const bool allowed = ipc_allow.match(path).has_value();
    add(inv, "socket", what, path, "a local socket that hands out authority",
        connectable && allowed,
        !connectable ? "not connectable by uid " + std::to_string(o.uid)
        : allowed    ? "reachable (ipc.allow)"
                     : "denied by the profile (unix sockets served outside the agent; tier 1, "
                       "and tier 2 on kernels with cgroup connect_unix, 6.7+)");
  }
  struct Net {
    const char *addr;
    uint16_t port;
    const char *what;
  };
  for (const Net &n :
       {Net{"169.254.169.254", 80, "cloud-metadata"},
        Net{"fd00:ec2::254", 80, "cloud-metadata (IPv6)"}, Net{"127.0.0.1", 10250, "kubelet"},
        Net{"127.0.0.1", 10255, "kubelet (read-only)"}}) {
    auto ip = policy::parse_ip(n.addr);
    if (!ip)
      continue;
    const bool allowed = policy::egress_allowed(profile, *ip, n.port);
    const bool local = n.port == 10250 || n.port == 10255;
    if (local && !listening(n.port))
      continue; // no kubelet here
    const std::string where = std::string(n.addr).find(':') != std::string::npos
                                  ? "[" + std::string(n.addr) + "]:" + std::to_string(n.port)
                                  : std::string(n.addr) + ":" + std::to_string(n.port);
    add(inv, "network", n.what, where, "an address that hands out credentials or control", allowed,
        allowed ? "allowed by the egress allowlist" : "denied by the egress allowlist");
  }
}

EgressBreadth breadth(const policy::Profile &p)
{
  EgressBreadth b;
  for (const auto &e : p.egress_allow) {
    if (!e.host.empty()) {
      ++b.host_entries;
    } else if (e.cidr.is_v4 || policy::is_v4_mapped(e.cidr.addr)) {
      b.ipv4_addresses += std::ldexp(1.0, 128 - std::max<int>(e.cidr.prefix_len, 96));
    } else {
      b.ipv6.push_back(e.cidr.to_string());
    }
    if (e.ports.empty())
      ++b.any_port_entries;
  }
  if (p.dns_system)
    b.dns.push_back("system");
  for (const auto &c : p.dns)
    b.dns.push_back(c.to_string());
  return b;
}

} // namespace

KeyMatch find_key_material(std::string_view t)
{
  size_t line = 1;
  for (size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    if (c == '\n') {
      ++line;
      continue;
    }
    std::string kind;
    if (c == '-' && t.compare(i, 11, "-----BEGIN ") == 0) {
      const size_t eol = t.find('\n', i);
      const std::string_view head = t.substr(i, eol == std::string_view::npos ? t.npos : eol - i);
      if (head.find("PRIVATE KEY-----") != std::string_view::npos)
        kind = "pem-private-key";
    } else if (c == 'A' && (token_at(t, i, "AKIA", 16, upper_or_digit) ||
                            token_at(t, i, "ASIA", 16, upper_or_digit))) {
      kind = "aws-access-key-id";
    } else if (c == 'A' && token_at(t, i, "AIza", 35, is_token_char)) {
      kind = "google-api-key";
    } else if (c == 'g' &&
               (token_at(t, i, "ghp_", 36, alnum) || token_at(t, i, "gho_", 36, alnum) ||
                token_at(t, i, "ghu_", 36, alnum) || token_at(t, i, "ghs_", 36, alnum) ||
                token_at(t, i, "ghr_", 36, alnum) ||
                token_at(t, i, "github_pat_", 40, is_token_char))) {
      kind = "github-token";
    } else if (c == 'g' && token_at(t, i, "glpat-", 20, is_token_char)) {
      kind = "gitlab-token";
    } else if (c == 'x' && (token_at(t, i, "xoxb-", 10, is_token_char) ||
                            token_at(t, i, "xoxp-", 10, is_token_char) ||
                            token_at(t, i, "xoxa-", 10, is_token_char))) {
      kind = "slack-token";
    } else if (c == 's' && (token_at(t, i, "sk-ant-", 32, is_token_char) ||
                            token_at(t, i, "sk-proj-", 32, is_token_char))) {
      kind = "ai-api-key";
    } else if (c == 'n' && token_at(t, i, "npm_", 36, alnum)) {
      kind = "npm-token";
    }
    if (!kind.empty())
      return {kind, line};
  }
  return {};
}

Inventory take(const Options &o, const policy::Profile &profile, const policy::RuleSet &rules)
{
  const auto start = Clock::now();
  Inventory inv;
  inv.uid = o.uid;
  inv.home = o.home;
  inv.project = o.project;
  inv.profile = profile.name;
  Walker w{o,  profile, policy::PathMatcher(profile.credential_paths, o.home),
           {}, inv,     start + o.budget,
           {}};
  for (const auto &r : rules.rules)
    if (r.enabled && r.kind == policy::RuleKind::credential_read && !r.paths.empty() &&
        r.applies_to(profile.name))
      w.rule_matchers.emplace_back(policy::PathMatcher(r.paths, o.home), &r);
  w.walk(o.home);
  if (!o.project.empty() && o.project != o.home &&
      (o.home.empty() || o.project.rfind(o.home + "/", 0) != 0))
    w.walk(o.project);
  // Literal absolute paths of the packs outside the walked trees (/etc/shadow, ...).
  for (const auto &r : rules.rules) {
    if (!r.enabled || r.kind != policy::RuleKind::credential_read)
      continue;
    for (const auto &p : r.paths)
      if (p.front() == '/' && p.find_first_of("*?[") == std::string::npos && exists(p))
        w.add_credential(p, r.id, "rule " + r.id);
  }
  mounted_secrets(o, w, inv);
  environment(o, profile, inv);
  sockets(o, profile, inv);
  inv.egress = breadth(profile);
  inv.elapsed_ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
  return inv;
}

std::string Inventory::summary() const
{
  // Ranked: what hands out the most authority first.
  static const std::vector<std::pair<std::string, std::string>> order = {
      {"socket", "authority socket(s)"},
      {"credential", "credential file(s)"},
      {"mounted_secret", "mounted secret(s)"},
      {"environment", "secret variable(s) passed"},
      {"network", "credential endpoint(s) allowed"}};
  std::string reach, held;
  size_t denied = 0;
  for (const auto &[cat, label] : order) {
    size_t n = 0;
    for (const auto &f : findings)
      if (f.category == cat && f.reachable)
        ++n;
    if (n)
      reach += (reach.empty() ? "" : ", ") + std::to_string(n) + " " + label;
  }
  for (const auto &f : findings)
    if (!f.reachable && f.category != "network")
      ++denied;
  std::string net =
      "egress: " + human_count(this->egress.ipv4_addresses) + " IPv4 address(es)" +
      (this->egress.ipv6.empty()
           ? ""
           : ", " + std::to_string(this->egress.ipv6.size()) + " IPv6 prefix(es)") +
      ", " + std::to_string(this->egress.any_port_entries) + " any-port entr" +
      (this->egress.any_port_entries == 1 ? "y" : "ies") +
      (this->egress.dns.empty() ? ", no DNS"
                                : ", DNS to " + std::to_string(this->egress.dns.size()) +
                                      " resolver set(s) (a channel out)");
  bool in_tree = false; // credential material found under the home or the project
  for (const auto &f : findings)
    if (f.category == "credential" && ((!home.empty() && f.where.rfind(home + "/", 0) == 0) ||
                                       (!project.empty() && f.where.rfind(project + "/", 0) == 0)))
      in_tree = true;
  const std::string trees =
      in_tree     ? ""
      : truncated ? "no credential file or key material in the part of the home and project "
                    "scanned; "
                  : "home and project clean (no credential file or key material found); ";
  if (reach.empty())
    return "summary: " + trees + "nothing reachable" +
           std::string(
               denied
                   ? " (" + std::to_string(denied) +
                         " held back by the profile, scrub or permissions)"
                   : ": no credential, secret variable, mounted secret or authority socket found") +
           "; " + net + (truncated ? "; scan truncated" : "");
  return "summary: " + trees + "reachable: " + reach + "; " + std::to_string(denied) +
         " held back; " + net + (truncated ? "; scan truncated" : "");
}

std::string to_text(const Inventory &inv)
{
  std::string out = "inventory for uid " + std::to_string(inv.uid) + " (home " + inv.home +
                    (inv.project.empty() ? "" : ", project " + inv.project) + ") under profile '" +
                    inv.profile + "'\n";
  for (const char *cat : {"credential", "mounted_secret", "environment", "socket", "network"}) {
    for (const auto &f : inv.findings) {
      if (f.category != cat)
        continue;
      out += std::string(f.reachable ? "  REACHABLE " : "  held      ") + f.category + " " +
             f.where + ": " + f.what + " [" + f.why + "]: " + f.status + "\n";
    }
  }
  out += "  egress allowlist: " + human_count(inv.egress.ipv4_addresses) + " IPv4 address(es), " +
         std::to_string(inv.egress.ipv6.size()) + " IPv6 prefix(es), " +
         std::to_string(inv.egress.host_entries) + " host name(s), " +
         std::to_string(inv.egress.any_port_entries) + " any-port entr" +
         (inv.egress.any_port_entries == 1 ? "y" : "ies") + "\n";
  out += "  scanned " + std::to_string(inv.files_scanned) + " file(s) in " +
         std::to_string(inv.elapsed_ms) + " ms" +
         (inv.truncated ? " (truncated: a bound was hit)" : "") + "\n";
  out += inv.summary() + "\n";
  return out;
}

nlohmann::json to_json(const Inventory &inv)
{
  nlohmann::json j;
  j["version"] = 1;
  j["uid"] = inv.uid;
  j["home"] = inv.home;
  j["project"] = inv.project;
  j["profile"] = inv.profile;
  j["findings"] = nlohmann::json::array();
  for (const auto &f : inv.findings)
    j["findings"].push_back({{"category", f.category},
                             {"what", f.what},
                             {"where", f.where},
                             {"why", f.why},
                             {"reachable", f.reachable},
                             {"status", f.status}});
  j["egress"] = {{"ipv4_addresses", inv.egress.ipv4_addresses},
                 {"ipv6_prefixes", inv.egress.ipv6},
                 {"host_entries", inv.egress.host_entries},
                 {"any_port_entries", inv.egress.any_port_entries},
                 {"dns", inv.egress.dns}};
  j["scan"] = {
      {"files", inv.files_scanned}, {"truncated", inv.truncated}, {"elapsed_ms", inv.elapsed_ms}};
  j["summary"] = inv.summary();
  return j;
}

} // namespace vigil::inventory
