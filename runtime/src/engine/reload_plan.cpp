// SPDX-License-Identifier: Apache-2.0
#include "engine/reload_plan.hpp"

namespace pg::runtime::detail {

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

reload_plan plan_reload(const std::map<std::string, const component_decl*>& running,
                        const pipeline_config& next, const registry& reg) {
  reload_plan plan;
  for (const auto& d : next.components) {
    if (d.enabled && !reg.find(d.kind, d.type))
      plan.errors.push_back({d.where, "unknown " + std::string(to_string(d.kind)) + " type '" +
                                          d.type + "' for component '" + d.name + "'"});
    for (const auto& i : d.inputs)
      if (!next.find(i))
        plan.errors.push_back(
            {d.where, "component '" + d.name + "' has unknown input '" + i + "'"});
  }
  plan.order = topological_order(next);
  // A cycle shows as a component placed before one of its inputs.
  std::map<std::string, std::size_t> pos;
  for (std::size_t i = 0; i < plan.order.size(); ++i)
    pos[plan.order[i]] = i;
  for (const auto& d : next.components)
    for (const auto& i : d.inputs)
      if (pos.count(i) && pos[i] > pos[d.name])
        plan.errors.push_back({d.where, "component '" + d.name + "' is part of a cycle"});
  for (const auto& [name, decl] : running) {
    const auto* d = next.find(name);
    if (!d || !d->same_settings(*decl))
      plan.changed.insert(name);
  }
  for (const auto& d : next.components)
    if (!running.count(d.name))
      plan.added.insert(d.name);
  if (plan.errors.empty()) {
    pipeline_config starting = next;
    std::erase_if(starting.components, [&](const component_decl& d) {
      return !plan.changed.count(d.name) && !plan.added.count(d.name);
    });
    for (auto& e : check_components(starting, reg))
      plan.errors.push_back(std::move(e));
  }
  return plan;
}

} // namespace pg::runtime::detail
