// SPDX-License-Identifier: Apache-2.0
// report.hpp — how findings are shown to a person or a program, and the exit code they imply.
// Shared by `scan` and every ad hoc scanner command (fim, yara, vuln, container).
#pragma once

#include <optional>
#include <ostream>
#include <string_view>
#include <vector>

#include "phantomguard/runtime/finding.hpp"

namespace pg::runtime {

enum class output_format { table, json, jsonl };

/// "table", "json" or "jsonl"; nullopt otherwise.
std::optional<output_format> parse_output_format(std::string_view text) noexcept;

/// table: aligned columns (severity, rule, entity, title) with a count line at the end;
/// json: one JSON array; jsonl: one finding per line.
void write_findings(std::ostream& out, const std::vector<finding>& findings, output_format fmt);

/// 1 when any finding is at or above `fail_on`, 0 otherwise (2 is for usage/config errors and is
/// decided by the caller).
int exit_code_for(const std::vector<finding>& findings, severity fail_on) noexcept;

} // namespace pg::runtime
