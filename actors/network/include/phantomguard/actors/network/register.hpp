// SPDX-License-Identifier: Apache-2.0
// register.hpp — the network family: the `network` analyzer.
#pragma once

#include "phantomguard/runtime/registry.hpp"

namespace pg::actors::network {

/// Registers the component type `network` (analyzer).
void register_components(runtime::registry& reg);

} // namespace pg::actors::network
