// SPDX-License-Identifier: Apache-2.0
// logging.hpp — spdlog set up for the CLI: one logger on stderr, text or JSON lines, UTC times.
#pragma once

#include <string>

#include "phantomguard/runtime/config.hpp"

namespace pg::cli {

/// Installs the default logger. `level` is a spdlog level name (trace ... critical, off).
void configure_logging(const std::string& level, runtime::log_format format);

/// Changes the level of the default logger (e.g. after a reload).
void set_log_level(const std::string& level);

} // namespace pg::cli
