// SPDX-License-Identifier: Apache-2.0
// config_source.hpp — where the CLI gets its config (a file or the embedded default) and how it
// shows what is wrong with it.
#pragma once

#include <ostream>
#include <string>

#include "phantomguard/runtime/config.hpp"

namespace pg::cli {

/// Loads `path`, or the embedded default config when `path` is empty.
runtime::config_result load_config(const std::string& path);

/// Writes each diagnostic as FILE:LINE:COL: message, then "N error(s) in FILE".
void print_diagnostics(std::ostream& out, const runtime::diagnostics& errors,
                       const std::string& origin);

} // namespace pg::cli
