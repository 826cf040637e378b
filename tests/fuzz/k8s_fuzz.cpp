// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the Kubernetes API's JSON as the pod watcher parses it (a PodList body, a watch
// stream line, a Pod). The API server is trusted less than it seems: pod names, labels, images
// and container ids are written by whoever may create pods. First byte picks the parser.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz.h"
#include "k8s/pods.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  using namespace vigil::k8s;
  if (size == 0)
    return 0;
  const std::string_view text(reinterpret_cast<const char *>(data) + 1, size - 1);
  switch (data[0] % 3) {
  case 0:
    if (auto ev = parse_watch_event(text)) {
      VG_FUZZ_CHECK(ev->type == "ADDED" || ev->type == "MODIFIED" || ev->type == "DELETED" ||
                    ev->type == "BOOKMARK" || ev->type == "ERROR");
      VG_FUZZ_CHECK(ev->type == "ERROR" || ev->type == "BOOKMARK" || !ev->pod.uid.empty());
    }
    break;
  case 1:
    if (auto list = parse_pod_list(text))
      for (const auto &p : list->first)
        VG_FUZZ_CHECK(!p.uid.empty());
    break;
  default:
    if (auto p = parse_pod(text))
      VG_FUZZ_CHECK(!p->uid.empty());
    break;
  }
  return 0;
}
