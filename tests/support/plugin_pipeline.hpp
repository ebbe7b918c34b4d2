// SPDX-License-Identifier: Apache-2.0
// plugin_pipeline.hpp — what the engine-level plugin tests (in-process and isolated) share: a
// source of procfs-like process events, a registry with plugin support and that source, and a
// shorthand for component declarations.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "phantomguard/runtime/component.hpp"
#include "phantomguard/runtime/config.hpp"
#include "phantomguard/runtime/plugin_host.hpp"
#include "phantomguard/runtime/registry.hpp"

namespace pg::test {

/// A source of procfs-like process events: `per_tick` per tick, every tenth a miner.
class process_feed final : public runtime::component {
public:
  explicit process_feed(const runtime::component_init& init)
      : per_tick_(init.settings.get_int("per_tick", 10)) {}
  void on_tick(runtime::context& ctx) override {
    for (std::int64_t i = 0; i < per_tick_; ++i, ++pid_) {
      runtime::event e;
      e.kind = "process";
      e.time = ctx.now();
      e.source = ctx.name();
      const bool miner = pid_ % 10 == 0;
      e.set("pid", pid_).set("ppid", std::int64_t{1}).set("uid", std::int64_t{0});
      e.set("comm", std::string(miner ? "xmrig" : "bash"));
      e.set("exe", std::string(miner ? "/tmp/xmrig" : "/usr/bin/bash"));
      e.set("cmdline", std::string(miner ? "xmrig -o stratum+tcp://198.51.100.1:3333" : "-bash"));
      ctx.emit(std::move(e));
    }
  }

private:
  std::int64_t per_tick_;
  std::int64_t pid_ = 100;
};

/// A registry with plugin support and the `process_feed` source type.
inline runtime::registry& plugin_test_registry() {
  static runtime::registry reg = [] {
    runtime::registry r;
    runtime::register_plugin_support(r);
    runtime::component_type t;
    t.name = "process_feed";
    t.kind = runtime::component_kind::source;
    t.produces = {"process"};
    t.factory = [](const runtime::component_init& i) { return std::make_unique<process_feed>(i); };
    r.add(std::move(t));
    return r;
  }();
  return reg;
}

inline runtime::component_decl decl(std::string name, runtime::component_kind kind,
                                    std::string type, std::vector<std::string> inputs,
                                    toml::table settings) {
  runtime::component_decl d;
  d.name = std::move(name);
  d.kind = kind;
  d.type = std::move(type);
  d.inputs = std::move(inputs);
  d.settings = runtime::component_settings(std::move(settings));
  return d;
}

} // namespace pg::test
