// SPDX-License-Identifier: Apache-2.0
// The host facts `profile = "auto"` and the "auto" values are chosen from, and the documented rule
// that chooses (docs/config.md, "Profiles").
#include <catch2/catch.hpp>

#include <sched.h>

#include "phantomguard/runtime/host_resources.hpp"

using namespace pg::runtime;

namespace {

host_resources host(unsigned cores, std::uint64_t gib, bool battery = false,
                    std::string chassis = "") {
  host_resources h;
  h.cores = cores;
  h.memory_bytes = gib << 30;
  h.battery = battery;
  h.chassis = std::move(chassis);
  return h;
}

} // namespace

SCENARIO("auto picks a profile by the documented rule") {
  CHECK(choose_profile(host(2, 4)).name == "low-resource");
  CHECK(choose_profile(host(2, 4)).reason ==
        "2 cores, 4.0 GiB, mains power: at most 4 cores picks low-resource");
  CHECK(choose_profile(host(4, 64)).name == "low-resource"); // 4 cores is small, whatever the RAM
  CHECK(choose_profile(host(16, 8)).name == "low-resource"); // 8 GiB is small, whatever the cores
  CHECK(choose_profile(host(16, 8)).reason.find("at most 8 GiB") != std::string::npos);
  CHECK(choose_profile(host(8, 16, true)).name == "desktop"); // a laptop
  CHECK(choose_profile(host(32, 128)).name == "server");
  CHECK(choose_profile(host(32, 128)).reason ==
        "32 cores, 128.0 GiB, mains power: 16 cores or more with 64 GiB or more picks server");
  CHECK(choose_profile(host(32, 128, true)).name == "desktop"); // a battery says portable first
  CHECK(choose_profile(host(8, 32, false, "desktop")).name == "desktop"); // a workstation
  CHECK(choose_profile(host(8, 32)).name == "server");                    // a VM, a small server
  CHECK(choose_profile(host(8, 32, false, "server")).name == "server");
}

SCENARIO("auto values follow the cores and the memory, within their bounds") {
  CHECK(auto_worker_threads(host(1, 1)) == 1);
  CHECK(auto_worker_threads(host(2, 4)) == 1);
  CHECK(auto_worker_threads(host(6, 4)) == 5);
  CHECK(auto_worker_threads(host(64, 4)) == 8);
  CHECK(auto_scan_workers(host(1, 1)) == 1);
  CHECK(auto_scan_workers(host(6, 1)) == 3);
  CHECK(auto_scan_workers(host(64, 1)) == 4);
  CHECK(auto_engine_memory_mb(host(2, 1)) == 64);     // 5% of 1 GiB is 51 MiB: the floor
  CHECK(auto_engine_memory_mb(host(2, 4)) == 204);    // 5% of 4096 MiB
  CHECK(auto_engine_memory_mb(host(2, 128)) == 1024); // the ceiling
}

SCENARIO("--host-resources states another host, and refuses what is not one") {
  host_resources base = host(2, 4);
  std::string error;
  auto h = parse_host_resources("cores=32,memory=128GiB", base, &error);
  REQUIRE(h);
  CHECK(h->cores == 32);
  CHECK(h->memory_bytes == 128ull << 30);
  CHECK(h->source == "--host-resources");
  h = parse_host_resources("on_battery=yes,chassis=portable", base, &error);
  REQUIRE(h);
  CHECK(h->cores == 2); // unnamed fields keep the base's
  CHECK(h->battery);    // running on battery means there is one
  CHECK(h->describe() == "2 cores, 4.0 GiB, on battery, chassis portable");
  for (const char* bad : {"", "cores", "cores=0", "cores=two", "memory=12", "memory=lots",
                          "battery=maybe", "chassis=boat", "gpus=4", "cores=2,,memory=1GiB"}) {
    INFO(bad);
    error.clear();
    CHECK_FALSE(parse_host_resources(bad, base, &error));
    CHECK(error.find("expected cores=N,memory=SIZE") != std::string::npos);
  }
  parse_host_resources("cores=0", base, &error);
  CHECK(error.rfind("'cores=0': cores must be a whole number from 1 to 4096", 0) == 0);
}

SCENARIO("the detected cores are the CPUs this process may run on") {
  cpu_set_t saved;
  REQUIRE(::sched_getaffinity(0, sizeof saved, &saved) == 0);
  const auto all = detect_host_resources();
  CHECK(all.cores == static_cast<unsigned>(CPU_COUNT(&saved)));
  CHECK(all.memory_bytes > (64ull << 20));
  CHECK(all.source == "detected");
  cpu_set_t one;
  CPU_ZERO(&one);
  for (int i = 0; i < CPU_SETSIZE; ++i)
    if (CPU_ISSET(i, &saved)) {
      CPU_SET(i, &one);
      break;
    }
  REQUIRE(::sched_setaffinity(0, sizeof one, &one) == 0);
  const auto pinned = detect_host_resources();
  ::sched_setaffinity(0, sizeof saved, &saved);
  CHECK(pinned.cores == 1);
}
