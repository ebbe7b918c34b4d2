// SPDX-License-Identifier: Apache-2.0
// bench_components.hpp — components for the engine benchmarks (registered by the benchmarks).
#pragma once

#include <atomic>
#include <chrono>
#include <dirent.h>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "phantomguard/runtime/config.hpp"
#include "phantomguard/runtime/registry.hpp"

namespace pg::bench {

inline std::atomic<std::int64_t> sink_events{0};
inline std::atomic<std::int64_t> first_event_ns{0}; // steady clock, 0 until the first delivery

inline std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline std::int64_t rss_bytes(const std::string& status = "/proc/self/status") {
  std::ifstream in(status);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stoll(line.substr(6)) * 1024;
  return 0;
}

/// The event every benchmark moves: what a small process event looks like.
inline runtime::event bench_event(std::int64_t seq) {
  runtime::event e;
  e.kind = "gen";
  e.set("seq", seq);
  e.set("comm", std::string("bench"));
  return e;
}

class gen final : public runtime::component {
public:
  explicit gen(const runtime::component_init& i)
      : per_tick_(i.settings.get_int("per_tick", 1000)), total_(i.settings.get_int("total", 0)) {}
  void on_tick(runtime::context& ctx) override {
    for (std::int64_t k = 0; k < per_tick_ && (total_ == 0 || seq_ < total_); ++k)
      ctx.emit(bench_event(seq_++));
  }

private:
  std::int64_t per_tick_;
  std::int64_t total_;
  std::int64_t seq_ = 0;
};

class pass final : public runtime::component {
public:
  void on_batch(const runtime::event_batch& b, runtime::context& ctx) override {
    for (const auto& e : b.events)
      ctx.emit(e);
  }
};

class counting_sink final : public runtime::component {
public:
  explicit counting_sink(const runtime::component_init& i)
      : sleep_us_(i.settings.get_int("sleep_us", 0)) {}
  void on_batch(const runtime::event_batch& b, runtime::context&) override {
    if (first_event_ns.load(std::memory_order_relaxed) == 0)
      first_event_ns.store(steady_ns());
    sink_events.fetch_add(static_cast<std::int64_t>(b.size()), std::memory_order_relaxed);
    if (sleep_us_ > 0)
      std::this_thread::sleep_for(std::chrono::microseconds(sleep_us_));
  }

private:
  std::int64_t sleep_us_;
};

/// A procfs-like source: one event per process per tick (pid, comm), read from /proc.
class proc_source final : public runtime::component {
public:
  void on_tick(runtime::context& ctx) override {
    std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir("/proc"), closedir);
    if (!dir)
      return;
    while (auto* ent = readdir(dir.get())) {
      char* end = nullptr;
      auto pid = std::strtol(ent->d_name, &end, 10);
      if (*end != '\0' || pid <= 0)
        continue;
      std::ifstream in(std::string("/proc/") + ent->d_name + "/comm");
      std::string comm;
      if (!std::getline(in, comm))
        continue; // vanished: normal
      runtime::event e;
      e.kind = "process";
      e.set("pid", static_cast<std::int64_t>(pid));
      e.set("comm", std::move(comm));
      ctx.emit(std::move(e));
    }
  }
};

inline void register_bench_components() {
  auto& reg = runtime::registry::instance();
  auto add = [&](std::string name, runtime::component_kind k, runtime::component_factory f) {
    runtime::component_type t;
    t.name = std::move(name);
    t.kind = k;
    t.factory = std::move(f);
    reg.add(std::move(t));
  };
  add("bench_gen", runtime::component_kind::source,
      [](const runtime::component_init& i) { return std::make_unique<gen>(i); });
  add("bench_proc", runtime::component_kind::source,
      [](const runtime::component_init&) { return std::make_unique<proc_source>(); });
  add("bench_pass", runtime::component_kind::analyzer,
      [](const runtime::component_init&) { return std::make_unique<pass>(); });
  add("bench_sink", runtime::component_kind::sink,
      [](const runtime::component_init& i) { return std::make_unique<counting_sink>(i); });
}

inline runtime::component_decl bench_decl(std::string name, runtime::component_kind kind,
                                          std::string type, std::vector<std::string> inputs,
                                          toml::table settings = {}) {
  runtime::component_decl d;
  d.name = std::move(name);
  d.kind = kind;
  d.type = std::move(type);
  d.inputs = std::move(inputs);
  d.settings = runtime::component_settings(std::move(settings));
  return d;
}

} // namespace pg::bench
