// SPDX-License-Identifier: Apache-2.0
// plugin_detector_views.hpp — the child host's fast path into the in-process adapter: C event
// views decoded straight from the channel frame (no event objects, no second conversion).
#pragma once

#include <cstddef>

#include "phantomguard/runtime/component.hpp"
#include "phantomguard/sdk/plugin.h"

namespace pg::runtime {

/// Calls the plugin's on_batch with `events` (already filtered to its subscribed kinds) through
/// the adapter `c` made by make_plugin_detector: same slicing, errors and host API as on_batch.
void run_plugin_views(component& c, const pg_event* events, std::size_t count, context& ctx);

} // namespace pg::runtime
