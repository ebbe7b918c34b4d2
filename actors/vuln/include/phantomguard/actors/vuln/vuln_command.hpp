// SPDX-License-Identifier: Apache-2.0
// vuln_command.hpp — `phantomguard vuln [--root DIR] --advisories DIR_OR_ZIP`.
#pragma once

namespace pg::actors::vuln {

/// Runs the ad hoc command; argv[0] is "phantomguard vuln". Exit codes as `scan`: 0 clean,
/// 1 a finding at or above --fail-on, 2 a usage error or an advisory source that does not exist.
int run_vuln_command(int argc, char** argv);

} // namespace pg::actors::vuln
