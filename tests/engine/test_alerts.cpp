// SPDX-License-Identifier: Apache-2.0
// [alerts.NAME] as the engine evaluates them: the host's memory from a /proc the test writes,
// the engine's metrics from a snapshot it builds; raised after `for`, escalated, cleared below
// the hysteresis, and rates over their windows.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "engine/alert_evaluator.hpp"

using namespace pg::runtime;
using namespace std::chrono_literals;
using pg::runtime::detail::alert_evaluator;

namespace {

struct fake_proc {
  std::filesystem::path dir;
  fake_proc() {
    char tmpl[] = "/tmp/pg_alerts_XXXXXX";
    dir = ::mkdtemp(tmpl);
  }
  ~fake_proc() { std::filesystem::remove_all(dir); }
  void memory_used(int percent) const {
    std::ofstream(dir / "meminfo")
        << "MemTotal: 1000000 kB\nMemAvailable: " << (100 - percent) * 10000 << " kB\n";
  }
};

metrics_snapshot with_component(const std::string& name, std::int64_t restarts, double cpu) {
  metrics_snapshot m;
  component_metrics c;
  c.name = name;
  c.counters["restarts"] = restarts;
  c.gauges["cpu_percent"] = cpu;
  m.components.push_back(c);
  return m;
}

} // namespace

SCENARIO("a host alert is raised after `for`, escalates, and clears below its hysteresis") {
  fake_proc proc;
  alert_decl a;
  a.name = "memory";
  a.metric = "host.memory_percent";
  a.threshold = *default_alert_threshold(a.metric);
  a.sustained = 10s;
  alert_evaluator ev({a}, std::nullopt, proc.dir.string());
  const auto t0 = std::chrono::steady_clock::now();
  metrics_snapshot none;

  proc.memory_used(92);
  CHECK(ev.evaluate(none, t0).empty()); // over, but not for 10 s yet
  CHECK(ev.evaluate(none, t0 + 9s).empty());
  auto raised = ev.evaluate(none, t0 + 10s);
  REQUIRE(raised.size() == 1);
  CHECK(raised[0].rule == "alert.memory");
  CHECK(raised[0].level == severity::low); // 92 / 90 < 1.1
  CHECK(raised[0].entity["metric"] == "host.memory_percent");
  CHECK(raised[0].evidence["transition"] == "raised");
  CHECK(raised[0].evidence["threshold"] == 90.0);

  proc.memory_used(99); // 1.1 x: medium
  auto worse = ev.evaluate(none, t0 + 11s);
  REQUIRE(worse.size() == 1);
  CHECK(worse[0].level == severity::medium);
  CHECK(worse[0].evidence["transition"] == "escalated");

  proc.memory_used(85); // below 90, above the clear level 81: still raised, nothing said
  CHECK(ev.evaluate(none, t0 + 12s).empty());
  proc.memory_used(80);
  auto cleared = ev.evaluate(none, t0 + 13s);
  REQUIRE(cleared.size() == 1);
  CHECK(cleared[0].rule == "alert.cleared");
  CHECK(cleared[0].level == severity::info);
  CHECK(cleared[0].entity["alert"] == "memory");
}

SCENARIO("custom severity ratios decide the band") {
  fake_proc proc;
  alert_decl a;
  a.name = "memory";
  a.metric = "host.memory_percent";
  a.threshold = 50;
  a.bands = {1.5, 1.8, 1.95};
  alert_evaluator ev({a}, std::nullopt, proc.dir.string());
  proc.memory_used(95); // 1.9 x
  auto f = ev.evaluate({}, std::chrono::steady_clock::now());
  REQUIRE(f.size() == 1);
  CHECK(f[0].level == severity::high);
}

SCENARIO("component alerts watch each component, and restarts count over a minute") {
  alert_decl cpu;
  cpu.name = "busy";
  cpu.metric = "component.cpu_percent";
  cpu.threshold = 50;
  alert_decl restarts;
  restarts.name = "flapping";
  restarts.metric = "component.restarts_per_minute";
  restarts.component = "fim";
  restarts.threshold = 3;
  alert_evaluator ev({cpu, restarts}, std::nullopt);
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(ev.evaluate(with_component("fim", 0, 10), t0).empty());
  auto busy = ev.evaluate(with_component("fim", 1, 80), t0 + 1s);
  REQUIRE(busy.size() == 1);
  CHECK(busy[0].rule == "alert.busy");
  CHECK(busy[0].entity["component"] == "fim");
  CHECK(busy[0].level == severity::critical); // 80 / 50 = 1.6
  // Four restarts within the minute: at the threshold 3 per minute, over it.
  auto flapping = ev.evaluate(with_component("fim", 4, 80), t0 + 30s);
  REQUIRE(flapping.size() == 1);
  CHECK(flapping[0].rule == "alert.flapping");
  CHECK(flapping[0].evidence["value"].get<double>() == Approx(4.0));
  // A minute and more without one: the window forgets them and the alert clears.
  auto calm = ev.evaluate(with_component("fim", 4, 10), t0 + 95s);
  REQUIRE(calm.size() == 2);
  CHECK(calm[0].rule == "alert.cleared");
  CHECK(calm[1].rule == "alert.cleared");
}

SCENARIO("a reload keeps the state of an unchanged alert: a raised one is not raised again") {
  alert_decl cpu;
  cpu.name = "busy";
  cpu.metric = "component.cpu_percent";
  cpu.threshold = 50;
  alert_evaluator ev({cpu}, std::nullopt);
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(ev.evaluate(with_component("fim", 0, 80), t0).size() == 1);
  ev.replace({cpu}, std::nullopt);
  CHECK(ev.evaluate(with_component("fim", 0, 80), t0 + 1s).empty());
  cpu.threshold = 60; // changed: starts afresh
  ev.replace({cpu}, std::nullopt);
  CHECK(ev.evaluate(with_component("fim", 0, 80), t0 + 2s).size() == 1);
  cpu.enabled = false;
  ev.replace({cpu}, std::nullopt);
  CHECK(ev.empty());
}
