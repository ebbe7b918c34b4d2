// SPDX-License-Identifier: Apache-2.0
// engine.hpp — the engine's public face: build the actor graph from a validated config, run it
// once (`scan`) or as a daemon (`run`). CAF stays behind this header.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "phantomguard/runtime/config.hpp"
#include "phantomguard/runtime/finding.hpp"
#include "phantomguard/runtime/metrics.hpp"
#include "phantomguard/runtime/registry.hpp"

namespace pg::runtime {

struct scan_options {
  /// Upper bound for the whole scan; components still busy then are stopped and reported.
  duration timeout = std::chrono::minutes(30);
  /// Called for every finding as it is produced (from an engine thread, serialised).
  std::function<void(const finding&)> on_finding;
};

struct scan_report {
  std::vector<finding> findings; // every finding produced, engine.* ones included, in order
  metrics_snapshot metrics;
  bool timed_out = false;
};

struct run_options {
  /// Called for every finding as it is produced (from an engine thread, serialised).
  std::function<void(const finding&)> on_finding;
  /// Called once the pipeline is started (its components spawned; reload() and metrics() answer
  /// from here on), on run()'s thread before it waits: where a daemon says it is ready.
  std::function<void()> on_started;
};

/// One engine instance owns one actor system. Not copyable; all public functions are
/// thread-safe unless noted.
class engine {
public:
  /// Builds the engine for `cfg`; component types are looked up in `reg`. Throws
  /// std::runtime_error only on an internal failure (the config was validated before).
  explicit engine(pipeline_config cfg, const registry& reg = registry::instance());
  ~engine();
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  /// Scan mode: starts every component, ticks each source and analyzer once, drains the graph
  /// (every component's stop() runs after its inputs are exhausted), stops, and returns what
  /// was found. Call at most once, and not together with run().
  scan_report scan(const scan_options& opts = {});

  /// Daemon mode: starts every component on its schedule and blocks until request_stop().
  /// Returns 0 after a clean drain within the shutdown deadline, 1 otherwise.
  int run(const run_options& opts = {});

  /// Asks run() to drain and return. Safe to call from any thread (not from a signal handler).
  void request_stop();

  /// Applies a new validated config while run() is running: components whose declaration
  /// changed (or that are new / removed) are restarted / started / stopped; the rest keep
  /// running. Returns the problems that prevented the reload (then nothing changed).
  diagnostics reload(pipeline_config next);

  /// Says a reload was refused before it got here (the new file did not load or pass its
  /// checks): an `engine.reload_failed` finding with `why`; the running graph is untouched.
  void refuse_reload(diagnostics why);

  /// Current metrics of every component and of the engine.
  [[nodiscard]] metrics_snapshot metrics() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace pg::runtime
