// SPDX-License-Identifier: Apache-2.0
// engine_self.hpp — the engine's own processes, so its analyzers do not report the scanner for
// where it was installed (a checkout under /tmp, a build tree). Known means: the engine's own pid
// or a child of it (an isolated plugin's host re-executes the engine's binary), running the very
// file the engine started from (same device and inode as /proc/self/exe when this process
// began). A replaced or deleted engine binary is not known any more and is reported as usual.
#pragma once

#include <string>
#include <sys/types.h>

namespace pg::actors::host {

/// True when `pid` (whose parent is `ppid`) is the engine or a process it started, and its
/// executable is still the file the engine started from.
bool is_engine_process(pid_t pid, pid_t ppid, const std::string& proc_root = "/proc");

} // namespace pg::actors::host
