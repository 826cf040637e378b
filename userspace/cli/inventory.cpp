// SPDX-License-Identifier: Apache-2.0
// `vigil inventory`: what an agent running as a uid under a profile could reach before its first
// alert (inventory/inventory.h), as text or stable JSON.

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "inventory/inventory.h"

extern char **environ;

namespace vigil::cli {

int inventory_command(const InventoryArgs &args)
{
  const std::string profile_path = args.profile.empty() ? default_profile_path() : args.profile;
  auto profile = policy::load_profile(profile_path);
  if (!profile) {
    spdlog::error("{}", profile.error().message());
    return 2;
  }
  auto rules = policy::load_rules(args.rules.empty() ? std::vector<std::string>{default_rules_dir()}
                                                     : args.rules);
  if (!rules) {
    spdlog::error("{}", rules.error().message());
    return 2;
  }
  inventory::Options o;
  o.uid = args.uid ? *args.uid : ::getuid();
  const passwd *pw = ::getpwuid(o.uid);
  const gid_t primary = pw ? pw->pw_gid : static_cast<gid_t>(o.uid);
  o.gids.push_back(primary);
  if (pw) {
    int n = 64;
    std::vector<gid_t> groups(static_cast<size_t>(n));
    if (::getgrouplist(pw->pw_name, primary, groups.data(), &n) >= 0)
      o.gids.assign(groups.begin(), groups.begin() + n);
  }
  if (args.home)
    o.home = *args.home;
  else if (!args.uid && std::getenv("HOME"))
    o.home = std::getenv("HOME");
  else if (pw)
    o.home = pw->pw_dir;
  std::error_code ec;
  o.project = args.project ? *args.project : std::filesystem::current_path(ec).string();
  for (char **e = environ; e && *e; ++e)
    o.env.emplace_back(*e);
  const inventory::Inventory inv = inventory::take(o, *profile, *rules);
  const std::string out =
      args.json ? inventory::to_json(inv).dump(2) + "\n" : inventory::to_text(inv);
  std::fwrite(out.data(), 1, out.size(), args.to_stderr ? stderr : stdout);
  return 0;
}

} // namespace vigil::cli
