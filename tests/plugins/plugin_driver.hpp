// SPDX-License-Identifier: Apache-2.0
// plugin_driver.hpp — loads a bundled plugin as the engine does and feeds it events.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "phantomguard/runtime/plugin_detector.hpp"
#include "test_context.hpp"

namespace pg::test {

class plugin_driver {
public:
  explicit plugin_driver(const std::string& so, toml::table config = {}) {
    runtime::plugin_request r;
    r.plugin = std::string(PG_PLUGIN_BUILD_DIR) + "/" + so;
    r.config = std::move(config);
    component_ = runtime::make_plugin_component(r);
    component_->start(ctx);
  }

  /// One batch with these events.
  void feed(std::vector<runtime::event> events) {
    runtime::event_batch b;
    b.events = std::move(events);
    component_->on_batch(b, ctx);
  }

  runtime::component& component() { return *component_; }

  test_context ctx;

private:
  std::unique_ptr<runtime::component> component_;
};

inline runtime::event process(std::int64_t pid, std::string comm, std::string exe,
                              std::string cmdline, std::string kind = "process") {
  runtime::event e;
  e.kind = std::move(kind);
  e.source = "procfs";
  e.set("pid", pid).set("ppid", std::int64_t{1}).set("uid", std::int64_t{1000});
  e.set("comm", std::move(comm)).set("exe", std::move(exe)).set("cmdline", std::move(cmdline));
  return e;
}

inline runtime::event socket(std::int64_t pid, std::string remote,
                             std::string state = "ESTABLISHED", std::string proto = "tcp") {
  runtime::event e;
  e.kind = "socket";
  e.source = "network";
  e.set("pid", pid).set("proto", std::move(proto)).set("state", std::move(state));
  e.set("local_address", std::string("10.0.0.2")).set("local_port", std::int64_t{43122});
  e.set("remote_address", std::move(remote)).set("remote_port", std::int64_t{4444});
  return e;
}

} // namespace pg::test
