// SPDX-License-Identifier: Apache-2.0
// reload_plan.hpp — the plain part of building and changing the pipeline graph, with no actors:
// the start order, and what a reload would do (which running components it stops or replaces,
// which it adds) or why it must be refused. The supervisor carries the plan out.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "phantomguard/runtime/config.hpp"
#include "phantomguard/runtime/diagnostic.hpp"
#include "phantomguard/runtime/registry.hpp"

namespace pg::runtime::detail {

/// Topological order of the declared components (inputs first), declaration order among equals.
/// The config was validated (no cycles); an unexpected cycle falls back to declaration order.
std::vector<std::string> topological_order(const pipeline_config& cfg);

struct reload_plan {
  diagnostics errors;             // non-empty: refuse, nothing changes
  std::vector<std::string> order; // the new start order
  std::set<std::string> changed;  // running now, and removed or declared differently
  std::set<std::string> added;    // not running now
};

/// Plans the move from the running declarations to `next`: unknown types and inputs, cycles, and
/// every new or changed component that would not start (check_components, the checks validate
/// runs) are errors, found before anything running is touched.
reload_plan plan_reload(const std::map<std::string, const component_decl*>& running,
                        const pipeline_config& next, const registry& reg);

} // namespace pg::runtime::detail
