// SPDX-License-Identifier: Apache-2.0
// test_registry.hpp — a registry with small made-up component types whose options exercise
// every option type, so config tests do not depend on which families are built.
#pragma once

#include <string>
#include <vector>

#include "phantomguard/runtime/config.hpp"
#include "phantomguard/runtime/registry.hpp"

namespace pg::test {

inline runtime::option_spec opt(std::string key, runtime::option_type type) {
  runtime::option_spec s;
  s.key = std::move(key);
  s.type = type;
  return s;
}

/// ticker (source), counter (analyzer), store and console (sinks), and, unless `with_plugin`
/// is false, the detector type `plugin` as the plugin host registers it.
inline runtime::registry make_registry(bool with_plugin = true) {
  using namespace pg::runtime;
  registry reg;
  {
    component_type t;
    t.name = "ticker";
    t.kind = component_kind::source;
    auto count = opt("count", option_type::integer);
    count.min = 1;
    count.max = 1000;
    t.options = {count, opt("label", option_type::string)};
    reg.add(t);
  }
  {
    component_type t;
    t.name = "counter";
    t.kind = component_kind::analyzer;
    auto threshold = opt("threshold", option_type::floating);
    threshold.min = 0;
    threshold.max = 1;
    auto window = opt("window", option_type::duration);
    window.min = 1; // seconds
    auto mode = opt("mode", option_type::string);
    mode.choices = {"fast", "slow"};
    auto limit = opt("limit", option_type::size);
    limit.max = 1024.0 * 1024 * 1024;
    t.options = {threshold,
                 window,
                 mode,
                 limit,
                 opt("paths", option_type::string_list),
                 opt("verbose", option_type::boolean),
                 opt("extra", option_type::table)};
    reg.add(t);
  }
  {
    component_type t;
    t.name = "store";
    t.kind = component_kind::sink;
    auto path = opt("path", option_type::string);
    path.required = true;
    t.options = {path};
    reg.add(t);
  }
  {
    component_type t;
    t.name = "console";
    t.kind = component_kind::sink;
    auto format = opt("format", option_type::string);
    format.choices = {"table", "json", "jsonl"};
    t.options = {format};
    reg.add(t);
  }
  if (with_plugin) {
    component_type t;
    t.name = "plugin";
    t.kind = component_kind::detector;
    auto plugin = opt("plugin", option_type::string);
    plugin.required = true;
    auto isolation = opt("isolation", option_type::string);
    isolation.choices = {"in_process", "sandbox"};
    t.options = {plugin, opt("version", option_type::string), opt("sha256", option_type::string),
                 isolation, opt("config", option_type::table)};
    reg.add(t);
  }
  return reg;
}

/// Every diagnostic of loading `text` as "t.toml", as the operator would read it.
inline std::vector<std::string> errors_of(std::string_view text, bool with_plugin = true) {
  const auto reg = make_registry(with_plugin);
  auto result = runtime::load_config_string(text, "t.toml", reg);
  std::vector<std::string> out;
  for (const auto& d : result.errors)
    out.push_back(d.to_string());
  return out;
}

using lines = std::vector<std::string>;

} // namespace pg::test
