// SPDX-License-Identifier: Apache-2.0
// builtin.hpp — registers every built-in component type with the registry.
#pragma once

#include "phantomguard/runtime/registry.hpp"

namespace pg::actors {

/// Registers all built-in sources, analyzers and sinks. Idempotent.
void register_builtin(runtime::registry& reg = runtime::registry::instance());

} // namespace pg::actors
