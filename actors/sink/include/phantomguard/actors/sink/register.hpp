// SPDX-License-Identifier: Apache-2.0
// register.hpp — the sink family: `console` and `jsonl`.
#pragma once

#include "phantomguard/runtime/registry.hpp"

namespace pg::actors::sink {

/// Registers the component types `console` and `jsonl` (kind sink).
void register_components(runtime::registry& reg);

} // namespace pg::actors::sink
