// SPDX-License-Identifier: Apache-2.0
// register.hpp — the realtime family: the `process_events` source and the `file_watch` and
// `host_health` analyzers.
#pragma once

#include <vector>

#include "phantomguard/runtime/registry.hpp"

namespace pg::actors::realtime {

/// Registers process_events (source), file_watch and host_health (analyzers), and the family's
/// host checks for `phantomguard doctor`.
void register_components(runtime::registry& reg);

/// What `phantomguard doctor` says of the BPF sensor, the process connector and inotify here.
std::vector<runtime::host_report> host_reports(const runtime::pipeline_config& config);

} // namespace pg::actors::realtime
