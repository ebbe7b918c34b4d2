// SPDX-License-Identifier: Apache-2.0
// plugins_command.hpp — `phantomguard plugins ...` (list, info, check).
#pragma once

namespace pg::runtime::detail {

/// argv[0] is "phantomguard plugins"; returns the process exit code (0 ok, 1 check failed or
/// unreadable plugin, 2 usage error). Writes to stdout, errors to stderr.
int run_plugins_command(int argc, char** argv);

} // namespace pg::runtime::detail
