// SPDX-License-Identifier: Apache-2.0
// Plugin detectors inside the real engine: a refused plugin disables only itself and becomes an
// engine.plugin_refused finding while the rest of the pipeline runs; a failing plugin is
// supervised like a built-in; CPU and memory quotas hold for plugins too.
#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <mutex>
#include <thread>

#include "phantomguard/runtime/engine.hpp"
#include "phantomguard/runtime/plugin_host.hpp"
#include "phantomguard/runtime/registry.hpp"
#include "plugin_pipeline.hpp"
#include "scratch_dir.hpp"

using namespace pg::runtime;
using pg::test::decl;
using pg::test::fixture;

namespace {

component_decl plugin_decl(std::string name, const std::string& path, std::string detector = {},
                           toml::table config = {}) {
  toml::table s{{"plugin", path}};
  if (!detector.empty())
    s.insert("detector", detector);
  if (!config.empty())
    s.insert("config", config);
  return decl(std::move(name), component_kind::detector, "plugin", {"feed"}, std::move(s));
}

pipeline_config base_config() {
  pipeline_config cfg;
  cfg.origin = "<test>";
  cfg.engine.host = "testhost";
  cfg.engine.state_dir = "/tmp/pg-sdk-engine-test";
  cfg.engine.batch_size = 64;
  cfg.engine.batch_delay = std::chrono::milliseconds(5);
  cfg.engine.tick_interval = std::chrono::milliseconds(10);
  cfg.engine.shutdown_timeout = std::chrono::seconds(5);
  return cfg;
}

std::string miner_path() {
  return std::string(PG_PLUGIN_BUILD_DIR) + "/cryptominer.so";
}

std::vector<const finding*> with_rule(const std::vector<finding>& fs, const std::string& rule) {
  std::vector<const finding*> out;
  for (const auto& f : fs)
    if (f.rule == rule)
      out.push_back(&f);
  return out;
}

/// Findings of a running engine, collected from its callback thread.
struct finding_log {
  std::mutex mutex;
  std::vector<finding> all;
  run_options options() {
    run_options o;
    o.on_finding = [this](const finding& f) {
      std::lock_guard guard{mutex};
      all.push_back(f);
    };
    return o;
  }
  std::vector<finding> snapshot() {
    std::lock_guard guard{mutex};
    return all;
  }
  std::vector<std::string> rules_for(const std::string& component, const std::string& prefix) {
    std::vector<std::string> out;
    for (const auto& f : snapshot())
      if (f.rule.rfind(prefix, 0) == 0 && f.entity.value("component", "") == component)
        out.push_back(f.rule);
    return out;
  }
};

bool eventually(const std::function<bool()>& pred, std::chrono::seconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (pred())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

class running_engine {
public:
  running_engine(engine& eng, run_options opts)
      : eng_(eng), thread_([this, opts] { eng_.run(opts); }) {}
  ~running_engine() {
    eng_.request_stop();
    thread_.join();
  }

private:
  engine& eng_;
  std::thread thread_;
};

} // namespace

SCENARIO("a scan with a good plugin and a refused one", "[sdk][engine]") {
  GIVEN("feed -> miner (cryptominer.so) and feed -> broken (a plugin of ABI 2)") {
    auto cfg = base_config();
    cfg.components.push_back(
        decl("feed", component_kind::source, "process_feed", {}, toml::table{{"per_tick", 50}}));
    cfg.components.push_back(plugin_decl("miner", miner_path()));
    cfg.components.push_back(plugin_decl("broken", fixture("fixture_abi2.so")));
    WHEN("the engine scans") {
      engine eng(cfg, pg::test::plugin_test_registry());
      scan_options opts;
      opts.timeout = std::chrono::seconds(30);
      scan_report report = eng.scan(opts);
      std::string all;
      for (const auto& f : report.findings)
        all += f.rule + ": " + f.title + "\n";
      INFO(all);
      THEN("the refused plugin is one engine.plugin_refused finding with the loader's line") {
        CHECK_FALSE(report.timed_out);
        auto refused = with_rule(report.findings, "engine.plugin_refused");
        REQUIRE(refused.size() == 1);
        CHECK(refused[0]->title ==
              "plugin \"org.phantomguard.test.abi2\" (" + fixture("fixture_abi2.so") +
                  ") refused: incompatible ABI major version: expected ABI 1.x (this engine "
                  "speaks ABI 1.0), found ABI 2.0; fix: upgrade the engine to one that speaks ABI "
                  "2.x, or use a build of the plugin for ABI 1");
        CHECK(refused[0]->level == severity::high);
      }
      THEN("the good plugin's findings arrive, stamped by the engine") {
        auto miners = with_rule(report.findings, "miner.known_binary");
        REQUIRE(miners.size() == 5); // pids 100, 110, ..., 140
        CHECK(miners[0]->analyzer == "miner");
        CHECK(miners[0]->host == "testhost");
        CHECK(miners[0]->entity["exe"] == "/tmp/xmrig");
        CHECK(report.metrics.counter("miner", "events_in") == 50);
      }
    }
  }
}

SCENARIO("a plugin that fails every Nth batch is supervised like a built-in", "[sdk][engine]") {
  auto cfg = base_config();
  cfg.components.push_back(
      decl("feed", component_kind::source, "process_feed", {}, toml::table{{"per_tick", 5}}));
  auto flaky = plugin_decl("flaky", fixture("fixture.so"), "flaky", toml::table{{"fail_every", 2}});
  flaky.restart.backoff = std::chrono::milliseconds(10);
  flaky.restart.max_restarts = 3;
  cfg.components.push_back(flaky);
  cfg.components.push_back(plugin_decl("miner", miner_path()));
  finding_log log;
  engine eng(cfg, pg::test::plugin_test_registry());
  {
    running_engine run(eng, log.options());
    REQUIRE(
        eventually([&] { return !with_rule(log.snapshot(), "engine.component_disabled").empty(); },
                   std::chrono::seconds(20)));
  }
  const auto all = log.snapshot();
  std::string text;
  for (const auto& f : all)
    text += f.rule + ": " + f.title + "\n";
  INFO(text);
  THEN("each failure is a finding with the plugin's message, then the detector is disabled") {
    auto failed = with_rule(all, "engine.component_failed");
    REQUIRE(failed.size() >= 3);
    CHECK(failed[0]->title ==
          "component flaky failed in on_batch: plugin \"org.phantomguard.test.fixture\" detector "
          "\"flaky\": on_batch failed (code 3): fixture: batch 2 failed");
    auto disabled = with_rule(all, "engine.component_disabled");
    REQUIRE(disabled.size() == 1);
    CHECK(disabled[0]->title == "component flaky disabled: restart intensity exhausted");
  }
  THEN("the other detector kept working") {
    CHECK_FALSE(with_rule(all, "miner.known_binary").empty());
  }
}

SCENARIO("plugins are held to their CPU and memory quotas", "[sdk][engine][quota]") {
  const std::vector<std::string> ladder = {"engine.quota_throttle", "engine.quota_shed",
                                           "engine.quota_restart", "engine.quota_disable"};
  auto cfg = base_config();
  cfg.engine.tick_interval = std::chrono::milliseconds(5);
  cfg.components.push_back(
      decl("feed", component_kind::source, "process_feed", {}, toml::table{{"per_tick", 64}}));
  WHEN("a plugin burns CPU in every batch") {
    auto d = plugin_decl("burner", fixture("fixture.so"), "burner", toml::table{{"burn_ms", 5}});
    d.quota.cpu_percent = 10;
    d.quota.grace = std::chrono::milliseconds(100);
    d.quota.window = std::chrono::milliseconds(200);
    d.restart.backoff = std::chrono::milliseconds(10);
    d.mailbox.policy = overflow_policy::drop_newest;
    cfg.components.push_back(d);
    finding_log log;
    engine eng(cfg, pg::test::plugin_test_registry());
    running_engine run(eng, log.options());
    THEN("it is throttled, then its input is shed") {
      REQUIRE(eventually([&] { return log.rules_for("burner", "engine.quota_").size() >= 2; },
                         std::chrono::seconds(15)));
      auto rules = log.rules_for("burner", "engine.quota_");
      CHECK(rules[0] == "engine.quota_throttle");
      CHECK(rules[1] == "engine.quota_shed");
    }
  }
  WHEN("a plugin keeps accounting more memory") {
    auto d =
        plugin_decl("hoarder", fixture("fixture.so"), "hoarder", toml::table{{"alloc_kb", 512}});
    d.quota.memory_mb = 2;
    d.quota.grace = std::chrono::milliseconds(100);
    d.quota.window = std::chrono::milliseconds(200);
    d.restart.backoff = std::chrono::milliseconds(10);
    cfg.components.push_back(d);
    finding_log log;
    engine eng(cfg, pg::test::plugin_test_registry());
    running_engine run(eng, log.options());
    THEN("it climbs the whole ladder to disabled") {
      REQUIRE(eventually([&] { return log.rules_for("hoarder", "engine.quota_").size() >= 4; },
                         std::chrono::seconds(15)));
      CHECK(log.rules_for("hoarder", "engine.quota_") == ladder);
    }
  }
}
