// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <unistd.h>

#include "phantomguard/actors/host/file_read.hpp"
#include "phantomguard/actors/host/proc_stat.hpp"

using namespace pg::actors::host;

SCENARIO("stat lines are parsed even when comm holds spaces and parentheses") {
  auto st = parse_proc_stat("4242 (evil) (x y) S 1 4242 4242 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 "
                            "2 0 123456 1000000 250 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 "
                            "17 1 0 0 0 0 0");
  REQUIRE(st);
  CHECK(st->pid == 4242);
  CHECK(st->comm == "evil) (x y");
  CHECK(st->state == 'S');
  CHECK(st->ppid == 1);
  CHECK(st->utime_ticks == 7);
  CHECK(st->num_threads == 2);
  CHECK(st->start_ticks == 123456);
  CHECK(st->rss_pages == 250);
  CHECK_FALSE(parse_proc_stat("garbage"));
  CHECK_FALSE(parse_proc_stat("12 (x) S 1"));
}

SCENARIO("this process is visible in /proc with its parent and its status") {
  auto pids = list_pids();
  CHECK(std::find(pids.begin(), pids.end(), ::getpid()) != pids.end());
  auto st = read_proc_stat(::getpid());
  REQUIRE(st);
  CHECK(st->ppid == ::getppid());
  auto status = read_proc_status(::getpid());
  REQUIRE(status);
  CHECK(status_number(*status, "Uid", 1) == static_cast<std::int64_t>(::geteuid()));
  CHECK(status_number(*status, "TracerPid") == 0);
}

SCENARIO("a vanished process is told apart from a denied one") {
  int err = 0;
  CHECK_FALSE(read_proc_stat(999999, "/proc", &err)); // above any pid_max default
  CHECK(is_vanished(err));
  CHECK_FALSE(is_denied(err));
  CHECK(split_nul(std::string("a\0bc\0", 5)) == std::vector<std::string>{"a", "bc"});
}
