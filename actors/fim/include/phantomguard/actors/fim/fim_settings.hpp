// SPDX-License-Identifier: Apache-2.0
// fim_settings.hpp — the `fim` analyzer's settings: declared options (validation, docs) and the
// parsed form shared by the analyzer and the `phantomguard fim` command.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "phantomguard/actors/fim/fim_rule.hpp"
#include "phantomguard/actors/fim/fim_scanner.hpp"
#include "phantomguard/runtime/options.hpp"
#include "phantomguard/runtime/units.hpp"

namespace pg::actors::fim {

struct fim_settings {
  rule_set rules;
  scan_options scan;
  std::string database; // empty: <state_dir>/<name>/fim.db
  bool realtime = false;
  bool update_baseline = false; // an integrity monitor keeps reporting until a change is accepted
  std::string seal;             // empty: <database>.seal
  runtime::duration full_scan_interval = std::chrono::hours(1); // realtime mode only
};

/// The options the `fim` type declares.
std::vector<runtime::option_spec> fim_option_specs();

/// The rules used when none are configured: /etc and /usr/bin with the usual noise excluded.
rule_set default_rules();

/// Parses the analyzer's table (validated types; rule contents are checked here). nullopt
/// with `error` set on a bad rule or value.
std::optional<fim_settings> parse_fim_settings(const toml::table& table, std::string* error);

} // namespace pg::actors::fim
