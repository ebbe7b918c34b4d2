// SPDX-License-Identifier: Apache-2.0
// test_supervision_tree.cpp — supervisors in a tree: a group that exceeds its intensity restarts
// as a whole under its parent (its healthy members with it), the root disables what keeps
// failing; transient components come back only after a failure; the quota ladder starts over
// after a healthy run. The policies are plain objects, tested here without actors too.
#include <catch2/catch.hpp>

#include <mutex>

#include "engine/quota_governor.hpp"
#include "engine/restart_policy.hpp"
#include "engine_test_support.hpp"
#include "test_components.hpp"

using namespace pg::runtime;
using namespace pg::runtime::detail;
using namespace pg::test;
using namespace std::chrono_literals;

namespace {


component_decl scripted(std::string name, toml::table settings, std::string supervisor = "") {
  auto d = decl(std::move(name), component_kind::source, "lifecycle", {}, std::move(settings));
  d.schedule.interval = 20ms;
  d.restart.backoff = 5ms;
  d.restart.max_backoff = 10ms;
  d.restart.max_restarts = 1000;
  d.supervisor = std::move(supervisor);
  return d;
}

} // namespace

SCENARIO("a supervisor that exceeds its intensity restarts as a whole under its parent",
         "[engine][supervision]") {
  register_test_components();
  probe::instance().reset();
  auto cfg = base_config();
  cfg.engine.max_restarts = 2; // the root gives up after two group restarts
  supervisor_decl grp;
  grp.name = "grp";
  grp.max_restarts = 2;
  grp.period = 60s;
  cfg.supervisors.push_back(grp);
  cfg.components.push_back(scripted("crasher", toml::table{{"fail_tick", true}}, "grp"));
  cfg.components.push_back(scripted("sibling", {}, "grp"));
  cfg.components.push_back(scripted("bystander", {}));
  finding_log log;
  engine eng(cfg);
  running_engine run(eng, log.options());
  REQUIRE(eventually([&] { return !log.with_rule("engine.component_disabled").empty(); }, 10s));
  auto escalations = log.with_rule("engine.supervisor_restarted");
  // grp's intensity (2) is spent by two restarts of crasher; the third failure escalates; the
  // root admits two such group restarts (engine max_restarts = 2), then disables crasher.
  REQUIRE(escalations.size() == 2);
  for (const auto& f : escalations) {
    INFO(f.evidence.dump());
    CHECK(f.evidence.at("supervisor") == "grp");
    CHECK(f.evidence.at("parent") == "root");
    auto restarted = f.evidence.at("restarted").get<std::vector<std::string>>();
    CHECK(std::find(restarted.begin(), restarted.end(), "sibling") != restarted.end());
    CHECK(std::find(restarted.begin(), restarted.end(), "bystander") == restarted.end());
  }
  auto disabled = log.with_rule("engine.component_disabled");
  REQUIRE(disabled.size() == 1);
  CHECK(disabled[0].entity.at("component") == "crasher");
  CHECK(disabled[0].evidence.at("scope") == "engine");
  // The healthy member went down with its group each time; the bystander under the root never.
  REQUIRE(eventually([&] { return probe::instance().at("sibling").starts == 3; }, 3s));
  CHECK(probe::instance().at("bystander").starts == 1);
  // 1, then per round two restarts grp admits and one escalation, three rounds but the last
  // escalation is refused by the root: 1 + 3 + 3 + 2.
  CHECK(probe::instance().at("crasher").starts == 9);
  CHECK(run.stop() == 0);
}

SCENARIO("a one_for_all supervisor takes its members down together, not the rest",
         "[engine][supervision]") {
  register_test_components();
  probe::instance().reset();
  auto cfg = base_config();
  supervisor_decl grp;
  grp.name = "pair";
  grp.strategy = restart_strategy::one_for_all;
  grp.max_restarts = 100;
  cfg.supervisors.push_back(grp);
  auto crasher = scripted("flaky", toml::table{{"fail_tick", true}}, "pair");
  crasher.restart.max_restarts = 2;
  cfg.components.push_back(crasher);
  cfg.components.push_back(scripted("partner", {}, "pair"));
  cfg.components.push_back(scripted("outsider", {}));
  finding_log log;
  engine eng(cfg);
  running_engine run(eng, log.options());
  REQUIRE(eventually([&] { return log.with_rule("engine.component_restarted").size() >= 2; }));
  for (const auto& f : log.with_rule("engine.component_restarted")) {
    CHECK(f.evidence.at("supervisor") == "pair");
    CHECK(f.evidence.at("strategy") == "one_for_all");
  }
  REQUIRE(eventually([&] { return probe::instance().at("partner").starts >= 3; }, 3s));
  CHECK(probe::instance().at("outsider").starts == 1);
}

SCENARIO("transient components come back after a failure only", "[engine][supervision]") {
  register_test_components();
  probe::instance().reset();
  auto cfg = base_config();
  auto done = scripted("oneshot", toml::table{{"finish_after", 1}});
  done.restart.type = restart_type::transient;
  auto again = scripted("daemon", toml::table{{"finish_after", 1}}); // permanent: an end is restarted
  auto broken = scripted("broken", toml::table{{"fail_tick", true}});
  broken.restart.type = restart_type::transient;
  broken.restart.max_restarts = 2;
  cfg.components.push_back(done);
  cfg.components.push_back(again);
  cfg.components.push_back(broken);
  finding_log log;
  engine eng(cfg);
  running_engine run(eng, log.options());
  REQUIRE(eventually([&] { return probe::instance().at("daemon").starts >= 3; }));
  REQUIRE(eventually([&] { return !log.with_rule("engine.component_disabled").empty(); }));
  std::this_thread::sleep_for(200ms); // ten more tick intervals: a restart would show
  CHECK(probe::instance().at("oneshot").starts == 1);
  CHECK(probe::instance().at("oneshot").stops == 1); // stop() ran: a normal end
  auto stopped = log.with_rule("engine.component_stopped");
  REQUIRE(stopped.size() == 1);
  CHECK(stopped[0].entity.at("component") == "oneshot");
  CHECK(stopped[0].evidence.at("exit") == "normal");
  CHECK(stopped[0].level == severity::info);
  CHECK(probe::instance().at("broken").starts == 3); // failed: restarted up to its intensity
  CHECK(eng.metrics().counter("oneshot", "restarts") == 0);
}

TEST_CASE("restart intensity admits max_restarts within the period", "[supervision][policy]") {
  restart_intensity in(3, 10s);
  auto t0 = std::chrono::steady_clock::now();
  CHECK(in.admit(t0));
  CHECK(in.admit(t0 + 1s));
  CHECK(in.admit(t0 + 2s));
  CHECK_FALSE(in.admit(t0 + 3s));
  CHECK(in.admit(t0 + 11500ms)); // the first two have left the period
  in.reset();
  CHECK(in.recent(t0 + 12s) == 0);
}

TEST_CASE("restart sets follow each supervisor's strategy", "[supervision][policy]") {
  pipeline_config cfg;
  cfg.engine.strategy = restart_strategy::rest_for_one;
  supervisor_decl a;
  a.name = "a";
  a.strategy = restart_strategy::one_for_all;
  supervisor_decl b;
  b.name = "b";
  b.parent = "a";
  cfg.supervisors = {a, b};
  for (auto [name, sup] : std::vector<std::pair<std::string, std::string>>{
           {"c1", ""}, {"c2", "a"}, {"c3", "b"}, {"c4", "b"}, {"c5", ""}}) {
    component_decl d;
    d.name = name;
    d.supervisor = sup;
    cfg.components.push_back(d);
  }
  std::map<std::string, std::size_t> order = {{"c1", 0}, {"c2", 1}, {"c3", 2}, {"c4", 3}, {"c5", 4}};
  supervision_tree tree(cfg, order);
  using v = std::vector<std::string>;
  CHECK(tree.supervisor_of("c3") == "b");
  CHECK(tree.supervisor_of("c1") == "root");
  CHECK(tree.members("a") == v{"c2", "c3", "c4"});
  CHECK(tree.subtree("a") == v{"a", "b"});
  CHECK(tree.restart_set("b", "c3", false) == v{"c3"});         // one_for_one
  CHECK(tree.restart_set("a", "c2", false) == v{"c2", "c3", "c4"}); // one_for_all, b's members
  CHECK(tree.restart_set("a", "b", true) == v{"c3", "c4", "c2"});
  CHECK(tree.restart_set("root", "c1", false) == v{"c1", "c5", "c2", "c3", "c4"}); // rest_for_one
  CHECK(tree.restart_set("root", "a", true) == v{"c2", "c3", "c4", "c5"});
  CHECK(tree.at("b").parent == "a");
  CHECK(tree.at("a").parent == "root");
}

TEST_CASE("the quota ladder climbs on sustained excess and starts over after healthy_after",
          "[quota][policy]") {
  quota_settings q;
  q.cpu_percent = 10;
  q.grace = 0ms;
  q.window = 1s;
  quota_governor gov(q, 10s);
  auto t = std::chrono::steady_clock::time_point{} + 1h;
  gov.started(t);
  std::int64_t cpu = 0;
  std::vector<quota_step> steps;
  // Busy: 50% of a core, sampled every 200 ms.
  auto feed = [&](double share, std::chrono::milliseconds for_how_long) {
    for (auto end = t + for_how_long; t < end;) {
      t += 200ms;
      cpu += static_cast<std::int64_t>(share * 200e6);
      auto v = gov.evaluate({t, cpu, 0, 0});
      if (v.step != quota_step::none)
        steps.push_back(v.step);
    }
  };
  feed(0.5, 4s);
  CHECK(steps == std::vector<quota_step>{quota_step::throttle, quota_step::shed,
                                         quota_step::restart});
  CHECK(gov.level() == quota_level::restarted);
  gov.started(t); // the new instance
  steps.clear();
  feed(0.01, 11s); // calm for longer than healthy_after
  CHECK(steps == std::vector<quota_step>{quota_step::recover});
  CHECK(gov.level() == quota_level::ok);
  steps.clear();
  feed(0.5, 1800ms); // an excess days later is throttled again, not disabled
  CHECK(steps == std::vector<quota_step>{quota_step::throttle});
}

TEST_CASE("a restarted component that exceeds again before healthy_after is disabled",
          "[quota][policy]") {
  quota_settings q;
  q.memory_mb = 1;
  q.grace = 0ms;
  q.window = 1s;
  quota_governor gov(q, 60s);
  auto t = std::chrono::steady_clock::time_point{} + 1h;
  gov.started(t);
  std::vector<quota_step> steps;
  for (int i = 0; i < 40; ++i) {
    t += 200ms;
    auto v = gov.evaluate({t, 0, 0, 2 << 20});
    if (v.step != quota_step::none) {
      steps.push_back(v.step);
      CHECK(v.quota == "memory_mb");
      CHECK(v.measured == Approx(2.0));
      if (v.step == quota_step::restart)
        gov.started(t);
    }
  }
  CHECK(steps == std::vector<quota_step>{quota_step::throttle, quota_step::shed,
                                         quota_step::restart, quota_step::disable});
}

SCENARIO("produced = delivered + dropped on every edge after each kind of restart, with batches "
         "in flight",
         "[engine][supervision][conservation]") {
  register_test_components();
  probe::instance().reset();
  // gen -> bad (fails every 7th batch, slow: its mailbox holds batches) and gen -> good (slow).
  auto variant = GENERATE(as<std::string>{}, "one_for_one", "one_for_all", "rest_for_one",
                          "supervisor one_for_all");
  GIVEN(variant) {
    auto cfg = base_config();
    cfg.engine.tick_interval = 2ms;
    cfg.engine.max_restarts = 1000;
    restart_settings rs;
    rs.backoff = 2ms;
    rs.max_backoff = 5ms;
    rs.max_restarts = 1000;
    if (variant == "one_for_all")
      cfg.engine.strategy = restart_strategy::one_for_all;
    if (variant == "rest_for_one")
      cfg.engine.strategy = restart_strategy::rest_for_one;
    auto gen = decl("cgen", component_kind::source, "generator", {}, toml::table{{"per_tick", 64}});
    auto bad = decl("cbad", component_kind::sink, "collector", {"cgen"},
                    toml::table{{"fail_every", 7}, {"sleep_us", 400}});
    auto good = decl("cgood", component_kind::sink, "collector", {"cgen"},
                     toml::table{{"sleep_us", 200}});
    for (auto* d : {&gen, &bad, &good}) {
      d->restart = rs;
      d->mailbox.window_events = 256;
    }
    if (variant == "supervisor one_for_all") {
      // A group of producer and failing consumer: it gives up every third failure and restarts
      // both under the root, with batches in the consumer's mailbox.
      supervisor_decl pair;
      pair.name = "pair";
      pair.strategy = restart_strategy::one_for_all;
      pair.max_restarts = 2;
      cfg.supervisors.push_back(pair);
      gen.supervisor = "pair";
      bad.supervisor = "pair";
    }
    cfg.components = {gen, bad, good};
    engine eng(cfg);
    int rc = 0;
    {
      running_engine run(eng);
      REQUIRE(eventually([] { return probe::instance().at("cbad").starts >= 6; }, 10s));
      rc = run.stop();
    }
    auto m = eng.metrics();
    CHECK(rc == 0);
    for (const char* c : {"cbad", "cgood"}) {
      std::string e = std::string("edge.") + c + ".";
      INFO(variant << ": edge cgen -> " << c << " produced " << m.counter("cgen", e + "produced")
                   << " delivered " << m.counter("cgen", e + "delivered") << " dropped "
                   << edge_dropped(m, "cgen", c));
      CHECK(m.counter("cgen", e + "produced") > 0);
      CHECK(m.counter("cgen", e + "produced") ==
            m.counter("cgen", e + "delivered") + edge_dropped(m, "cgen", c));
    }
    if (variant != "one_for_one" && variant != "rest_for_one")
      CHECK(probe::instance().at("cgen").starts >= 2); // the producer went down too
  }
}

TEST_CASE("a component the engine-wide quota throttled comes back when the engine is calm",
          "[quota][policy]") {
  quota_settings q; // no quota of its own
  q.grace = 0ms;
  q.window = 1s;
  quota_governor gov(q, 10s);
  auto t = std::chrono::steady_clock::time_point{} + 1h;
  gov.started(t);
  auto v = gov.climb("engine.memory_mb", 300, 256, true);
  CHECK(v.step == quota_step::throttle);
  for (int i = 0; i < 20; ++i) { // calm itself for 4 s: not its own call to make
    t += 200ms;
    CHECK(gov.evaluate({t, 0, 0, 0}).step == quota_step::none);
  }
  CHECK(gov.level() == quota_level::throttled);
  auto back = gov.engine_calm();
  CHECK(back.step == quota_step::recover);
  CHECK(back.from == quota_level::throttled);
  CHECK(gov.level() == quota_level::ok);
  CHECK(gov.engine_calm().step == quota_step::none);
}
