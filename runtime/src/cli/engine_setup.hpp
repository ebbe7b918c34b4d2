// SPDX-License-Identifier: Apache-2.0
// engine_setup.hpp — what every engine-building command does between loading the config and
// constructing the engine.
#pragma once

#include "cli/commands.hpp"
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "phantomguard/runtime/config.hpp"

namespace pg::cli {

/// Points the plugin host at the plugin folder (--plugin-dir, else engine.plugin_dir when the
/// config sets it, else the host's own default) before component factories run.
void prepare_engine(const runtime::pipeline_config& cfg, const global_options& global);

/// The one way validate, scan, run and a reload get a pipeline: load `path` (empty: the embedded
/// default), let `adjust` edit it (scan's --only; false = stop, it said why), prepare the engine
/// for it (prepare_engine) and run the deep checks every component must pass to start
/// (runtime::check_components). So what validate accepts is what starts.
runtime::config_result
build_pipeline(const std::string& path, const global_options& global,
               const std::function<bool(runtime::pipeline_config&)>& adjust = {});

/// --only (scan, profile): keeps the named sources, analyzers and detectors and every sink;
/// inputs that point at a removed component are dropped, and sinks left with no input go too
/// (they would get nothing). False after saying on stderr what is wrong with a name.
bool restrict_to(runtime::pipeline_config& cfg, const std::vector<std::string>& only,
                 std::string_view command);

/// A command's own report replaces console sinks (they would print the same findings twice).
void drop_console_sinks(runtime::pipeline_config& cfg);

/// What a command that writes its own report runs (scan, profile): --only applied, console sinks
/// left out, logging configured for it; nullopt after printing why it does not load (exit 2).
std::optional<runtime::pipeline_config> reporting_pipeline(const global_options& global,
                                                           const std::vector<std::string>& only,
                                                           std::string_view command);

/// The host name findings carry: engine.host, else gethostname().
std::string host_of(const runtime::pipeline_config& cfg);

} // namespace pg::cli
