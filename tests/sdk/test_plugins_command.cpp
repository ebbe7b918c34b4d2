// SPDX-License-Identifier: Apache-2.0
// `phantomguard plugins list|info|check`, run through the registry as the CLI runs it.
#include <catch2/catch.hpp>

#include <iostream>
#include <sstream>

#include "phantomguard/runtime/plugin_host.hpp"
#include "phantomguard/runtime/refusal.hpp"
#include "phantomguard/runtime/registry.hpp"
#include "plugins_cli.hpp"
#include "scratch_dir.hpp"

using namespace pg::runtime;
using pg::test::fixture;

using pg::test::has_line;
using pg::test::run_plugins;

SCENARIO("registering plugin support adds the detector type and the command", "[sdk][cli]") {
  registry reg;
  register_plugin_support(reg);
  const component_type* t = reg.find(component_kind::detector, "plugin");
  REQUIRE(t != nullptr);
  std::vector<std::string> keys;
  for (const auto& o : t->options)
    keys.push_back(o.key);
  CHECK(keys == std::vector<std::string>{"plugin", "version", "sha256", "isolation", "detector",
                                         "config", "plugin_dir", "sandbox"});
  CHECK(t->options[0].required);
  CHECK(t->options[3].choices == std::vector<std::string>{"in_process", "process"});
  REQUIRE(reg.find_command("plugins") != nullptr);
}

SCENARIO("the factory of type plugin refuses a bad plugin with engine.plugin_refused",
         "[sdk][cli]") {
  registry reg;
  register_plugin_support(reg);
  toml::table settings;
  settings.insert("plugin", fixture("fixture_abi2.so"));
  component_init init{"det", component_settings(settings), "/tmp", {}};
  try {
    reg.find(component_kind::detector, "plugin")->factory(init);
    FAIL("refused plugin was created");
  } catch (const component_refused& e) {
    CHECK(e.rule() == "engine.plugin_refused");
    CHECK(std::string(e.what()).find("found ABI 2.0") != std::string::npos);
  }
  settings.insert_or_assign("plugin", "org.phantomguard.test.fixture");
  settings.insert("plugin_dir", PG_SDK_FIXTURE_DIR);
  settings.insert("version", "<2");
  settings.insert("detector", "echo");
  toml::table cfg;
  cfg.insert("label", "from-toml");
  settings.insert("config", cfg);
  auto c = reg.find(component_kind::detector, "plugin")
               ->factory(component_init{"det", component_settings(settings), "/tmp", {}});
  CHECK(c != nullptr);
}

SCENARIO("plugins list shows every plugin of a directory", "[sdk][cli]") {
  auto r = run_plugins({"list", "--plugin-dir", PG_SDK_FIXTURE_DIR});
  CHECK(r.code == 0);
  CHECK(has_line(r.out, "org.phantomguard.test.fixture  1.4.2  abi 1.0  detectors: echo, throws, "
                        "rejects, flaky, mute, burner, hoarder  " +
                            fixture("fixture.so")));
  CHECK(has_line(r.out, "org.phantomguard.test.abi2  2.0.0  abi 2.0  detectors: echo, throws, "
                        "rejects, flaky, mute  " +
                            fixture("fixture_abi2.so")));
  CHECK(has_line(r.out, "org.phantomguard.test.plain-c  0.3.1  abi 1.0  detectors: count  " +
                            fixture("plain_c.so")));
}

SCENARIO("plugins info prints the manifest without loading the plugin", "[sdk][cli]") {
  WHEN("the plugin is a valid one") {
    auto r = run_plugins({"info", fixture("fixture.so")});
    CHECK(r.code == 0);
    CHECK(has_line(r.out, "id:          org.phantomguard.test.fixture"));
    CHECK(has_line(r.out, "version:     1.4.2"));
    CHECK(has_line(r.out, "abi:         1.0 required (engine speaks 1.0)"));
    CHECK(has_line(r.out, "detector echo: flags events with flag=true"));
    CHECK(has_line(r.out, "  subscribes:   process"));
    CHECK(has_line(r.out, "  capabilities: findings, metrics, state"));
    CHECK(has_line(r.out, "    threshold (integer, default 5): a number"));
    CHECK(has_line(r.out, "    names (string list, default [\"a\",\"b\"]): a list"));
  }
  WHEN("the plugin is of another ABI major") {
    auto r = run_plugins({"info", fixture("fixture_abi2.so")});
    THEN("info still reads it: reading the note runs no code") {
      CHECK(r.code == 0);
      CHECK(has_line(r.out, "abi:         2.0 required (engine speaks 1.0)"));
    }
  }
  WHEN("the plugin is named by id") {
    auto r =
        run_plugins({"info", "org.phantomguard.test.fixture", "--plugin-dir", PG_SDK_FIXTURE_DIR});
    THEN("the highest version in the directory is shown") {
      CHECK(r.code == 0);
      CHECK(has_line(r.out, "version:     2.1.0"));
    }
    auto missing = run_plugins({"info", "org.example.none", "--plugin-dir", PG_SDK_FIXTURE_DIR});
    CHECK(missing.code == 1);
    CHECK(missing.err ==
          "phantomguard plugins info: no plugin with id org.example.none in " PG_SDK_FIXTURE_DIR
          " (set --plugin-dir, or give a path)\n");
  }
  WHEN("the file is not a plugin") {
    pg::test::scratch_dir dir;
    const std::string path = dir.write("x.so", "text");
    auto r = run_plugins({"info", path});
    CHECK(r.code == 1);
    CHECK(r.err ==
          "phantomguard plugins info: " + path + ": not an ELF file (starts with \"text\")\n");
  }
}

SCENARIO("plugins check runs every load-time check and exits 0 or 1", "[sdk][cli]") {
  WHEN("the plugin passes") {
    auto r = run_plugins({"check", fixture("fixture.so"), "--version", ">=1"});
    CHECK(r.code == 0);
    CHECK(has_line(r.out, "ok    abi: requires ABI 1.0, engine speaks 1.0"));
    CHECK(has_line(r.out, "ok    version: 1.4.2 satisfies >=1"));
    CHECK(has_line(
        r.out,
        "plugin org.phantomguard.test.fixture 1.4.2 passes every load-time check (unsigned)"));
  }
  WHEN("the plugin is checked by id") {
    auto r =
        run_plugins({"check", "org.phantomguard.test.plain-c", "--plugin-dir", PG_SDK_FIXTURE_DIR});
    CHECK(r.code == 0);
    CHECK(has_line(r.out, "ok    resolve: " + fixture("plain_c.so")));
  }
  WHEN("the plugin fails a check") {
    auto r = run_plugins({"check", fixture("fixture_minor1.so")});
    CHECK(r.code == 1);
    CHECK(r.out.find("FAIL  abi: plugin \"org.phantomguard.test.minor1\"") != std::string::npos);
    CHECK(has_line(r.out, "refused"));
  }
  WHEN("the pin is wrong") {
    auto r = run_plugins({"check", fixture("fixture.so"), "--sha256", std::string(64, 'a')});
    CHECK(r.code == 1);
    CHECK(r.out.find("FAIL  sha256: ") != std::string::npos);
  }
  WHEN("the usage is wrong") {
    CHECK(run_plugins({"check"}).code == 2);
    CHECK(run_plugins({"frobnicate"}).code == 2);
    CHECK(run_plugins({"list", "--bogus"}).code == 2);
  }
}
