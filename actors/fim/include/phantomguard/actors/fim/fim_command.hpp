// SPDX-License-Identifier: Apache-2.0
// fim_command.hpp — `phantomguard fim init|check [--config F] [--db FILE] [PATH...]`.
#pragma once

#include <iosfwd>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

namespace pg::actors::fim {

/// The command's entry point (argv[0] is "phantomguard fim"). Exit codes: 0 clean (or baseline
/// written), 1 a finding at or above --fail-on, 2 usage, config or database error.
/// Findings go to `out`, diagnostics to `err`.
int run_fim_command(int argc, char** argv, std::ostream& out, std::ostream& err);

/// `POST /api/v1/fim/accept` on the daemon: {"by": NAME, "paths": [ABS...], "analyzer": NAME},
/// the same accept as `phantomguard fim accept --config CONFIG --by NAME [PATH...]` on the
/// baseline the daemon's analyzer uses. 200 {"accepted": [{rule, path}], "by", "seal",
/// "messages"}; 400 for a bad body; 422 when the accept itself fails (no baseline, unknown
/// analyzer), with the reason.
std::pair<int, nlohmann::json> accept_over_api(const nlohmann::json& request,
                                               const std::string& config_path);

} // namespace pg::actors::fim
