// SPDX-License-Identifier: Apache-2.0
// The throttle keys every component takes (nice, io_class, io_level, cpu_affinity, throttle) and
// [engine]'s: read over the type's defaults, and every mistake at its FILE:LINE:COL.
#include <catch2/catch.hpp>

#include <unistd.h>

#include "test_registry.hpp"

using namespace pg::runtime;
using namespace pg::test;

namespace {

const component_decl& only(const config_result& r, const std::string& name) {
  REQUIRE(r.ok());
  const auto* d = r.config->find(name);
  REQUIRE(d);
  return *d;
}

} // namespace

SCENARIO("any component takes the throttle keys, read over its type's defaults") {
  auto reg = make_registry();
  // A type that ships lowered, as the scanners do.
  component_type heavy;
  heavy.name = "heavy";
  heavy.kind = component_kind::analyzer;
  heavy.throttle_defaults = background_scan_throttle();
  reg.add(heavy);
  const auto r = load_config_string(R"([engine]
nice = 5
cpu_affinity = "0"

[sources.tick]
type = "ticker"
cpu_affinity = [0]
nice = 3
throttle = { max_load = 1.5, max_cpu_pressure = 40, window = "22:00-06:00", on_battery = "pause" }

[analyzers.scan]
type = "heavy"

[analyzers.loud]
type = "heavy"
io_class = "none"
nice = 0

[sinks.out]
type = "store"
inputs = ["tick", "scan", "loud"]
path = "x"
)",
                                    "t.toml", reg);
  const auto& tick = only(r, "tick");
  CHECK(tick.throttle.nice == 3);
  CHECK(tick.throttle.cpu_affinity == std::vector<unsigned>{0});
  CHECK(tick.throttle.max_load == 1.5);
  CHECK(tick.throttle.max_cpu_pressure == 40);
  CHECK(tick.throttle.pause_on_battery);
  REQUIRE(tick.throttle.window);
  CHECK(tick.throttle.window->text() == "22:00-06:00");
  CHECK(tick.throttle.adaptive());
  CHECK_FALSE(tick.settings.table().contains("nice")); // the engine's key, not the type's
  const auto& scan = only(r, "scan");
  CHECK(scan.throttle.nice == 10);
  CHECK(scan.throttle.io_class == "idle");
  CHECK_FALSE(scan.throttle.adaptive());
  const auto& loud = only(r, "loud");
  CHECK(loud.throttle.io_class == "none");
  CHECK(loud.throttle.nice == 0);
  CHECK(r.config->engine.placement.nice == 5);
  CHECK(r.config->engine.placement.cpu_affinity == std::vector<unsigned>{0});
}

SCENARIO("a wrong throttle key or value is reported at its place") {
  const long cpus = ::sysconf(_SC_NPROCESSORS_CONF);
  const std::string base = "[sources.tick]\ntype = \"ticker\"\n";
  const std::string not_a_list = "'cpu_affinity' in [sources.tick] must be a list of CPU numbers "
                                 "such as [0, 1] or \"0-3,6\"";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {base + "cpu_affinity = [0, " + std::to_string(cpus) + "]\n",
       "t.toml:3:16: 'cpu_affinity' in [sources.tick] names CPU " + std::to_string(cpus) +
           ", but this host has CPUs 0-" + std::to_string(cpus - 1)},
      {base + "cpu_affinity = \"one\"\n", "t.toml:3:16: " + not_a_list},
      {base + "cpu_affinity = []\n", "t.toml:3:16: " + not_a_list},
      {base + "nice = 25\n", "t.toml:3:8: 'nice' in [sources.tick] must be between 0 and 19 (got 25)"},
      {base + "io_class = \"slow\"\n",
       "t.toml:3:12: 'io_class' in [sources.tick] must be one of 'none', 'best-effort', 'idle' "
       "(got 'slow')"},
      {base + "throttle = { max_laod = 2 }\n",
       "t.toml:3:14: unknown key 'max_laod' in [sources.tick.throttle]; did you mean 'max_load'?"},
      {base + "throttle = { window = \"25:00-01:00\" }\n",
       "t.toml:3:23: 'window' in [sources.tick.throttle] must be a time range HH:MM-HH:MM in "
       "local time, such as \"01:00-05:00\" (got '25:00-01:00')"},
      {base + "throttle = { on_battery = \"sleep\" }\n",
       "t.toml:3:27: 'on_battery' in [sources.tick.throttle] must be one of 'run', 'pause' (got "
       "'sleep')"},
      {"[engine]\ncpu_affinity = [-1]\n",
       "t.toml:2:16: 'cpu_affinity' in [engine] must be a list of CPU numbers such as [0, 1] or "
       "\"0-3,6\""},
  };
  for (const auto& [text, error] : cases) {
    INFO(text);
    CHECK(errors_of(text) == lines{error});
  }
}
