// SPDX-License-Identifier: Apache-2.0
// register.hpp — the fim family: the `fim` analyzer type and the `phantomguard fim` command.
#pragma once

#include "phantomguard/runtime/registry.hpp"

namespace pg::actors::fim {

void register_components(runtime::registry& reg);

} // namespace pg::actors::fim
