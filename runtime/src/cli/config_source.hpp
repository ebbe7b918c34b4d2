// SPDX-License-Identifier: Apache-2.0
// config_source.hpp — where the CLI gets its config (a file, the embedded default, or a profile
// alone), with the command line's --profile and --host-resources, and how it shows what is wrong
// with it.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "phantomguard/runtime/config.hpp"

namespace pg::cli {

/// Loads `path`, or the embedded default config when `path` is empty — or, with --profile and
/// no --config, the profile alone.
runtime::config_result load_config(const std::string& path, const global_options& global);

/// The load options the command line asks for; a malformed --host-resources is an error
/// diagnostic in `*errors`.
runtime::load_options load_options_of(const global_options& global, runtime::diagnostics* errors);

/// The profile and the "auto" values as the start log says them ("profile low-resource (auto:
/// ...)", "engine.worker_threads = 1 (auto: ...)"); empty without either.
std::vector<std::string> profile_lines(const runtime::pipeline_config& cfg);
/// The same for /api/v1/status: {"requested", "name", "origin", "reason", "auto": [...]}, or
/// null without a profile and without "auto" values.
nlohmann::json profile_json(const runtime::pipeline_config& cfg);

/// Writes each diagnostic as FILE:LINE:COL: message, then "N error(s) in FILE".
void print_diagnostics(std::ostream& out, const runtime::diagnostics& errors,
                       const std::string& origin);

} // namespace pg::cli
