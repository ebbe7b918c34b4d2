// SPDX-License-Identifier: Apache-2.0
// register.hpp — the yara family: the `yara` analyzer type and the `phantomguard yara` command.
#pragma once

#include "phantomguard/runtime/registry.hpp"

namespace pg::actors::yara {

void register_components(runtime::registry& reg);

} // namespace pg::actors::yara
