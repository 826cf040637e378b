// SPDX-License-Identifier: Apache-2.0
// Path categories for noise folding (noise.h). Conservative: a path is noise only when it is
// something the loader, libc or the terminal reads for every program; anything else is shown.
#include "report/noise.h"

#include <array>
#include <string>

namespace vigil::report {

namespace {

bool starts(std::string_view s, std::string_view p)
{
  return s.substr(0, p.size()) == p;
}

std::string_view basename_of(std::string_view p)
{
  const size_t slash = p.rfind('/');
  return slash == std::string_view::npos ? p : p.substr(slash + 1);
}

// "libc.so.6", "ld-linux-x86-64.so.2", "libpython3.11.so.1.0", "_ssl.cpython-311-x86_64.so"
bool is_shared_object(std::string_view name)
{
  const size_t so = name.find(".so");
  if (so == std::string_view::npos)
    return false;
  const std::string_view rest = name.substr(so + 3);
  return rest.empty() || rest.front() == '.';
}

bool in_library_dir(std::string_view p)
{
  for (std::string_view d : {"/lib/", "/lib64/", "/lib32/", "/usr/lib/", "/usr/lib64/",
                             "/usr/lib32/", "/usr/local/lib/", "/usr/libexec/"})
    if (starts(p, d))
      return true;
  return false;
}

} // namespace

std::string_view to_string(Noise n)
{
  static constexpr std::array<std::string_view, kNoiseKinds> names = {
      "", "shared libraries", "locale", "/proc/self", "terminal and devices", "name service",
      "terminfo", "caches"};
  const auto i = static_cast<size_t>(n);
  return i < names.size() ? names[i] : "";
}

Noise classify_open(std::string_view p, uint32_t pid)
{
  const std::string_view name = basename_of(p);
  if (p == "/etc/ld.so.cache" || p == "/etc/ld.so.preload" ||
      (is_shared_object(name) && (in_library_dir(p) || p.find("/site-packages/") != p.npos ||
                                  p.find("/node_modules/") != p.npos)))
    return Noise::shared_library;
  if (starts(p, "/usr/lib/locale/") || starts(p, "/usr/share/locale/") ||
      starts(p, "/usr/share/i18n/") || starts(p, "/usr/share/zoneinfo/") || p == "/etc/localtime" ||
      p == "/etc/locale.alias" || p == "/usr/share/locale/locale.alias" ||
      (in_library_dir(p) && p.find("/gconv/") != p.npos))
    return Noise::locale;
  if (starts(p, "/proc/self/") || p == "/proc/self" || starts(p, "/proc/thread-self"))
    return Noise::proc_self;
  if (starts(p, "/proc/")) {
    const std::string own = "/proc/" + std::to_string(pid);
    if (p == own || starts(p, own + "/"))
      return Noise::proc_self;
  }
  if (p == "/dev/null" || p == "/dev/tty" || p == "/dev/urandom" || p == "/dev/random" ||
      p == "/dev/zero" || p == "/dev/ptmx" || starts(p, "/dev/pts/"))
    return Noise::device;
  for (std::string_view f :
       {"/etc/nsswitch.conf", "/etc/passwd", "/etc/group", "/etc/hosts", "/etc/resolv.conf",
        "/etc/host.conf", "/etc/gai.conf", "/etc/services", "/etc/protocols"})
    if (p == f)
      return Noise::name_service;
  if (starts(p, "/usr/share/terminfo/") || starts(p, "/lib/terminfo/") ||
      starts(p, "/etc/terminfo/") || p == "/etc/inputrc")
    return Noise::terminfo;
  if (p.find("/__pycache__/") != p.npos || p.find("/.cache/") != p.npos || starts(p, "/var/cache/"))
    return Noise::cache;
  return Noise::none;
}

} // namespace vigil::report
