// SPDX-License-Identifier: Apache-2.0
// Fuzz target: profile and egress-allowlist loading (policy::parse_profile, parse_allowlist),
// then what the daemon does with a profile that loads: compile its egress allowlist into LPM
// entries, build the credential matcher for a home and match paths. First byte even: a profile;
// odd: an allowlist. Parse errors are values; nothing may throw or crash.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz.h"
#include "policy/compile.h"
#include "policy/profile.h"

namespace {

using namespace vigil;

void use_allow(const policy::EgressAllow &a)
{
  VG_FUZZ_CHECK(a.cidr.prefix_len <= 128);
  VG_FUZZ_CHECK(!a.cidr.to_string().empty());
  for (const auto &r : a.ports)
    VG_FUZZ_CHECK(r.lo <= r.hi);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size == 0)
    return 0;
  const std::string_view text(reinterpret_cast<const char *>(data) + 1, size - 1);
  if (data[0] & 1) {
    auto list = policy::parse_allowlist(text, "fuzz.yaml");
    if (!list) {
      VG_FUZZ_CHECK(list.error().message().starts_with("fuzz.yaml:"));
      return 0;
    }
    for (const auto &a : *list)
      use_allow(a);
    return 0;
  }
  auto p = policy::parse_profile(text, "fuzz.yaml");
  if (!p) {
    VG_FUZZ_CHECK(p.error().message().starts_with("fuzz.yaml:"));
    return 0;
  }
  for (const auto &a : p->egress_allow)
    use_allow(a);
  (void)policy::compile_egress(*p, 1);
  const std::array<uint8_t, 16> ip = policy::ipv4_mapped(0x0100007f);
  (void)policy::egress_allowed(*p, ip, 443);
  policy::PathMatcher m(p->credential_paths, "/home/agent");
  VG_FUZZ_CHECK(m.size() == p->credential_paths.size());
  for (const char *path : {"/home/agent/.aws/credentials", "/home/agent/.ssh/id_ed25519",
                           "/etc/shadow", "/"}) {
    if (auto i = m.match(path))
      VG_FUZZ_CHECK(*i < m.size());
  }
  for (const auto &pat : p->credential_paths)
    (void)policy::expand_home(pat, {"/root", "/home/agent/"});
  return 0;
}
