// SPDX-License-Identifier: Apache-2.0
// messages.hpp — the atoms and in-process message types of the engine's actors. None of them
// ever crosses a process boundary, so they are registered as unsafe (no serialisation).
#pragma once

#include <cstdint>
#include <future>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include "engine/output_edge.hpp"
#include "phantomguard/runtime/config.hpp"
#include "phantomguard/runtime/diagnostic.hpp"
#include "phantomguard/runtime/event.hpp"
#include "phantomguard/runtime/finding.hpp"

namespace pg::runtime::detail {

// Nullary signals. Everything that carries data is a struct below: its fields are its
// documentation, and the handler names them.
using tick_atom = caf::atom_constant<caf::atom("tick")>;     // component: collect now
using flush_atom = caf::atom_constant<caf::atom("flush")>;   // component: batch_delay passed
using retick_atom = caf::atom_constant<caf::atom("retick")>; // component: a held tick, retried
// Reports (component / watchdog → supervisor): typed, see the structs below.
using finding_atom = caf::atom_constant<caf::atom("finding")>; // finding
// Supervisor's own.
using check_atom = caf::atom_constant<caf::atom("check")>;     // quota evaluation
using metrics_atom = caf::atom_constant<caf::atom("metrics")>; // periodic metrics log
using go_atom = caf::atom_constant<caf::atom("go")>;           // start all components
using drain_atom = caf::atom_constant<caf::atom("drain")>;
using timeout_atom = caf::atom_constant<caf::atom("timeout")>; // the scan's deadline passed
using reload_atom = caf::atom_constant<caf::atom("reload")>;   // reload_request
// Ordering round trips.
using fin_ok_atom = caf::atom_constant<caf::atom("fin_ok")>;   // (sup → sink)
using sync_atom = caf::atom_constant<caf::atom("sync")>;       // (sup → component, high)
using sync_to_atom = caf::atom_constant<caf::atom("sync_to")>; // the settle round's deadline

struct new_output {
  out_edge_spec spec;
  caf::actor consumer;
};

struct in_edge_spec {
  std::uint32_t edge_id = 0;
  bool ended = false; // the producer is gone for good: count the input as ended
  std::shared_ptr<edge_stats> stats;
};

// -- data path (producer → consumer, normal priority: FIFO with the batches) -------------------

struct batch_msg {
  std::uint32_t edge = 0;
  std::uint64_t epoch = 0; // the producer instance's wiring of the edge
  batch_ptr batch;
};
/// The producer's output on `edge` ended (a scan, a drain).
struct eos_msg {
  std::uint32_t edge = 0;
};
/// engine.* findings delivered to a sink outside flow control (they are rare).
struct inject_msg {
  batch_ptr batch;
};

// -- credit path (consumer → producer, high priority) ------------------------------------------

struct credit_msg {
  std::uint32_t edge = 0;
  std::uint64_t epoch = 0;
  std::int64_t events = 0; // granted (or freed, with is_ack)
  std::int64_t bytes = 0;
  bool is_ack = false; // acknowledges the oldest unacked batch
};

// -- control (supervisor → component, high priority unless noted) -------------------------------

/// Stop: `forward_eos` for a drain (finish, end the outputs); otherwise a graceful stop for a
/// restart or reload (stop(), snapshot, no end-of-stream). Normal priority.
struct stop_msg {
  bool forward_eos = false;
};
/// The consumer of `edge` is a new instance: send there under `epoch`, unacked batches again.
struct wire_msg {
  std::uint32_t edge = 0;
  caf::actor consumer;
  std::uint64_t epoch = 0;
};
/// `reason` < 0: the consumer is down, hold the output; otherwise close the edge and count
/// what it held as dropped for that drop_reason.
struct unwire_msg {
  std::uint32_t edge = 0;
  int reason = -1;
};
/// The consumer gave up on the oldest unacked batch (a hung hook): count it as `reason`.
struct drop_front_msg {
  std::uint32_t edge = 0;
  int reason = 0;
};
/// Reload added an output / an input; removed an input.
struct add_output_msg {
  new_output output;
};
struct add_input_msg {
  in_edge_spec input;
};
struct remove_input_msg {
  std::uint32_t edge = 0;
};
/// The quota ladder's step for the component: 0 normal, 1 throttle, 2 shed.
struct quota_msg {
  int level = 0;
};

// -- ordering round trips -----------------------------------------------------------------------

/// A sink whose inputs all ended asks before finishing (engine findings injected before it
/// reach it first).
struct fin_request {
  std::string name;
  std::uint64_t instance = 0;
};
/// The answer to a sync: every control message sent before it was handled.
struct synced_report {
  std::string name;
};

/// A hook threw (component → supervisor, high priority).
struct failure_report {
  std::string name;
  std::uint64_t instance = 0;
  std::string hook;
  std::string what;
  std::string snapshot;
  bool refused = false;
  std::string refusal_rule;
};

/// The instance stopped gracefully when asked (restart, reload): its state to carry over.
struct stopped_report {
  std::string name;
  std::uint64_t instance = 0;
  std::string snapshot;
};

/// The instance finished in a scan or drain: its outputs have ended.
struct finished_report {
  std::string name;
  std::uint64_t instance = 0;
};

/// The component ended itself (context::finish()) in run mode: a normal exit.
struct exited_report {
  std::string name;
  std::uint64_t instance = 0;
  std::string snapshot;
};

/// The watchdog saw a hook run past handler_timeout (`edge`: the input edge of an on_batch, -1).
struct hang_report {
  std::string name;
  std::uint64_t instance = 0;
  std::int64_t elapsed_ns = 0;
  std::int64_t edge = -1;
};

/// Supervisor timers: a restart's backoff ran out; a graceful stop's deadline passed.
struct restart_due {
  std::string name;
  std::uint64_t generation = 0; // stale unless it matches the node's
};
struct stop_deadline {
  std::string name;
  std::uint64_t instance = 0;
};

/// Component → itself: context::finish() was called; end once the current hook returned.
struct exit_now {};
/// Component → itself: losses held back by the hysteresis may be due for a report.
struct loss_check {};

/// A reload refused before it reached the engine (the file did not load or check).
struct refused_reload {
  diagnostics why;
};

struct reload_request {
  std::shared_ptr<pipeline_config> next;
  std::shared_ptr<std::promise<diagnostics>> reply;
};

} // namespace pg::runtime::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pg::runtime::batch_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pg::runtime::finding)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pg::runtime::detail::batch_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pg::runtime::detail::eos_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pg::runtime::detail::inject_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pg::runtime::detail::credit_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pg::runtime::detail::stop_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pg::runtime::detail::wire_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pg::runtime::detail::unwire_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pg::runtime::detail::drop_front_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pg::runtime::detail::add_output_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pg::runtime::detail::add_input_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pg::runtime::detail::remove_input_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pg::runtime::detail::quota_msg)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pg::runtime::detail::fin_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pg::runtime::detail::synced_report)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pg::runtime::detail::failure_report)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pg::runtime::detail::stopped_report)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pg::runtime::detail::finished_report)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pg::runtime::detail::exited_report)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pg::runtime::detail::hang_report)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pg::runtime::detail::restart_due)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pg::runtime::detail::stop_deadline)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pg::runtime::detail::exit_now)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pg::runtime::detail::loss_check)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pg::runtime::detail::new_output)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pg::runtime::detail::in_edge_spec)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pg::runtime::detail::reload_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pg::runtime::detail::refused_reload)
