// SPDX-License-Identifier: Apache-2.0
#include "cli/engine_setup.hpp"

#include "cli/config_source.hpp"

#ifdef PG_HAVE_PLUGIN_HOST
#include "phantomguard/runtime/plugin_host.hpp"
#endif

namespace pg::cli {

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

} // namespace pg::cli
