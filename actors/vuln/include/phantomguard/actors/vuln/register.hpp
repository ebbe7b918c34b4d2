// SPDX-License-Identifier: Apache-2.0
// register.hpp — the vulnerability scanner family: the `vuln` analyzer and `phantomguard vuln`.
#pragma once

#include "phantomguard/runtime/registry.hpp"

namespace pg::actors::vuln {

/// Registers the `vuln` analyzer type and the `vuln` ad hoc command.
void register_components(runtime::registry& reg);

} // namespace pg::actors::vuln
