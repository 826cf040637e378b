// SPDX-License-Identifier: Apache-2.0
// pipeline::decode on byte fixtures built from the abi.h structs, aligned and unaligned, and on
// every malformed record the decoder must refuse.

#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pipeline/event.h"
#include "vigil/abi.h"

namespace vigil::pipeline {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Offsets the record is placed at inside its buffer: ring-buffer records are 8-byte aligned, but
// the decoder promises not to rely on it.
constexpr size_t kOffsets[] = {0, 1, 3, 5};

vg_event_hdr make_hdr(uint16_t type)
{
  vg_event_hdr h;
  std::memset(&h, 0, sizeof(h));
  h.type = type;
  h.version = VG_ABI_VERSION;
  h.flags = 0;
  h.ts_ns = 123456789012345ull;
  h.cgroup_id = 0x1122334455667788ull;
  h.tgid = 4242;
  h.tid = 4243;
  h.uid = 1000;
  h.gid = 1001;
  h.profile_id = 7;
  h.rule_id = 3;
  h.verdict = VG_VERDICT_DENY;
  h.tier = VG_TIER_LSM;
  std::memcpy(h.comm, "python3", sizeof("python3"));
  return h;
}

// The bytes of a record: `offset` bytes of junk, the fixed struct, then its string tail. The
// header's size field is set to the fixed part plus the tail unless the fixture set it already.
template <typename T>
std::vector<std::byte> record(T fixed, std::string_view tail = {}, size_t offset = 0)
{
  auto *hdr = reinterpret_cast<vg_event_hdr *>(&fixed);
  if (hdr->size == 0)
    hdr->size = static_cast<uint16_t>(sizeof(T) + tail.size());
  std::vector<std::byte> buf(offset, std::byte{0xee});
  const auto *p = reinterpret_cast<const std::byte *>(&fixed);
  buf.insert(buf.end(), p, p + sizeof(T));
  const auto *t = reinterpret_cast<const std::byte *>(tail.data());
  buf.insert(buf.end(), t, t + tail.size());
  return buf;
}

Result<Event> decode_at(const std::vector<std::byte> &buf, size_t offset)
{
  return decode(std::span<const std::byte>(buf).subspan(offset));
}

std::string error_of(const std::vector<std::byte> &buf, size_t offset = 0)
{
  auto r = decode_at(buf, offset);
  EXPECT_FALSE(r) << "decoded, but an error was expected";
  return r ? std::string() : r.error().message();
}

vg_event_exec make_exec(uint16_t path_len, uint16_t args_len)
{
  vg_event_exec e;
  std::memset(&e, 0, sizeof(e));
  e.hdr = make_hdr(VG_EV_EXEC);
  e.ppid = 4000;
  e.old_tid = 4244;
  e.loginuid = 0xffffffffu;
  e.path_len = path_len;
  e.args_len = args_len;
  e.exe_ino = 987654321ull;
  e.exe_dev = (8u << 20) | 1u;
  return e;
}

vg_event_open make_open(std::string_view path_with_nul, uint16_t call = VG_OPEN_OPENAT)
{
  vg_event_open o;
  std::memset(&o, 0, sizeof(o));
  o.hdr = make_hdr(VG_EV_OPEN);
  o.ret = -13;
  o.ino = 0;
  o.dev = 0;
  o.flags = 0x80000; // O_CLOEXEC
  o.mode = 0644;
  o.dfd = -100;
  o.call = call;
  o.path_len = static_cast<uint16_t>(path_with_nul.size());
  return o;
}

vg_event_connect make_connect(uint16_t family)
{
  vg_event_connect c;
  std::memset(&c, 0, sizeof(c));
  c.hdr = make_hdr(VG_EV_CONNECT);
  c.ret = -115; // -EINPROGRESS
  c.family = family;
  c.port = 443;
  c.fd = 5;
  return c;
}

void expect_common_header(const Header &h, EventType type)
{
  EXPECT_EQ(h.type, type);
  EXPECT_EQ(h.ts_ns, 123456789012345ull);
  EXPECT_EQ(h.cgroup_id, 0x1122334455667788ull);
  EXPECT_EQ(h.tgid, 4242u);
  EXPECT_EQ(h.tid, 4243u);
  EXPECT_EQ(h.uid, 1000u);
  EXPECT_EQ(h.gid, 1001u);
  EXPECT_EQ(h.profile_id, 7u);
  EXPECT_EQ(h.rule_id, 3u);
  EXPECT_EQ(h.verdict, Verdict::deny);
  EXPECT_EQ(h.tier, Tier::lsm);
  EXPECT_EQ(h.comm, "python3");
}

TEST(Decode, decodes_exec_with_path_and_argv_at_any_offset)
{
  const std::string_view tail("/usr/bin/cat\0cat\0-n\0/etc/shadow\0", 32);
  for (size_t off : kOffsets) {
    SCOPED_TRACE("offset " + std::to_string(off));
    auto buf = record(make_exec(13, 19), tail, off);
    auto r = decode_at(buf, off);
    ASSERT_TRUE(r) << r.error().message();
    expect_common_header(r->hdr, EventType::exec);
    EXPECT_EQ(r->hdr.flags, 0u);
    const auto *b = std::get_if<ExecBody>(&r->body);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->ppid, 4000u);
    EXPECT_EQ(b->old_tid, 4244u);
    EXPECT_EQ(b->loginuid, 0xffffffffu);
    EXPECT_EQ(b->exe_ino, 987654321ull);
    EXPECT_EQ(b->exe_dev, (8u << 20) | 1u);
    EXPECT_EQ(b->exe, "/usr/bin/cat");
    EXPECT_THAT(b->argv, ElementsAre("cat", "-n", "/etc/shadow"));
  }
}

TEST(Decode, decodes_fork_at_any_offset)
{
  vg_event_fork f;
  std::memset(&f, 0, sizeof(f));
  f.hdr = make_hdr(VG_EV_FORK);
  f.child_tgid = 5151;
  for (size_t off : kOffsets) {
    SCOPED_TRACE("offset " + std::to_string(off));
    auto buf = record(f, {}, off);
    auto r = decode_at(buf, off);
    ASSERT_TRUE(r) << r.error().message();
    expect_common_header(r->hdr, EventType::fork);
    const auto *b = std::get_if<ForkBody>(&r->body);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->child_tgid, 5151u);
  }
}

TEST(Decode, decodes_exit_code_at_any_offset)
{
  vg_event_exit x;
  std::memset(&x, 0, sizeof(x));
  x.hdr = make_hdr(VG_EV_EXIT);
  x.exit_code = (1 << 8) | 9;
  for (size_t off : kOffsets) {
    SCOPED_TRACE("offset " + std::to_string(off));
    auto buf = record(x, {}, off);
    auto r = decode_at(buf, off);
    ASSERT_TRUE(r) << r.error().message();
    expect_common_header(r->hdr, EventType::exit);
    const auto *b = std::get_if<ExitBody>(&r->body);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->exit_code, 265);
  }
}

TEST(Decode, decodes_open_with_flags_and_path_at_any_offset)
{
  const std::string_view path("/home/dev/.aws/credentials\0", 27);
  vg_event_open o = make_open(path, VG_OPEN_OPENAT2);
  o.hdr.flags = VG_F_PATH_RESOLVED;
  o.ret = 3;
  o.ino = 131077;
  o.dev = (259u << 20) | 2u;
  o.dfd = 9;
  for (size_t off : kOffsets) {
    SCOPED_TRACE("offset " + std::to_string(off));
    auto buf = record(o, path, off);
    auto r = decode_at(buf, off);
    ASSERT_TRUE(r) << r.error().message();
    expect_common_header(r->hdr, EventType::open);
    EXPECT_EQ(r->hdr.flags, VG_F_PATH_RESOLVED);
    const auto *b = std::get_if<OpenBody>(&r->body);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->ret, 3);
    EXPECT_EQ(b->ino, 131077u);
    EXPECT_EQ(b->dev, (259u << 20) | 2u);
    EXPECT_EQ(b->flags, 0x80000u);
    EXPECT_EQ(b->mode, 0644u);
    EXPECT_EQ(b->dfd, 9);
    EXPECT_EQ(b->call, OpenCall::openat2);
    EXPECT_TRUE(b->resolved);
    EXPECT_FALSE(b->truncated);
    EXPECT_EQ(b->path, "/home/dev/.aws/credentials");
  }
}

TEST(Decode, decodes_every_open_call)
{
  const std::string_view path("x\0", 2);
  const std::pair<uint16_t, OpenCall> calls[] = {
      {VG_OPEN_OPEN, OpenCall::open},
      {VG_OPEN_OPENAT, OpenCall::openat},
      {VG_OPEN_OPENAT2, OpenCall::openat2},
      {VG_OPEN_BY_HANDLE_AT, OpenCall::open_by_handle_at}};
  for (auto [raw, call] : calls) {
    auto r = decode_at(record(make_open(path, raw), path), 0);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(std::get<OpenBody>(r->body).call, call);
  }
}

TEST(Decode, reports_failed_unresolved_truncated_open)
{
  const std::string_view path("../.netrc\0", 10);
  vg_event_open o = make_open(path, VG_OPEN_OPEN);
  o.hdr.flags = VG_F_PATH_TRUNC;
  auto r = decode_at(record(o, path), 0);
  ASSERT_TRUE(r) << r.error().message();
  const auto &b = std::get<OpenBody>(r->body);
  EXPECT_EQ(b.ret, -13);
  EXPECT_EQ(b.dfd, -100);
  EXPECT_FALSE(b.resolved);
  EXPECT_TRUE(b.truncated);
  EXPECT_EQ(b.path, "../.netrc");
}

TEST(Decode, decodes_ipv6_connect_at_any_offset)
{
  vg_event_connect c = make_connect(10);
  const uint8_t addr[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
  std::memcpy(c.addr, addr, sizeof(addr));
  std::memcpy(c.unix_path, "ignored", sizeof("ignored"));
  for (size_t off : kOffsets) {
    SCOPED_TRACE("offset " + std::to_string(off));
    auto buf = record(c, {}, off);
    auto r = decode_at(buf, off);
    ASSERT_TRUE(r) << r.error().message();
    expect_common_header(r->hdr, EventType::connect);
    const auto *b = std::get_if<ConnectBody>(&r->body);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->ret, -115);
    EXPECT_EQ(b->family, 10u);
    EXPECT_EQ(b->port, 443u);
    EXPECT_EQ(b->fd, 5);
    EXPECT_FALSE(b->sendmsg);
    EXPECT_THAT(b->addr, ElementsAre(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1));
    EXPECT_EQ(b->unix_path, "");
  }
}

TEST(Decode, maps_ipv4_connect_to_ffff_prefix_and_drops_trailing_bytes)
{
  vg_event_connect c = make_connect(2);
  c.port = 53;
  // Only the first 4 bytes are the address; whatever follows must not reach the decoded event.
  std::memset(c.addr, 0xaa, sizeof(c.addr));
  const uint8_t v4[4] = {10, 1, 2, 3};
  std::memcpy(c.addr, v4, sizeof(v4));
  for (size_t off : kOffsets) {
    SCOPED_TRACE("offset " + std::to_string(off));
    auto buf = record(c, {}, off);
    auto r = decode_at(buf, off);
    ASSERT_TRUE(r) << r.error().message();
    const auto &b = std::get<ConnectBody>(r->body);
    EXPECT_EQ(b.family, 2u);
    EXPECT_EQ(b.port, 53u);
    EXPECT_THAT(b.addr, ElementsAre(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3));
  }
}

TEST(Decode, marks_sendmsg_destination)
{
  vg_event_connect c = make_connect(2);
  c.hdr.flags = VG_F_SENDMSG;
  c.hdr.tier = VG_TIER_CGROUP;
  auto r = decode_at(record(c), 0);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(std::get<ConnectBody>(r->body).sendmsg);
  EXPECT_EQ(r->hdr.tier, Tier::cgroup);
}

TEST(Decode, keeps_unix_socket_path)
{
  vg_event_connect c = make_connect(1);
  c.port = 0;
  std::memcpy(c.unix_path, "/run/docker.sock", sizeof("/run/docker.sock"));
  auto r = decode_at(record(c), 0);
  ASSERT_TRUE(r) << r.error().message();
  const auto &b = std::get<ConnectBody>(r->body);
  EXPECT_EQ(b.family, 1u);
  EXPECT_EQ(b.unix_path, "/run/docker.sock");
  EXPECT_THAT(b.addr, ::testing::Each(0));
}

// The Decoder's events keep their strings from record to record: nothing of an earlier record
// of the same type is left in a later one (a unix path behind an IPv4 connect, a longer argv).
TEST(Decode, a_decoder_leaves_nothing_of_the_previous_record)
{
  Decoder decoder;
  vg_event_connect u = make_connect(1);
  std::memcpy(u.unix_path, "/run/docker.sock", sizeof("/run/docker.sock"));
  vg_event_connect v4 = make_connect(2);
  for (int round = 0; round < 2; ++round) {
    auto a = decoder.decode(record(u));
    ASSERT_TRUE(a) << a.error().message();
    EXPECT_EQ(std::get<ConnectBody>((*a)->body).unix_path, "/run/docker.sock");
    auto b = decoder.decode(record(v4));
    ASSERT_TRUE(b) << b.error().message();
    const auto fresh = decode_at(record(v4), 0);
    ASSERT_TRUE(fresh);
    const auto &got = std::get<ConnectBody>((*b)->body);
    const auto &want = std::get<ConnectBody>(fresh->body);
    EXPECT_EQ(got.unix_path, "");
    EXPECT_EQ(got.addr, want.addr);
    EXPECT_EQ(got.family, want.family);
    EXPECT_EQ(got.port, want.port);
  }
  const std::string long_args = std::string("git\0status\0--short\0", 19);
  const std::string short_args = std::string("ls\0", 3);
  vg_event_exec x = make_exec(9, static_cast<uint16_t>(long_args.size()));
  vg_event_exec y = make_exec(9, static_cast<uint16_t>(short_args.size()));
  auto first = decoder.decode(record(x, std::string("/bin/git\0", 9) + long_args));
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(std::get<ExecBody>((*first)->body).argv.size(), 3u);
  auto second = decoder.decode(record(y, std::string("/bin/lss\0", 9) + short_args));
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_EQ(std::get<ExecBody>((*second)->body).argv, (std::vector<std::string>{"ls"}));
  EXPECT_EQ(std::get<ExecBody>((*second)->body).exe, "/bin/lss");
}

TEST(Decode, shows_abstract_unix_name_with_at_sign)
{
  vg_event_connect c = make_connect(1);
  std::memcpy(c.unix_path + 1, "vigil-ctl", sizeof("vigil-ctl"));
  for (size_t off : kOffsets) {
    SCOPED_TRACE("offset " + std::to_string(off));
    auto buf = record(c, {}, off);
    auto r = decode_at(buf, off);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(std::get<ConnectBody>(r->body).unix_path, "@vigil-ctl");
  }
}

TEST(Decode, bounds_unterminated_unix_path_and_empty_name)
{
  vg_event_connect c = make_connect(1);
  std::memset(c.unix_path, 'u', sizeof(c.unix_path));
  auto r = decode_at(record(c), 0);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(std::get<ConnectBody>(r->body).unix_path, std::string(108, 'u'));

  vg_event_connect unnamed = make_connect(1);
  auto u = decode_at(record(unnamed), 0);
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_EQ(std::get<ConnectBody>(u->body).unix_path, "");
}

TEST(Decode, splits_argv_without_trailing_nul)
{
  const std::string_view tail("/bin/ls\0ls\0-la\0/tmp", 19);
  auto r = decode_at(record(make_exec(8, 11), tail), 0);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_THAT(std::get<ExecBody>(r->body).argv, ElementsAre("ls", "-la", "/tmp"));
}

TEST(Decode, keeps_empty_arguments_and_empty_argv)
{
  const std::string_view tail("/bin/echo\0echo\0\0x\0", 18);
  auto r = decode_at(record(make_exec(10, 8), tail), 0);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_THAT(std::get<ExecBody>(r->body).argv, ElementsAre("echo", "", "x"));

  const std::string_view path_only("/bin/true\0", 10);
  auto e = decode_at(record(make_exec(10, 0), path_only), 0);
  ASSERT_TRUE(e) << e.error().message();
  EXPECT_EQ(std::get<ExecBody>(e->body).exe, "/bin/true");
  EXPECT_TRUE(std::get<ExecBody>(e->body).argv.empty());
}

TEST(Decode, bounds_exe_path_without_nul_to_its_length)
{
  // path_len covers "/bin/sh" without its NUL; the argv that follows must not leak into exe.
  const std::string_view tail("/bin/shsh\0", 10);
  auto r = decode_at(record(make_exec(7, 3), tail), 0);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(std::get<ExecBody>(r->body).exe, "/bin/sh");
  EXPECT_THAT(std::get<ExecBody>(r->body).argv, ElementsAre("sh"));
}

TEST(Decode, bounds_comm_without_nul_and_clamps_unknown_verdict_and_tier)
{
  vg_event_fork f;
  std::memset(&f, 0, sizeof(f));
  f.hdr = make_hdr(VG_EV_FORK);
  std::memset(f.hdr.comm, 'c', sizeof(f.hdr.comm));
  f.hdr.verdict = 200;
  f.hdr.tier = VG_TIER_FANOTIFY + 1;
  auto r = decode_at(record(f), 0);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->hdr.comm, std::string(VG_COMM_LEN, 'c'));
  EXPECT_EQ(r->hdr.verdict, Verdict::none);
  EXPECT_EQ(r->hdr.tier, Tier::none);
}

TEST(Decode, accepts_other_minor_version_and_trailing_bytes_after_record)
{
  vg_event_exit x;
  std::memset(&x, 0, sizeof(x));
  x.hdr = make_hdr(VG_EV_EXIT);
  x.hdr.version = (VG_ABI_MAJOR << 8) | 0x7f;
  x.exit_code = 0;
  auto buf = record(x);
  buf.resize(buf.size() + 24, std::byte{0xee}); // ring records are padded to 8 bytes
  auto r = decode_at(buf, 0);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->hdr.type, EventType::exit);
}

TEST(DecodeErrors, rejects_short_header)
{
  vg_event_exit x;
  std::memset(&x, 0, sizeof(x));
  x.hdr = make_hdr(VG_EV_EXIT);
  auto buf = record(x);
  buf.resize(sizeof(vg_event_hdr) - 1);
  EXPECT_EQ(error_of(buf), "short header record: 71 bytes, need 72");
  EXPECT_EQ(error_of({}), "short header record: 0 bytes, need 72");
}

TEST(DecodeErrors, rejects_size_field_larger_than_buffer)
{
  vg_event_fork f;
  std::memset(&f, 0, sizeof(f));
  f.hdr = make_hdr(VG_EV_FORK);
  f.hdr.size = sizeof(vg_event_fork) + 1;
  EXPECT_EQ(error_of(record(f, {}, 3), 3),
            "record size field 81 does not fit the 80 bytes received");
}

TEST(DecodeErrors, rejects_size_field_smaller_than_header)
{
  vg_event_fork f;
  std::memset(&f, 0, sizeof(f));
  f.hdr = make_hdr(VG_EV_FORK);
  f.hdr.size = sizeof(vg_event_hdr) - 1;
  EXPECT_EQ(error_of(record(f)), "record size field 71 does not fit the 80 bytes received");
}

TEST(DecodeErrors, rejects_size_field_shorter_than_the_type_needs)
{
  // A header-only fork record: the size field is what counts, not the bytes that follow.
  vg_event_fork f;
  std::memset(&f, 0, sizeof(f));
  f.hdr = make_hdr(VG_EV_FORK);
  f.hdr.size = sizeof(vg_event_hdr);
  EXPECT_EQ(error_of(record(f)), "short fork record: 72 bytes, need 80");

  vg_event_connect c = make_connect(2);
  c.hdr.size = sizeof(vg_event_connect) - 8;
  EXPECT_EQ(error_of(record(c)), "short connect record: 208 bytes, need 216");
}

TEST(DecodeErrors, rejects_other_abi_major)
{
  vg_event_fork f;
  std::memset(&f, 0, sizeof(f));
  f.hdr = make_hdr(VG_EV_FORK);
  f.hdr.version = ((VG_ABI_MAJOR + 1) << 8) | VG_ABI_MINOR;
  EXPECT_EQ(error_of(record(f)), "record has ABI major version 2, expected 1");
  f.hdr.version = 0;
  EXPECT_EQ(error_of(record(f)), "record has ABI major version 0, expected 1");
}

TEST(DecodeErrors, rejects_unknown_type)
{
  vg_event_fork f;
  std::memset(&f, 0, sizeof(f));
  f.hdr = make_hdr(VG_EV_TYPE_MAX);
  EXPECT_EQ(error_of(record(f)), "unknown record type " + std::to_string(VG_EV_TYPE_MAX));
  f.hdr.type = 0;
  EXPECT_EQ(error_of(record(f)), "unknown record type 0");
}

TEST(DecodeErrors, rejects_open_path_running_past_the_record)
{
  const std::string_view path("/etc/shadow\0", 12);
  vg_event_open o = make_open(path);
  o.path_len = 13;
  EXPECT_EQ(error_of(record(o, path, 1), 1),
            "open path runs past the end of the record (125 > 124)");
}

TEST(DecodeErrors, checks_tails_against_the_size_field_not_the_buffer)
{
  // The bytes after the record (the next record, ring padding) must not be read as its tail.
  const std::string_view path("/etc/shadow\0", 12);
  vg_event_open o = make_open(path);
  o.hdr.size = sizeof(vg_event_open) + 4;
  auto buf = record(o, path);
  EXPECT_EQ(error_of(buf), "open path runs past the end of the record (124 > 116)");
}

TEST(DecodeErrors, rejects_exec_path_and_argv_running_past_the_record)
{
  const std::string_view tail("/bin/sh\0sh\0", 11);
  EXPECT_EQ(error_of(record(make_exec(12, 0), tail)),
            "exec path runs past the end of the record (116 > 115)");
  EXPECT_EQ(error_of(record(make_exec(8, 4), tail)),
            "exec argv runs past the end of the record (116 > 115)");
  // Lengths near the u16 limit must not wrap around the bounds check.
  EXPECT_EQ(error_of(record(make_exec(0xffff, 0xffff), tail)),
            "exec path runs past the end of the record (65639 > 115)");
}

TEST(DecodeErrors, rejects_unknown_open_call)
{
  const std::string_view path("/etc/shadow\0", 12);
  EXPECT_EQ(error_of(record(make_open(path, 0), path)), "open record has unknown call 0");
  EXPECT_EQ(error_of(record(make_open(path, VG_OPEN_CALL_LAST + 1), path)),
            "open record has unknown call " + std::to_string(VG_OPEN_CALL_LAST + 1));
}

TEST(Decode, link_and_rename_records_name_their_call)
{
  const std::string_view path("/home/u/.ssh/id_rsa\0", 20);
  for (uint16_t call : {VG_OPEN_LINK, VG_OPEN_RENAME}) {
    auto ev = decode(record(make_open(path, call), path));
    ASSERT_TRUE(ev) << ev.error().message();
    const auto &o = std::get<OpenBody>(ev->body);
    EXPECT_EQ(to_string(o.call), call == VG_OPEN_LINK ? "link" : "rename");
    EXPECT_EQ(o.path, "/home/u/.ssh/id_rsa");
  }
}

TEST(EventNames, name_every_enumerator)
{
  EXPECT_EQ(to_string(EventType::exec), "exec");
  EXPECT_EQ(to_string(EventType::connect), "connect");
  EXPECT_EQ(to_string(static_cast<EventType>(99)), "unknown");
  EXPECT_EQ(to_string(Verdict::none), "observed");
  EXPECT_EQ(to_string(Verdict::allow), "allowed");
  EXPECT_EQ(to_string(Verdict::audit), "would-deny");
  EXPECT_EQ(to_string(Verdict::deny), "denied");
  EXPECT_EQ(to_string(OpenCall::open_by_handle_at), "open_by_handle_at");
  EXPECT_EQ(to_string(Tier::none), "none");
  EXPECT_EQ(to_string(Tier::lsm), "lsm");
  EXPECT_EQ(to_string(Tier::cgroup), "cgroup");
  EXPECT_EQ(to_string(Tier::launch), "launch");
  EXPECT_EQ(to_string(Tier::fanotify), "fanotify");
}

} // namespace
} // namespace vigil::pipeline
