// SPDX-License-Identifier: Apache-2.0
// component.hpp — what a source, analyzer, detector or sink implements. No CAF here: the runtime
// runs each component inside an actor and calls these hooks from that actor only, so a component
// never needs locks for its own state.
#pragma once

#include <cstdint>
#include <memory_resource>
#include <string>
#include <string_view>

#include "phantomguard/runtime/component_threads.hpp"
#include "phantomguard/runtime/event.hpp"
#include "phantomguard/runtime/finding.hpp"
#include "phantomguard/runtime/io_usage.hpp"

namespace pg::runtime {

enum class component_kind { source, analyzer, detector, sink };

std::string_view to_string(component_kind k) noexcept;

enum class log_level { trace, debug, info, warn, error, critical };

/// What the runtime offers a component during a hook. Valid only for the duration of the call
/// (do not store it). Called from the component's own actor thread.
class context {
public:
  virtual ~context() = default;

  /// The component's name from the config ("procfs", "mem", ...).
  [[nodiscard]] virtual const std::string& name() const noexcept = 0;
  /// The host name findings are stamped with.
  [[nodiscard]] virtual const std::string& host() const noexcept = 0;
  [[nodiscard]] virtual wall_clock::time_point now() const noexcept = 0;

  /// Queues an event for the component's outputs. Delivered in batches, under flow control.
  virtual void emit(event e) = 0;

  /// Emits a finding. Fills `time`, `host` and `analyzer` when they are empty.
  virtual void emit_finding(finding f) = 0;

  /// Adds `delta` to the component's counter `name` (exported as pg_component_<name>).
  virtual void count(std::string_view name, std::int64_t delta = 1) = 0;
  /// Sets the component's gauge `name`.
  virtual void gauge(std::string_view name, double value) = 0;

  /// Reports events the component could not collect or deliver — a kernel queue that
  /// overflowed, lines a sink had to drop — with their cause ("netlink_overrun",
  /// "inotify_overflow", ...). Counted (`lost_<cause>`) and raised as an `engine.events_lost`
  /// finding: at once when an episode starts, then at most one per `engine.loss_report_interval`
  /// while it lasts. The default counts only.
  virtual void lost(std::string_view cause, std::int64_t n) {
    count(std::string("lost_") + std::string(cause), n);
  }

  virtual void log(log_level level, std::string_view message) = 0;

  /// True when the runtime asks the component to stop: long loops inside a hook should check it
  /// and return early (the handler timeout watchdog treats a hook that does not return as hung).
  [[nodiscard]] virtual bool should_stop() const noexcept = 0;

  /// True when more input is already queued for the component. A component that works
  /// asynchronously (an isolated plugin pipelining batches to its child process) may return from
  /// on_batch before its results are in while this holds; when it is false it settles what is
  /// outstanding before returning, so results are never held back waiting for input that may not
  /// come. A hint: the default (false) is always safe.
  [[nodiscard]] virtual bool input_waiting() const noexcept { return false; }

  /// A memory resource that counts what the component allocates through it; the memory quota
  /// is enforced on that count plus what account_memory reports.
  [[nodiscard]] virtual std::pmr::memory_resource* memory() noexcept = 0;
  /// Explicit accounting for memory not allocated through memory(): positive when the
  /// component takes memory, negative when it gives it back.
  virtual void account_memory(std::int64_t delta_bytes) = 0;
  /// CPU time spent for the component outside its actor thread (an isolated plugin's child
  /// process): counted against its cpu_percent quota like the hook's own thread time, which the
  /// runtime measures itself.
  virtual void charge_cpu(std::int64_t cpu_ns) = 0;
  /// I/O done for the component outside its own threads (an isolated plugin's child process, as
  /// its /proc/PID/io counts it): added to the component's read/write figures, which the runtime
  /// measures itself for the threads of the component. The default drops it.
  virtual void charge_io(const io_counters& /*delta*/) {}

  /// The threads the component runs besides its hook's: start them here, so their CPU time is
  /// the component's (cpu_percent) and pace() holds them to the quota. Unlike the context, this
  /// object lives as long as the component instance. The default measures nothing.
  [[nodiscard]] virtual component_threads& threads() noexcept { return unmetered_threads(); }

  /// Ends the component normally once the current hook returns: stop() runs, its state is
  /// snapshotted, no more events come from it. A `permanent` component is started again (a
  /// restart like any other); `transient` and `temporary` ones stay stopped. In a scan it counts
  /// as finished. The default does nothing.
  virtual void finish() {}
};

/// A component. Every hook may throw: the runtime catches it, counts a failure, and lets the
/// supervisor decide (restart, escalate, disable). A component is created fresh on each restart.
class component {
public:
  virtual ~component() = default;

  /// Called once in the actor before any other hook. Throwing here is a start-up failure.
  virtual void start(context&) {}

  /// Called on the component's schedule (sources: each tick; analyzers with their own
  /// collection: each scheduled scan; in scan mode once).
  virtual void on_tick(context&) {}

  /// Called with each batch from the component's inputs. The batch is shared and immutable.
  virtual void on_batch(const event_batch&, context&) {}

  /// Called before the component stops (graceful shutdown, reload, end of a scan): flush and
  /// emit what is pending. In scan mode it is called after all inputs are drained.
  virtual void stop(context&) {}

  /// State carried across a restart: the runtime calls snapshot() on the failing instance when
  /// it can and restore() on its replacement before start(). Empty means nothing to carry.
  [[nodiscard]] virtual std::string snapshot() { return {}; }
  virtual void restore(std::string_view /*state*/) {}
};

} // namespace pg::runtime
