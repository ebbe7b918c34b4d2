// SPDX-License-Identifier: Apache-2.0
// register.hpp — the realtime family: the `process_events` source and the `file_watch` and
// `host_health` analyzers.
#pragma once

#include "phantomguard/runtime/registry.hpp"

namespace pg::actors::realtime {

/// Registers process_events (source), file_watch and host_health (analyzers).
void register_components(runtime::registry& reg);

} // namespace pg::actors::realtime
