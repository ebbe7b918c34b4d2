// SPDX-License-Identifier: Apache-2.0
// supervisor.hpp — the actor that owns the pipeline graph: it spawns a component actor per
// component, wires the edges (and re-wires them when an end restarts), carries out what the plain
// policies decide — restart_policy.hpp (intensity, backoff, the supervision tree) and
// quota_governor.hpp (the quota ladder) —, collects engine.* findings, and tells the engine when
// a scan or a drain has finished. The decisions live in those objects; this file is the plumbing.
#pragma once

#include <deque>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/event_based_actor.hpp>

#include "engine/alert_evaluator.hpp"
#include "engine/component_actor.hpp"
#include "engine/finding_hub.hpp"
#include "engine/quota_governor.hpp"
#include "engine/restart_policy.hpp"
#include "engine/stats_registry.hpp"
#include "engine/watchdog.hpp"
#include "phantomguard/runtime/config.hpp"
#include "phantomguard/runtime/registry.hpp"
#include "phantomguard/runtime/suppression.hpp"

namespace pg::runtime::detail {

/// What the engine shares with its supervisor.
struct supervisor_env {
  const registry* reg = nullptr;
  std::shared_ptr<finding_hub> hub;
  std::shared_ptr<suppressor> suppress = std::make_shared<suppressor>(); // [[suppress]]
  std::shared_ptr<stats_registry> stats;
  watchdog* dog = nullptr;
  std::string host;
  engine_mode mode = engine_mode::scan;
  std::promise<void> done; // scan finished / drain finished
};

class supervisor_actor final : public caf::event_based_actor {
public:
  supervisor_actor(caf::actor_config& cfg, std::shared_ptr<supervisor_env> env,
                   pipeline_config config);
  ~supervisor_actor() override;

  caf::behavior make_behavior() override;
  void on_exit() override;

private:
  using clock = std::chrono::steady_clock;

  struct edge_rec {
    std::uint32_t id = 0;
    std::string producer;
    std::string consumer;
    std::uint64_t epoch = 0;
    std::shared_ptr<edge_stats> stats;
  };

  struct node {
    std::shared_ptr<const component_decl> decl;
    const component_type* type = nullptr;
    std::shared_ptr<component_stats> stats;
    caf::actor handle;
    std::shared_ptr<instance_slot> slot;
    component_status status = component_status::starting;
    std::vector<std::uint32_t> ins;
    std::vector<std::uint32_t> outs;
    std::size_t order = 0;
    restart_intensity intensity; // the component's own restart.max_restarts / period
    std::optional<restart_backoff> backoff;
    std::optional<quota_governor> governor;
    clock::time_point started_at{};
    std::string snapshot;
    std::uint64_t generation = 0; // stale restart timers compare against it
    bool awaiting_stop = false;
    bool restart_after_stop = false;
    std::chrono::milliseconds restart_delay{0};
    int hangs = 0;
  };

  void build(const pipeline_config& cfg);
  void start_all();
  void spawn(node& n);
  [[nodiscard]] bool alive(const node& n) const;
  node* find(const std::string& name);
  node* find(const caf::actor_addr& addr);
  void detach(node& n);
  void on_failure(const failure_report& r);
  void on_exit_of(node& n, bool abnormal, const std::string& reason);
  void restart_or_escalate(node& n, const std::string& reason);
  void escalate(const std::string& group, node& trigger, const std::string& reason,
                const std::string& why);
  void restart_together(node& trigger, const std::vector<std::string>& names,
                        std::chrono::milliseconds delay);
  void rebuild_tree();
  void schedule_restart(node& n, std::chrono::milliseconds delay);
  void graceful_stop(node& n, bool restart_after);
  void on_stopped(node& n, std::string snapshot);
  void disable(node& n, const std::string& rule, severity level, const std::string& title,
               nlohmann::json evidence);
  void end_outputs_on_behalf(node& n);
  void write_off_inputs(node& n);
  void check_done();
  void finish_done();
  void check_quotas();
  void apply_quota(node& n, const quota_verdict& v);
  void log_metrics();
  void publish(std::string rule, severity level, std::string title, const std::string& component,
               nlohmann::json evidence);
  void publish(finding f); // an engine finding (host and analyzer filled in here)
  void publish_expired_suppressions();
  diagnostics reload(pipeline_config next);
  void refuse_reload(const diagnostics& why);
  [[nodiscard]] std::chrono::milliseconds check_interval() const;

  std::shared_ptr<supervisor_env> env_;
  pipeline_config config_;
  std::shared_ptr<const engine_settings> engine_;
  std::map<std::string, node> nodes_;
  std::map<std::uint32_t, edge_rec> edges_;
  std::uint32_t next_edge_ = 1;
  std::uint64_t next_instance_ = 1;
  std::unique_ptr<supervision_tree> tree_;
  std::map<std::string, restart_intensity> group_intensity_; // per supervisor, root included
  bool draining_ = false;
  bool done_ = false;
  bool settling_ = false; // waiting for every live component to answer a sync
  std::size_t unsynced_ = 0;
  std::optional<clock::time_point> engine_excess_since_;
  clock::time_point last_heap_release_ = clock::now();
  void release_heap(); // engine.heap_release_interval: free heap pages back to the system
  // state_dir and temp_dir: usable, or an open engine.state_dir_unusable episode (by path).
  void check_dirs();
  clock::time_point last_dir_check_{};
  std::map<std::string, std::string> dir_problems_; // path -> what is wrong with it
  std::optional<clock::time_point> engine_calm_since_;
  std::unique_ptr<alert_evaluator> alerts_; // [alerts.NAME], in run mode
  std::minstd_rand rng_{std::random_device{}()};
};

} // namespace pg::runtime::detail
