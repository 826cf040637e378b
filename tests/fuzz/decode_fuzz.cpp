// SPDX-License-Identifier: Apache-2.0
// Fuzz target: pipeline::decode on arbitrary ring-buffer bytes (what a hostile or mismatched BPF
// object, or an agent steering strings into the kernel's records, can put there). A record that
// decodes must then survive the recorder's path: eventlog encode -> decode gives the same event.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <variant>

#include "eventlog/codec.h"
#include "fuzz.h"
#include "pipeline/event.h"

namespace {

using namespace vigil;

size_t string_bytes(const pipeline::Event &ev)
{
  size_t n = ev.hdr.comm.size();
  if (const auto *x = std::get_if<pipeline::ExecBody>(&ev.body)) {
    n += x->exe.size();
    for (const auto &a : x->argv)
      n += a.size();
    for (const auto &e : x->env)
      n += e.size();
  } else if (const auto *o = std::get_if<pipeline::OpenBody>(&ev.body)) {
    n += o->path.size();
  } else if (const auto *c = std::get_if<pipeline::ConnectBody>(&ev.body)) {
    n += c->unix_path.size();
  }
  return n;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte *>(data), size);
  auto ev = pipeline::decode(bytes);
  if (!ev) {
    VG_FUZZ_CHECK(!ev.error().message().empty());
    return 0;
  }
  // Everything decoded came out of the record: no string can be longer than the bytes given
  // (the '@' of an abstract unix name stands for the NUL it replaces).
  VG_FUZZ_CHECK(string_bytes(*ev) <= size);
  (void)pipeline::to_string(ev->hdr.type);
  (void)pipeline::to_string(ev->hdr.verdict);
  (void)pipeline::to_string(ev->hdr.tier);

  std::string first;
  eventlog::encode(*ev, first);
  auto back = eventlog::decode(std::as_bytes(std::span(first.data(), first.size())));
  VG_FUZZ_CHECK(back.has_value());
  VG_FUZZ_CHECK(back->hdr.type == ev->hdr.type);
  VG_FUZZ_CHECK(back->body.index() == ev->body.index());
  VG_FUZZ_CHECK(back->hdr.comm == ev->hdr.comm);
  std::string second;
  eventlog::encode(*back, second);
  VG_FUZZ_CHECK(first == second);
  return 0;
}
