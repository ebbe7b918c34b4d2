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

// Data path (producer → consumer, normal priority, FIFO with the batches).
using batch_atom = caf::atom_constant<caf::atom("batch")>;   // edge, epoch, batch_ptr
using eos_atom = caf::atom_constant<caf::atom("eos")>;       // edge
using inject_atom = caf::atom_constant<caf::atom("inject")>; // batch_ptr (engine findings → sinks)
// Credit path (consumer → producer, high priority).
using credit_atom = caf::atom_constant<caf::atom("credit")>; // edge, epoch, events, bytes, is_ack
// Control (supervisor → component).
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;       // bool forward_eos
using wire_atom = caf::atom_constant<caf::atom("wire")>;       // edge, consumer, epoch
using unwire_atom = caf::atom_constant<caf::atom("unwire")>;   // edge, int reason (-1 = disconnect)
using add_out_atom = caf::atom_constant<caf::atom("add_out")>; // new_output
using add_in_atom = caf::atom_constant<caf::atom("add_in")>;   // edge
using rm_in_atom = caf::atom_constant<caf::atom("rm_in")>;     // edge
using drop_atom = caf::atom_constant<caf::atom("dropfront")>;  // edge, int reason
using quota_atom = caf::atom_constant<caf::atom("quota")>;     // int level
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
using fin_req_atom = caf::atom_constant<caf::atom("fin_req")>; // name, instance (sink → sup)
using fin_ok_atom = caf::atom_constant<caf::atom("fin_ok")>;   // (sup → sink)
using sync_atom = caf::atom_constant<caf::atom("sync")>;       // (sup → component, high)
using synced_atom = caf::atom_constant<caf::atom("synced")>;   // name (component → sup)
using sync_to_atom = caf::atom_constant<caf::atom("sync_to")>; // the settle round's deadline

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

struct new_output {
  out_edge_spec spec;
  caf::actor consumer;
};

struct in_edge_spec {
  std::uint32_t edge_id = 0;
  bool ended = false; // the producer is gone for good: count the input as ended
  std::shared_ptr<edge_stats> stats;
};

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
