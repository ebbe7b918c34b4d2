// SPDX-License-Identifier: Apache-2.0
#include "engine/stats_registry.hpp"

#include <algorithm>

namespace pg::runtime::detail {

std::shared_ptr<component_stats> stats_registry::component(const std::string& name) {
  std::lock_guard guard{mutex_};
  for (auto& c : components_)
    if (c->name == name)
      return c;
  auto c = std::make_shared<component_stats>();
  c->name = name;
  components_.push_back(c);
  return c;
}

std::shared_ptr<edge_stats> stats_registry::add_edge(std::string producer, std::string consumer,
                                                     std::uint64_t window_events,
                                                     std::uint64_t window_bytes) {
  auto e = std::make_shared<edge_stats>();
  e->producer = std::move(producer);
  e->consumer = std::move(consumer);
  e->window_events = window_events;
  e->window_bytes = window_bytes;
  std::lock_guard guard{mutex_};
  edges_.push_back(e);
  return e;
}

void stats_registry::remove_edge(const std::shared_ptr<edge_stats>& e) {
  std::lock_guard guard{mutex_};
  std::erase(edges_, e);
}

void stats_registry::remove_component(const std::string& name) {
  std::lock_guard guard{mutex_};
  std::erase_if(components_, [&](const auto& c) { return c->name == name; });
}

metrics_snapshot stats_registry::snapshot() const {
  std::lock_guard guard{mutex_};
  metrics_snapshot s;
  for (const auto& c : components_) {
    auto m = c->snapshot();
    double queued_e = 0;
    double queued_b = 0;
    double max_e = 0;
    double max_b = 0;
    for (const auto& e : edges_) {
      auto ld = [](const std::atomic<std::int64_t>& a) {
        return a.load(std::memory_order_relaxed);
      };
      if (e->consumer == c->name) {
        queued_e += static_cast<double>(ld(e->queued_events));
        queued_b += static_cast<double>(ld(e->queued_bytes));
        max_e = std::max(max_e, static_cast<double>(ld(e->max_queued_events)));
        max_b = std::max(max_b, static_cast<double>(ld(e->max_queued_bytes)));
      }
      if (e->producer == c->name) {
        // Per edge: produced = delivered + dropped_<reason>... + queued + pending.
        auto prefix = "edge." + e->consumer + ".";
        m.counters[prefix + "produced"] = ld(e->produced);
        m.counters[prefix + "delivered"] = ld(e->delivered);
        for (std::size_t r = 0; r < drop_reason_count; ++r) {
          auto key = "dropped_" + std::string(to_string(static_cast<drop_reason>(r)));
          auto v = ld(e->dropped[r]);
          m.counters[prefix + key] = v;
          m.counters[key] += v;
        }
        m.gauges[prefix + "queued_events"] = static_cast<double>(ld(e->queued_events));
        m.gauges[prefix + "queued_bytes"] = static_cast<double>(ld(e->queued_bytes));
        m.gauges[prefix + "pending_events"] = static_cast<double>(ld(e->pending_events));
        m.gauges[prefix + "pending_bytes"] = static_cast<double>(ld(e->pending_bytes));
        m.gauges[prefix + "max_queued_events"] = static_cast<double>(ld(e->max_queued_events));
        m.gauges[prefix + "max_queued_bytes"] = static_cast<double>(ld(e->max_queued_bytes));
        m.gauges[prefix + "window_events"] = static_cast<double>(e->window_events);
        m.gauges[prefix + "window_bytes"] = static_cast<double>(e->window_bytes);
      }
    }
    m.gauges["queued_events"] = queued_e;
    m.gauges["queued_bytes"] = queued_b;
    m.gauges["max_queued_events"] = max_e;
    m.gauges["max_queued_bytes"] = max_b;
    s.components.push_back(std::move(m));
  }
  s.components.push_back(engine_->snapshot());
  return s;
}

} // namespace pg::runtime::detail
