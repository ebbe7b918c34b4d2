// SPDX-License-Identifier: Apache-2.0
// The delivery spool on a real folder: order, acknowledgement, reopening after a crash (a torn
// tail, a flipped byte), the bound, and a full disk.
#include <catch2/catch.hpp>

#include <sys/mount.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "phantomguard/actors/sink/delivery_spool.hpp"
#include "skip.hpp"

using namespace pg::actors::sink;
namespace fs = std::filesystem;

namespace {

struct spool_dir {
  fs::path dir;
  spool_dir() {
    char tmpl[] = "/tmp/pg_spool_XXXXXX";
    dir = ::mkdtemp(tmpl);
  }
  ~spool_dir() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  delivery_spool::settings settings(std::uint64_t max = 1 << 20) const {
    delivery_spool::settings s;
    s.dir = (dir / "spool").string();
    s.max_bytes = max;
    s.segment_bytes = 256; // a few records per segment: segments roll and go
    s.fsync = fsync_policy::always;
    return s;
  }
};

std::string rec(int i) {
  return "{\"n\":" + std::to_string(i) + ",\"pad\":\"" + std::string(40, 'x') + "\"}";
}

std::vector<fs::path> segments(const spool_dir& d) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(d.dir / "spool"))
    if (e.path().extension() == ".seg")
      out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace

SCENARIO("records come out in order and leave only when acknowledged, across a reopen") {
  spool_dir d;
  {
    delivery_spool s(d.settings());
    std::uint64_t dropped = 0;
    for (int i = 0; i < 20; ++i)
      REQUIRE(s.append(rec(i), dropped) == 0);
    CHECK(dropped == 0);
    s.sync();
    CHECK(s.records() == 20);
    auto first = s.peek(5, 1 << 20);
    REQUIRE(first.size() == 5);
    CHECK(first[0] == rec(0));
    CHECK(first[4] == rec(4));
    s.ack(5);
    CHECK(s.peek(1, 1 << 20)[0] == rec(5));
    CHECK(s.peek(100, 150).size() == 2); // bounded in bytes (at least one)
  }                                      // as a crash would leave it: no clean shutdown step exists
  delivery_spool again(d.settings());
  CHECK(again.recovered().records == 15);
  CHECK(again.recovered().torn == 0);
  auto rest = again.peek(100, 1 << 20);
  REQUIRE(rest.size() == 15);
  CHECK(rest.front() == rec(5));
  CHECK(rest.back() == rec(19));
  again.ack(15);
  CHECK(again.records() == 0);
  CHECK(segments(d).size() <= 1); // acknowledged segments are deleted
}

SCENARIO("a torn tail is cut and a corrupted record ends its segment, both counted") {
  spool_dir d;
  {
    delivery_spool s(d.settings());
    std::uint64_t dropped = 0;
    for (int i = 0; i < 12; ++i)
      REQUIRE(s.append(rec(i), dropped) == 0);
  }
  auto segs = segments(d);
  REQUIRE(segs.size() >= 3);
  // A write the crash interrupted: half a record at the end of the last segment.
  const auto last = segs.back();
  fs::resize_file(last, fs::file_size(last) - 10);
  // A flipped byte in the middle of the first segment's second record.
  {
    std::fstream f(segs.front(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(8 + static_cast<long>(rec(0).size()) + 8 + 3);
    f.put('#');
  }
  delivery_spool s(d.settings());
  CHECK(s.recovered().torn == 1);
  CHECK(s.recovered().corrupt == 1);
  auto all = s.peek(100, 1 << 20);
  // What survives is whole and in order: record 0, then the segments after the corrupted one,
  // without the torn record.
  REQUIRE(!all.empty());
  CHECK(all.front() == rec(0));
  std::set<std::string> known;
  for (int i = 0; i < 12; ++i)
    known.insert(rec(i));
  for (const auto& r : all)
    CHECK(known.count(r) == 1);
  CHECK(all.size() == s.recovered().records);
  // New records follow, and come out after the replayed ones.
  std::uint64_t dropped = 0;
  REQUIRE(s.append(rec(99), dropped) == 0);
  CHECK(s.peek(100, 1 << 20).back() == rec(99));
}

SCENARIO("beyond max_bytes the oldest records are dropped and counted") {
  spool_dir d;
  const std::size_t one = 8 + rec(0).size();
  delivery_spool s(d.settings(one * 5));
  std::uint64_t dropped = 0;
  std::uint64_t total = 0;
  for (int i = 0; i < 8; ++i) {
    REQUIRE(s.append(rec(i), dropped) == 0);
    total += dropped;
  }
  CHECK(total == 3);
  CHECK(s.records() == 5);
  CHECK(s.peek(1, 1 << 20)[0] == rec(3));
  CHECK(s.append(std::string(one * 6, 'y'), dropped) == EFBIG);
}

SCENARIO("a full disk under the spool is an error for that record, never a crash") {
  if (::geteuid() != 0)
    PG_SKIP("mounting a small tmpfs needs root");
  spool_dir d;
  const auto mnt = d.dir / "small";
  fs::create_directories(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=64k") != 0)
    PG_SKIP(std::string("cannot mount a tmpfs here: ") + std::strerror(errno));
  struct unmount {
    std::string p;
    ~unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } guard{mnt.string()};
  auto settings = d.settings(1 << 30);
  settings.dir = (mnt / "spool").string();
  settings.segment_bytes = 1 << 20;
  delivery_spool s(settings);
  std::uint64_t dropped = 0;
  int err = 0;
  int written = 0;
  for (int i = 0; i < 5000 && err == 0; ++i) {
    err = s.append(rec(i), dropped);
    if (err == 0)
      ++written;
  }
  CHECK(err == ENOSPC);
  CHECK(written > 100);
  CHECK(s.records() == static_cast<std::size_t>(written));
  // What was kept is whole: acknowledged, room comes back and appending works again.
  CHECK(s.peek(1, 1 << 20)[0] == rec(0));
  s.ack(s.records());
  CHECK(s.append(rec(7), dropped) == 0);
}

SCENARIO("crc32 is the IEEE CRC-32") {
  CHECK(crc32("123456789") == 0xCBF43926u);
  CHECK(crc32("") == 0u);
}
