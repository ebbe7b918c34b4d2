// SPDX-License-Identifier: Apache-2.0
#include "engine/component_actor.hpp"

#include "phantomguard/runtime/temp_space.hpp"

#include <pthread.h>

#include <ctime>

#include <caf/actor_cast.hpp>
#include <caf/exit_reason.hpp>
#include <caf/message_priority.hpp>
#include <spdlog/spdlog.h>

#include "phantomguard/runtime/refusal.hpp"

namespace pg::runtime::detail {

namespace {

spdlog::level::level_enum to_spdlog(log_level l) noexcept {
  switch (l) {
  case log_level::trace:
    return spdlog::level::trace;
  case log_level::debug:
    return spdlog::level::debug;
  case log_level::info:
    return spdlog::level::info;
  case log_level::warn:
    return spdlog::level::warn;
  case log_level::error:
    return spdlog::level::err;
  case log_level::critical:
    return spdlog::level::critical;
  }
  return spdlog::level::info;
}

} // namespace

component_actor::component_actor(caf::actor_config& cfg, component_spec spec)
    : caf::event_based_actor(cfg), spec_(std::move(spec)),
      threads_(spec_.slot, spec_.decl->quota.cpu_percent) {
  for (auto& o : spec_.outputs) {
    out_link l{output_edge{o.spec}, o.consumer};
    if (!o.consumer)
      l.edge.disconnect();
    outputs_.push_back(std::move(l));
  }
  spec_.outputs.clear();
  for (const auto& i : spec_.inputs) {
    in_link l;
    l.edge_id = i.edge_id;
    l.ended = i.ended;
    l.stats = i.stats;
    inputs_.push_back(l);
  }
  if (!spec_.decl->schedule.cron.empty())
    cron_ = parse_cron(spec_.decl->schedule.cron);
  out_buffer_.reserve(
      static_cast<std::size_t>(std::min<std::uint64_t>(spec_.engine->batch_size, 4096)));
}

component_actor::~component_actor() = default;

void component_actor::on_exit() {
  // Actors hold handles to their neighbours: drop them, or the reference cycle keeps every
  // actor (and its detached thread) alive after the engine has stopped.
  outputs_.clear();
  inputs_.clear();
  spec_.outputs.clear();
  spec_.supervisor = nullptr;
  // on_exit runs on the actor's own thread, after any hook returned: safe to destroy.
  component_.reset();
  if (thread_token_ != 0)
    spec_.slot->meter.detach(thread_token_);
  thread_token_ = 0;
  // A disabled component has no successor: show that its memory was given back.
  if (spec_.stats->status.load() == static_cast<int>(component_status::disabled))
    spec_.stats->set_memory(spec_.slot->memory_now());
  heap::set_thread_account(0);
  heap::close(spec_.slot->heap_account);
  caf::event_based_actor::on_exit();
}

// -- context ------------------------------------------------------------------------------------

void component_actor::emit(event e) {
  if (dead_)
    return;
  if (e.source.empty())
    e.source = spec_.decl->name;
  out_buffer_.push_back(std::move(e));
  if (out_buffer_.size() >= spec_.engine->batch_size)
    flush_output();
}

void component_actor::emit_finding(finding f) {
  if (dead_)
    return;
  if (f.time == wall_clock::time_point{})
    f.time = wall_clock::now();
  if (f.host.empty())
    f.host = spec_.host;
  if (f.analyzer.empty())
    f.analyzer = spec_.decl->name;
  if (spec_.suppress) {
    auto verdict = spec_.suppress->check(f, f.time);
    if (verdict.newly_expired) {
      auto notice = expired_suppression_finding(*verdict.newly_expired);
      notice.time = wall_clock::now();
      notice.host = spec_.host;
      notice.analyzer = "engine";
      send(spec_.supervisor, finding_atom::value, std::move(notice));
    }
    if (verdict.suppressed) {
      spec_.stats->count("findings_suppressed", 1); // counted, never silently gone
      return;
    }
  }
  if (spec_.decl->kind == component_kind::sink) {
    // A sink has no outputs: what it raises (a write that fails, a collector that rejects)
    // reaches the other sinks the way engine findings do, through the supervisor.
    send(spec_.supervisor, finding_atom::value, std::move(f));
    return;
  }
  spec_.hub->publish(f);
  emit(make_finding_event(std::move(f), spec_.decl->name));
}

const std::string& actor_context::name() const noexcept {
  return self_.spec_.decl->name;
}

const std::string& actor_context::host() const noexcept {
  return self_.spec_.host;
}

void actor_context::emit(event e) {
  self_.emit(std::move(e));
}

void actor_context::emit_finding(finding f) {
  self_.emit_finding(std::move(f));
}

void actor_context::count(std::string_view key, std::int64_t delta) {
  self_.spec_.stats->count(key, delta);
}

void actor_context::gauge(std::string_view key, double value) {
  self_.spec_.stats->gauge(key, value);
}

void actor_context::lost(std::string_view cause, std::int64_t n) {
  self_.record_loss(std::string(cause), n);
}

void actor_context::log(log_level level, std::string_view message) {
  spdlog::default_logger()->log(to_spdlog(level), "[{}] {}", self_.spec_.decl->name, message);
}

bool actor_context::should_stop() const noexcept {
  return self_.spec_.slot->abandoned.load(std::memory_order_relaxed) ||
         self_.spec_.slot->stop_requested.load(std::memory_order_relaxed);
}

std::pmr::memory_resource* actor_context::memory() noexcept {
  // Every heap allocation of the component's threads is counted (heap_accounts.hpp): the plain
  // resource is already a counted one.
  return std::pmr::new_delete_resource();
}

void actor_context::account_memory(std::int64_t delta_bytes) {
  self_.accounted_ += delta_bytes;
  self_.spec_.slot->memory_bytes.fetch_add(delta_bytes, std::memory_order_relaxed);
}

bool actor_context::input_waiting() const noexcept {
  // Called from the actor's own handler: its mailbox is ours to look at.
  return !self_.mailbox().empty();
}

void actor_context::charge_cpu(std::int64_t cpu_ns) {
  if (cpu_ns > 0)
    self_.spec_.slot->meter.charge(cpu_ns);
}

void actor_context::charge_io(const io_counters& delta) {
  self_.spec_.slot->meter.charge_io(delta);
}

void actor_context::finish() {
  if (self_.exit_requested_ || self_.dead_)
    return;
  self_.exit_requested_ = true;
  // Handled after the current hook returns (a message to ourselves, behind what is queued).
  self_.send(caf::actor_cast<caf::actor>(&self_), exit_now{});
}

component_threads& actor_context::threads() noexcept {
  return self_.threads_;
}

// -- hooks --------------------------------------------------------------------------------------

template <class F>
bool component_actor::run_hook(hook_kind kind, std::int64_t edge, F&& f) {
  if (dead_)
    return false;
  auto& slot = *spec_.slot;
  slot.edge.store(edge, std::memory_order_relaxed);
  slot.hook.store(static_cast<int>(kind), std::memory_order_relaxed);
  auto t0 = steady_now_ns();
  slot.busy_since_ns.store(t0, std::memory_order_release);
  bool ok = true;
  std::string what;
  bool refused = false;
  std::string rule;
  try {
    f();
  } catch (const component_refused& e) {
    ok = false;
    what = e.what();
    // A refusal only means "never start me" during start-up; later it is a plain failure.
    refused = kind == hook_kind::start || kind == hook_kind::factory;
    rule = e.rule();
  } catch (const std::exception& e) {
    ok = false;
    what = e.what();
  } catch (...) {
    ok = false;
    what = "unknown exception";
  }
  slot.busy_since_ns.store(0, std::memory_order_release);
  if (slot.abandoned.load()) {
    // The watchdog gave up on this instance and a replacement owns the edges now.
    dead_ = true;
    quit(caf::exit_reason::user_shutdown);
    return false;
  }
  slot.meter.sample(); // the component's CPU figure is current after each hook
  // Its I/O too, but a /proc read each time costs: after a long hook (where it is lost in the
  // hook's own time), after stop (a scan's figures are read right after), else 4 times a second.
  if (const auto now = steady_now_ns();
      kind == hook_kind::stop || now - t0 >= 1'000'000 || now - last_io_sample_ns_ >= 250'000'000) {
    slot.meter.sample_io(thread_token_);
    last_io_sample_ns_ = now;
  }
  spec_.stats->handler_latency.record(static_cast<std::uint64_t>((steady_now_ns() - t0) / 1000));
  spec_.stats->set_memory(slot.memory_now());
  if (!ok) {
    fail(kind, std::move(what), refused, std::move(rule));
    return false;
  }
  return true;
}

void component_actor::fail(hook_kind kind, std::string what, bool refused, std::string rule) {
  dead_ = true;
  failure_report r;
  r.name = spec_.decl->name;
  r.instance = spec_.slot->instance;
  r.hook = std::string(to_string(kind));
  r.what = std::move(what);
  r.refused = refused;
  r.refusal_rule = std::move(rule);
  if (component_ && !refused) {
    try {
      r.snapshot = component_->snapshot();
    } catch (...) {
      // A component that cannot snapshot after failing restarts empty.
    }
  }
  out_buffer_.clear();
  send<caf::message_priority::high>(spec_.supervisor, std::move(r));
  quit(caf::exit_reason::user_shutdown);
}

// -- output -------------------------------------------------------------------------------------

void component_actor::flush_output() {
  flush_armed_ = false;
  if (out_buffer_.empty() || dead_)
    return;
  auto n = static_cast<std::int64_t>(out_buffer_.size());
  spec_.stats->events_out.fetch_add(n, std::memory_order_relaxed);
  if (spec_.decl->kind == component_kind::source)
    spec_.slot->events.fetch_add(n, std::memory_order_relaxed);
  std::vector<event> events;
  events.swap(out_buffer_);
  out_buffer_.reserve(events.size());
  if (outputs_.empty())
    return;
  if (quota_level_ >= 2 && spec_.decl->kind == component_kind::source) {
    // Shedding at the source: keep 1 in N, every edge accounts the rest as dropped_shed.
    auto every = std::max<std::uint64_t>(1, spec_.decl->mailbox.sample_every);
    std::vector<event> kept;
    for (auto& e : events)
      if (shed_counter_++ % every == 0)
        kept.push_back(std::move(e));
    auto shed = n - static_cast<std::int64_t>(kept.size());
    for (auto& l : outputs_) {
      l.edge.stats().produced.fetch_add(shed, std::memory_order_relaxed);
      l.edge.stats().add_dropped(drop_reason::shed, shed);
    }
    events.swap(kept);
    if (events.empty())
      return;
  }
  offer_all(make_batch(std::move(events)));
}

void component_actor::offer_all(batch_ptr b) {
  for (auto& l : outputs_) {
    l.edge.offer(b, [&](const batch_ptr& x, std::uint64_t epoch) {
      send(l.consumer, batch_msg{l.edge.id(), epoch, x});
    });
  }
  after_output_change();
}

void component_actor::pump(out_link& l) {
  l.edge.pump([&](const batch_ptr& x, std::uint64_t epoch) {
    send(l.consumer, batch_msg{l.edge.id(), epoch, x});
  });
  if (l.edge.connected() && l.edge.eos_requested && !l.edge.eos_sent && !l.edge.has_pending()) {
    l.edge.eos_sent = true;
    send(l.consumer, eos_msg{l.edge.id()});
  }
}

void component_actor::after_output_change() {
  for (auto& l : outputs_) {
    auto change = l.edge.update_congestion();
    const auto& st = l.edge.stats();
    auto ev = [&] {
      return nlohmann::json{{"producer", st.producer},
                            {"consumer", st.consumer},
                            {"policy", std::string(to_string(l.edge.spec().mailbox.policy))},
                            {"queued_events", st.queued_events.load()},
                            {"queued_bytes", st.queued_bytes.load()},
                            {"window_events", st.window_events},
                            {"window_bytes", st.window_bytes},
                            {"dropped_total", st.dropped_total()}};
    };
    if (change == congestion_change::congested)
      engine_finding("engine.edge_congested", severity::low,
                     "edge " + st.producer + " -> " + st.consumer + " is 90% full", ev());
    if (l.edge.note_drops_for_finding()) {
      auto e = ev();
      e["dropped_in_episode"] = l.edge.drops_in_episode();
      engine_finding("engine.events_dropped", severity::medium,
                     "events dropped on edge " + st.producer + " -> " + st.consumer, e);
    }
    if (change == congestion_change::recovered) {
      auto e = ev();
      e["dropped_in_episode"] = l.edge.drops_in_episode();
      engine_finding("engine.edge_recovered", severity::info,
                     "edge " + st.producer + " -> " + st.consumer + " below 70% again", e);
    }
  }
  bool blocked = outputs_blocked();
  if (was_blocked_ && !blocked)
    grant_inputs(); // backpressure released: top up the credit we withheld upstream
  was_blocked_ = blocked;
}

bool component_actor::outputs_blocked() const {
  for (const auto& l : outputs_)
    if (l.edge.blocking())
      return true;
  return false;
}

void component_actor::grant_inputs() {
  if (dead_)
    return;
  const auto& mb = spec_.decl->mailbox;
  const int div = quota_level_ >= 1 ? 4 : 1;
  auto target_e = std::max<std::int64_t>(1, static_cast<std::int64_t>(mb.window_events) / div);
  auto target_b = std::max<std::int64_t>(1, static_cast<std::int64_t>(mb.window_bytes) / div);
  if (outputs_blocked())
    return;
  for (auto& in : inputs_) {
    if (!in.producer)
      continue;
    auto ge = std::max<std::int64_t>(0, target_e - in.outstanding_events);
    auto gb = std::max<std::int64_t>(0, target_b - in.outstanding_bytes);
    if (ge == 0 && gb == 0)
      continue;
    in.outstanding_events += ge;
    in.outstanding_bytes += gb;
    send<caf::message_priority::high>(in.producer, credit_msg{in.edge_id, in.epoch, ge, gb, false});
  }
}

void component_actor::engine_finding(std::string rule, severity level, std::string title,
                                     nlohmann::json evidence) {
  finding f;
  f.time = wall_clock::now();
  f.host = spec_.host;
  f.analyzer = "engine";
  f.rule = std::move(rule);
  f.level = level;
  f.title = std::move(title);
  f.entity = {{"component", spec_.decl->name}};
  f.evidence = std::move(evidence);
  send(spec_.supervisor, finding_atom::value, std::move(f));
}

void component_actor::record_loss(const std::string& cause, std::int64_t n) {
  if (n <= 0 || dead_)
    return;
  spec_.stats->add_lost(cause, n);
  if (!losses_)
    losses_.emplace(spec_.engine->loss_report_interval);
  if (auto r = losses_->record(cause, n, loss_tracker::clock::now()))
    report_loss(*r);
  arm_loss_check();
}

void component_actor::report_loss(const loss_tracker::report& r) {
  // Most causes count events; some can only count the incidents that lost an unknown number.
  const char* unit = r.cause == "skipped_tick"       ? "ticks"
                     : r.cause == "netlink_overrun"  ? "overruns"
                     : r.cause == "inotify_overflow" ? "overflows"
                                                     : "events";
  engine_finding(
      "engine.events_lost", severity::medium,
      spec_.decl->name + " lost " + std::to_string(r.count) + " " + unit + " (" + r.cause + ")",
      {{"cause", r.cause},
       {"unit", unit},
       {"count", r.count},
       {"total", r.total},
       {"episode_start", r.episode_start},
       {"interval_ms",
        std::chrono::duration_cast<std::chrono::milliseconds>(spec_.engine->loss_report_interval)
            .count()}});
}

void component_actor::flush_losses() {
  if (losses_)
    for (const auto& r : losses_->flush())
      report_loss(r);
}

void component_actor::arm_loss_check() {
  if (loss_check_armed_ || !losses_)
    return;
  auto next = losses_->next_due();
  if (!next)
    return;
  loss_check_armed_ = true;
  auto wait = std::max<loss_tracker::clock::duration>(*next - loss_tracker::clock::now(),
                                                      std::chrono::milliseconds(1));
  delayed_send(caf::actor_cast<caf::actor>(this),
               std::chrono::duration_cast<std::chrono::milliseconds>(wait) +
                   std::chrono::milliseconds(1),
               loss_check{});
}

component_actor::out_link* component_actor::find_out(std::uint32_t edge) {
  for (auto& l : outputs_)
    if (l.edge.id() == edge)
      return &l;
  return nullptr;
}

component_actor::in_link* component_actor::find_in(std::uint32_t edge) {
  for (auto& l : inputs_)
    if (l.edge_id == edge)
      return &l;
  return nullptr;
}

// -- input --------------------------------------------------------------------------------------

void component_actor::on_batch_msg(std::uint32_t edge, std::uint64_t epoch, const batch_ptr& b) {
  auto sender = caf::actor_cast<caf::actor>(current_sender());
  auto n = static_cast<std::int64_t>(b->size());
  auto bytes = static_cast<std::int64_t>(b->bytes);
  auto* in = find_in(edge);
  if (dead_)
    return;
  if (!in) {
    // An edge removed by reload: still free the producer's window.
    send<caf::message_priority::high>(sender, credit_msg{edge, epoch, n, bytes, true});
    return;
  }
  const auto& mb = spec_.decl->mailbox;
  if (in->epoch != epoch) {
    // A new producer instance starts with a full window.
    in->epoch = epoch;
    in->producer = sender;
    in->outstanding_events = static_cast<std::int64_t>(mb.window_events);
    in->outstanding_bytes = static_cast<std::int64_t>(mb.window_bytes);
  }
  in->outstanding_events -= n;
  in->outstanding_bytes -= bytes;
  // The edge's account: the consumer settles what it takes off the queue.
  auto& es = *in->stats;
  es.add_queued(-n, -bytes);
  es.note_taken(epoch); // ours to account from here on
  bool processed = true;
  if (quota_level_ >= 2 && shed_counter_++ % std::max<std::uint64_t>(1, mb.sample_every) != 0) {
    es.add_dropped(drop_reason::shed, n);
    processed = false;
  }
  if (processed) {
    spec_.stats->events_in.fetch_add(n, std::memory_order_relaxed);
    if (spec_.decl->kind != component_kind::source)
      spec_.slot->events.fetch_add(n, std::memory_order_relaxed);
    bool ok = run_hook(hook_kind::batch, edge, [&] { component_->on_batch(*b, ctx_); });
    if (!ok) {
      if (!spec_.slot->abandoned.load()) {
        es.add_dropped(drop_reason::failure, n);
        send<caf::message_priority::high>(sender, credit_msg{edge, epoch, 0, 0, true});
      }
      return;
    }
    es.delivered.fetch_add(n, std::memory_order_relaxed);
  }
  // Acknowledge and re-grant: the whole amount unless our outputs are blocked (backpressure
  // propagates upstream) or a throttle shrinks the window.
  const int div = quota_level_ >= 1 ? 4 : 1;
  auto target_e = std::max<std::int64_t>(1, static_cast<std::int64_t>(mb.window_events) / div);
  auto target_b = std::max<std::int64_t>(1, static_cast<std::int64_t>(mb.window_bytes) / div);
  std::int64_t ge = 0;
  std::int64_t gb = 0;
  if (!outputs_blocked()) {
    ge = std::max<std::int64_t>(0, target_e - in->outstanding_events);
    gb = std::max<std::int64_t>(0, target_b - in->outstanding_bytes);
  }
  in->outstanding_events += ge;
  in->outstanding_bytes += gb;
  send<caf::message_priority::high>(sender, credit_msg{edge, epoch, ge, gb, true});
  // Coalesce small outputs for batch_delay; a full batch already went out from emit().
  if (!out_buffer_.empty()) {
    if (spec_.engine->batch_delay.count() <= 0) {
      flush_output();
    } else if (!flush_armed_) {
      flush_armed_ = true;
      delayed_send(caf::actor_cast<caf::actor>(this), spec_.engine->batch_delay, flush_atom::value);
    }
  }
}

bool component_actor::has_schedule() const {
  const auto& d = *spec_.decl;
  if (d.kind == component_kind::sink)
    return d.schedule.interval.has_value() || spec_.sink_tick.has_value();
  if (d.kind == component_kind::source || inputs_.empty())
    return true;
  return d.schedule.interval.has_value() || cron_.has_value();
}

void component_actor::on_tick() {
  if (dead_ || finished_)
    return;
  if (spec_.mode == engine_mode::run) {
    schedule_next_tick();
    if (hold_tick())
      return;
    if (spec_.decl->kind == component_kind::source || inputs_.empty()) {
      if (outputs_blocked()) {
        // block policy: a polling source skips the tick rather than queueing without bound;
        // what it would have collected is not seen: a loss, raised like any other.
        spec_.stats->skipped_ticks.fetch_add(1, std::memory_order_relaxed);
        record_loss("skipped_tick", 1);
        return;
      }
      if (quota_level_ >= 1 && throttle_counter_++ % 4 != 0) {
        spec_.stats->throttled_ticks.fetch_add(1, std::memory_order_relaxed);
        return;
      }
    }
  }
  spec_.stats->ticks.fetch_add(1, std::memory_order_relaxed);
  if (!run_hook(hook_kind::tick, -1, [&] { component_->on_tick(ctx_); }))
    return;
  flush_output();
  if (spec_.mode == engine_mode::scan && inputs_.empty())
    finish();
}

bool component_actor::hold_tick() {
  const auto& gate = spec_.slot->gate;
  if (!gate || !gate->paused())
    return false;
  // Paused (host busy, on battery, outside the window): the tick waits, once however many come
  // due meanwhile, and runs when the pause ends.
  spec_.stats->deferred_ticks.fetch_add(1, std::memory_order_relaxed);
  if (!tick_held_) {
    tick_held_ = true;
    delayed_send(caf::actor_cast<caf::actor>(this), std::chrono::milliseconds(500),
                 retick_atom::value);
  }
  return true;
}

void component_actor::retry_held_tick() {
  if (!tick_held_ || dead_ || finished_)
    return;
  if (spec_.slot->gate && spec_.slot->gate->paused()) {
    delayed_send(caf::actor_cast<caf::actor>(this), std::chrono::milliseconds(500),
                 retick_atom::value);
    return;
  }
  tick_held_ = false;
  spec_.stats->ticks.fetch_add(1, std::memory_order_relaxed);
  if (!run_hook(hook_kind::tick, -1, [&] { component_->on_tick(ctx_); }))
    return;
  flush_output();
}

void component_actor::schedule_next_tick() {
  auto self = caf::actor_cast<caf::actor>(this);
  if (cron_) {
    // The timer runs on the monotonic clock. Rounded down, a delay fired up to a millisecond
    // before the wall-clock minute it was set for, and the minute just run came out as the next
    // one again: runs repeated at one boundary (2 in CI, 6 under ASan). The delay is rounded up,
    // and a minute just run (due less than a second ahead) is never due again. A clock stepped
    // back by more than that starts from the new time: no stall.
    const auto now = wall_clock::now();
    auto from = now;
    if (cron_due_ && *cron_due_ > now && *cron_due_ - now < std::chrono::seconds(1))
      from = *cron_due_;
    const auto next = next_after(*cron_, from);
    cron_due_ = next;
    delayed_send(self, std::chrono::ceil<std::chrono::milliseconds>(next - now), tick_atom::value);
    return;
  }
  auto interval = spec_.decl->schedule.interval.value_or(
      spec_.sink_tick ? duration(*spec_.sink_tick) : spec_.engine->tick_interval);
  if (interval.count() <= 0)
    interval = std::chrono::milliseconds(1);
  delayed_send(self, interval, tick_atom::value);
}

void component_actor::finish() {
  if (finished_ || dead_)
    return;
  if (!run_hook(hook_kind::stop, -1, [&] { component_->stop(ctx_); }))
    return;
  flush_output();
  flush_losses(); // the end of a scan or drain: what the hysteresis held back is said now
  finished_ = true;
  spec_.stats->status.store(static_cast<int>(component_status::finished));
  for (auto& l : outputs_) {
    l.edge.eos_requested = true;
    pump(l);
  }
  send(spec_.supervisor, finished_report{spec_.decl->name, spec_.slot->instance});
}

void component_actor::maybe_finish() {
  if (inputs_.empty() || finished_ || dead_)
    return;
  for (const auto& in : inputs_)
    if (!in.ended)
      return;
  if (spec_.decl->kind == component_kind::sink) {
    // A sink finishes only after a round trip through the supervisor: every engine.* finding
    // raised before our inputs ended was sent to the supervisor before that end-of-stream, so
    // its injection reaches us before the supervisor's answer.
    if (!finish_requested_) {
      finish_requested_ = true;
      send(spec_.supervisor, fin_request{spec_.decl->name, spec_.slot->instance});
    }
    return;
  }
  finish();
}

// -- behavior -----------------------------------------------------------------------------------

caf::behavior component_actor::make_behavior() {
  set_default_handler(caf::drop); // a stray message must not kill a component
  // A detached actor has this thread to itself: all its CPU time is the component's, and all
  // it allocates.
  thread_token_ = spec_.slot->meter.attach_current();
  heap::set_thread_account(spec_.slot->heap_account);
  // Named after the component (`top -H`, /proc/PID/task/*/comm), as are its workers.
  ::pthread_setname_np(::pthread_self(), spec_.decl->name.substr(0, 15).c_str());
  // The component's throttle: nice, I/O class and CPUs of this thread; the workers it starts
  // are placed the same (metered_threads::start).
  if (spec_.slot->placement.places_threads())
    if (auto refused = apply_to_current_thread(spec_.slot->placement); !refused.empty()) {
      spdlog::warn("[{}] throttle not applied: {}", spec_.decl->name, refused);
      spec_.stats->count("priority_not_lowered", 1);
    }
  // Create the component here, on the actor's own thread: a slow or throwing factory hurts
  // only this component.
  bool ok = run_hook(hook_kind::factory, -1, [&] {
    component_init init{spec_.decl->name,
                        spec_.decl->settings,
                        spec_.engine->state_dir,
                        spec_.decl->quota,
                        spec_.mode == engine_mode::scan,
                        temp_dir_of(*spec_.engine),
                        spec_.engine->temp_max_size};
    component_ = spec_.factory(init);
    if (!component_)
      throw std::runtime_error("factory returned no component");
  });
  if (ok && !spec_.restore_state.empty())
    ok = run_hook(hook_kind::start, -1, [&] { component_->restore(spec_.restore_state); });
  if (ok)
    ok = run_hook(hook_kind::start, -1, [&] { component_->start(ctx_); });
  if (ok) {
    started_ = true;
    spec_.stats->status.store(static_cast<int>(component_status::running));
    flush_output();
    auto self = caf::actor_cast<caf::actor>(this);
    if (spec_.mode == engine_mode::scan) {
      // Tick right here, before any message: batches and end-of-stream from our inputs may
      // already be queued, and a tick behind them would come after we finished.
      if (spec_.decl->kind != component_kind::sink)
        on_tick();
      maybe_finish(); // every input may already be gone (disabled producers)
    } else if (has_schedule()) {
      // First collection right away (time to first event), except on a cron schedule: a
      // nightly job (fim, package_integrity) runs at its hour, not at every start.
      if ((spec_.decl->kind == component_kind::source || inputs_.empty()) && !cron_)
        send(self, tick_atom::value);
      else
        schedule_next_tick();
    }
  }
  return {
      [this](const batch_msg& m) { on_batch_msg(m.edge, m.epoch, m.batch); },
      [this](const eos_msg& m) {
        if (auto* in = find_in(m.edge)) {
          in->ended = true;
          maybe_finish();
        }
      },
      [this](const credit_msg& m) {
        auto* l = find_out(m.edge);
        if (!l || dead_)
          return;
        if (m.is_ack)
          l->edge.on_ack(m.epoch, m.events, m.bytes);
        else
          l->edge.on_grant(m.epoch, m.events, m.bytes);
        pump(*l);
        after_output_change();
      },
      [this](tick_atom) { on_tick(); },
      [this](retick_atom) { retry_held_tick(); },
      [this](fin_ok_atom) { finish(); },
      [this](sync_atom) {
        send<caf::message_priority::high>(spec_.supervisor, synced_report{spec_.decl->name});
      },
      [this](flush_atom) {
        if (flush_armed_)
          flush_output();
      },
      [this](const inject_msg& m) {
        const auto& b = m.batch;
        // engine.* findings delivered to a sink outside flow control (they are rare).
        if (finished_ || dead_ || !component_)
          return;
        spec_.stats->engine_findings_in.fetch_add(static_cast<std::int64_t>(b->size()));
        run_hook(hook_kind::batch, -1, [&] { component_->on_batch(*b, ctx_); });
      },
      [this](const stop_msg& m) {
        const bool forward_eos = m.forward_eos;
        if (dead_)
          return;
        if (forward_eos) {
          // Drain: a component without inputs finishes now; the others when their inputs end.
          if (inputs_.empty())
            finish();
          return;
        }
        // Graceful stop for a restart or reload: no end-of-stream downstream.
        std::string snap;
        if (!finished_ && started_) {
          if (!run_hook(hook_kind::stop, -1, [&] { component_->stop(ctx_); }))
            return;
          flush_output();
        }
        flush_losses();
        if (started_) {
          try {
            snap = component_->snapshot();
          } catch (...) {
          }
        }
        dead_ = true;
        send<caf::message_priority::high>(
            spec_.supervisor,
            stopped_report{spec_.decl->name, spec_.slot->instance, std::move(snap)});
        quit(caf::exit_reason::user_shutdown);
      },
      [this](const wire_msg& m) {
        if (auto* l = find_out(m.edge)) {
          l->consumer = m.consumer;
          l->edge.rewire(m.epoch);
          pump(*l);
          after_output_change();
        }
      },
      [this](const unwire_msg& m) {
        const auto edge = m.edge;
        const int reason = m.reason;
        if (reason < 0) {
          if (auto* l = find_out(edge))
            l->edge.disconnect();
          return;
        }
        for (auto it = outputs_.begin(); it != outputs_.end(); ++it) {
          if (it->edge.id() == edge) {
            it->edge.close(static_cast<drop_reason>(reason));
            outputs_.erase(it);
            break;
          }
        }
        after_output_change();
      },
      [this](const drop_front_msg& m) {
        if (auto* l = find_out(m.edge))
          l->edge.drop_front_unacked(static_cast<drop_reason>(m.reason));
      },
      [this](const add_output_msg& m) {
        const auto& o = m.output;
        out_link l{output_edge{o.spec}, o.consumer};
        if (!o.consumer)
          l.edge.disconnect();
        outputs_.push_back(std::move(l));
      },
      [this](const add_input_msg& m) {
        const auto& i = m.input;
        in_link l;
        l.edge_id = i.edge_id;
        l.ended = i.ended;
        l.stats = i.stats;
        inputs_.push_back(l);
      },
      [this](const remove_input_msg& m) {
        std::erase_if(inputs_, [&](const in_link& l) { return l.edge_id == m.edge; });
        maybe_finish();
      },
      [this](loss_check) {
        loss_check_armed_ = false;
        if (dead_ || !losses_)
          return;
        for (const auto& r : losses_->due(loss_tracker::clock::now()))
          report_loss(r);
        arm_loss_check();
      },
      [this](exit_now) {
        if (dead_ || !started_)
          return;
        if (spec_.mode == engine_mode::scan) {
          finish(); // in a scan an ended component is a finished one: its outputs end
          return;
        }
        // A normal exit in run mode: stop() runs and the state is kept; the supervisor decides
        // by restart type (only permanent components come back).
        if (!finished_) {
          if (!run_hook(hook_kind::stop, -1, [&] { component_->stop(ctx_); }))
            return;
          flush_output();
        }
        flush_losses();
        std::string snap;
        try {
          snap = component_->snapshot();
        } catch (...) {
        }
        dead_ = true;
        send<caf::message_priority::high>(
            spec_.supervisor,
            exited_report{spec_.decl->name, spec_.slot->instance, std::move(snap)});
        quit(caf::exit_reason::normal);
      },
      [this](const quota_msg& m) {
        const int level = m.level;
        int before = quota_level_;
        quota_level_ = level;
        spec_.slot->quota_level.store(level, std::memory_order_relaxed);
        if (level < before)
          grant_inputs();
      },
  };
}

} // namespace pg::runtime::detail
