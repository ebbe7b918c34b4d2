// SPDX-License-Identifier: Apache-2.0
// The plugin detector's tables in `validate`: the sandbox table and the engine's signature
// settings are checked key by key, at their FILE:LINE:COL, before anything starts.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <iterator>

#include "phantomguard/runtime/config.hpp"
#include "phantomguard/runtime/plugin_host.hpp"
#include "phantomguard/runtime/registry.hpp"

using namespace pg::runtime;

namespace {

std::vector<std::string> errors_of(const std::string& text) {
  registry reg;
  register_plugin_support(reg);
  std::vector<std::string> out;
  for (const auto& d : load_config_string(text, "p.toml", reg).errors)
    out.push_back(d.to_string());
  return out;
}

bool has(const std::vector<std::string>& errors, const std::string& line) {
  return std::find(errors.begin(), errors.end(), line) != errors.end();
}

std::string joined(const std::vector<std::string>& errors) {
  std::string out;
  for (const auto& e : errors)
    out += e + "\n";
  return out;
}

} // namespace

SCENARIO("a misspelt or mistyped sandbox key is an error at its position", "[sdk][config]") {
  const auto errors = errors_of(R"([detectors.miner]
type = "plugin"
plugin = "/usr/lib/phantomguard/plugins/cryptominer.so"
isolation = "process"
sandbox = { memroy_mb = 64, cpu_seconds = "ten", call_timeout = "2 parsecs", max_outstanding = 0 }
)");
  INFO(joined(errors));
  CHECK(has(errors, "p.toml:5:13: unknown key 'memroy_mb' in 'sandbox' of [detectors.miner]; "
                    "did you mean 'memory_mb'?"));
  CHECK(has(errors, "p.toml:5:43: 'cpu_seconds' in 'sandbox' of [detectors.miner] must be an "
                    "integer, not a string"));
  CHECK(has(errors, "p.toml:5:65: 'call_timeout' in 'sandbox' of [detectors.miner] is not a valid "
                    "duration: '2 parsecs' (use a number and a unit: ns, us, ms, s, m, h, d; e.g. "
                    "\"10s\")"));
  CHECK(has(errors, "p.toml:5:96: 'max_outstanding' in 'sandbox' of [detectors.miner] must be "
                    "between 1 and 1024 (got 0)"));
}

SCENARIO("a correct sandbox table and signature settings validate", "[sdk][config]") {
  const auto errors = errors_of(R"([engine]
plugin_signature = "required"
plugin_trust_dir = "/etc/phantomguard/trusted-keys"

[sources.procfs]
type = "plugin"
plugin = "x.so"

[detectors.miner]
type = "plugin"
plugin = "/usr/lib/phantomguard/plugins/cryptominer.so"
isolation = "process"
sandbox = { memory_mb = 64, cpu_seconds = 10, user = "nobody", call_timeout = "2s", read_paths = ["/proc"] }
)");
  INFO(joined(errors));
  for (const auto& e : errors) // the [sources] entry is there only to give the file a source
    CHECK(e.find("sandbox") == std::string::npos);
  for (const auto& e : errors)
    CHECK(e.find("plugin_") == std::string::npos);
}

SCENARIO("an unknown signature policy is an error with the choices", "[sdk][config]") {
  const auto errors = errors_of(R"([engine]
plugin_signature = "requried"
)");
  INFO(joined(errors));
  CHECK(has(errors, "p.toml:2:20: 'plugin_signature' in [engine] must be one of 'off', "
                    "'if_present', 'required' (got 'requried'); did you mean 'required'?"));
}

SCENARIO("validate checks a detector's config against the plugin's manifest, without its code",
         "[sdk][config]") {
  registry reg;
  register_plugin_support(reg);
  component_type idle; // a source for the detector to consume
  idle.name = "idle";
  idle.kind = component_kind::source;
  idle.factory = [](const component_init&) { return std::make_unique<component>(); };
  reg.add(idle);
  const std::string path = std::string(PG_SDK_FIXTURE_DIR) + "/fixture.so";
  auto config_with = [&](const std::string& config) {
    auto r = load_config_string("[sources.s]\ntype = \"idle\"\n[detectors.fx]\ninputs = [\"s\"]\n"
                                "plugin = \"" +
                                    path + "\"\nconfig = " + config + "\n",
                                "p.toml", reg);
    for (const auto& e : r.errors)
      UNSCOPED_INFO(e.to_string());
    REQUIRE(r.ok());
    return *r.config;
  };
  GIVEN("a misspelt key the schema cannot know (the manifest declares the keys)") {
    auto cfg = config_with("{ treshold = 3 }");
    auto errors = check_components(cfg, reg);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].to_string() ==
          "p.toml:3:1: [detectors.fx] would not start: plugin \"org.phantomguard.test.fixture\" (" +
              path +
              ") refused: unknown config key \"treshold\": expected one of threshold, label, "
              "ratio, enabled, names, found \"treshold\"; fix: remove config.treshold or correct "
              "its spelling");
  }
  GIVEN("a key of the wrong type") {
    auto cfg = config_with("{ threshold = \"high\" }");
    auto errors = check_components(cfg, reg);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].message.find("config key \"threshold\" has the wrong type") !=
          std::string::npos);
  }
  GIVEN("a config the manifest accepts") {
    auto cfg = config_with("{ threshold = 3, names = [\"a\"] }");
    CHECK(check_components(cfg, reg).empty());
    THEN("the check did not load the plugin") {
      std::ifstream maps("/proc/self/maps");
      std::string all((std::istreambuf_iterator<char>(maps)), std::istreambuf_iterator<char>());
      CHECK(all.find("fixture.so") == std::string::npos);
    }
  }
}
