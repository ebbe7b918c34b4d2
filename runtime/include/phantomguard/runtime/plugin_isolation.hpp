// SPDX-License-Identifier: Apache-2.0
// plugin_isolation.hpp — `isolation = "process"`: the same plugin .so run by a sandboxed child
// host (`phantomguard plugin-host`) behind a component that speaks to it over a socketpair.
// Anything the child does — crash, hang, allocate without bound, write garbage, break its
// sandbox — kills the child and makes the component's hook throw with the cause, so the
// engine's supervisor restarts or disables it like any failing component. See docs/isolation.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "phantomguard/runtime/component.hpp"
#include "phantomguard/runtime/plugin_loader.hpp"

namespace pg::runtime {

/// The `sandbox = { ... }` table of a plugin detector (used when isolation = "process").
struct isolation_settings {
  std::uint64_t memory_mb = 256; // RLIMIT_AS on top of the host binary's own mappings
  std::uint64_t cpu_seconds = 0; // RLIMIT_CPU of the child (whole life); 0 = none
  std::string user = "nobody";   // the child's user when the engine runs as root; "" = stay
  std::chrono::milliseconds call_timeout{2000};   // deadline of every call (a batch, a tick...)
  std::chrono::milliseconds start_timeout{15000}; // exec, checks, load, sandbox, ready
  /// Batches in flight to the child (the credit window). While more input is queued for the
  /// component (context::input_waiting), on_batch returns once its batch is sent and the engine
  /// encodes the next one while the child runs the plugin on this one (on two cores, 0.9 of
  /// in-process at batch 256, docs/performance/isolation.md); when nothing more is queued, it
  /// waits for every answer, so findings are never held back. 1 = every batch answered within
  /// its own on_batch.
  std::size_t max_outstanding = 4;
  std::string host_binary; // empty = plugin_host_binary()
  /// Read-only paths the child may read besides the dynamic loader's (Landlock).
  std::vector<std::string> read_paths;
};

/// The binary started as the child host: $PHANTOMGUARD_PLUGIN_HOST when set (tests running
/// from a test executable point it at bin/phantomguard), else /proc/self/exe.
[[nodiscard]] std::string plugin_host_binary();

/// Runs the load-time checks here (a refusal throws component_refused("engine.plugin_refused")
/// without starting anything), then starts the child, which re-runs them, loads the plugin,
/// sandboxes itself, creates the detector and says ready. `name` is the component's name.
std::unique_ptr<component> make_isolated_plugin_component(const plugin_request& request,
                                                          const isolation_settings& settings,
                                                          const std::string& name);

} // namespace pg::runtime

namespace pg::runtime {

/// The child host's main (`phantomguard plugin-host`), for a binary other than the CLI that
/// serves as the host (tests build a small one and point PHANTOMGUARD_PLUGIN_HOST at it).
int run_plugin_host_main(int argc, char** argv);

} // namespace pg::runtime
