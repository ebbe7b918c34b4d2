// SPDX-License-Identifier: Apache-2.0
// The maps reader the RWX rule stands on: what counts as anonymous, and malformed lines.
#include <catch2/catch.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include "phantomguard/actors/host/proc_maps.hpp"

using namespace pg::actors::host;

SCENARIO("maps lines are classified, and malformed ones are counted, not fatal") {
  std::size_t bad = 0;
  auto maps = parse_proc_maps(
      "55d0c0a00000-55d0c0a21000 rw-p 00000000 00:00 0                          [heap]\n"
      "7f0000000000-7f0000010000 rwxp 00000000 00:00 0 \n"
      "7f0000010000-7f0000011000 rwxs 00000000 00:01 4242                       /memfd:jit "
      "(deleted)\n"
      "7f0000020000-7f0000021000 r-xp 00001000 08:01 131                        /usr/bin/sleep\n"
      "7f0000030000-7f0000031000 rw-p 00000000 00:00 0                          [anon:v8]\n"
      "7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0                          [vdso]\n"
      "this is not a mapping\n",
      &bad);
  REQUIRE(maps.size() == 6);
  CHECK(bad == 1);
  CHECK(maps[0].anonymous());
  CHECK(maps[0].path == "[heap]");
  CHECK(maps[1].anonymous());
  CHECK((maps[1].writable && maps[1].executable && !maps[1].shared));
  CHECK(maps[1].size() == 0x10000);
  CHECK_FALSE(maps[2].anonymous()); // memfd: a file, matched by path in the analyzer
  CHECK(maps[2].shared);
  CHECK(maps[2].path == "/memfd:jit (deleted)");
  CHECK_FALSE(maps[3].anonymous());
  CHECK(maps[3].offset == 0x1000);
  CHECK(maps[4].anonymous());
  CHECK_FALSE(maps[5].anonymous()); // the kernel's vdso is not user memory
}

SCENARIO("a mapping this process makes shows up in its own maps") {
  void* p =
      ::mmap(nullptr, 8192, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(p != MAP_FAILED);
  auto maps = read_proc_maps(::getpid());
  REQUIRE(maps);
  auto addr = reinterpret_cast<std::uint64_t>(p);
  bool found = false;
  for (const auto& m : *maps)
    if (m.start <= addr && addr < m.end)
      found = m.writable && m.executable && m.anonymous();
  CHECK(found);
  ::munmap(p, 8192);
  int err = 0;
  CHECK_FALSE(read_proc_maps(999999, "/proc", &err));
  CHECK(err == ENOENT);
}
