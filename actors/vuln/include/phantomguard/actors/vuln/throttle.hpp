// SPDX-License-Identifier: Apache-2.0
// throttle.hpp — the work options shared by the content scanners (vuln, container): worker
// count, segment size, memory budget. Priority, CPUs and the adaptive pause are the engine's, for
// every component (runtime/throttle.hpp: nice, io_class, cpu_affinity, throttle = {...}); the
// quotas apply on top.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "phantomguard/actors/host/finding_sink.hpp"
#include "phantomguard/runtime/component.hpp"
#include "phantomguard/runtime/options.hpp"

namespace pg::actors::vuln {

using host::collecting_sink;
using host::finding_sink;

struct throttle_settings {
  std::size_t workers = 1;
  std::size_t segment_size = 256;          // items (packages, files) between stop checks/commits
  std::uint64_t max_memory = 256ull << 20; // bytes of input held at once (advisory text, ...)
  /// Not a key: where the scan's threads come from. Inside the engine the component's (metered,
  /// paced to its cpu_percent: run_throttled sets it); plain threads when null (the commands).
  runtime::component_threads* threads = nullptr;
};

/// The option_specs of the throttle keys with the given defaults (added to a type's options).
std::vector<runtime::option_spec> throttle_option_specs(const throttle_settings& defaults);

/// Reads the throttle keys from validated settings, falling back to `defaults`.
throttle_settings throttle_from(const runtime::component_settings& s,
                                const throttle_settings& defaults);

/// Runs `work` on a thread of the component (ctx.threads(): its CPU time is the component's, it is
/// placed as the component's throttle says, and each stop_requested() check paces it to the
/// cpu_percent quota and holds it while the adaptive throttle pauses), and streams what it posts
/// into `ctx` as it arrives: findings via emit_finding, counters via count. Forwards
/// ctx.should_stop() to the sink's stop_requested(). Returns after `work` returns; an exception
/// thrown by `work` is rethrown here.
void run_throttled(runtime::context& ctx, const std::function<void(finding_sink&)>& work);

} // namespace pg::actors::vuln
