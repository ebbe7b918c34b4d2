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

} // namespace pg::actors::host
