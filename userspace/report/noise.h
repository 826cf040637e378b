// SPDX-License-Identifier: Apache-2.0
// Noise folding: the opens every program makes on its way to main() (shared libraries, locale
// data, its own /proc entries, the terminal, name-service files) say nothing about what an agent
// did, and are most of a log (a short `bash -c 'git --version; ...'` makes over a thousand).
// The report, replay's timeline and `profile suggest` fold them into counts per category.
#pragma once

#include <cstdint>
#include <string_view>

namespace vigil::report {

enum class Noise : uint8_t {
  none = 0,       // worth showing
  shared_library, // *.so*, ld.so.cache, ld.so.preload
  locale,         // locale archives, gconv modules, zoneinfo, i18n
  proc_self,      // /proc/self, /proc/thread-self, /proc/<own pid>
  device,         // /dev/null, /dev/tty, /dev/urandom, /dev/pts/*
  name_service,   // nsswitch.conf, passwd, group, hosts, resolv.conf, host.conf, gai.conf
  terminfo,       // terminfo databases, inputrc
  cache,          // __pycache__, ~/.cache, /var/cache
};
inline constexpr int kNoiseKinds = 8;
std::string_view to_string(Noise n); // "shared libraries", "locale", ...

// The category of an open of path by process pid (for /proc/<pid>). Only the path decides:
// callers never fold an open that was denied, audited or matched a credential pattern.
Noise classify_open(std::string_view path, uint32_t pid);

} // namespace vigil::report
