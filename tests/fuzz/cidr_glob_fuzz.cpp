// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the string parsers and matchers under the policy: CIDRs and addresses, path globs
// and the credential matcher, path normalisation, argv/env globs, durations and sizes. Agents
// choose the paths and arguments these match against; profiles choose the patterns.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz.h"
#include "policy/profile.h"
#include "policy/rules.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  using namespace vigil;
  using namespace vigil::policy;
  fuzz::Input in(data, size);
  const uint8_t mode = in.take<uint8_t>();
  const std::string a = in.str();
  const std::string b = in.rest();
  switch (mode % 5) {
  case 0: {
    auto c = parse_cidr(a);
    if (c) {
      VG_FUZZ_CHECK(c->prefix_len <= 128);
      VG_FUZZ_CHECK(!c->is_v4 || c->prefix_len >= 96);
      VG_FUZZ_CHECK(c->contains(c->addr)); // a network contains its own address
      // Printing and parsing again gives the same network.
      auto again = parse_cidr(c->to_string());
      VG_FUZZ_CHECK(again && again->addr == c->addr && again->prefix_len == c->prefix_len);
    }
    if (auto ip = parse_ip(b)) {
      const std::string s = ip_to_string(*ip);
      auto back = parse_ip(s);
      VG_FUZZ_CHECK(back && *back == *ip);
      if (c)
        (void)c->contains(*ip);
    }
    break;
  }
  case 1:
    (void)glob_match(a, b);
    (void)exe_glob(a, b);
    break;
  case 2: {
    // Patterns from the first part (NUL-separated), paths from the rest.
    std::vector<std::string> pats;
    size_t start = 0;
    for (size_t i = 0; i <= a.size(); ++i)
      if (i == a.size() || a[i] == '\0') {
        pats.push_back(a.substr(start, i - start));
        start = i + 1;
      }
    PathMatcher m(pats, "/home/agent");
    const std::string path = normalize_path(b, "/home/agent");
    VG_FUZZ_CHECK(!path.empty() && path.front() == '/');
    VG_FUZZ_CHECK(normalize_path(path) == path); // normalising is idempotent
    if (auto i = m.match(path)) {
      VG_FUZZ_CHECK(*i < m.size());
      VG_FUZZ_CHECK(glob_match(m.pattern(*i), path) ||
                    glob_match(m.pattern(*i), path.substr(path.rfind('/') + 1)));
    }
    break;
  }
  case 3:
    (void)text_glob(a, b);
    (void)proc_matches(ProcMatch{{a}, {b}}, b, {a, b});
    break;
  default:
    (void)parse_duration(a);
    (void)parse_bytes(b);
    break;
  }
  return 0;
}
