// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "phantomguard/actors/realtime/host_health_analyzer.hpp"
#include "realtime_fixture.hpp"

using namespace pg::actors::realtime;
using pg::runtime::parse_cpu_times;
using pg::runtime::parse_memory_percent;
using pg::runtime::severity;
using pg::runtime::severity_for_ratio;
using pg::test::temp_dir;
using transition = threshold_tracker::transition;

SCENARIO("a value hovering at its threshold raises once and clears only below the hysteresis") {
  threshold_tracker t(90, 0.1);
  CHECK(t.update(50) == transition::none);
  CHECK(t.update(91) == transition::raised);
  CHECK(t.level() == severity::low);
  for (double v : {89.0, 90.5, 85.0, 90.2, 82.0}) // above 81 = 90 * (1 - 0.1): stays raised
    CHECK(t.update(v) == transition::none);
  CHECK(t.update(99) == transition::escalated); // 1.1 x threshold
  CHECK(t.level() == severity::medium);
  CHECK(t.update(99) == transition::none);
  CHECK(t.update(80) == transition::cleared);
  CHECK_FALSE(t.active());
  CHECK(t.update(80.5) == transition::none);
}

SCENARIO("severity follows the ratio of value to threshold: 1.1 medium, 1.2 high, 1.5 critical") {
  CHECK(severity_for_ratio(1.0) == severity::low);
  CHECK(severity_for_ratio(1.09) == severity::low);
  CHECK(severity_for_ratio(1.1) == severity::medium);
  CHECK(severity_for_ratio(1.2) == severity::high);
  CHECK(severity_for_ratio(1.49) == severity::high);
  CHECK(severity_for_ratio(1.5) == severity::critical);
}

SCENARIO("with `for`, a value must stay over the threshold that long before it is raised") {
  using namespace std::chrono_literals;
  const auto t0 = std::chrono::steady_clock::now();
  threshold_tracker t(80, 0.1, {}, 30s);
  CHECK(t.update(95, t0) == transition::none);
  CHECK(t.update(95, t0 + 29s) == transition::none);
  CHECK(t.update(70, t0 + 31s) == transition::none); // dipped: the wait starts over
  CHECK(t.update(95, t0 + 40s) == transition::none);
  CHECK(t.update(95, t0 + 69s) == transition::none);
  CHECK(t.update(97, t0 + 70s) == transition::raised);
  CHECK(t.level() == severity::high); // 97 / 80 = 1.21
}

SCENARIO("host_health's defaults are the alert mechanism's: CPU 85 %, memory 90 %, disk 95 %") {
  auto s = host_health_settings::from(pg::runtime::component_settings(toml::table{}));
  CHECK(s.cpu_percent == 85);
  CHECK(s.memory_percent == 90);
  CHECK(s.disk_percent == 95);
  CHECK(s.bands.medium == 1.1);
  CHECK(s.bands.high == 1.2);
  CHECK(s.bands.critical == 1.5);
}

SCENARIO("memory above its threshold is a finding - back below the clear level it clears") {
  temp_dir d;
  auto meminfo = [&](int avail_kb) {
    pg::test::write_file(d / "meminfo", "MemTotal:       1000000 kB\nMemFree:          10000 kB\n"
                                        "MemAvailable:    " +
                                            std::to_string(avail_kb) + " kB\n");
  };
  pg::test::write_file(d / "stat", "cpu  100 0 100 800 0 0 0 0 0 0\n");
  pg::test::write_file(d / "loadavg", "0.10 0.20 0.30 1/100 4242\n");
  toml::table t{{"proc_root", d.path()},
                {"memory_percent", 80.0},
                {"cpu_sample", "10ms"},
                {"disk_paths", toml::array{}}};
  host_health_analyzer a(host_health_settings::from(pg::runtime::component_settings(t)));
  pg::test::test_context ctx("health");

  meminfo(30000); // 97 % used: ratio 1.21
  a.on_tick(ctx);
  auto high = ctx.with_rule("realtime.memory_high");
  REQUIRE(high.size() == 1);
  CHECK(high[0]->level == severity::high);
  CHECK(high[0]->evidence["ratio"].get<double>() == Approx(97.0 / 80.0));
  CHECK(ctx.gauges["memory_percent"] == Approx(97.0));

  meminfo(250000); // 75 %: below the threshold but above 72, the clear level
  a.on_tick(ctx);
  CHECK(ctx.with_rule("realtime.memory_high").size() == 1);
  CHECK(ctx.with_rule("realtime.threshold_cleared").empty());

  meminfo(500000); // 50 %
  a.on_tick(ctx);
  REQUIRE(ctx.with_rule("realtime.threshold_cleared").size() == 1);
  CHECK(ctx.with_rule("realtime.threshold_cleared")[0]->entity["resource"] == "memory");
  CHECK(ctx.gauges["load1"] == Approx(0.10));
}

SCENARIO("the real host's CPU, memory, load and disk are measured") {
  toml::table t{{"cpu_percent", 0.0001}, {"disk_paths", pg::test::list_of({"/"})}};
  host_health_analyzer a(host_health_settings::from(pg::runtime::component_settings(t)));
  pg::test::test_context ctx("health");
  {
    // An idle VM can pass the 200 ms sample without one busy jiffy: make some activity.
    std::atomic<bool> stop{false};
    std::thread busy([&] {
      while (!stop.load(std::memory_order_relaxed)) {
      }
    });
    a.on_tick(ctx);
    stop = true;
    busy.join();
  }
  for (const char* g : {"cpu_percent", "memory_percent", "load1", "load_per_cpu", "disk_percent./"})
    CHECK(ctx.gauges.count(g) == 1);
  CHECK(ctx.gauges["memory_percent"] > 0);
  CHECK(ctx.gauges["disk_percent./"] > 0);
  // A CPU threshold of 0.0001 % is crossed by any activity at all, far above: critical.
  auto cpu = ctx.with_rule("realtime.cpu_high");
  REQUIRE(cpu.size() == 1);
  CHECK(cpu[0]->level == severity::critical);
  CHECK(parse_memory_percent("garbage") == std::nullopt);
  CHECK(parse_cpu_times("cpu  1 2 3 4 5 6 7 8\n")->busy == 1 + 2 + 3 + 6 + 7 + 8);
}
