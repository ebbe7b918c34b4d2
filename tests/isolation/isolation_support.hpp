// isolation_support.hpp — paths and helpers shared by the isolation tests.
#pragma once

#include <cstdlib>
#include <string>

#include <toml++/toml.h>

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
