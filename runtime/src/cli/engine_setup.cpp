// SPDX-License-Identifier: Apache-2.0
#include "cli/engine_setup.hpp"

#include "cli/config_source.hpp"
#include "cli/logging.hpp"

#include <unistd.h>

#ifdef PG_HAVE_PLUGIN_HOST
#include "phantomguard/runtime/plugin_host.hpp"
#endif

#include <iostream>
#include <set>

namespace pg::cli {

using namespace pg::runtime;

void prepare_engine(const runtime::pipeline_config& cfg, const global_options& global) {
#ifdef PG_HAVE_PLUGIN_HOST
  // Only an explicit setting overrides $PHANTOMGUARD_PLUGIN_DIR, which the host reads itself.
  if (global.plugin_dir)
    runtime::set_plugin_dir(*global.plugin_dir);
  else if (cfg.engine.plugin_dir != runtime::engine_settings{}.plugin_dir)
    runtime::set_plugin_dir(cfg.engine.plugin_dir);
  runtime::plugin_trust trust;
  trust.signature = runtime::parse_signature_policy(cfg.engine.plugin_signature)
                        .value_or(runtime::signature_policy::required); // validate refused others
  trust.trust_dir = cfg.engine.plugin_trust_dir;
  runtime::set_plugin_trust(std::move(trust));
#else
  (void)cfg;
  (void)global;
#endif
}

runtime::config_result
build_pipeline(const std::string& path, const global_options& global,
               const std::function<bool(runtime::pipeline_config&)>& adjust) {
  auto loaded = load_config(path, global);
  if (!loaded.ok())
    return loaded;
  if (adjust && !adjust(*loaded.config)) {
    loaded.config.reset();
    return loaded;
  }
  prepare_engine(*loaded.config, global);
  loaded.errors = runtime::check_components(*loaded.config);
  if (!loaded.errors.empty())
    loaded.config.reset();
  return loaded;
}

bool restrict_to(pipeline_config& cfg, const std::vector<std::string>& only,
                 std::string_view command) {
  std::set<std::string> keep;
  bool ok = true;
  for (const auto& name : only) {
    const auto* c = cfg.find(name);
    if (!c) {
      std::vector<std::string> known;
      for (const auto& d : cfg.components)
        if (d.kind != component_kind::sink)
          known.push_back(d.name);
      std::string list;
      for (const auto& k : known)
        list += (list.empty() ? "" : ", ") + k;
      std::cerr << "phantomguard " << command << ": --only names unknown component '" << name
                << "' (known: " << (list.empty() ? "none" : list) << ")\n";
      ok = false;
    } else if (c->kind == component_kind::sink) {
      std::cerr << "phantomguard " << command
                << ": --only selects sources, analyzers and detectors; '" << name
                << "' is a sink (sinks are always kept)\n";
      ok = false;
    } else {
      keep.insert(name);
    }
  }
  if (!ok)
    return false;
  std::erase_if(cfg.components, [&](const component_decl& c) {
    return c.kind != component_kind::sink && !keep.contains(c.name);
  });
  for (auto& c : cfg.components)
    std::erase_if(c.inputs, [&](const std::string& in) { return !keep.contains(in); });
  std::erase_if(cfg.components, [](const component_decl& c) {
    return c.kind == component_kind::sink && c.inputs.empty();
  });
  return true;
}

std::optional<pipeline_config> reporting_pipeline(const global_options& global,
                                                  const std::vector<std::string>& only,
                                                  std::string_view command) {
  auto loaded = build_pipeline(global.config_path, global, [&](pipeline_config& c) {
    if (!only.empty() && !restrict_to(c, only, command))
      return false; // it said why
    drop_console_sinks(c);
    return true;
  });
  if (!loaded.ok()) {
    if (!loaded.errors.empty())
      print_diagnostics(std::cerr, loaded.errors, global.config_path);
    return std::nullopt;
  }
  configure_logging(global.log_level.value_or(loaded.config->engine.log_level),
                    loaded.config->engine.log_fmt);
  return std::move(loaded.config);
}

std::string host_of(const pipeline_config& cfg) {
  if (!cfg.engine.host.empty())
    return cfg.engine.host;
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

void drop_console_sinks(pipeline_config& cfg) {
  std::erase_if(cfg.components, [](const component_decl& c) {
    return c.kind == component_kind::sink && c.type == "console";
  });
}

} // namespace pg::cli
