// SPDX-License-Identifier: Apache-2.0
// register.hpp — the rootkit family: the `rootkit` analyzer type.
#pragma once

#include "phantomguard/runtime/registry.hpp"

namespace pg::actors::rootkit {

/// Registers the `rootkit` analyzer type.
void register_components(runtime::registry& reg);

} // namespace pg::actors::rootkit
