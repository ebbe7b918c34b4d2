// SPDX-License-Identifier: Apache-2.0
#include "engine/restart_policy.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace pg::runtime::detail {

bool restart_intensity::admit(steady::time_point now) {
  if (recent(now) >= max_)
    return false;
  times_.push_back(now);
  return true;
}

std::size_t restart_intensity::recent(steady::time_point now) {
  while (!times_.empty() && now - times_.front() > period_)
    times_.pop_front();
  return times_.size();
}

std::chrono::milliseconds restart_backoff::next(steady::time_point now,
                                                steady::time_point started_at,
                                                std::minstd_rand& rng) {
  using ms = std::chrono::milliseconds;
  if (now - started_at >= rs_.healthy_after)
    consecutive_ = 0; // it ran healthy long enough: start the backoff over
  ++consecutive_;
  double base = static_cast<double>(std::chrono::duration_cast<ms>(rs_.backoff).count());
  double d = base * std::pow(2.0, static_cast<double>(std::min<std::uint32_t>(consecutive_ - 1, 30)));
  d = std::min(d, static_cast<double>(std::chrono::duration_cast<ms>(rs_.max_backoff).count()));
  std::uniform_real_distribution<double> jitter(0.75, 1.25);
  return ms(static_cast<std::int64_t>(d * jitter(rng)));
}

supervision_tree::supervision_tree(const pipeline_config& cfg,
                                   const std::map<std::string, std::size_t>& order)
    : order_(order) {
  auto& r = groups_[root];
  r.name = root;
  r.strategy = cfg.engine.strategy;
  r.max_restarts = cfg.engine.max_restarts;
  r.period = cfg.engine.restart_period;
  for (const auto& s : cfg.supervisors) {
    auto& g = groups_[s.name];
    g.name = s.name;
    g.parent = s.parent.empty() ? std::string(root) : s.parent;
    g.strategy = s.strategy;
    g.max_restarts = s.max_restarts;
    g.period = s.period;
  }
  // The config was validated: an unknown parent or supervisor falls back to the root.
  for (auto& [name, g] : groups_) {
    if (name == root)
      continue;
    if (!groups_.count(g.parent))
      g.parent = root;
  }
  // A cycle (validated away) would make subtree() loop: cut it at the root.
  for (auto& [name, g] : groups_) {
    std::string at = g.parent;
    for (std::size_t hops = 0; !at.empty() && at != root; ++hops) {
      if (hops > groups_.size() || at == name) {
        g.parent = root;
        break;
      }
      at = groups_.at(at).parent;
    }
  }
  for (auto& [name, g] : groups_)
    if (name != root)
      groups_.at(g.parent).groups.push_back(name);
  for (const auto& d : cfg.components) {
    auto sup = d.supervisor.empty() || !groups_.count(d.supervisor) ? std::string(root)
                                                                    : d.supervisor;
    supervisor_of_[d.name] = sup;
    groups_.at(sup).components.push_back(d.name);
  }
  auto rank = [&](const std::string& c) {
    auto it = order_.find(c);
    return it == order_.end() ? std::numeric_limits<std::size_t>::max() : it->second;
  };
  for (auto& [name, g] : groups_)
    std::sort(g.components.begin(), g.components.end(),
              [&](const auto& a, const auto& b) { return rank(a) < rank(b); });
}

const supervision_tree::group& supervision_tree::at(const std::string& name) const {
  auto it = groups_.find(name);
  if (it == groups_.end())
    throw std::out_of_range("no supervisor " + name);
  return it->second;
}

const std::string& supervision_tree::supervisor_of(const std::string& component) const {
  static const std::string r = root;
  auto it = supervisor_of_.find(component);
  return it == supervisor_of_.end() ? r : it->second;
}

std::vector<std::string> supervision_tree::subtree(const std::string& g) const {
  std::vector<std::string> out{g};
  for (std::size_t i = 0; i < out.size(); ++i)
    for (const auto& c : at(out[i]).groups)
      out.push_back(c);
  return out;
}

std::vector<std::string> supervision_tree::members(const std::string& g) const {
  std::vector<std::string> out;
  for (const auto& s : subtree(g))
    for (const auto& c : at(s).components)
      out.push_back(c);
  return out;
}

std::size_t supervision_tree::rank_of_group(const std::string& g) const {
  std::size_t best = std::numeric_limits<std::size_t>::max();
  for (const auto& c : members(g))
    if (auto it = order_.find(c); it != order_.end())
      best = std::min(best, it->second);
  return best;
}

std::vector<std::string> supervision_tree::restart_set(const std::string& g,
                                                       const std::string& child,
                                                       bool child_is_group) const {
  const auto& grp = at(g);
  auto rank = [&](const std::string& name, bool is_group) {
    if (is_group)
      return rank_of_group(name);
    auto it = order_.find(name);
    return it == order_.end() ? std::numeric_limits<std::size_t>::max() : it->second;
  };
  const auto child_rank = rank(child, child_is_group);
  std::vector<std::string> out;
  auto take = [&](const std::string& name, bool is_group) {
    if (is_group)
      for (const auto& m : members(name))
        out.push_back(m);
    else
      out.push_back(name);
  };
  take(child, child_is_group);
  auto hit = [&](const std::string& name, bool is_group) {
    if (name == child && is_group == child_is_group)
      return false;
    return grp.strategy == restart_strategy::one_for_all ||
           (grp.strategy == restart_strategy::rest_for_one && rank(name, is_group) > child_rank);
  };
  for (const auto& c : grp.components)
    if (hit(c, false))
      take(c, false);
  for (const auto& s : grp.groups)
    if (hit(s, true))
      take(s, true);
  return out;
}

} // namespace pg::runtime::detail
