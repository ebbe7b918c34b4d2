// engine_setup.hpp — what every engine-building command does between loading the config and
// constructing the engine.
#pragma once

#include "cli/commands.hpp"
#include "phantomguard/runtime/config.hpp"

namespace pg::cli {

/// Points the plugin host at the plugin folder (--plugin-dir, else engine.plugin_dir when the
/// config sets it, else the host's own default) before component factories run.
void prepare_engine(const runtime::pipeline_config& cfg, const global_options& global);

} // namespace pg::cli
