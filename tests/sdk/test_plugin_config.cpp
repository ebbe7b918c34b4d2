// The plugin detector's tables in `validate`: the sandbox table and the engine's signature
// settings are checked key by key, at their FILE:LINE:COL, before anything starts.
#include <catch2/catch.hpp>

#include <algorithm>

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
