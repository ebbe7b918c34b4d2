// SPDX-License-Identifier: Apache-2.0
// throttle.hpp — the throttling options shared by the content scanners (vuln, container): worker
// count, segment size, memory budget, I/O priority and CPU nice level. The engine's quotas apply on
// top; these keep a scan polite on its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "phantomguard/actors/vuln/finding_sink.hpp"
#include "phantomguard/runtime/component.hpp"
#include "phantomguard/runtime/options.hpp"

namespace pg::actors::vuln {

struct throttle_settings {
  std::size_t workers = 1;
  std::size_t segment_size = 256;          // items (packages, files) between stop checks/commits
  std::uint64_t max_memory = 256ull << 20; // bytes of input held at once (advisory text, ...)
  int io_class = 3;                        // ioprio class: 1 realtime, 2 best-effort, 3 idle
  int io_level = 7;                        // 0..7 within the class (best-effort only)
  int nice = 10;                           // 0..19
  /// Not a key: where the scan's threads come from. Inside the engine the component's (metered,
  /// paced to its cpu_percent: run_throttled sets it); plain threads when null (the commands).
  runtime::component_threads* threads = nullptr;
};

/// The option_specs of the throttle keys with the given defaults (added to a type's options).
std::vector<runtime::option_spec> throttle_option_specs(const throttle_settings& defaults);

/// Reads the throttle keys from validated settings, falling back to `defaults`.
throttle_settings throttle_from(const runtime::component_settings& s,
                                const throttle_settings& defaults);

/// Runs `work` on a thread of the component (ctx.threads(): its CPU time is the component's, and
/// each stop_requested() check paces it to the cpu_percent quota) whose CPU nice level and I/O
/// priority are lowered (never the engine's scheduler threads), and streams what it posts into
/// `ctx` as it arrives: findings via emit_finding, counters via count. Forwards ctx.should_stop()
/// to the sink's stop_requested(). Returns after `work` returns; an exception thrown by `work` is
/// rethrown here. Returns false when the priority could not be lowered (the scan still ran; the
/// counter `priority_not_lowered` says so).
bool run_throttled(const throttle_settings& t, runtime::context& ctx,
                   const std::function<void(finding_sink&)>& work);

} // namespace pg::actors::vuln
