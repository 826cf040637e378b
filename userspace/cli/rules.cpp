// SPDX-License-Identifier: Apache-2.0
// `vigil rules check PATH...`: every rule, profile and allowlist file under the given paths is
// parsed, every mistake is printed (file:line:col: field: what), and the rule files are checked
// as one set (duplicate ids, sequences naming rules that do not exist, kernel limits).
#include <cstdio>
#include <filesystem>

#include <yaml-cpp/yaml.h>

#include "cli/commands.h"
#include "policy/profile.h"
#include "policy/rules.h"

namespace vigil::cli {

namespace {

enum class FileKind { rules, profile, allowlist, unknown, unreadable };

// What a YAML file is, from its top-level keys. A file YAML cannot parse counts as rules, so the
// rule parser reports the syntax error with its position.
FileKind kind_of(const std::string &path)
{
  try {
    YAML::Node root = YAML::LoadFile(path);
    if (!root.IsMap())
      return FileKind::unknown;
    if (root["rules"])
      return FileKind::rules;
    if (root["profile"])
      return FileKind::profile;
    if (root["allowlist"])
      return FileKind::allowlist;
    return FileKind::unknown;
  } catch (const YAML::BadFile &) {
    return FileKind::unreadable;
  } catch (const YAML::Exception &) {
    return FileKind::rules;
  }
}

} // namespace

int rules_check_command(const std::vector<std::string> &paths)
{
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  for (const auto &p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(p, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
        if (it->is_regular_file(ec) &&
            (it->path().extension() == ".yaml" || it->path().extension() == ".yml"))
          found.push_back(it->path().string());
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(p);
    }
  }
  std::vector<std::string> errors;
  std::vector<std::string> rule_files;
  size_t profiles = 0, allowlists = 0;
  for (const auto &f : files) {
    switch (kind_of(f)) {
    case FileKind::rules:
      rule_files.push_back(f);
      break;
    case FileKind::profile: {
      auto p = policy::load_profile(f);
      if (!p)
        errors.push_back(p.error().message());
      else
        ++profiles;
      break;
    }
    case FileKind::allowlist: {
      auto a = policy::load_allowlist(f);
      if (!a)
        errors.push_back(a.error().message());
      else
        ++allowlists;
      break;
    }
    case FileKind::unreadable:
      errors.push_back(f + ": cannot read the file");
      break;
    case FileKind::unknown:
      errors.push_back(f + ":1:1: (top level): not a rule file (rules:), a profile (profile:) or "
                           "an allowlist (allowlist:)");
      break;
    }
  }
  policy::RuleSet set = policy::load_rules(rule_files, errors);
  for (const auto &e : errors)
    std::fprintf(stderr, "%s\n", e.c_str());
  if (!errors.empty()) {
    std::fprintf(stderr, "vigil rules check: %zu error(s)\n", errors.size());
    return 1;
  }
  size_t enabled = 0;
  for (const auto &r : set.rules)
    enabled += r.enabled ? 1 : 0;
  std::printf("ok: %zu rule(s) (%zu enabled) in %zu file(s), %zu profile(s), %zu allowlist(s)\n",
              set.rules.size(), enabled, rule_files.size(), profiles, allowlists);
  return 0;
}

} // namespace vigil::cli
