// SPDX-License-Identifier: Apache-2.0
// yara_settings.hpp — the `yara` analyzer's declared options and their parsed form.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "phantomguard/actors/yara/target_scanner.hpp"
#include "phantomguard/runtime/options.hpp"

namespace pg::actors::yara {

struct yara_settings {
  std::vector<std::string> rules; // rule files and directories
  std::vector<std::string> paths; // file trees to scan
  bool scan_processes = false;    // every process's memory, after the files
  bool cache = true;              // compiled rules and results under the state dir
  std::string cache_dir;          // empty: <state_dir>/<name>
  runtime::cache_policy cache_policy{1'000'000, std::chrono::hours(24 * 30)}; // result rows
  target_options targets;
};

std::vector<runtime::option_spec> yara_option_specs();

/// nullopt with `error` set on a bad value (an unknown severity, an invalid regex).
std::optional<yara_settings> parse_yara_settings(const toml::table& table, std::string* error);

} // namespace pg::actors::yara
