// SPDX-License-Identifier: Apache-2.0
// test_components.hpp — components made only to exercise the engine: a generator, a pass-through,
// a (slow) collector, failers, a hanger and hogs. They record what happened in a process-wide
// probe so a test can assert on observable outcomes.
#pragma once

#include <atomic>
#include <chrono>
#include <ctime>
#include <map>
#include <memory>
#include <memory_resource>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "phantomguard/runtime/config.hpp"
#include "phantomguard/runtime/refusal.hpp"
#include "phantomguard/runtime/registry.hpp"

namespace pg::test {

/// What one named component instance family did (across restarts).
struct probe_record {
  std::atomic<std::int64_t> events{0};          // events received in on_batch (non-engine)
  std::atomic<std::int64_t> engine_findings{0}; // "finding" events from the engine
  std::atomic<std::int64_t> finding_events{0};  // "finding" events from components
  std::atomic<std::int64_t> batches{0};
  std::atomic<std::int64_t> starts{0};
  std::atomic<std::int64_t> stops{0};
  std::atomic<std::int64_t> ticks{0};
  std::atomic<std::int64_t> restored{0}; // restore() calls with a non-empty state
  std::atomic<std::int64_t> last_restored_value{-1};
};

class probe {
public:
  static probe& instance() {
    static probe p;
    return p;
  }
  probe_record& at(const std::string& name) {
    std::lock_guard guard{mutex_};
    auto& r = records_[name];
    if (!r)
      r = std::make_unique<probe_record>();
    return *r;
  }
  void reset() {
    std::lock_guard guard{mutex_};
    records_.clear();
  }

private:
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<probe_record>> records_;
};

/// Source: emits `per_tick` events per tick ("gen", field seq), at most `total` overall
/// (0 = unlimited); `pad` bytes of payload per event.
class generator final : public runtime::component {
public:
  explicit generator(const runtime::component_init& init)
      : name_(init.name), per_tick_(init.settings.get_int("per_tick", 100)),
        total_(init.settings.get_int("total", 0)),
        pad_(static_cast<std::size_t>(init.settings.get_int("pad", 0))) {}
  void start(runtime::context&) override { probe::instance().at(name_).starts++; }
  void on_tick(runtime::context& ctx) override {
    probe::instance().at(name_).ticks++;
    for (std::int64_t i = 0; i < per_tick_; ++i) {
      if (total_ > 0 && seq_ >= total_)
        return;
      runtime::event e;
      e.kind = "gen";
      e.set("seq", seq_++);
      if (pad_ > 0)
        e.set("pad", std::string(pad_, 'x'));
      ctx.emit(std::move(e));
    }
  }
  void stop(runtime::context&) override { probe::instance().at(name_).stops++; }
  std::string snapshot() override { return std::to_string(seq_); }
  void restore(std::string_view s) override { seq_ = std::stoll(std::string(s)); }

private:
  std::string name_;
  std::int64_t per_tick_;
  std::int64_t total_;
  std::size_t pad_;
  std::int64_t seq_ = 0;
};

/// Analyzer: re-emits every event; with `finding = true` also one finding per tick.
class passthrough final : public runtime::component {
public:
  explicit passthrough(const runtime::component_init& init)
      : name_(init.name), finding_(init.settings.get_bool("finding", false)) {}
  void start(runtime::context&) override { probe::instance().at(name_).starts++; }
  void on_tick(runtime::context& ctx) override {
    probe::instance().at(name_).ticks++;
    if (finding_) {
      runtime::finding f;
      f.rule = "test.tick_finding";
      f.level = runtime::severity::high;
      f.title = "a finding from " + name_;
      f.entity = {{"pid", 1}};
      ctx.emit_finding(std::move(f));
    }
  }
  void on_batch(const runtime::event_batch& b, runtime::context& ctx) override {
    probe::instance().at(name_).batches++;
    for (const auto& e : b.events)
      ctx.emit(e);
  }
  void stop(runtime::context&) override { probe::instance().at(name_).stops++; }

private:
  std::string name_;
  bool finding_;
};

/// Burns `ms` of this thread's CPU time (not wall time: on a loaded machine the measured share
/// must still come out high).
inline void burn_cpu(std::int64_t ms, runtime::context& ctx) {
  auto cpu_now = [] {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
  };
  auto until = cpu_now() + ms * 1000000;
  volatile std::uint64_t x = 0;
  while (cpu_now() < until && !ctx.should_stop())
    x = x + 1;
}

/// Sink (or analyzer): counts what it receives; sleeps `sleep_us` per batch; throws on every
/// `fail_every`-th batch (0 = never; the count survives restarts via snapshot/restore); hangs in
/// on_batch until should_stop() when `hang = true`; throws in start() when `fail_start` is
/// "refuse" (component_refused) or "throw".
class collector final : public runtime::component {
public:
  explicit collector(const runtime::component_init& init)
      : name_(init.name), sleep_us_(init.settings.get_int("sleep_us", 0)),
        fail_every_(init.settings.get_int("fail_every", 0)),
        hang_(init.settings.get_bool("hang", false)),
        fail_start_(init.settings.get_string("fail_start", "")),
        burn_ms_(init.settings.get_int("burn_ms", 0)),
        stop_sleep_ms_(init.settings.get_int("stop_sleep_ms", 0)) {
    if (init.settings.get_string("fail_factory", "") == "refuse")
      throw runtime::component_refused("engine.plugin_refused", "factory of " + name_ + " refused");
  }
  void start(runtime::context&) override {
    probe::instance().at(name_).starts++;
    if (fail_start_ == "refuse")
      throw runtime::component_refused(
          "engine.plugin_refused", "plugin " + name_ + " refused: ABI 2.0 needed, host has 1.3");
    if (fail_start_ == "throw")
      throw std::runtime_error("start failed");
  }
  void on_batch(const runtime::event_batch& b, runtime::context& ctx) override {
    auto& rec = probe::instance().at(name_);
    if (hang_) {
      while (!ctx.should_stop())
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      return;
    }
    ++seen_;
    if (fail_every_ > 0 && seen_ % fail_every_ == 0)
      throw std::runtime_error("batch " + std::to_string(seen_) + " is poison");
    rec.batches++;
    for (const auto& e : b.events) {
      if (e.kind == "finding") {
        if (e.payload && e.payload->rule.rfind("engine.", 0) == 0)
          rec.engine_findings++;
        else
          rec.finding_events++;
      } else {
        rec.events++;
      }
    }
    if (sleep_us_ > 0)
      std::this_thread::sleep_for(std::chrono::microseconds(sleep_us_));
    if (burn_ms_ > 0)
      burn_cpu(burn_ms_, ctx);
  }
  void stop(runtime::context&) override {
    probe::instance().at(name_).stops++;
    // A slow flush that ignores should_stop(): the shutdown deadline must cut it short.
    if (stop_sleep_ms_ > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(stop_sleep_ms_));
  }
  std::string snapshot() override { return std::to_string(seen_); }
  void restore(std::string_view s) override {
    seen_ = std::stoll(std::string(s));
    probe::instance().at(name_).restored++;
    probe::instance().at(name_).last_restored_value = seen_;
  }

private:
  std::string name_;
  std::int64_t sleep_us_;
  std::int64_t fail_every_;
  bool hang_;
  std::string fail_start_;
  std::int64_t burn_ms_;
  std::int64_t stop_sleep_ms_;
  std::int64_t seen_ = 0;
};

/// Source built to exceed quotas: burns `burn_ms` of CPU per tick, keeps `alloc_mb` MiB more per
/// tick through ctx.memory(), emits `per_tick` events.
class hog final : public runtime::component {
public:
  explicit hog(const runtime::component_init& init)
      : name_(init.name), burn_ms_(init.settings.get_int("burn_ms", 0)),
        alloc_mb_(init.settings.get_int("alloc_mb", 0)),
        per_tick_(init.settings.get_int("per_tick", 0)) {}
  void start(runtime::context&) override { probe::instance().at(name_).starts++; }
  void on_tick(runtime::context& ctx) override {
    probe::instance().at(name_).ticks++;
    if (burn_ms_ > 0)
      burn_cpu(burn_ms_, ctx);
    if (alloc_mb_ > 0) {
      if (!held_)
        held_ = std::make_unique<std::pmr::vector<std::pmr::vector<char>>>(ctx.memory());
      held_->emplace_back(static_cast<std::size_t>(alloc_mb_) << 20, 'm');
    }
    for (std::int64_t i = 0; i < per_tick_; ++i) {
      runtime::event e;
      e.kind = "gen";
      e.set("seq", i);
      ctx.emit(std::move(e));
    }
  }

private:
  std::string name_;
  std::int64_t burn_ms_;
  std::int64_t alloc_mb_;
  std::int64_t per_tick_;
  std::unique_ptr<std::pmr::vector<std::pmr::vector<char>>> held_;
};

/// Source whose life a test scripts: throws in every on_tick when `fail_tick`, ends itself
/// normally (context::finish()) at tick `finish_after` (0 = never), reports `lose_per_tick`
/// events lost ("test_overflow") each tick. Counts starts and ticks.
class lifecycle final : public runtime::component {
public:
  explicit lifecycle(const runtime::component_init& init)
      : name_(init.name), fail_tick_(init.settings.get_bool("fail_tick", false)),
        finish_after_(init.settings.get_int("finish_after", 0)),
        lose_per_tick_(init.settings.get_int("lose_per_tick", 0)) {}
  void start(runtime::context&) override { probe::instance().at(name_).starts++; }
  void on_tick(runtime::context& ctx) override {
    auto ticks = ++probe::instance().at(name_).ticks;
    if (fail_tick_)
      throw std::runtime_error(name_ + " fails on every tick");
    if (lose_per_tick_ > 0)
      ctx.lost("test_overflow", lose_per_tick_);
    if (finish_after_ > 0 && ticks % finish_after_ == 0)
      ctx.finish();
  }
  void stop(runtime::context&) override { probe::instance().at(name_).stops++; }

private:
  std::string name_;
  bool fail_tick_;
  std::int64_t finish_after_;
  std::int64_t lose_per_tick_;
};

inline void register_test_components() {
  auto& reg = runtime::registry::instance();
  using runtime::component_kind;
  auto add = [&](std::string type, component_kind kind, runtime::component_factory f) {
    runtime::component_type t;
    t.name = std::move(type);
    t.kind = kind;
    t.description = "test component";
    t.factory = std::move(f);
    reg.add(std::move(t));
  };
  add("generator", component_kind::source,
      [](const runtime::component_init& i) { return std::make_unique<generator>(i); });
  add("hog", component_kind::source,
      [](const runtime::component_init& i) { return std::make_unique<hog>(i); });
  add("hog", component_kind::analyzer,
      [](const runtime::component_init& i) { return std::make_unique<hog>(i); });
  add("lifecycle", component_kind::source,
      [](const runtime::component_init& i) { return std::make_unique<lifecycle>(i); });
  add("passthrough", component_kind::analyzer,
      [](const runtime::component_init& i) { return std::make_unique<passthrough>(i); });
  add("collector", component_kind::analyzer,
      [](const runtime::component_init& i) { return std::make_unique<collector>(i); });
  add("collector", component_kind::sink,
      [](const runtime::component_init& i) { return std::make_unique<collector>(i); });
}

/// A declaration built directly (tests do not go through the config loader).
inline runtime::component_decl decl(std::string name, runtime::component_kind kind,
                                    std::string type, std::vector<std::string> inputs = {},
                                    toml::table settings = {}) {
  runtime::component_decl d;
  d.name = std::move(name);
  d.kind = kind;
  d.type = std::move(type);
  d.inputs = std::move(inputs);
  d.settings = runtime::component_settings(std::move(settings));
  return d;
}

/// Engine settings for tests: small batches and short deadlines.
inline runtime::pipeline_config base_config() {
  runtime::pipeline_config cfg;
  cfg.origin = "<test>";
  cfg.engine.host = "testhost";
  cfg.engine.state_dir = "/tmp/pg-engine-test";
  cfg.engine.batch_size = 64;
  cfg.engine.batch_delay = std::chrono::milliseconds(5);
  cfg.engine.tick_interval = std::chrono::milliseconds(20);
  cfg.engine.shutdown_timeout = std::chrono::seconds(5);
  return cfg;
}

} // namespace pg::test
