// SPDX-License-Identifier: Apache-2.0
// The throttle's parts on their own: time windows, CPU lists, why a throttle pauses for a given
// view of the host, and a thread placed by it (its nice level, I/O class and CPUs read back from
// the kernel).
#include <catch2/catch.hpp>

#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <thread>

#include "phantomguard/runtime/throttle.hpp"

using namespace pg::runtime;

SCENARIO("a time window is HH:MM-HH:MM in local time and may wrap midnight") {
  auto w = parse_time_window("01:00-05:00");
  REQUIRE(w);
  CHECK(w->contains(60));
  CHECK(w->contains(4 * 60 + 59));
  CHECK_FALSE(w->contains(5 * 60));
  CHECK_FALSE(w->contains(0));
  CHECK(w->text() == "01:00-05:00");
  auto night = parse_time_window("22:30-06:00");
  REQUIRE(night);
  CHECK(night->contains(23 * 60));
  CHECK(night->contains(3 * 60));
  CHECK_FALSE(night->contains(12 * 60));
  CHECK(parse_time_window("00:00-24:00")->contains(17 * 60));
  for (const char* bad :
       {"", "1-5", "01:00", "25:00-01:00", "01:60-02:00", "1:00-2:0", "a:bc-de:fg"}) {
    INFO(bad);
    CHECK_FALSE(parse_time_window(bad));
  }
}

SCENARIO("a CPU list is numbers and ranges, sorted and without duplicates") {
  CHECK(parse_cpu_list("1") == std::vector<unsigned>{1});
  CHECK(parse_cpu_list("0-3,6") == std::vector<unsigned>{0, 1, 2, 3, 6});
  CHECK(parse_cpu_list("3,1,1,2") == std::vector<unsigned>{1, 2, 3});
  CHECK(cpu_list_text({0, 1, 2, 3, 6, 8, 9}) == "0-3,6,8-9");
  for (const char* bad : {"", "x", "3-1", "-1", "1,,2", "0-2000"}) {
    INFO(bad);
    CHECK_FALSE(parse_cpu_list(bad));
  }
}

SCENARIO("a throttle pauses for the first reason that holds, and not otherwise") {
  throttle_settings t;
  host_pressure p;
  p.load_per_core = 3.1;
  p.cpu_pressure = 55;
  p.memory_pressure = 12;
  p.minute_of_day = 12 * 60;
  CHECK(pause_reason(t, p).empty()); // nothing asked: never
  t.max_load = 1.5;
  CHECK(pause_reason(t, p) == "load 3.10 per core > 1.5");
  p.load_per_core = 0.2;
  CHECK(pause_reason(t, p).empty());
  t.max_cpu_pressure = 40;
  CHECK(pause_reason(t, p) == "CPU pressure 55.0% > 40%");
  t.max_cpu_pressure.reset();
  t.max_memory_pressure = 10;
  CHECK(pause_reason(t, p) == "memory pressure 12.0% > 10%");
  p.memory_pressure.reset(); // a kernel without PSI: that threshold does not hold anything
  CHECK(pause_reason(t, p).empty());
  t.pause_on_battery = true;
  p.on_battery = true;
  CHECK(pause_reason(t, p) == "on battery");
  t.window = parse_time_window("01:00-05:00");
  CHECK(pause_reason(t, p) == "outside 01:00-05:00");
  p.minute_of_day = 2 * 60;
  p.on_battery = false;
  CHECK(pause_reason(t, p).empty());
}

SCENARIO("a thread placed by the throttle runs at its nice level and on its CPUs") {
  cpu_set_t all;
  REQUIRE(::sched_getaffinity(0, sizeof all, &all) == 0);
  int last = -1;
  for (int i = 0; i < CPU_SETSIZE; ++i)
    if (CPU_ISSET(i, &all))
      last = i;
  throttle_settings t;
  t.nice = 7;
  t.io_class = "idle";
  t.cpu_affinity = {static_cast<unsigned>(last)};
  int nice_seen = -100, cpus_seen = -1, cpu_seen = -1;
  long ioprio = -1;
  std::string refused = "not run";
  std::thread worker([&] {
    refused = apply_to_current_thread(t);
    const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
    nice_seen = ::getpriority(PRIO_PROCESS, tid);
    ioprio = ::syscall(SYS_ioprio_get, 1, static_cast<int>(tid));
    cpu_set_t mine;
    ::sched_getaffinity(0, sizeof mine, &mine);
    cpus_seen = CPU_COUNT(&mine);
    for (int spin = 0; spin < 1000; ++spin)
      cpu_seen = ::sched_getcpu();
  });
  worker.join();
  CHECK(refused.empty());
  CHECK(nice_seen == 7);
  CHECK((ioprio >> 13) == 3); // IOPRIO_CLASS_IDLE
  CHECK(cpus_seen == 1);
  CHECK(cpu_seen == last);
  // The calling thread was not touched.
  CHECK(::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid))) == 0);
}

SCENARIO("a throttle never raises a thread's priority") {
  throttle_settings t;
  t.nice = 3;
  int seen = -100;
  std::thread worker([&] {
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 12);
    (void)apply_to_current_thread(t);
    seen = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)));
  });
  worker.join();
  CHECK(seen == 12);
}
