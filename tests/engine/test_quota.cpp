// SPDX-License-Identifier: Apache-2.0
// test_quota.cpp — quotas per component and engine-wide, enforced after the start-up grace on
// sustained excess: throttle -> shed -> restart -> disable, each step an engine.* finding.
#include <catch2/catch.hpp>

#include <mutex>

#include "engine_test_support.hpp"
#include "test_components.hpp"

using namespace pg::runtime;
using namespace pg::test;

namespace {

const std::vector<std::string> ladder = {"engine.quota_throttle", "engine.quota_shed",
                                         "engine.quota_restart", "engine.quota_disable"};


component_decl quota_hog(std::string name, toml::table settings, quota_settings q) {
  auto d = decl(std::move(name), component_kind::source, "hog", {}, std::move(settings));
  d.schedule.interval = std::chrono::milliseconds(10);
  q.grace = std::chrono::milliseconds(100);
  q.window = std::chrono::milliseconds(200);
  d.quota = q;
  d.restart.backoff = std::chrono::milliseconds(10);
  return d;
}

void expect_full_ladder(finding_log& log, const std::string& name, const std::string& quota,
                        double limit) {
  bool reached =
      eventually([&] { return log.quota_rules(name).size() >= 4; }, std::chrono::seconds(8));
  for (const auto& f : log.quota_findings(name))
    UNSCOPED_INFO(f.rule << " " << f.evidence.dump());
  REQUIRE(reached);
  CHECK(log.quota_rules(name) == ladder);
  for (const auto& f : log.quota_findings(name)) {
    INFO(f.rule << " " << f.evidence.dump());
    CHECK(f.evidence.at("quota") == quota);
    CHECK(f.evidence.at("limit").get<double>() == Approx(limit));
    CHECK(f.evidence.at("measured").get<double>() > limit);
    CHECK(f.entity.at("component") == name);
  }
}

} // namespace

SCENARIO("a component over its CPU quota climbs the whole ladder", "[engine][quota]") {
  register_test_components();
  probe::instance().reset();
  quota_settings q;
  q.cpu_percent = 10;
  auto cfg = base_config();
  cfg.components.push_back(quota_hog("cpuhog", toml::table{{"burn_ms", 50}}, q));
  finding_log log;
  engine eng(cfg);
  running_engine run(eng, log.options());
  expect_full_ladder(log, "cpuhog", "cpu_percent", 10);
  CHECK(probe::instance().at("cpuhog").starts == 2); // restarted once, then disabled
  auto m = eng.metrics();
  CHECK(m.counter("cpuhog", "throttled_ticks") > 0);
  CHECK(gauge(m, "cpuhog", "status") == 4); // disabled
}

SCENARIO("a component over its memory quota climbs the whole ladder", "[engine][quota]") {
  register_test_components();
  probe::instance().reset();
  quota_settings q;
  q.memory_mb = 2;
  auto cfg = base_config();
  cfg.components.push_back(quota_hog("memhog", toml::table{{"alloc_mb", 1}}, q));
  finding_log log;
  engine eng(cfg);
  running_engine run(eng, log.options());
  expect_full_ladder(log, "memhog", "memory_mb", 2);
  // The memory the disabled instance held was given back: what is left is the actor's own
  // bookkeeping of its last messages (a few KiB), not the megabytes the component held.
  REQUIRE(eventually([&] { return gauge(eng.metrics(), "memhog", "memory_bytes") < 64 * 1024; },
                     std::chrono::seconds(3)));
}

SCENARIO("a source over its events_per_second quota is throttled, shed, restarted, disabled",
         "[engine][quota]") {
  register_test_components();
  probe::instance().reset();
  quota_settings q;
  q.events_per_second = 1000;
  auto cfg = base_config();
  cfg.components.push_back(quota_hog("ratehog", toml::table{{"per_tick", 500}}, q));
  auto sink = decl("ratesink", component_kind::sink, "collector", {"ratehog"});
  sink.mailbox.window_events = 1 << 20;
  cfg.components.push_back(sink);
  finding_log log;
  engine eng(cfg);
  running_engine run(eng, log.options());
  expect_full_ladder(log, "ratehog", "events_per_second", 1000);
  auto m = eng.metrics();
  CHECK(m.counter("ratehog", "edge.ratesink.dropped_shed") > 0);
  CHECK(m.counter("ratehog", "throttled_ticks") > 0);
}

SCENARIO("nothing is enforced during the start-up grace", "[engine][quota]") {
  register_test_components();
  probe::instance().reset();
  quota_settings q;
  q.cpu_percent = 5;
  auto cfg = base_config();
  auto d = quota_hog("gracehog", toml::table{{"burn_ms", 20}}, q);
  d.quota.grace = std::chrono::milliseconds(800);
  cfg.components.push_back(d);
  finding_log log;
  engine eng(cfg);
  auto t0 = std::chrono::steady_clock::now();
  running_engine run(eng, log.options());
  REQUIRE(
      eventually([&] { return !log.quota_rules("gracehog").empty(); }, std::chrono::seconds(5)));
  CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(800));
  CHECK(log.quota_rules("gracehog").front() == "engine.quota_throttle");
}

SCENARIO("the engine-wide quota escalates against the heaviest component", "[engine][quota]") {
  register_test_components();
  probe::instance().reset();
  auto cfg = base_config();
  cfg.engine.quota.cpu_percent = 15;
  cfg.engine.quota.grace = std::chrono::milliseconds(100);
  cfg.engine.quota.window = std::chrono::milliseconds(200);
  cfg.components.push_back(quota_hog("heavy", toml::table{{"burn_ms", 50}}, {}));
  cfg.components.push_back(quota_hog("light", toml::table{{"per_tick", 1}}, {}));
  finding_log log;
  engine eng(cfg);
  running_engine run(eng, log.options());
  REQUIRE(eventually([&] { return !log.quota_rules("heavy").empty(); }, std::chrono::seconds(5)));
  auto f = log.quota_findings("heavy").front();
  CHECK(f.rule == "engine.quota_throttle");
  CHECK(f.evidence.at("quota") == "engine.cpu_percent");
  CHECK(log.quota_rules("light").empty());
}

SCENARIO("the engine-wide memory quota is the process's RSS - the heaviest holder climbs first",
         "[engine][quota][memory]") {
  register_test_components();
  probe::instance().reset();
  auto cfg = base_config();
  // 24 MiB above what the process holds now: the hog's megabytes per tick cross it, whoever
  // else lives in the process.
  cfg.engine.quota.memory_mb = static_cast<std::uint64_t>(rss_bytes() >> 20) + 24;
  cfg.engine.quota.grace = std::chrono::milliseconds(100);
  cfg.engine.quota.window = std::chrono::milliseconds(200);
  cfg.components.push_back(quota_hog("grower", toml::table{{"alloc_mb", 2}}, {}));
  cfg.components.push_back(quota_hog("idle", toml::table{{"per_tick", 1}}, {}));
  finding_log log;
  engine eng(cfg);
  running_engine run(eng, log.options());
  REQUIRE(eventually([&] { return log.quota_rules("grower").size() >= 3; }, std::chrono::seconds(8)));
  auto fs = log.quota_findings("grower");
  CHECK(fs[0].rule == "engine.quota_throttle");
  CHECK(fs[1].rule == "engine.quota_shed");
  CHECK(fs[2].rule == "engine.quota_restart"); // a restart gives its memory back
  for (const auto& f : fs) {
    CHECK(f.evidence.at("quota") == "engine.memory_mb");
    CHECK(f.evidence.at("measured").get<double>() > f.evidence.at("limit").get<double>());
  }
  CHECK(log.quota_rules("idle").empty());
  CHECK(gauge(eng.metrics(), "engine", "custom.rss_mb") > 0);
}

SCENARIO("a consumer over its CPU quota shrinks its credit, then sheds its input",
         "[engine][quota]") {
  register_test_components();
  probe::instance().reset();
  auto cfg = base_config();
  cfg.engine.tick_interval = std::chrono::milliseconds(5);
  cfg.components.push_back(
      decl("feed", component_kind::source, "generator", {}, toml::table{{"per_tick", 64}}));
  auto sink =
      decl("slowcpu", component_kind::sink, "collector", {"feed"}, toml::table{{"burn_ms", 5}});
  sink.mailbox.window_events = 1024;
  sink.mailbox.policy = overflow_policy::drop_newest;
  sink.quota.cpu_percent = 10;
  sink.quota.grace = std::chrono::milliseconds(100);
  sink.quota.window = std::chrono::milliseconds(200);
  cfg.components.push_back(sink);
  finding_log log;
  engine eng(cfg);
  running_engine run(eng, log.options());
  REQUIRE(
      eventually([&] { return log.quota_rules("slowcpu").size() >= 2; }, std::chrono::seconds(8)));
  auto rules = log.quota_rules("slowcpu");
  CHECK(rules[0] == "engine.quota_throttle");
  CHECK(rules[1] == "engine.quota_shed");
  // Throttled: the window granted to the producer shrank to a quarter.
  CHECK(eventually([&] { return eng.metrics().counter("feed", "edge.slowcpu.dropped_shed") > 0; }));
}

SCENARIO("a scan that outlives its timeout says which component was still busy", "[engine][scan]") {
  register_test_components();
  probe::instance().reset();
  auto cfg = base_config();
  cfg.components.push_back(
      decl("tgen", component_kind::source, "generator", {}, toml::table{{"per_tick", 10}}));
  cfg.components.push_back(
      decl("tstuck", component_kind::sink, "collector", {"tgen"}, toml::table{{"hang", true}}));
  engine eng(cfg);
  scan_options opts;
  opts.timeout = std::chrono::milliseconds(300);
  auto report = eng.scan(opts);
  CHECK(report.timed_out);
  bool named = false;
  for (const auto& f : report.findings)
    if (f.rule == "engine.scan_timeout" && f.entity.value("component", "") == "tstuck")
      named = true;
  CHECK(named);
}
