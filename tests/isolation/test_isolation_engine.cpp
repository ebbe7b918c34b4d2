// SPDX-License-Identifier: Apache-2.0
// Isolated plugins inside the real engine: a crashing or hanging plugin is restarted with its
// snapshot and then disabled, with findings that name the plugin and the cause, while the rest
// of the pipeline keeps producing; a scan finds the same with the cryptominer isolated or not.
#include <catch2/catch.hpp>

#include "skip.hpp"

#include <chrono>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>
#include <unistd.h>

#include "isolation_support.hpp"
#include "phantomguard/runtime/engine.hpp"
#include "phantomguard/runtime/plugin_host.hpp"
#include "phantomguard/runtime/registry.hpp"
#include "plugin_pipeline.hpp"

using namespace pg::runtime;
using pg::test::decl;
using pg::test::hostile_path;
using pg::test::isolated;
using pg::test::miner_path;

namespace {

pipeline_config base_config() {
  pg::test::use_test_plugin_host();
  pipeline_config cfg;
  cfg.origin = "<test>";
  cfg.engine.host = "testhost";
  cfg.engine.state_dir = "/tmp/pg-isolation-test";
  cfg.engine.batch_size = 64;
  cfg.engine.batch_delay = std::chrono::milliseconds(5);
  cfg.engine.tick_interval = std::chrono::milliseconds(20);
  cfg.engine.shutdown_timeout = std::chrono::seconds(5);
  return cfg;
}

std::vector<const finding*> with_rule(const std::vector<finding>& fs, const std::string& rule) {
  std::vector<const finding*> out;
  for (const auto& f : fs)
    if (f.rule == rule)
      out.push_back(&f);
  return out;
}

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

std::string text_of(const std::vector<finding>& all) {
  std::string text;
  for (const auto& f : all)
    text += f.rule + ": " + f.title + "\n";
  return text;
}

const std::string hostile = "plugin \"org.phantomguard.test.hostile\" detector ";

/// Runs feed -> NAME (hostile detector, isolated) and feed -> miner (isolated) until NAME is
/// disabled; returns every finding.
std::vector<finding> run_until_disabled(const std::string& name, toml::table config,
                                        toml::table sandbox) {
  auto cfg = base_config();
  cfg.components.push_back(
      decl("feed", component_kind::source, "process_feed", {}, toml::table{{"per_tick", 5}}));
  auto d = decl(name, component_kind::detector, "plugin", {"feed"},
                isolated(hostile_path(), name, std::move(config), std::move(sandbox)));
  d.restart.backoff = std::chrono::milliseconds(10);
  d.restart.max_restarts = 2;
  cfg.components.push_back(d);
  cfg.components.push_back(
      decl("miner", component_kind::detector, "plugin", {"feed"}, isolated(miner_path(), "")));
  finding_log log;
  engine eng(cfg, pg::test::plugin_test_registry());
  {
    running_engine run(eng, log.options());
    eventually([&] { return !with_rule(log.snapshot(), "engine.component_disabled").empty(); },
               std::chrono::seconds(25));
    // The rest of the pipeline is still producing after the hostile one is gone.
    const auto before = with_rule(log.snapshot(), "miner.known_binary").size();
    eventually([&] { return with_rule(log.snapshot(), "miner.known_binary").size() > before; },
               std::chrono::seconds(5));
  }
  return log.snapshot();
}

} // namespace

SCENARIO("a plugin that crashes on its 3rd batch is restarted, then disabled", "[isolation]") {
  PG_SKIP_UNDER_THREAD_SANITIZER("the child's crash, forbidden call or attack is observed "
                                 "differently under its runtime");
  const auto all = run_until_disabled("crasher", toml::table{{"crash_at", 3}}, {});
  INFO(text_of(all));
  auto failed = with_rule(all, "engine.component_failed");
  REQUIRE(failed.size() >= 3);
  CHECK(failed[0]->title == "component crasher failed in on_batch: " + hostile +
                                "\"crasher\" (isolated) crashed: SIGSEGV in on_batch");
  CHECK(with_rule(all, "isolation.batch").size() >= 2); // the batches before each crash
  auto disabled = with_rule(all, "engine.component_disabled");
  REQUIRE(disabled.size() == 1);
  CHECK(disabled[0]->title == "component crasher disabled: restart intensity exhausted");
  // The disabling finding names the plugin and the cause.
  CHECK(disabled[0]
            ->evidence.value("last_error", "")
            .find(hostile + "\"crasher\" (isolated) crashed: SIGSEGV in on_batch") !=
        std::string::npos);
  CHECK_FALSE(with_rule(all, "engine.component_restarted").empty());
  CHECK_FALSE(with_rule(all, "miner.known_binary").empty());
}

SCENARIO("a plugin that hangs misses its deadline, is killed, restarted, then disabled",
         "[isolation]") {
  const auto all = run_until_disabled("spinner", toml::table{{"spin_at", 2}},
                                      toml::table{{"call_timeout", "200ms"}});
  INFO(text_of(all));
  auto failed = with_rule(all, "engine.component_failed");
  REQUIRE_FALSE(failed.empty());
  CHECK(
      failed[0]->title.find(hostile + "\"spinner\" (isolated) missed its deadline (200 ms) in ") !=
      std::string::npos);
  CHECK(with_rule(all, "engine.component_disabled").size() == 1);
  CHECK_FALSE(with_rule(all, "miner.known_binary").empty());
}

SCENARIO("a sandbox violation in the engine is an engine.plugin_sandbox_violation finding",
         "[isolation]") {
  const auto all = run_until_disabled("escaper", {}, {});
  INFO(text_of(all));
  auto v = with_rule(all, "engine.plugin_sandbox_violation");
  REQUIRE_FALSE(v.empty());
  CHECK(v[0]->analyzer == "escaper");
  CHECK(v[0]->evidence["syscall"] == "socket");
  CHECK(with_rule(all, "isolation.attack_returned").empty());
  CHECK_FALSE(with_rule(all, "isolation.probe").empty());
  CHECK(with_rule(all, "engine.component_disabled").size() == 1);
}

SCENARIO("a scan finds the same with the cryptominer isolated and in-process", "[isolation]") {
  auto scan = [](bool isolate) {
    auto cfg = base_config();
    cfg.components.push_back(
        decl("feed", component_kind::source, "process_feed", {}, toml::table{{"per_tick", 300}}));
    cfg.components.push_back(
        decl("miner", component_kind::detector, "plugin", {"feed"},
             isolate ? isolated(miner_path(), "", {}, toml::table{{"max_outstanding", 4}})
                     : toml::table{{"plugin", miner_path()}}));
    engine eng(cfg, pg::test::plugin_test_registry());
    scan_options opts;
    opts.timeout = std::chrono::seconds(30);
    auto report = eng.scan(opts);
    std::vector<std::string> out;
    for (const auto& f : report.findings)
      out.push_back(f.rule + " " + f.entity.dump());
    std::sort(out.begin(), out.end());
    return out;
  };
  const auto in_proc = scan(false);
  const auto iso = scan(true);
  REQUIRE(std::count_if(in_proc.begin(), in_proc.end(), [](const std::string& s) {
            return s.rfind("miner.known_binary", 0) == 0;
          }) == 30);
  CHECK(iso == in_proc);
}

SCENARIO("a plugin that allocates without bound is reported, restarted, then disabled",
         "[isolation]") {
  PG_SKIP_UNDER_SANITIZER("its shadow memory and allocator make an RLIMIT_AS allowance "
                          "meaningless, and it aborts instead of returning NULL");
  const auto all = run_until_disabled("glutton", {}, toml::table{{"memory_mb", 64}});
  INFO(text_of(all));
  auto failed = with_rule(all, "engine.component_failed");
  REQUIRE_FALSE(failed.empty());
  CHECK(failed[0]->title.find(hostile + "\"glutton\" (isolated) exceeded its memory limit "
                                        "(RLIMIT_AS 64 MiB above the host's mappings)") !=
        std::string::npos);
  CHECK(with_rule(all, "engine.component_disabled").size() == 1);
  CHECK_FALSE(with_rule(all, "miner.known_binary").empty());
}

SCENARIO("a plugin that writes garbage onto the channel is reported, restarted, then disabled",
         "[isolation]") {
  const auto all = run_until_disabled("babbler", {}, {});
  INFO(text_of(all));
  auto failed = with_rule(all, "engine.component_failed");
  REQUIRE_FALSE(failed.empty());
  CHECK(failed[0]->title.find(hostile + "\"babbler\" (isolated) sent garbage on the channel "
                                        "(unknown frame type 0x47) in on_batch; killed") !=
        std::string::npos);
  auto disabled = with_rule(all, "engine.component_disabled");
  REQUIRE(disabled.size() == 1);
  CHECK(disabled[0]->evidence.value("last_error", "").find("sent garbage on the channel") !=
        std::string::npos);
  CHECK_FALSE(with_rule(all, "miner.known_binary").empty());
}

namespace {

/// Runs feed -> NAME (isolated hostile detector with `quota`) until a finding of `rule` whose
/// evidence names `quota_key` appears (or 20 s pass); returns every finding.
std::vector<finding> run_until_quota(const std::string& name, toml::table config,
                                     toml::table sandbox, quota_settings quota,
                                     const std::string& rule, const std::string& quota_key) {
  auto cfg = base_config();
  cfg.components.push_back(
      decl("feed", component_kind::source, "process_feed", {}, toml::table{{"per_tick", 5}}));
  auto d = decl(name, component_kind::detector, "plugin", {"feed"},
                isolated(hostile_path(), name, std::move(config), std::move(sandbox)));
  d.quota = quota;
  cfg.components.push_back(d);
  finding_log log;
  engine eng(cfg, pg::test::plugin_test_registry());
  {
    running_engine run(eng, log.options());
    eventually(
        [&] {
          const auto all = log.snapshot(); // with_rule points into it: keep it alive
          for (const auto* f : with_rule(all, rule))
            if (f->evidence.is_object() && f->evidence.contains("quota") &&
                f->evidence["quota"] == quota_key)
              return true;
          return false;
        },
        std::chrono::seconds(20));
  }
  return log.snapshot();
}

quota_settings quick_quota() {
  quota_settings q;
  q.grace = std::chrono::milliseconds(0);
  q.window = std::chrono::milliseconds(400);
  return q;
}

} // namespace

SCENARIO("an isolated plugin's CPU time is its child's, and its quota holds it",
         "[isolation][quota]") {
  GIVEN("a plugin that burns 30 ms of CPU per batch in its child, with cpu_percent = 10") {
    auto q = quick_quota();
    q.cpu_percent = 10;
    const auto all = run_until_quota("burner", toml::table{{"ms", 30}}, {}, q,
                                     "engine.quota_throttle", "cpu_percent");
    INFO(text_of(all));
    THEN("the throttle step is raised on the child's CPU time") {
      auto t = with_rule(all, "engine.quota_throttle");
      REQUIRE_FALSE(t.empty());
      CHECK(t[0]->evidence["quota"] == "cpu_percent");
      CHECK(t[0]->evidence["measured"].get<double>() > 10.0);
      CHECK(t[0]->entity["component"] == "burner");
    }
  }
}

SCENARIO("an isolated plugin's RSS is its memory, and its quota holds it", "[isolation][quota]") {
  GIVEN("a plugin that holds 96 MiB below its 256 MiB RLIMIT_AS, with memory_mb = 64") {
    auto q = quick_quota();
    q.memory_mb = 64;
    const auto all =
        run_until_quota("hoarder", toml::table{{"mb", 96}}, toml::table{{"memory_mb", 256}}, q,
                        "engine.quota_restart", "memory_mb");
    INFO(text_of(all));
    THEN("the ladder climbs on the child's RSS: throttle, shed, restart") {
      CHECK_FALSE(with_rule(all, "isolation.hoarding").empty()); // it did not die of RLIMIT_AS
      for (const char* step :
           {"engine.quota_throttle", "engine.quota_shed", "engine.quota_restart"}) {
        INFO(step);
        auto s = with_rule(all, step);
        REQUIRE_FALSE(s.empty());
        CHECK(s[0]->evidence["quota"] == "memory_mb");
        CHECK(s[0]->evidence["measured"].get<double>() > 96.0);
      }
    }
  }
}

SCENARIO("a plugin whose constructor breaks the sandbox is refused by the engine, which keeps "
         "running",
         "[isolation][attack]") {
  GIVEN("an isolated plugin whose ELF constructor tries to create a file under /etc") {
    namespace fs = std::filesystem;
    const fs::path dir = fs::path(PG_ISOLATION_PLUGIN_DIR) / "engine-attack";
    fs::create_directories(dir);
    fs::permissions(dir, fs::perms(0755));
    const std::string path = (dir / "attack-write-ctor-engine.so").string();
    fs::copy_file(pg::test::attacker_path(), path, fs::copy_options::overwrite_existing);
    fs::permissions(path, fs::perms(0644));
    auto cfg = base_config();
    cfg.components.push_back(
        decl("feed", component_kind::source, "process_feed", {}, toml::table{{"per_tick", 5}}));
    cfg.components.push_back(
        decl("attacker", component_kind::detector, "plugin", {"feed"}, isolated(path, "attacker")));
    cfg.components.push_back(
        decl("miner", component_kind::detector, "plugin", {"feed"}, isolated(miner_path(), "")));
    finding_log log;
    engine eng(cfg, pg::test::plugin_test_registry());
    {
      running_engine run(eng, log.options());
      eventually([&] { return !with_rule(log.snapshot(), "miner.known_binary").empty(); },
                 std::chrono::seconds(15));
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    const auto all = log.snapshot();
    INFO(text_of(all));
    THEN("the violation is a finding, the plugin is not restarted, the rest keeps producing") {
      auto v = with_rule(all, "engine.plugin_sandbox_violation");
      REQUIRE(v.size() == 1);
      CHECK(v[0]->title.find("violated its sandbox: openat is not allowed in start") !=
            std::string::npos);
      CHECK(with_rule(all, "engine.component_restarted").empty());
      CHECK_FALSE(with_rule(all, "miner.known_binary").empty());
      CHECK(::access("/etc/phantomguard-attack-engine", F_OK) != 0);
    }
    fs::remove_all(dir);
  }
}
