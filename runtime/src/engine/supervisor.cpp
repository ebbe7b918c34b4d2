// SPDX-License-Identifier: Apache-2.0
#include "engine/supervisor.hpp"

#include "engine/reload_plan.hpp"
#include "phantomguard/runtime/dir_health.hpp"
#include "phantomguard/runtime/process_memory.hpp"
#include "phantomguard/runtime/temp_space.hpp"
#include "phantomguard/runtime/units.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/message_priority.hpp>
#include <caf/spawn_options.hpp>
#include <caf/system_messages.hpp>
#include <spdlog/spdlog.h>

namespace pg::runtime::detail {

namespace {

using ms = std::chrono::milliseconds;

ms to_ms(duration d) {
  return std::chrono::duration_cast<ms>(d);
}

} // namespace

supervisor_actor::supervisor_actor(caf::actor_config& cfg, std::shared_ptr<supervisor_env> env,
                                   pipeline_config config)
    : caf::event_based_actor(cfg), env_(std::move(env)), config_(std::move(config)) {
  engine_ = std::make_shared<const engine_settings>(config_.engine);
  alerts_ = std::make_unique<alert_evaluator>(config_.alerts, config_.engine.quota.memory_mb);
  env_->suppress->replace(config_.suppressions);
  build(config_);
}

supervisor_actor::~supervisor_actor() = default;

void supervisor_actor::build(const pipeline_config& cfg) {
  auto order = topological_order(cfg);
  for (std::size_t i = 0; i < order.size(); ++i) {
    const auto* d = cfg.find(order[i]);
    auto& n = nodes_[d->name];
    n.decl = std::make_shared<const component_decl>(*d);
    n.type = env_->reg->find(d->kind, d->type);
    n.stats = env_->stats->component(d->name);
    n.order = i;
    n.intensity = restart_intensity(d->restart.max_restarts, d->restart.period);
    n.backoff.emplace(d->restart);
    n.governor.emplace(d->quota, d->restart.healthy_after);
  }
  for (const auto& d : cfg.components) {
    for (const auto& in : d.inputs) {
      auto pit = nodes_.find(in);
      if (pit == nodes_.end())
        continue;
      edge_rec e;
      e.id = next_edge_++;
      e.producer = in;
      e.consumer = d.name;
      e.stats = env_->stats->add_edge(in, d.name, d.mailbox.window_events, d.mailbox.window_bytes);
      pit->second.outs.push_back(e.id);
      nodes_[d.name].ins.push_back(e.id);
      edges_.emplace(e.id, std::move(e));
    }
  }
  rebuild_tree();
}

void supervisor_actor::rebuild_tree() {
  std::map<std::string, std::size_t> order;
  for (const auto& [name, n] : nodes_)
    order[name] = n.order;
  tree_ = std::make_unique<supervision_tree>(config_, order);
  // A supervisor whose settings stay keeps its recent restarts; a new or changed one starts over.
  std::map<std::string, restart_intensity> next;
  for (const auto& [name, g] : tree_->groups()) {
    auto it = group_intensity_.find(name);
    if (it != group_intensity_.end() && it->second.max_restarts() == g.max_restarts &&
        it->second.period() == g.period)
      next.emplace(name, std::move(it->second));
    else
      next.emplace(name, restart_intensity(g.max_restarts, g.period));
  }
  group_intensity_ = std::move(next);
}

supervisor_actor::node* supervisor_actor::find(const std::string& name) {
  auto it = nodes_.find(name);
  return it == nodes_.end() ? nullptr : &it->second;
}

supervisor_actor::node* supervisor_actor::find(const caf::actor_addr& addr) {
  for (auto& [name, n] : nodes_)
    if (n.handle && n.handle.address() == addr)
      return &n;
  return nullptr;
}

bool supervisor_actor::alive(const node& n) const {
  return static_cast<bool>(n.handle);
}

std::chrono::milliseconds supervisor_actor::check_interval() const {
  // Quotas are evaluated a few times per window; the shortest window decides.
  auto w = engine_->quota.window;
  for (const auto& [name, n] : nodes_)
    w = std::min(w, n.decl->quota.window);
  return std::clamp(to_ms(w) / 5, ms(20), ms(500));
}

void supervisor_actor::publish(std::string rule, severity level, std::string title,
                               const std::string& component, nlohmann::json evidence) {
  finding f;
  f.time = wall_clock::now();
  f.rule = std::move(rule);
  f.level = level;
  f.title = std::move(title);
  if (!component.empty())
    f.entity = {{"component", component}};
  f.evidence = std::move(evidence);
  publish(std::move(f));
}

void supervisor_actor::publish_expired_suppressions() {
  for (const auto& s : env_->suppress->take_expired(wall_clock::now()))
    publish(expired_suppression_finding(s));
}

void supervisor_actor::publish(finding f) {
  if (f.time == wall_clock::time_point{})
    f.time = wall_clock::now();
  f.host = env_->host;
  f.analyzer = "engine";
  auto verdict = env_->suppress->check(f, f.time);
  if (verdict.newly_expired)
    publish(expired_suppression_finding(*verdict.newly_expired));
  if (verdict.suppressed) {
    env_->stats->engine().count("findings_suppressed", 1);
    return;
  }
  env_->stats->engine().count("findings", 1);
  env_->hub->publish(f);
  // engine.* findings also reach every sink, outside flow control (they are rare).
  auto b = make_batch({make_finding_event(f, "engine")});
  for (auto& [name, n] : nodes_)
    if (n.decl->kind == component_kind::sink && alive(n) && n.status != component_status::finished)
      send(n.handle, inject_msg{b});
}

// -- start --------------------------------------------------------------------------------------

void supervisor_actor::start_all() {
  // Consumers first, so producers receive live consumer handles when they are spawned.
  std::vector<node*> order;
  for (auto& [name, n] : nodes_)
    order.push_back(&n);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->order > b->order; });
  for (auto* n : order) {
    if (!n->decl->enabled) {
      n->status = component_status::disabled;
      n->stats->status.store(static_cast<int>(component_status::disabled));
      continue;
    }
    if (!n->type || !n->type->factory) {
      disable(*n, "engine.unknown_component_type", severity::high,
              "component " + n->decl->name + " has no registered type " + n->decl->type,
              {{"type", n->decl->type}});
      continue;
    }
  }
  for (auto* n : order)
    if (n->status == component_status::starting && !alive(*n))
      spawn(*n);
  check_done();
}

void supervisor_actor::spawn(node& n) {
  auto slot = std::make_shared<instance_slot>();
  slot->name = n.decl->name;
  slot->instance = next_instance_++;
  slot->meter.set_cumulative(std::shared_ptr<std::atomic<std::int64_t>>(n.stats, &n.stats->cpu_ns));
  slot->meter.set_cumulative_io(std::shared_ptr<io_totals>(n.stats, &n.stats->io));
  slot->heap_account = heap::open(); // closed by the instance when it ends
  slot->placement = n.decl->throttle;
  if (n.decl->throttle.adaptive() && env_->mode == engine_mode::run)
    slot->gate = std::make_shared<pause_gate>(
        n.decl->throttle,
        [stats = n.stats, name = n.decl->name](bool paused, const std::string& why) {
          stats->set_paused(paused, why);
          if (paused)
            spdlog::info("[{}] paused: {}", name, why);
          else
            spdlog::info("[{}] resumed", name);
        });
  auto timeout = n.decl->quota.handler_timeout ? n.decl->quota.handler_timeout
                                               : engine_->quota.handler_timeout;
  if (timeout)
    slot->handler_timeout_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(*timeout).count();
  component_spec spec;
  spec.decl = n.decl;
  spec.factory = n.type->factory;
  spec.sink_tick = n.type->sink_tick;
  spec.engine = engine_;
  spec.host = env_->host;
  spec.mode = env_->mode;
  spec.stats = n.stats;
  spec.slot = slot;
  spec.hub = env_->hub;
  spec.suppress = env_->suppress;
  spec.supervisor = caf::actor_cast<caf::actor>(this);
  spec.restore_state = std::move(n.snapshot);
  n.snapshot.clear();
  for (auto id : n.outs) {
    auto& e = edges_.at(id);
    auto* c = find(e.consumer);
    if (!c || c->status == component_status::disabled || c->status == component_status::stopped)
      continue;
    ++e.epoch;
    new_output o;
    o.spec = out_edge_spec{e.id, e.epoch, c->decl->mailbox, e.stats};
    o.consumer = c->handle;
    spec.outputs.push_back(std::move(o));
  }
  bool ending = env_->mode == engine_mode::scan || draining_;
  for (auto id : n.ins) {
    auto& e = edges_.at(id);
    auto* p = find(e.producer);
    bool gone =
        !p || p->status == component_status::disabled || p->status == component_status::stopped;
    spec.inputs.push_back(in_edge_spec{e.id, ending && gone, e.stats});
  }
  n.slot = slot;
  n.status = component_status::running;
  n.started_at = clock::now();
  n.governor->started(n.started_at);
  slot->quota_level.store(static_cast<int>(n.governor->level()));
  n.stats->memory_bytes.store(0);
  // Detached: components read /proc and files with blocking calls, and a hung hook must not
  // take a scheduler worker with it (the watchdog abandons the thread, not the scheduler).
  n.handle = home_system().spawn<component_actor, caf::detached>(std::move(spec));
  monitor(n.handle);
  env_->dog->watch(slot);
  // Producers learn the new handle: they re-send what this instance's predecessor had not
  // consumed (the edge's unacked batches) under a new epoch.
  for (auto id : n.ins) {
    auto& e = edges_.at(id);
    auto* p = find(e.producer);
    if (!p || !alive(*p))
      continue;
    ++e.epoch;
    send<caf::message_priority::high>(p->handle, wire_msg{e.id, n.handle, e.epoch});
  }
}

// -- failures -----------------------------------------------------------------------------------

void supervisor_actor::detach(node& n) {
  if (n.handle)
    demonitor(n.handle);
  n.handle = nullptr;
  // When both ends of an edge are gone (one_for_all, rest_for_one, a producer and its consumer
  // restarted together), what was sent and not taken off the queue died in the old consumer's
  // mailbox, and the producer that would have sent it again is gone too: written off, so
  // produced = delivered + dropped holds across the restart.
  auto write_off_in_flight = [](edge_stats& s) {
    const auto qe = s.queued_events.exchange(0);
    s.queued_bytes.exchange(0);
    if (qe > 0)
      s.add_dropped(drop_reason::restart, qe);
  };
  // What the dead instance held for its consumers is lost with it.
  for (auto id : n.outs) {
    auto& e = edges_.at(id);
    auto pe = e.stats->pending_events.exchange(0);
    e.stats->pending_bytes.exchange(0);
    if (pe > 0)
      e.stats->add_dropped(drop_reason::restart, pe);
    if (auto* c = find(e.consumer); !c || !alive(*c))
      write_off_in_flight(*e.stats);
  }
  // Its producers hold their output until the replacement is wired; a dead one holds nothing.
  for (auto id : n.ins) {
    auto& e = edges_.at(id);
    if (auto* p = find(e.producer); p && alive(*p))
      send<caf::message_priority::high>(p->handle, unwire_msg{e.id, -1});
    else
      write_off_in_flight(*e.stats);
  }
}

void supervisor_actor::on_failure(const failure_report& r) {
  auto* n = find(r.name);
  if (!n || !n->slot || n->slot->instance != r.instance)
    return; // a stale instance
  n->stats->failures.fetch_add(1);
  n->snapshot = r.snapshot;
  detach(*n);
  if (r.refused) {
    auto rule = r.refusal_rule.empty() ? std::string("engine.component_refused") : r.refusal_rule;
    disable(*n, rule, severity::high, r.what,
            {{"hook", r.hook}, {"type", n->decl->type}, {"reason", r.what}});
    return;
  }
  publish("engine.component_failed", severity::medium,
          "component " + r.name + " failed in " + r.hook + ": " + r.what, r.name,
          {{"hook", r.hook}, {"error", r.what}, {"failures", n->stats->failures.load()}});
  on_exit_of(*n, true, r.what);
}

void supervisor_actor::on_exit_of(node& n, bool abnormal, const std::string& reason) {
  const auto type = n.decl->restart.type;
  if (type == restart_type::temporary || (type == restart_type::transient && !abnormal)) {
    n.status = component_status::stopped;
    n.stats->status.store(static_cast<int>(component_status::stopped));
    publish("engine.component_stopped", abnormal ? severity::medium : severity::info,
            std::string(to_string(type)) + " component " + n.decl->name +
                (abnormal ? " failed and is not restarted" : " ended and is not restarted"),
            n.decl->name,
            {{"restart", std::string(to_string(type))},
             {"exit", abnormal ? "failure" : "normal"},
             {"reason", reason}});
    end_outputs_on_behalf(n);
    check_done();
    return;
  }
  restart_or_escalate(n, reason); // permanent always, transient after a failure
}

void supervisor_actor::restart_or_escalate(node& n, const std::string& reason) {
  const auto now = clock::now();
  const auto& sup = tree_->supervisor_of(n.decl->name);
  // Its own intensity first: a component that keeps failing is given up by its supervisor...
  if (!n.intensity.admit(now)) {
    escalate(sup, n, reason, "component");
    return;
  }
  // ... and every restart counts against the supervisor's intensity (OTP's).
  if (!group_intensity_.at(sup).admit(now)) {
    escalate(sup, n, reason, "supervisor");
    return;
  }
  auto delay = n.backoff->next(now, n.started_at, rng_);
  publish("engine.component_restarted", severity::low,
          "component " + n.decl->name + " restarts in " + std::to_string(delay.count()) + " ms",
          n.decl->name,
          {{"attempt", n.backoff->attempt()},
           {"backoff_ms", delay.count()},
           {"supervisor", sup},
           {"strategy", std::string(to_string(tree_->at(sup).strategy))},
           {"reason", reason}});
  restart_together(n, tree_->restart_set(sup, n.decl->name, false), delay);
}

void supervisor_actor::escalate(const std::string& group, node& trigger, const std::string& reason,
                                const std::string& why) {
  const auto& g = tree_->at(group);
  if (g.parent.empty()) {
    // The root gives up on what keeps failing: disabled, the rest runs on.
    const bool own = why == "component";
    disable(trigger, "engine.component_disabled", severity::high,
            "component " + trigger.decl->name + " disabled: " +
                (own ? "restart intensity exhausted" : "engine restart intensity exhausted"),
            {{"scope", own ? "component" : "engine"},
             {"supervisor", group},
             {"max_restarts", own ? trigger.intensity.max_restarts() : g.max_restarts},
             {"period_ms", to_ms(own ? trigger.intensity.period() : g.period).count()},
             {"last_error", reason}});
    return;
  }
  const auto now = clock::now();
  if (!group_intensity_.at(g.parent).admit(now)) {
    escalate(g.parent, trigger, reason, "supervisor");
    return;
  }
  // The supervisor restarts as a whole: what is under it starts with a clean record.
  for (const auto& s : tree_->subtree(group))
    group_intensity_.at(s).reset();
  for (const auto& c : tree_->members(group))
    if (auto* m = find(c))
      m->intensity.reset();
  auto names = tree_->restart_set(g.parent, group, true);
  auto delay = trigger.backoff->next(now, trigger.started_at, rng_);
  publish("engine.supervisor_restarted", severity::medium,
          "supervisor " + group + " gave up on " + trigger.decl->name + ": restarting " +
              std::to_string(names.size()) + " components under " + g.parent,
          trigger.decl->name,
          {{"supervisor", group},
           {"parent", g.parent},
           {"cause", why == "component" ? "component intensity" : "supervisor intensity"},
           {"max_restarts", why == "component" ? trigger.intensity.max_restarts() : g.max_restarts},
           {"strategy", std::string(to_string(tree_->at(g.parent).strategy))},
           {"restarted", names},
           {"backoff_ms", delay.count()},
           {"last_error", reason}});
  restart_together(trigger, names, delay);
}

void supervisor_actor::restart_together(node& trigger, const std::vector<std::string>& names,
                                        std::chrono::milliseconds delay) {
  schedule_restart(trigger, delay);
  // The others: stopped gracefully (state carried), restarted after the same delay.
  for (const auto& name : names) {
    auto* other = find(name);
    if (!other || other == &trigger || !alive(*other) || other->awaiting_stop)
      continue;
    other->restart_delay = delay;
    graceful_stop(*other, true);
  }
}

void supervisor_actor::schedule_restart(node& n, std::chrono::milliseconds delay) {
  ++n.generation;
  if (draining_) {
    // The engine is stopping: what fails (or is stopped as a sibling) now stays stopped, and its
    // consumers learn that its output ended. A restarted source would never be told to stop, and
    // the drain would wait for it until shutdown_timeout.
    n.status = component_status::stopped;
    n.stats->status.store(static_cast<int>(component_status::stopped));
    write_off_inputs(n);
    end_outputs_on_behalf(n);
    check_done();
    return;
  }
  n.status = component_status::starting;
  n.stats->status.store(static_cast<int>(component_status::starting));
  delayed_send(caf::actor_cast<caf::actor>(this), delay, restart_due{n.decl->name, n.generation});
}

void supervisor_actor::graceful_stop(node& n, bool restart_after) {
  if (!alive(n))
    return;
  n.awaiting_stop = true;
  n.restart_after_stop = restart_after;
  n.slot->stop_requested.store(true);
  send(n.handle, stop_msg{false});
  delayed_send(caf::actor_cast<caf::actor>(this), n.decl->restart.shutdown_timeout,
               stop_deadline{n.decl->name, n.slot->instance});
}

void supervisor_actor::on_stopped(node& n, std::string snapshot) {
  n.awaiting_stop = false;
  n.snapshot = std::move(snapshot);
  detach(n);
  if (n.restart_after_stop && n.status != component_status::disabled)
    schedule_restart(n, n.restart_delay);
}

void supervisor_actor::write_off_inputs(node& n) {
  // A consumer that stays stopped while the engine drains never takes what its producers hold
  // for it (waiting for its replacement): counted as dropped_restart, so that produced =
  // delivered + dropped holds at the end of the run.
  for (auto id : n.ins) {
    auto& e = edges_.at(id);
    if (auto* p = find(e.producer); p && alive(*p))
      send<caf::message_priority::high>(p->handle,
                                        unwire_msg{e.id, static_cast<int>(drop_reason::restart)});
  }
}

void supervisor_actor::end_outputs_on_behalf(node& n) {
  // In a scan (or a drain), consumers must not wait for a producer that is gone for good.
  if (env_->mode != engine_mode::scan && !draining_)
    return;
  for (auto id : n.outs) {
    auto& e = edges_.at(id);
    if (auto* c = find(e.consumer); c && alive(*c))
      send(c->handle, eos_msg{e.id});
  }
}

void supervisor_actor::disable(node& n, const std::string& rule, severity level,
                               const std::string& title, nlohmann::json evidence) {
  ++n.generation; // cancels a pending restart
  // The status first: the instance's on_exit reads it to publish its final memory figure.
  n.stats->status.store(static_cast<int>(component_status::disabled));
  if (alive(n)) {
    n.slot->abandoned.store(true);
    n.slot->stop_requested.store(true);
    send_exit(n.handle, caf::exit_reason::kill);
  }
  detach(n);
  n.status = component_status::disabled;
  n.stats->status.store(static_cast<int>(component_status::disabled));
  // Producers stop feeding a disabled consumer: what they hold for it is dropped, counted.
  for (auto id : n.ins) {
    auto& e = edges_.at(id);
    if (auto* p = find(e.producer); p && alive(*p))
      send<caf::message_priority::high>(p->handle,
                                        unwire_msg{e.id, static_cast<int>(drop_reason::disabled)});
  }
  publish(rule, level, title, n.decl->name, std::move(evidence));
  end_outputs_on_behalf(n);
  check_done();
}

void supervisor_actor::check_done() {
  if (done_)
    return;
  auto settled = [](const node& n) {
    return n.status == component_status::finished || n.status == component_status::disabled ||
           n.status == component_status::stopped;
  };
  bool all = true;
  if (env_->mode == engine_mode::scan && !draining_) {
    bool any_sink = false;
    for (auto& [name, n] : nodes_) {
      if (n.decl->kind != component_kind::sink)
        continue;
      any_sink = true;
      all = all && settled(n);
    }
    if (!any_sink)
      for (auto& [name, n] : nodes_)
        all = all && settled(n);
  } else if (draining_) {
    for (auto& [name, n] : nodes_)
      all = all && settled(n);
  } else {
    return;
  }
  if (!all || settling_)
    return;
  // Settle: every live component answers a high-priority sync after the control messages we
  // sent it before (unwire, drop), so the edge accounting is final when scan() reads it.
  settling_ = true;
  unsynced_ = 0;
  for (auto& [name, n] : nodes_) {
    if (!alive(n))
      continue;
    ++unsynced_;
    send<caf::message_priority::high>(n.handle, sync_atom::value);
  }
  if (unsynced_ == 0) {
    finish_done();
    return;
  }
  // A component stuck in a hook never answers: do not let it hold the result back.
  delayed_send(caf::actor_cast<caf::actor>(this), ms(1000), sync_to_atom::value);
}

void supervisor_actor::finish_done() {
  if (done_)
    return;
  done_ = true;
  env_->done.set_value();
}

// -- quotas -------------------------------------------------------------------------------------

void supervisor_actor::apply_quota(node& n, const quota_verdict& v) {
  if (v.step == quota_step::none)
    return;
  n.stats->quota_level.store(static_cast<int>(n.governor->level()));
  if (n.slot)
    n.slot->quota_level.store(static_cast<int>(n.governor->level()));
  if (v.step == quota_step::recover) {
    const char* previous = v.from == quota_level::throttled  ? "throttle"
                           : v.from == quota_level::shedding ? "shed"
                                                             : "restart";
    publish("engine.quota_recovered", severity::info,
            "component " + n.decl->name + " back within its quotas", n.decl->name,
            {{"previous_step", previous}});
    if (alive(n))
      send<caf::message_priority::high>(n.handle, quota_msg{0});
    return;
  }
  nlohmann::json ev = {{"quota", v.quota},
                       {"measured", v.measured},
                       {"limit", v.limit},
                       {"step", std::string(to_string(v.step))}};
  auto subject = "component " + n.decl->name + " over " + v.quota + " (" +
                 std::to_string(v.measured) + " > " + std::to_string(v.limit) + ")";
  switch (v.step) {
  case quota_step::throttle:
    publish("engine.quota_throttle", severity::medium, subject + ": throttled", n.decl->name, ev);
    send<caf::message_priority::high>(n.handle, quota_msg{1});
    break;
  case quota_step::shed:
    publish("engine.quota_shed", severity::medium, subject + ": shedding input", n.decl->name, ev);
    send<caf::message_priority::high>(n.handle, quota_msg{2});
    break;
  case quota_step::restart:
    publish("engine.quota_restart", severity::high, subject + ": restarting", n.decl->name, ev);
    n.restart_delay = to_ms(n.decl->restart.backoff);
    graceful_stop(n, true);
    break;
  default:
    disable(n, "engine.quota_disable", severity::high, subject + ": disabled", ev);
    break;
  }
}

void supervisor_actor::release_heap() {
  last_heap_release_ = clock::now();
  // Counted even when nothing came back: the counter exists from the first release on.
  env_->stats->engine().count("heap_released_bytes",
                              static_cast<std::int64_t>(release_free_heap()));
}

namespace {

// What stops working when the folder behind `key` takes no more writes.
std::string writes_of(const std::string& key) {
  if (key == "log_dir")
    return "the sinks' files under it (the findings archive)";
  if (key == "run_dir")
    return "the control socket (status, top)";
  return "state and scratch writes";
}

} // namespace

void supervisor_actor::check_dirs() {
  const auto now = clock::now();
  if (now - last_dir_check_ < std::chrono::seconds(5))
    return; // a stat and a statvfs each: not at every quota check
  last_dir_check_ = now;
  std::vector<std::pair<std::string, std::string>> dirs;
  const auto add = [&dirs](const char* key, const std::string& path) {
    if (!path.empty() &&
        std::none_of(dirs.begin(), dirs.end(), [&path](const auto& d) { return d.second == path; }))
      dirs.emplace_back(key, path);
  };
  add("state_dir", engine_->state_dir);
  add("temp_dir", temp_dir_of(*engine_));
  add("run_dir", engine_->run_folder());
  // log_dir only while a sink writes under it: an unused default is not the engine's to make.
  const auto& logs = engine_->log_dir;
  if (!logs.empty() && std::any_of(config_.components.begin(), config_.components.end(),
                                   [&logs](const component_decl& c) {
                                     const auto path = c.settings.get_string("path");
                                     return c.kind == component_kind::sink && c.enabled &&
                                            path.size() > logs.size() &&
                                            path.compare(0, logs.size(), logs) == 0 &&
                                            path[logs.size()] == '/';
                                   }))
    add("log_dir", logs);
  for (const auto& [key, path] : dirs) {
    const auto h = check_dir(path, engine_->state_min_free);
    auto open = dir_problems_.find(path);
    if (h.usable()) {
      if (open != dir_problems_.end()) {
        publish(
            "engine.state_dir_recovered", severity::info,
            key + " " + path + " takes writes again (it was " + open->second + ")", "",
            {{"key", key}, {"path", path}, {"was", open->second}, {"free_bytes", h.free_bytes}});
        dir_problems_.erase(open);
      }
      env_->stats->engine().gauge(key + "_free_bytes", static_cast<double>(h.free_bytes));
      continue;
    }
    const std::string problem(to_string(h.state));
    if (open != dir_problems_.end() && open->second == problem)
      continue; // the episode is open: said once
    env_->stats->engine().count(key + "_problems", 1);
    std::string title = key + " " + path + " ";
    if (h.state == dir_health::status::vanished)
      title += h.recreated
                   ? "vanished: made again, empty (what was kept there is lost)"
                   : "vanished and could not be made again: nothing is kept (" + h.error + ")";
    else if (h.state == dir_health::status::not_writable)
      title += "cannot be written (" + h.error + "): " + writes_of(key) + " fail";
    else
      title += "is full: " + format_size(h.free_bytes) + " left, under state_min_free (" +
               format_size(engine_->state_min_free) + "): " + writes_of(key) + " will fail";
    publish("engine.state_dir_unusable",
            h.state == dir_health::status::vanished && h.recreated ? severity::medium
                                                                   : severity::high,
            std::move(title), "",
            {{"key", key},
             {"path", path},
             {"problem", problem},
             {"recreated", h.recreated},
             {"free_bytes", h.free_bytes},
             {"min_free_bytes", engine_->state_min_free},
             {"error", h.error}});
    dir_problems_[path] = problem;
    if (h.recreated)
      dir_problems_[path] = "vanished";
  }
}

void supervisor_actor::check_quotas() {
  auto now = clock::now();
  double total_cpu = 0;
  double total_rate = 0;
  node* top_cpu = nullptr;
  node* top_mem = nullptr;
  node* top_rate = nullptr;
  std::vector<std::pair<node*, quota_verdict>> steps;
  for (auto& [name, n] : nodes_) {
    if (!alive(n) || n.awaiting_stop || !n.slot)
      continue;
    quota_sample sample;
    sample.now = now;
    sample.cpu_ns = n.slot->meter.sample(); // the actor's thread, its workers, a child's charge
    sample.events = n.slot->events.load();
    sample.memory_bytes = n.slot->memory_now();
    auto v = n.governor->evaluate(sample);
    n.stats->gauge("cpu_percent", n.governor->cpu_percent());
    n.stats->gauge("threads", static_cast<double>(n.slot->meter.threads()));
    n.stats->set_memory(sample.memory_bytes); // current during a long hook too
    n.slot->meter.sample_io();
    total_cpu += n.governor->cpu_percent();
    total_rate += n.governor->rate();
    if (!top_cpu || n.governor->cpu_percent() > top_cpu->governor->cpu_percent())
      top_cpu = &n;
    if (!top_mem || sample.memory_bytes > top_mem->slot->memory_now())
      top_mem = &n;
    if (!top_rate || n.governor->rate() > top_rate->governor->rate())
      top_rate = &n;
    if (v.step != quota_step::none)
      steps.emplace_back(&n, std::move(v));
  }
  // Applied after the loop: a step may disable a node, and the engine-wide pick reads them all.
  for (auto& [n, v] : steps)
    apply_quota(*n, v);
  // Engine-wide quota: on sustained excess, the heaviest contributor climbs its ladder.
  const auto& eq = engine_->quota;
  std::optional<std::tuple<std::string, double, double, node*>> over;
  if (eq.cpu_percent && total_cpu > *eq.cpu_percent && top_cpu)
    over = std::make_tuple("engine.cpu_percent", total_cpu, *eq.cpu_percent, top_cpu);
  else if (eq.memory_mb && top_mem) {
    // The engine's memory is the process's resident set, whoever holds it; the component that
    // holds the most climbs its ladder first (throttle, shed, restart: a restart gives back).
    double rss = static_cast<double>(process_rss_bytes()) / (1024.0 * 1024.0);
    if (rss > static_cast<double>(*eq.memory_mb) && engine_->heap_release_interval.count() > 0) {
      // Free pages the heap still holds are not anyone's: give them back before blaming one.
      release_heap();
      rss = static_cast<double>(process_rss_bytes()) / (1024.0 * 1024.0);
    }
    env_->stats->engine().gauge("rss_mb", rss);
    if (rss > static_cast<double>(*eq.memory_mb))
      over = std::make_tuple("engine.memory_mb", rss, static_cast<double>(*eq.memory_mb), top_mem);
  } else if (eq.events_per_second && total_rate > *eq.events_per_second && top_rate)
    over = std::make_tuple("engine.events_per_second", total_rate, *eq.events_per_second, top_rate);
  if (over) {
    auto* n = std::get<3>(*over);
    if (!engine_excess_since_)
      engine_excess_since_ = now;
    if (now - *engine_excess_since_ >= eq.window && now - n->started_at >= eq.grace && alive(*n) &&
        !n->awaiting_stop) {
      engine_excess_since_ = now;
      apply_quota(
          *n, n->governor->climb(std::get<0>(*over), std::get<1>(*over), std::get<2>(*over), true));
    }
    engine_calm_since_.reset();
  } else {
    engine_excess_since_.reset();
    if (!engine_calm_since_)
      engine_calm_since_ = now;
    if (now - *engine_calm_since_ >= eq.window)
      for (auto& [name, n] : nodes_)
        if (alive(n) && !n.awaiting_stop)
          apply_quota(n, n.governor->engine_calm());
  }
}

void supervisor_actor::log_metrics() {
  auto snap = env_->stats->snapshot();
  for (const auto& c : snap.components) {
    auto get = [&](const char* k) {
      auto it = c.counters.find(k);
      return it == c.counters.end() ? std::int64_t{0} : it->second;
    };
    std::int64_t dropped = 0;
    for (const auto& [k, v] : c.counters)
      if (k.rfind("dropped_", 0) == 0)
        dropped += v;
    auto g = [&](const char* k) {
      auto it = c.gauges.find(k);
      return it == c.gauges.end() ? 0.0 : it->second;
    };
    spdlog::info("metrics {}: in={} out={} dropped={} restarts={} failures={} cpu_ms={} "
                 "memory_bytes={} queued_events={}",
                 c.name, get("events_in"), get("events_out"), dropped, get("restarts"),
                 get("failures"), get("cpu_time_us") / 1000, g("memory_bytes"), g("queued_events"));
  }
}

// -- reload -------------------------------------------------------------------------------------

diagnostics supervisor_actor::reload(pipeline_config next) {
  std::map<std::string, const component_decl*> running;
  for (const auto& [name, n] : nodes_)
    running.emplace(name, n.decl.get());
  auto plan = plan_reload(running, next, *env_->reg);
  if (!plan.errors.empty()) {
    refuse_reload(plan.errors);
    return plan.errors;
  }
  if (next.engine.worker_threads != engine_->worker_threads ||
      next.engine.max_throughput != engine_->max_throughput)
    spdlog::warn("reload: engine.worker_threads / engine.max_throughput apply after a restart");
  const auto& changed = plan.changed;
  const auto& added = plan.added;
  const auto& order = plan.order;
  // 1. Stop what goes away or changes; its edges go with it.
  for (const auto& name : changed) {
    auto& n = nodes_.at(name);
    ++n.generation;
    if (alive(n)) {
      n.slot->stop_requested.store(true);
      send(n.handle, stop_msg{false}); // stop() runs; the old instance is forgotten
      demonitor(n.handle);
      n.handle = nullptr;
    }
    std::vector<std::uint32_t> gone = n.ins;
    gone.insert(gone.end(), n.outs.begin(), n.outs.end());
    for (auto id : gone) {
      auto it = edges_.find(id);
      if (it == edges_.end())
        continue;
      auto& e = it->second;
      auto* p = find(e.producer);
      auto* c = find(e.consumer);
      if (p && !changed.count(p->decl->name) && alive(*p))
        send<caf::message_priority::high>(p->handle,
                                          unwire_msg{e.id, static_cast<int>(drop_reason::restart)});
      if (c && !changed.count(c->decl->name) && alive(*c))
        send<caf::message_priority::high>(c->handle, remove_input_msg{e.id});
      if (p)
        std::erase(p->outs, id);
      if (c)
        std::erase(c->ins, id);
      env_->stats->remove_edge(e.stats);
      edges_.erase(it);
    }
  }
  for (const auto& name : changed) {
    if (!next.find(name))
      env_->stats->remove_component(name);
    nodes_.erase(name);
  }
  // 2. The new declarations, in the new topological order.
  config_ = std::move(next);
  alerts_->replace(config_.alerts, config_.engine.quota.memory_mb);
  env_->suppress->replace(config_.suppressions);
  publish_expired_suppressions();
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (auto* n = find(order[i])) {
      n->order = i;
      continue;
    }
    const auto* d = config_.find(order[i]);
    auto& n = nodes_[d->name];
    n.decl = std::make_shared<const component_decl>(*d);
    n.type = env_->reg->find(d->kind, d->type);
    n.stats = env_->stats->component(d->name);
    n.order = i;
    n.intensity = restart_intensity(d->restart.max_restarts, d->restart.period);
    n.backoff.emplace(d->restart);
    n.governor.emplace(d->quota, d->restart.healthy_after);
  }
  rebuild_tree();
  std::vector<std::uint32_t> new_edges;
  for (const auto& d : config_.components) {
    if (!changed.count(d.name) && !added.count(d.name))
      continue;
    for (const auto& in : d.inputs) {
      edge_rec e;
      e.id = next_edge_++;
      e.producer = in;
      e.consumer = d.name;
      e.stats = env_->stats->add_edge(in, d.name, d.mailbox.window_events, d.mailbox.window_bytes);
      nodes_.at(in).outs.push_back(e.id);
      nodes_.at(d.name).ins.push_back(e.id);
      new_edges.push_back(e.id);
      edges_.emplace(e.id, std::move(e));
    }
  }
  // Edges from a new or changed producer into an unchanged consumer.
  for (const auto& d : config_.components) {
    if (changed.count(d.name) || added.count(d.name))
      continue;
    for (const auto& in : d.inputs) {
      if (!changed.count(in) && !added.count(in))
        continue;
      edge_rec e;
      e.id = next_edge_++;
      e.producer = in;
      e.consumer = d.name;
      e.stats = env_->stats->add_edge(in, d.name, d.mailbox.window_events, d.mailbox.window_bytes);
      nodes_.at(in).outs.push_back(e.id);
      nodes_.at(d.name).ins.push_back(e.id);
      if (auto* c = find(d.name); c && alive(*c))
        send<caf::message_priority::high>(c->handle,
                                          add_input_msg{in_edge_spec{e.id, false, e.stats}});
      edges_.emplace(e.id, std::move(e));
    }
  }
  engine_ = std::make_shared<const engine_settings>(config_.engine);
  // 3. Start the new instances, consumers first, then tell unchanged producers about them.
  std::vector<node*> fresh;
  for (auto& [name, n] : nodes_)
    if (changed.count(name) || added.count(name))
      fresh.push_back(&n);
  std::sort(fresh.begin(), fresh.end(), [](auto* a, auto* b) { return a->order > b->order; });
  for (auto* n : fresh) {
    if (!n->decl->enabled) {
      n->status = component_status::disabled;
      continue;
    }
    if (!n->type || !n->type->factory) {
      disable(*n, "engine.unknown_component_type", severity::high,
              "component " + n->decl->name + " has no registered type " + n->decl->type,
              {{"type", n->decl->type}});
      continue;
    }
    spawn(*n);
  }
  for (auto id : new_edges) {
    auto& e = edges_.at(id);
    auto* p = find(e.producer);
    auto* c = find(e.consumer);
    if (!p || !c || changed.count(e.producer) || added.count(e.producer) || !alive(*p))
      continue;
    ++e.epoch;
    new_output o;
    o.spec = out_edge_spec{e.id, e.epoch, c->decl->mailbox, e.stats};
    o.consumer = c->handle;
    send<caf::message_priority::high>(p->handle, add_output_msg{std::move(o)});
  }
  publish("engine.reloaded", severity::info, "configuration reloaded", "",
          {{"restarted", std::vector<std::string>(changed.begin(), changed.end())},
           {"added", std::vector<std::string>(added.begin(), added.end())}});
  return {};
}

void supervisor_actor::refuse_reload(const diagnostics& why) {
  std::vector<std::string> lines;
  for (const auto& d : why)
    lines.push_back(d.to_string());
  publish("engine.reload_failed", severity::high,
          "reload refused: " + (lines.empty() ? std::string("unknown reason") : lines.front()) +
              (lines.size() > 1 ? " (and " + std::to_string(lines.size() - 1) + " more)" : "") +
              "; the running configuration is kept",
          "", {{"errors", lines}});
}

// -- behavior -----------------------------------------------------------------------------------

void supervisor_actor::on_exit() {
  // The engine is going away: every instance still running is told to stop at once.
  for (auto& [name, n] : nodes_) {
    if (n.slot) {
      n.slot->stop_requested.store(true);
      n.slot->abandoned.store(true);
    }
    if (n.handle)
      send_exit(n.handle, caf::exit_reason::kill);
    n.handle = nullptr;
  }
  nodes_.clear();
  caf::event_based_actor::on_exit();
}

caf::behavior supervisor_actor::make_behavior() {
  publish_expired_suppressions(); // an entry already past its date is said at start
  set_down_handler([this](caf::down_msg& dm) {
    auto* n = find(dm.source);
    if (!n)
      return;
    if (n->awaiting_stop) {
      on_stopped(*n, {});
      return;
    }
    n->stats->failures.fetch_add(1);
    detach(*n);
    auto reason = caf::to_string(dm.reason);
    publish("engine.component_failed", severity::medium,
            "component " + n->decl->name + " terminated: " + reason, n->decl->name,
            {{"hook", "none"}, {"error", reason}});
    on_exit_of(*n, true, reason);
  });
  auto self = caf::actor_cast<caf::actor>(this);
  delayed_send(self, check_interval(), check_atom::value);
  if (env_->mode == engine_mode::run && engine_->metrics_interval.count() > 0)
    delayed_send(self, engine_->metrics_interval, metrics_atom::value);
  return {
      [this](go_atom) { start_all(); },
      [this](const fin_request& r) {
        auto* n = find(r.name);
        if (n && n->slot && n->slot->instance == r.instance && alive(*n))
          send(n->handle, fin_ok_atom::value);
      },
      [this](const synced_report&) {
        if (settling_ && unsynced_ > 0 && --unsynced_ == 0)
          finish_done();
      },
      [this](sync_to_atom) {
        if (settling_)
          finish_done();
      },
      [this](const failure_report& r) { on_failure(r); },
      [this](stopped_report& r) {
        auto* n = find(r.name);
        if (!n || !n->slot || n->slot->instance != r.instance || !n->handle)
          return;
        on_stopped(*n, std::move(r.snapshot));
      },
      [this](exited_report& r) {
        auto* n = find(r.name);
        if (!n || !n->slot || n->slot->instance != r.instance || !n->handle)
          return;
        n->snapshot = std::move(r.snapshot);
        detach(*n);
        if (n->awaiting_stop) { // asked to stop meanwhile: that request decides
          on_stopped(*n, std::move(n->snapshot));
          return;
        }
        on_exit_of(*n, false, "ended normally (context::finish)");
      },
      [this](const finished_report& r) {
        auto* n = find(r.name);
        if (!n || !n->slot || n->slot->instance != r.instance)
          return;
        n->status = component_status::finished;
        check_done();
      },
      [this](finding_atom, const finding& f) {
        if (f.rule == "engine.suppression_expired") {
          publish(f); // a component met an expired entry: said by the engine
          return;
        }
        auto verdict = env_->suppress->check(f, wall_clock::now());
        if (verdict.newly_expired)
          publish(expired_suppression_finding(*verdict.newly_expired));
        if (verdict.suppressed) {
          env_->stats->engine().count("findings_suppressed", 1);
          return;
        }
        env_->stats->engine().count("findings", 1);
        env_->hub->publish(f);
        auto b = make_batch({make_finding_event(f, "engine")});
        // Not back to a sink that raised it itself: a sink whose collector rejects what it
        // sends would otherwise send its own rejection, be rejected again, and so on.
        for (auto& [name, n] : nodes_)
          if (n.decl->kind == component_kind::sink && alive(n) &&
              n.status != component_status::finished && name != f.analyzer)
            send(n.handle, inject_msg{b});
      },
      [this](const hang_report& r) {
        const auto& name = r.name;
        const auto elapsed_ns = r.elapsed_ns;
        const auto edge = r.edge;
        auto* n = find(name);
        if (!n || !n->slot || n->slot->instance != r.instance || !alive(*n))
          return;
        auto timeout_ns = n->slot->handler_timeout_ns;
        // Abandon the instance: its thread may stay in the hook, but nothing it does counts now.
        n->slot->abandoned.store(true);
        n->slot->stop_requested.store(true);
        send_exit(n->handle, caf::exit_reason::kill);
        if (edge >= 0) {
          auto it = edges_.find(static_cast<std::uint32_t>(edge));
          if (it != edges_.end())
            if (auto* p = find(it->second.producer); p && alive(*p))
              send<caf::message_priority::high>(
                  p->handle, drop_front_msg{it->second.id, static_cast<int>(drop_reason::timeout)});
        }
        n->stats->failures.fetch_add(1);
        detach(*n);
        ++n->hangs;
        nlohmann::json ev = {
            {"quota", "handler_timeout"},
            {"measured", static_cast<double>(elapsed_ns) / 1e6},
            {"limit", static_cast<double>(timeout_ns) / 1e6},
            {"unit", "ms"},
            {"hook", std::string(to_string(static_cast<hook_kind>(n->slot->hook.load())))}};
        auto subject = "component " + name + " hook did not return within handler_timeout";
        if (n->hangs == 1) {
          ev["step"] = "restart";
          publish("engine.quota_restart", severity::high, subject + ": replaced", name, ev);
          schedule_restart(*n, to_ms(n->decl->restart.backoff));
        } else {
          ev["step"] = "disable";
          disable(*n, "engine.quota_disable", severity::high, subject + ": disabled", ev);
        }
      },
      [this](const restart_due& r) {
        auto* n = find(r.name);
        if (!n || n->generation != r.generation || alive(*n) ||
            n->status == component_status::disabled || done_)
          return;
        n->stats->restarts.fetch_add(1);
        spawn(*n);
      },
      [this](const stop_deadline& r) {
        const auto& name = r.name;
        auto* n = find(name);
        if (!n || !n->slot || n->slot->instance != r.instance || !n->awaiting_stop || !alive(*n))
          return;
        n->slot->abandoned.store(true);
        send_exit(n->handle, caf::exit_reason::kill);
        publish("engine.shutdown_timeout", severity::medium,
                "component " + name + " did not stop within its shutdown_timeout: killed", name,
                {{"shutdown_timeout_ms", to_ms(n->decl->restart.shutdown_timeout).count()}});
        on_stopped(*n, {});
      },
      [this](check_atom) {
        env_->stats->engine().gauge("heartbeat", monotonic_seconds()); // the watchdog reads it
        if (!done_ && env_->mode == engine_mode::run &&
            engine_->heap_release_interval.count() > 0 &&
            clock::now() - last_heap_release_ >= engine_->heap_release_interval)
          release_heap();
        if (!done_)
          check_quotas();
        if (!done_ && !draining_ && env_->mode == engine_mode::run)
          check_dirs();
        // Alerts watch a running daemon: a scan is over before a `for` could pass.
        if (const auto now = clock::now();
            !done_ && !draining_ && env_->mode == engine_mode::run && alerts_->due(now))
          for (auto& f : alerts_->evaluate(env_->stats->snapshot(), now))
            publish(std::move(f));
        delayed_send(caf::actor_cast<caf::actor>(this), check_interval(), check_atom::value);
      },
      [this](metrics_atom) {
        log_metrics();
        delayed_send(caf::actor_cast<caf::actor>(this), engine_->metrics_interval,
                     metrics_atom::value);
      },
      [this](drain_atom) {
        draining_ = true;
        for (auto& [name, n] : nodes_) {
          if (!alive(n)) {
            if (n.status == component_status::starting) {
              ++n.generation; // a pending restart is cancelled by the drain
              n.status = component_status::stopped;
              n.stats->status.store(static_cast<int>(component_status::stopped));
              write_off_inputs(n);
            }
            end_outputs_on_behalf(n);
            continue;
          }
          if (n.ins.empty()) {
            // A poller in the middle of a long tick (a fim or yara pass over a big tree) sees
            // should_stop() at its next check and returns, its place kept: it would otherwise
            // hold the drain until the deadline and the daemon would exit 1.
            n.slot->stop_requested.store(true);
            send(n.handle, stop_msg{true});
          }
        }
        check_done();
      },
      [this](timeout_atom) {
        for (auto& [name, n] : nodes_) {
          if (n.status == component_status::finished || n.status == component_status::disabled ||
              n.status == component_status::stopped)
            continue;
          publish("engine.scan_timeout", severity::high,
                  "component " + name + " had not finished when the scan timed out", name,
                  {{"status", std::string(to_string(n.status))}});
        }
        finish_done();
      },
      [this](const refused_reload& r) { refuse_reload(r.why); },
      [this](reload_atom, const reload_request& req) {
        diagnostics d;
        try {
          d = reload(*req.next);
        } catch (const std::exception& e) {
          d.push_back({{}, std::string("reload failed: ") + e.what()});
          refuse_reload(d);
        }
        req.reply->set_value(std::move(d));
      },
  };
}

} // namespace pg::runtime::detail
