#include "engine/supervisor.hpp"

#include <algorithm>
#include <cmath>
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

double to_seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

/// Topological order of the declared components (inputs first), declaration order among equals.
/// The config was validated (no cycles); an unexpected cycle falls back to declaration order.
std::vector<std::string> topological_order(const pipeline_config& cfg) {
  std::vector<std::string> out;
  std::set<std::string> placed;
  auto ready = [&](const component_decl& d) {
    for (const auto& i : d.inputs)
      if (cfg.find(i) && !placed.count(i))
        return false;
    return true;
  };
  bool progress = true;
  while (out.size() < cfg.components.size() && progress) {
    progress = false;
    for (const auto& d : cfg.components) {
      if (placed.count(d.name) || !ready(d))
        continue;
      out.push_back(d.name);
      placed.insert(d.name);
      progress = true;
    }
  }
  for (const auto& d : cfg.components)
    if (!placed.count(d.name))
      out.push_back(d.name);
  return out;
}

} // namespace

supervisor_actor::supervisor_actor(caf::actor_config& cfg, std::shared_ptr<supervisor_env> env,
                                   pipeline_config config)
    : caf::event_based_actor(cfg), env_(std::move(env)), config_(std::move(config)) {
  engine_ = std::make_shared<const engine_settings>(config_.engine);
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
  f.host = env_->host;
  f.analyzer = "engine";
  f.rule = std::move(rule);
  f.level = level;
  f.title = std::move(title);
  if (!component.empty())
    f.entity = {{"component", component}};
  f.evidence = std::move(evidence);
  env_->stats->engine().count("findings", 1);
  env_->hub->publish(f);
  // engine.* findings also reach every sink, outside flow control (they are rare).
  auto b = make_batch({make_finding_event(f, "engine")});
  for (auto& [name, n] : nodes_)
    if (n.decl->kind == component_kind::sink && alive(n) && n.status != component_status::finished)
      send(n.handle, inject_atom::value, b);
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
  auto timeout = n.decl->quota.handler_timeout ? n.decl->quota.handler_timeout
                                               : engine_->quota.handler_timeout;
  if (timeout)
    slot->handler_timeout_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(*timeout).count();
  component_spec spec;
  spec.decl = n.decl;
  spec.factory = n.type->factory;
  spec.engine = engine_;
  spec.host = env_->host;
  spec.mode = env_->mode;
  spec.stats = n.stats;
  spec.slot = slot;
  spec.hub = env_->hub;
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
  n.cpu_samples.clear();
  n.event_samples.clear();
  n.excess_since.reset();
  n.bucket_time = n.started_at;
  n.bucket_events = 0;
  n.tokens = n.decl->quota.events_per_second.value_or(0);
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
    send<caf::message_priority::high>(p->handle, wire_atom::value, e.id, n.handle, e.epoch);
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
      send<caf::message_priority::high>(p->handle, unwire_atom::value, e.id, -1);
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
  switch (n.decl->restart.type) {
  case restart_type::temporary:
    n.status = component_status::stopped;
    n.stats->status.store(static_cast<int>(component_status::stopped));
    publish("engine.component_stopped", severity::medium,
            "temporary component " + n.decl->name + " is not restarted", n.decl->name,
            {{"restart", "temporary"}, {"reason", reason}});
    end_outputs_on_behalf(n);
    check_done();
    return;
  case restart_type::transient:
    if (!abnormal) {
      n.status = component_status::stopped;
      n.stats->status.store(static_cast<int>(component_status::stopped));
      end_outputs_on_behalf(n);
      check_done();
      return;
    }
    break;
  case restart_type::permanent:
    break;
  }
  restart_or_disable(n, reason);
}

std::chrono::milliseconds supervisor_actor::backoff_for(node& n) {
  const auto& rs = n.decl->restart;
  auto now = clock::now();
  if (now - n.started_at >= rs.healthy_after)
    n.consecutive = 0; // it ran healthy long enough: start the backoff over
  ++n.consecutive;
  double base = static_cast<double>(to_ms(rs.backoff).count());
  double d =
      base * std::pow(2.0, static_cast<double>(std::min<std::uint32_t>(n.consecutive - 1, 30)));
  d = std::min(d, static_cast<double>(to_ms(rs.max_backoff).count()));
  // Jitter of +-25% keeps components that failed together from restarting in lockstep.
  std::uniform_real_distribution<double> jitter(0.75, 1.25);
  return ms(static_cast<std::int64_t>(d * jitter(rng_)));
}

void supervisor_actor::restart_or_disable(node& n, const std::string& reason) {
  auto now = clock::now();
  const auto& rs = n.decl->restart;
  while (!n.restart_times.empty() && now - n.restart_times.front() > rs.period)
    n.restart_times.pop_front();
  while (!engine_restarts_.empty() && now - engine_restarts_.front() > engine_->restart_period)
    engine_restarts_.pop_front();
  if (n.restart_times.size() >= rs.max_restarts) {
    disable(n, "engine.component_disabled", severity::high,
            "component " + n.decl->name + " disabled: restart intensity exhausted",
            {{"scope", "component"},
             {"max_restarts", rs.max_restarts},
             {"period_ms", to_ms(rs.period).count()},
             {"last_error", reason}});
    return;
  }
  if (engine_restarts_.size() >= engine_->max_restarts) {
    disable(n, "engine.component_disabled", severity::high,
            "component " + n.decl->name + " disabled: engine restart intensity exhausted",
            {{"scope", "engine"},
             {"max_restarts", engine_->max_restarts},
             {"period_ms", to_ms(engine_->restart_period).count()},
             {"last_error", reason}});
    return;
  }
  n.restart_times.push_back(now);
  engine_restarts_.push_back(now);
  auto delay = backoff_for(n);
  publish("engine.component_restarted", severity::low,
          "component " + n.decl->name + " restarts in " + std::to_string(delay.count()) + " ms",
          n.decl->name,
          {{"attempt", n.consecutive},
           {"backoff_ms", delay.count()},
           {"strategy", std::string(to_string(engine_->strategy))},
           {"reason", reason}});
  schedule_restart(n, delay);
  // Siblings per strategy: stopped gracefully (state carried), restarted after the same delay.
  for (auto& [name, other] : nodes_) {
    if (&other == &n || !alive(other) || other.awaiting_stop)
      continue;
    bool hit = engine_->strategy == restart_strategy::one_for_all ||
               (engine_->strategy == restart_strategy::rest_for_one && other.order > n.order);
    if (!hit)
      continue;
    other.restart_delay = delay;
    graceful_stop(other, true);
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
    end_outputs_on_behalf(n);
    check_done();
    return;
  }
  n.status = component_status::starting;
  n.stats->status.store(static_cast<int>(component_status::starting));
  delayed_send(caf::actor_cast<caf::actor>(this), delay, restart_atom::value, n.decl->name,
               n.generation);
}

void supervisor_actor::graceful_stop(node& n, bool restart_after) {
  if (!alive(n))
    return;
  n.awaiting_stop = true;
  n.restart_after_stop = restart_after;
  n.slot->stop_requested.store(true);
  send(n.handle, stop_atom::value, false);
  delayed_send(caf::actor_cast<caf::actor>(this), n.decl->restart.shutdown_timeout,
               stop_to_atom::value, n.decl->name, n.slot->instance);
}

void supervisor_actor::on_stopped(node& n, std::string snapshot) {
  n.awaiting_stop = false;
  n.snapshot = std::move(snapshot);
  detach(n);
  if (n.restart_after_stop && n.status != component_status::disabled)
    schedule_restart(n, n.restart_delay);
}

void supervisor_actor::end_outputs_on_behalf(node& n) {
  // In a scan (or a drain), consumers must not wait for a producer that is gone for good.
  if (env_->mode != engine_mode::scan && !draining_)
    return;
  for (auto id : n.outs) {
    auto& e = edges_.at(id);
    if (auto* c = find(e.consumer); c && alive(*c))
      send(c->handle, eos_atom::value, e.id);
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
      send<caf::message_priority::high>(p->handle, unwire_atom::value, e.id,
                                        static_cast<int>(drop_reason::disabled));
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

void supervisor_actor::escalate(node& n, const std::string& quota, double measured, double limit) {
  nlohmann::json ev = {{"quota", quota}, {"measured", measured}, {"limit", limit}};
  auto subject = "component " + n.decl->name + " over " + quota + " (" + std::to_string(measured) +
                 " > " + std::to_string(limit) + ")";
  switch (n.ladder) {
  case 0:
    n.ladder = 1;
    ev["step"] = "throttle";
    publish("engine.quota_throttle", severity::medium, subject + ": throttled", n.decl->name, ev);
    send<caf::message_priority::high>(n.handle, quota_atom::value, 1);
    break;
  case 1:
    n.ladder = 2;
    ev["step"] = "shed";
    publish("engine.quota_shed", severity::medium, subject + ": shedding input", n.decl->name, ev);
    send<caf::message_priority::high>(n.handle, quota_atom::value, 2);
    break;
  case 2:
    n.ladder = 3;
    ev["step"] = "restart";
    publish("engine.quota_restart", severity::high, subject + ": restarting", n.decl->name, ev);
    n.restart_delay = to_ms(n.decl->restart.backoff);
    graceful_stop(n, true);
    break;
  default:
    n.ladder = 4;
    ev["step"] = "disable";
    disable(n, "engine.quota_disable", severity::high, subject + ": disabled", ev);
    break;
  }
  n.stats->quota_level.store(n.ladder);
}

void supervisor_actor::check_quotas() {
  auto now = clock::now();
  double total_cpu = 0;
  double total_mem = 0;
  double total_rate = 0;
  node* top_cpu = nullptr;
  node* top_mem = nullptr;
  node* top_rate = nullptr;
  for (auto& [name, n] : nodes_) {
    if (!alive(n) || n.awaiting_stop || !n.slot)
      continue;
    const auto& q = n.decl->quota;
    auto cpu = n.slot->meter.sample(); // the actor's thread, its workers, a child's charge
    auto events = n.slot->events.load();
    n.cpu_samples.emplace_back(now, cpu);
    n.event_samples.emplace_back(now, events);
    while (n.cpu_samples.size() > 2 && now - n.cpu_samples[1].first >= q.window)
      n.cpu_samples.pop_front();
    while (n.event_samples.size() > 2 && now - n.event_samples[1].first >= q.window)
      n.event_samples.pop_front();
    auto span = to_seconds(now - n.cpu_samples.front().first);
    double cpu_pct =
        span > 0 ? static_cast<double>(cpu - n.cpu_samples.front().second) / 1e9 / span * 100.0
                 : 0.0;
    auto espan = to_seconds(now - n.event_samples.front().first);
    double rate =
        espan > 0 ? static_cast<double>(events - n.event_samples.front().second) / espan : 0.0;
    double mem_mb = static_cast<double>(n.slot->memory_bytes.load()) / (1024.0 * 1024.0);
    n.last_cpu = cpu_pct;
    n.last_rate = rate;
    n.stats->gauge("cpu_percent", cpu_pct);
    // Token bucket for events_per_second: one second of burst, refilled at the limit.
    bool over_rate = false;
    if (q.events_per_second) {
      double limit = *q.events_per_second;
      n.tokens = std::min(limit, n.tokens + to_seconds(now - n.bucket_time) * limit);
      n.tokens -= static_cast<double>(events - n.bucket_events);
      n.bucket_time = now;
      n.bucket_events = events;
      over_rate = n.tokens < 0;
      if (n.tokens < -limit)
        n.tokens = -limit; // a bounded debt: recovery is possible within a second
    }
    total_cpu += cpu_pct;
    total_mem += mem_mb;
    total_rate += rate;
    if (!top_cpu || cpu_pct > top_cpu->last_cpu)
      top_cpu = &n;
    if (!top_mem || n.slot->memory_bytes.load() > top_mem->slot->memory_bytes.load())
      top_mem = &n;
    if (!top_rate || rate > top_rate->last_rate)
      top_rate = &n;
    if (now - n.started_at < q.grace || span < to_seconds(q.window) / 2)
      continue; // start-up grace, and not enough history for a sliding window yet
    std::optional<std::tuple<std::string, double, double>> over;
    if (q.cpu_percent && cpu_pct > *q.cpu_percent)
      over = std::make_tuple("cpu_percent", cpu_pct, *q.cpu_percent);
    else if (q.memory_mb && mem_mb > static_cast<double>(*q.memory_mb))
      over = std::make_tuple("memory_mb", mem_mb, static_cast<double>(*q.memory_mb));
    else if (over_rate)
      over = std::make_tuple("events_per_second", rate, *q.events_per_second);
    if (over) {
      n.calm_since.reset();
      if (!n.excess_since)
        n.excess_since = now;
      if (now - *n.excess_since >= q.window) {
        // Sustained for a whole window: one step up; the next step needs another window.
        n.excess_since = now;
        escalate(n, std::get<0>(*over), std::get<1>(*over), std::get<2>(*over));
      }
    } else {
      n.excess_since.reset();
      if (!n.calm_since)
        n.calm_since = now;
      if ((n.ladder == 1 || n.ladder == 2) && now - *n.calm_since >= q.window) {
        publish("engine.quota_recovered", severity::info,
                "component " + n.decl->name + " back within its quotas", n.decl->name,
                {{"previous_step", n.ladder == 1 ? "throttle" : "shed"}});
        n.ladder = 0;
        n.stats->quota_level.store(0);
        send<caf::message_priority::high>(n.handle, quota_atom::value, 0);
      }
    }
  }
  // Engine-wide quota: on sustained excess, the heaviest contributor climbs its ladder.
  const auto& eq = engine_->quota;
  std::optional<std::tuple<std::string, double, double, node*>> over;
  if (eq.cpu_percent && total_cpu > *eq.cpu_percent && top_cpu)
    over = std::make_tuple("engine.cpu_percent", total_cpu, *eq.cpu_percent, top_cpu);
  else if (eq.memory_mb && total_mem > static_cast<double>(*eq.memory_mb) && top_mem)
    over =
        std::make_tuple("engine.memory_mb", total_mem, static_cast<double>(*eq.memory_mb), top_mem);
  else if (eq.events_per_second && total_rate > *eq.events_per_second && top_rate)
    over = std::make_tuple("engine.events_per_second", total_rate, *eq.events_per_second, top_rate);
  if (over) {
    auto* n = std::get<3>(*over);
    if (!engine_excess_since_)
      engine_excess_since_ = now;
    if (now - *engine_excess_since_ >= eq.window && now - n->started_at >= eq.grace) {
      engine_excess_since_ = now;
      escalate(*n, std::get<0>(*over), std::get<1>(*over), std::get<2>(*over));
    }
  } else {
    engine_excess_since_.reset();
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
  diagnostics errs;
  for (const auto& d : next.components) {
    if (d.enabled && !env_->reg->find(d.kind, d.type))
      errs.push_back({d.where, "unknown " + std::string(to_string(d.kind)) + " type '" + d.type +
                                   "' for component '" + d.name + "'"});
    for (const auto& i : d.inputs)
      if (!next.find(i))
        errs.push_back({d.where, "component '" + d.name + "' has unknown input '" + i + "'"});
  }
  auto order = topological_order(next);
  {
    // A cycle shows as a component placed before one of its inputs.
    std::map<std::string, std::size_t> pos;
    for (std::size_t i = 0; i < order.size(); ++i)
      pos[order[i]] = i;
    for (const auto& d : next.components)
      for (const auto& i : d.inputs)
        if (pos.count(i) && pos[i] > pos[d.name])
          errs.push_back({d.where, "component '" + d.name + "' is part of a cycle"});
  }
  if (next.engine.worker_threads != engine_->worker_threads ||
      next.engine.max_throughput != engine_->max_throughput)
    spdlog::warn("reload: engine.worker_threads / engine.max_throughput apply after a restart");
  if (!errs.empty())
    return errs;

  std::set<std::string> changed;
  for (auto& [name, n] : nodes_) {
    const auto* d = next.find(name);
    if (!d || !d->same_settings(*n.decl))
      changed.insert(name); // removed or changed
  }
  std::set<std::string> added;
  for (const auto& d : next.components)
    if (!nodes_.count(d.name))
      added.insert(d.name);
  // 1. Stop what goes away or changes; its edges go with it.
  for (const auto& name : changed) {
    auto& n = nodes_.at(name);
    ++n.generation;
    if (alive(n)) {
      n.slot->stop_requested.store(true);
      send(n.handle, stop_atom::value, false); // stop() runs; the old instance is forgotten
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
        send<caf::message_priority::high>(p->handle, unwire_atom::value, e.id,
                                          static_cast<int>(drop_reason::restart));
      if (c && !changed.count(c->decl->name) && alive(*c))
        send<caf::message_priority::high>(c->handle, rm_in_atom::value, e.id);
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
  }
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
        send<caf::message_priority::high>(c->handle, add_in_atom::value,
                                          in_edge_spec{e.id, false, e.stats});
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
    send<caf::message_priority::high>(p->handle, add_out_atom::value, std::move(o));
  }
  publish("engine.reloaded", severity::info, "configuration reloaded", "",
          {{"restarted", std::vector<std::string>(changed.begin(), changed.end())},
           {"added", std::vector<std::string>(added.begin(), added.end())}});
  return {};
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
      [this](fin_req_atom, const std::string& name, std::uint64_t instance) {
        auto* n = find(name);
        if (n && n->slot && n->slot->instance == instance && alive(*n))
          send(n->handle, fin_ok_atom::value);
      },
      [this](synced_atom, const std::string&) {
        if (settling_ && unsynced_ > 0 && --unsynced_ == 0)
          finish_done();
      },
      [this](sync_to_atom) {
        if (settling_)
          finish_done();
      },
      [this](failed_atom, const failure_report& r) { on_failure(r); },
      [this](stopped_atom, const std::string& name, std::uint64_t instance, std::string& snap) {
        auto* n = find(name);
        if (!n || !n->slot || n->slot->instance != instance || !n->handle)
          return;
        on_stopped(*n, std::move(snap));
      },
      [this](finished_atom, const std::string& name, std::uint64_t instance) {
        auto* n = find(name);
        if (!n || !n->slot || n->slot->instance != instance)
          return;
        n->status = component_status::finished;
        check_done();
      },
      [this](finding_atom, const finding& f) {
        env_->stats->engine().count("findings", 1);
        env_->hub->publish(f);
        auto b = make_batch({make_finding_event(f, "engine")});
        for (auto& [name, n] : nodes_)
          if (n.decl->kind == component_kind::sink && alive(n) &&
              n.status != component_status::finished)
            send(n.handle, inject_atom::value, b);
      },
      [this](hung_atom, const std::string& name, std::uint64_t instance, std::int64_t elapsed_ns,
             std::int64_t edge) {
        auto* n = find(name);
        if (!n || !n->slot || n->slot->instance != instance || !alive(*n))
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
              send<caf::message_priority::high>(p->handle, drop_atom::value, it->second.id,
                                                static_cast<int>(drop_reason::timeout));
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
      [this](restart_atom, const std::string& name, std::uint64_t generation) {
        auto* n = find(name);
        if (!n || n->generation != generation || alive(*n) ||
            n->status == component_status::disabled || done_)
          return;
        n->stats->restarts.fetch_add(1);
        spawn(*n);
      },
      [this](stop_to_atom, const std::string& name, std::uint64_t instance) {
        auto* n = find(name);
        if (!n || !n->slot || n->slot->instance != instance || !n->awaiting_stop || !alive(*n))
          return;
        n->slot->abandoned.store(true);
        send_exit(n->handle, caf::exit_reason::kill);
        publish("engine.shutdown_timeout", severity::medium,
                "component " + name + " did not stop within its shutdown_timeout: killed", name,
                {{"shutdown_timeout_ms", to_ms(n->decl->restart.shutdown_timeout).count()}});
        on_stopped(*n, {});
      },
      [this](check_atom) {
        if (!done_)
          check_quotas();
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
            }
            end_outputs_on_behalf(n);
            continue;
          }
          if (n.ins.empty())
            send(n.handle, stop_atom::value, true);
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
      [this](reload_atom, const reload_request& req) {
        diagnostics d;
        try {
          d = reload(*req.next);
        } catch (const std::exception& e) {
          d.push_back({{}, std::string("reload failed: ") + e.what()});
        }
        req.reply->set_value(std::move(d));
      },
  };
}

} // namespace pg::runtime::detail
