// SPDX-License-Identifier: Apache-2.0
// privilege.hpp — what this process may do, so analyzers can say what they could not read.
#pragma once

#include <string>

namespace pg::actors::host {

/// True when the calling process has capability `cap` (CAP_SYS_PTRACE = 19, ...) in its
/// effective set (read from /proc/self/status).
bool has_capability(int cap);

/// "CAP_SYS_PTRACE" etc. for the capabilities analyzers ask about; "CAP_<n>" otherwise.
std::string capability_name(int cap);

/// Lowers the calling thread's CPU (nice, 0..19) and I/O priority (ioprio_set: class 1 realtime,
/// 2 best-effort, 3 idle; level 0..7) for throttled analyzers. Returns false (errno set) when
/// the kernel refused; raising priority beyond the current one is refused without CAP_SYS_NICE.
bool lower_thread_priority(int nice_level, int io_class, int io_level);

} // namespace pg::actors::host
