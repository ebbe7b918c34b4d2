// SPDX-License-Identifier: Apache-2.0
// component_actor.hpp — the actor that runs one component instance. It owns the component,
// implements its context, keeps the producer side of its output edges and the consumer side of
// its input edges (credit), measures its hooks (CPU, latency, memory) and reports failures to
// the supervisor, which owns every decision about restarts.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/event_based_actor.hpp>

#include "engine/component_stats.hpp"
#include "engine/finding_hub.hpp"
#include "engine/instance_slot.hpp"
#include "engine/loss_tracker.hpp"
#include "engine/messages.hpp"
#include "engine/output_edge.hpp"
#include "engine/thread_meter.hpp"
#include "phantomguard/runtime/component.hpp"
#include "phantomguard/runtime/config.hpp"
#include "phantomguard/runtime/cron.hpp"
#include "phantomguard/runtime/registry.hpp"
#include "phantomguard/runtime/suppression.hpp"

namespace pg::runtime::detail {

enum class engine_mode { scan, run };

/// Everything a new instance needs; built by the supervisor.
struct component_spec {
  std::shared_ptr<const component_decl> decl;
  component_factory factory;
  std::optional<std::chrono::milliseconds> sink_tick; // component_type::sink_tick
  std::shared_ptr<const engine_settings> engine;
  std::string host;
  engine_mode mode = engine_mode::scan;
  std::vector<new_output> outputs;
  std::vector<in_edge_spec> inputs;
  std::string restore_state;
  std::shared_ptr<component_stats> stats;
  std::shared_ptr<instance_slot> slot;
  std::shared_ptr<finding_hub> hub;
  std::shared_ptr<suppressor> suppress; // [[suppress]] entries, shared by the engine
  caf::actor supervisor;
};

class component_actor;

/// The context a component sees: forwards to its actor. A separate object because CAF's actors
/// already have a virtual name() with another signature.
class actor_context final : public context {
public:
  explicit actor_context(component_actor& self) : self_(self) {}
  const std::string& name() const noexcept override;
  const std::string& host() const noexcept override;
  wall_clock::time_point now() const noexcept override { return wall_clock::now(); }
  void emit(event e) override;
  void emit_finding(finding f) override;
  void count(std::string_view key, std::int64_t delta) override;
  void gauge(std::string_view key, double value) override;
  void lost(std::string_view cause, std::int64_t n) override;
  void log(log_level level, std::string_view message) override;
  bool should_stop() const noexcept override;
  std::pmr::memory_resource* memory() noexcept override;
  void account_memory(std::int64_t delta_bytes) override;
  void charge_cpu(std::int64_t cpu_ns) override;
  void charge_io(const io_counters& delta) override;
  bool input_waiting() const noexcept override;
  component_threads& threads() noexcept override;
  void finish() override;

private:
  component_actor& self_;
};

class component_actor final : public caf::event_based_actor {
  friend class actor_context;

public:
  component_actor(caf::actor_config& cfg, component_spec spec);
  ~component_actor() override;

  caf::behavior make_behavior() override;
  void on_exit() override;

private:
  void emit(event e);
  void emit_finding(finding f);

  struct out_link {
    output_edge edge;
    caf::actor consumer;
  };
  struct in_link {
    std::uint32_t edge_id = 0;
    std::uint64_t epoch = ~std::uint64_t{0};
    caf::actor producer;
    bool ended = false;
    std::int64_t outstanding_events = 0; // credit the producer holds + events in flight
    std::int64_t outstanding_bytes = 0;
    std::shared_ptr<edge_stats> stats;
  };

  template <class F>
  bool run_hook(hook_kind kind, std::int64_t edge, F&& f);
  void fail(hook_kind kind, std::string what, bool refused, std::string rule);
  void flush_output();
  void offer_all(batch_ptr b);
  void pump(out_link& l);
  void after_output_change();
  void grant_inputs();
  void on_batch_msg(std::uint32_t edge, std::uint64_t epoch, const batch_ptr& b);
  void on_tick();
  void schedule_next_tick();
  bool hold_tick();       // true: the adaptive throttle holds this tick
  void retry_held_tick(); // retick_atom
  void finish();
  void maybe_finish();
  void engine_finding(std::string rule, severity level, std::string title, nlohmann::json evidence);
  void record_loss(const std::string& cause, std::int64_t n);
  void report_loss(const loss_tracker::report& r);
  void arm_loss_check();
  void flush_losses();
  out_link* find_out(std::uint32_t edge);
  in_link* find_in(std::uint32_t edge);
  [[nodiscard]] bool outputs_blocked() const;
  [[nodiscard]] bool has_schedule() const;

  component_spec spec_;
  metered_threads threads_;
  int thread_token_ = 0;               // the actor's own thread in the instance's CPU meter
  std::int64_t last_io_sample_ns_ = 0; // when run_hook last read the thread's I/O counters
  actor_context ctx_{*this};
  std::unique_ptr<component> component_;
  std::vector<out_link> outputs_;
  std::vector<in_link> inputs_;
  std::vector<event> out_buffer_;
  std::int64_t accounted_ = 0;
  std::optional<cron_expr> cron_;
  std::optional<wall_clock::time_point> cron_due_; // the minute the pending cron tick is for
  bool started_ = false;
  bool finished_ = false;
  bool dead_ = false; // failed or abandoned: ignore everything until the actor is gone
  bool flush_armed_ = false;
  bool finish_requested_ = false;
  bool exit_requested_ = false; // context::finish()
  bool loss_check_armed_ = false;
  std::optional<loss_tracker> losses_;
  bool was_blocked_ = false;
  int quota_level_ = 0; // 0 normal, 1 throttle (shrink credit / thin ticks), 2 shed
  std::uint64_t throttle_counter_ = 0;
  bool tick_held_ = false; // the adaptive throttle holds a tick; retick_atom retries it
  std::uint64_t shed_counter_ = 0;
};

} // namespace pg::runtime::detail
