// SPDX-License-Identifier: Apache-2.0
// register.hpp — the process family: the `procfs` source and the `process` analyzer.
#pragma once

#include "phantomguard/runtime/registry.hpp"

namespace pg::actors::process {

/// Registers the component types `procfs` (source) and `process` (analyzer).
void register_components(runtime::registry& reg);

} // namespace pg::actors::process
