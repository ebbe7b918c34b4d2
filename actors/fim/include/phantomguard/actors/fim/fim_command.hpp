// fim_command.hpp — `phantomguard fim init|check [--config F] [--db FILE] [PATH...]`.
#pragma once

#include <iosfwd>

namespace pg::actors::fim {

/// The command's entry point (argv[0] is "phantomguard fim"). Exit codes: 0 clean (or baseline
/// written), 1 a finding at or above --fail-on, 2 usage, config or database error.
/// Findings go to `out`, diagnostics to `err`.
int run_fim_command(int argc, char** argv, std::ostream& out, std::ostream& err);

} // namespace pg::actors::fim
