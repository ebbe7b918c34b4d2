// SPDX-License-Identifier: Apache-2.0
// isolation_support.hpp — paths and helpers shared by the isolation tests.
#pragma once

#include <cstdlib>
#include <string>

#include <memory>

#include <catch2/catch.hpp>
#include <toml++/toml.h>

#include "phantomguard/runtime/plugin_host.hpp"
#include "phantomguard/runtime/registry.hpp"

namespace pg::test {

inline std::string hostile_path() {
  return std::string(PG_ISOLATION_PLUGIN_DIR) + "/hostile.so";
}
inline std::string attacker_path() {
  return std::string(PG_ISOLATION_PLUGIN_DIR) + "/attacker.so";
}
inline std::string miner_path() {
  return std::string(PG_PLUGIN_BUILD_DIR) + "/cryptominer.so";
}

/// The child host the engine starts: the tests' small build of `phantomguard plugin-host`.
inline void use_test_plugin_host() {
  ::setenv("PHANTOMGUARD_PLUGIN_HOST", PG_ISOLATION_HOST, 1);
}

/// A registry with the "plugin" detector type.
inline const runtime::registry& plugin_registry() {
  static runtime::registry reg = [] {
    runtime::registry r;
    runtime::register_plugin_support(r);
    return r;
  }();
  return reg;
}

/// The "plugin" detector named `name` built from `settings` by its factory, as the engine does.
inline std::unique_ptr<runtime::component>
make_plugin(const std::string& name, toml::table settings, runtime::quota_settings quota = {}) {
  use_test_plugin_host();
  const runtime::component_type* t =
      plugin_registry().find(runtime::component_kind::detector, "plugin");
  REQUIRE(t != nullptr);
  return t->factory(runtime::component_init{name, runtime::component_settings(std::move(settings)),
                                            "/tmp", std::move(quota)});
}

/// Settings of an isolated plugin detector.
inline toml::table isolated(const std::string& path, const std::string& detector,
                            toml::table config = {}, toml::table sandbox = {}) {
  toml::table s{{"plugin", path}, {"isolation", "process"}};
  if (!detector.empty())
    s.insert("detector", detector);
  if (!config.empty())
    s.insert("config", std::move(config));
  if (!sandbox.empty())
    s.insert("sandbox", std::move(sandbox));
  return s;
}

} // namespace pg::test
