// SPDX-License-Identifier: Apache-2.0
// register.hpp — the container scanner family: the `container` analyzer and `phantomguard
// container`.
#pragma once

#include "phantomguard/runtime/registry.hpp"

namespace pg::actors::container {

/// Registers the `container` analyzer type and the `container` ad hoc command.
void register_components(runtime::registry& reg);

} // namespace pg::actors::container
