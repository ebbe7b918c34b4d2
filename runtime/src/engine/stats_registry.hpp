// SPDX-License-Identifier: Apache-2.0
// stats_registry.hpp — every component's and edge's live metrics for one engine; the supervisor
// adds and removes entries (start, reload), metrics() reads them from any thread.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "engine/component_stats.hpp"
#include "engine/edge_stats.hpp"
#include "phantomguard/runtime/metrics.hpp"

namespace pg::runtime::detail {

class stats_registry {
public:
  stats_registry() { engine_->name = "engine"; }

  std::shared_ptr<component_stats> component(const std::string& name);
  std::shared_ptr<edge_stats> add_edge(std::string producer, std::string consumer,
                                       std::uint64_t window_events, std::uint64_t window_bytes);
  void remove_edge(const std::shared_ptr<edge_stats>& e);
  void remove_component(const std::string& name);
  component_stats& engine() noexcept { return *engine_; }

  [[nodiscard]] metrics_snapshot snapshot() const;

private:
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<component_stats>> components_;
  std::vector<std::shared_ptr<edge_stats>> edges_;
  std::shared_ptr<component_stats> engine_ = std::make_shared<component_stats>();
};

} // namespace pg::runtime::detail
