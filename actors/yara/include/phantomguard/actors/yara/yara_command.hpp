// SPDX-License-Identifier: Apache-2.0
// yara_command.hpp — `phantomguard yara [--rules FILE_OR_DIR]... [--pid N]... PATH...`.
#pragma once

#include <iosfwd>

namespace pg::actors::yara {

/// The command's entry point (argv[0] is "phantomguard yara"). Exit codes: 0 no finding at or
/// above --fail-on, 1 otherwise, 2 usage error or no rule file could be loaded. Compile errors of
/// single files are printed as FILE:LINE: error: ... and the other files are still used.
int run_yara_command(int argc, char** argv, std::ostream& out, std::ostream& err);

} // namespace pg::actors::yara
