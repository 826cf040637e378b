// SPDX-License-Identifier: Apache-2.0
// Daemon configuration parsing (yaml-cpp), with file:line:column errors.
#include "daemon/config.h"

#include <filesystem>
#include <set>

#include <yaml-cpp/yaml.h>

namespace vigil::daemon {

namespace {

std::string where(const std::string &file, const YAML::Node &n, const std::string &field)
{
  // An empty document's node has a null mark (-1, -1): report it at the start of the file.
  const YAML::Mark m = n.Mark().is_null() ? YAML::Mark() : n.Mark();
  return file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) + ": " +
         field + ": ";
}

Result<std::string> scalar(const std::string &file, const YAML::Node &n, const std::string &field)
{
  if (!n.IsScalar())
    return fail(where(file, n, field) + "expected a string");
  return n.as<std::string>();
}

Result<Config> parse(const std::string &file, const YAML::Node &root)
{
  namespace fs = std::filesystem;
  Config c;
  c.source = file;
  const fs::path base = fs::absolute(fs::path(file)).parent_path();
  if (!root.IsMap())
    return fail(where(file, root, "(top level)") + "expected a mapping");
  static const std::set<std::string> known{"profiles",        "cgroups", "alerts_json",
                                           "metrics_address", "log_dir", "rescan_ms",
                                           "max_tier", "pin_dir", "rules", "state_dir"};
  for (const auto &kv : root) {
    const std::string key = kv.first.as<std::string>();
    if (!known.count(key))
      return fail(where(file, kv.first, key) + "unknown key");
  }
  const YAML::Node profiles = root["profiles"];
  if (!profiles || !profiles.IsSequence() || profiles.size() == 0)
    return fail(where(file, profiles ? profiles : root, "profiles") +
                "expected a non-empty list of profile files");
  for (size_t i = 0; i < profiles.size(); ++i) {
    auto s = scalar(file, profiles[i], "profiles[" + std::to_string(i) + "]");
    if (!s)
      return tl::unexpected(s.error());
    fs::path p(*s);
    c.profile_files.push_back((p.is_absolute() ? p : base / p).lexically_normal().string());
  }
  if (const YAML::Node rules = root["rules"]) {
    if (!rules.IsSequence() || rules.size() == 0)
      return fail(where(file, rules, "rules") + "expected a non-empty list of rule files or "
                                                "directories");
    for (size_t i = 0; i < rules.size(); ++i) {
      auto s = scalar(file, rules[i], "rules[" + std::to_string(i) + "]");
      if (!s)
        return tl::unexpected(s.error());
      fs::path p(*s);
      c.rule_paths.push_back((p.is_absolute() ? p : base / p).lexically_normal().string());
    }
  }
  if (const YAML::Node n = root["state_dir"]) {
    auto s = scalar(file, n, "state_dir");
    if (!s)
      return tl::unexpected(s.error());
    fs::path p(*s);
    c.state_dir = s->empty() ? std::string() : (p.is_absolute() ? p : base / p).string();
  }
  const YAML::Node cgroups = root["cgroups"];
  if (!cgroups || !cgroups.IsSequence())
    return fail(where(file, cgroups ? cgroups : root, "cgroups") +
                "expected a list of {path, profile}");
  for (size_t i = 0; i < cgroups.size(); ++i) {
    const std::string field = "cgroups[" + std::to_string(i) + "]";
    const YAML::Node item = cgroups[i];
    if (!item.IsMap())
      return fail(where(file, item, field) + "expected a mapping with 'path' and 'profile'");
    for (const auto &kv : item) {
      const std::string key = kv.first.as<std::string>();
      if (key != "path" && key != "profile")
        return fail(where(file, kv.first, field + "." + key) + "unknown key");
    }
    if (!item["path"] || !item["profile"])
      return fail(where(file, item, field) + "needs both 'path' and 'profile'");
    auto path = scalar(file, item["path"], field + ".path");
    if (!path)
      return tl::unexpected(path.error());
    auto profile = scalar(file, item["profile"], field + ".profile");
    if (!profile)
      return tl::unexpected(profile.error());
    if (path->empty() || (*path)[0] != '/')
      return fail(where(file, item["path"], field + ".path") +
                  "must start with '/' (relative to the cgroup2 mount)");
    c.cgroups.push_back({*path, *profile});
  }
  for (const char *key : {"alerts_json", "metrics_address", "log_dir"}) {
    if (const YAML::Node n = root[key]) {
      auto s = scalar(file, n, key);
      if (!s)
        return tl::unexpected(s.error());
      std::optional<std::string> &dst = std::string(key) == "alerts_json" ? c.alerts_json
                                        : std::string(key) == "log_dir"   ? c.log_dir
                                                                          : c.metrics_address;
      dst = *s;
    }
  }
  if (const YAML::Node n = root["pin_dir"]) {
    auto s = scalar(file, n, "pin_dir");
    if (!s)
      return tl::unexpected(s.error());
    if (!s->empty() && (*s)[0] != '/')
      return fail(where(file, n, "pin_dir") + "must be an absolute path under the bpffs, or \"\"");
    c.pin_dir = *s;
  }
  if (const YAML::Node n = root["max_tier"]) {
    auto s = scalar(file, n, "max_tier");
    if (!s)
      return tl::unexpected(s.error());
    if (*s != "lsm" && *s != "fallback" && *s != "monitor")
      return fail(where(file, n, "max_tier") + "'" + *s +
                  "' is not a tier (one of: lsm, fallback, monitor)");
    c.max_tier = *s;
  }
  if (const YAML::Node n = root["rescan_ms"]) {
    int v = 0;
    if (!n.IsScalar() || !YAML::convert<int>::decode(n, v) || v < 50 || v > 60000)
      return fail(where(file, n, "rescan_ms") + "expected an integer between 50 and 60000");
    c.rescan_ms = v;
  }
  return c;
}

} // namespace

Result<Config> load_config(const std::string &path)
{
  try {
    return parse(path, YAML::LoadFile(path));
  } catch (const YAML::BadFile &) {
    return fail_errno(errno ? errno : ENOENT, "read config " + path);
  } catch (const YAML::Exception &e) {
    return fail(path + ":" + std::to_string(e.mark.line + 1) + ":" +
                std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
}

} // namespace vigil::daemon
