// SPDX-License-Identifier: Apache-2.0
// refusal.hpp — a component factory's way to say "this component must not start" (a refused
// plugin, an impossible setting found only at start-up) as opposed to a transient failure.
#pragma once

#include <stdexcept>
#include <string>

namespace pg::runtime {

/// Thrown by a factory or by component::start(). The engine does not restart a refused
/// component: it disables it, keeps the rest of the pipeline running, and raises a finding with
/// `rule` (e.g. "engine.plugin_refused") whose title is what().
class component_refused : public std::runtime_error {
public:
  component_refused(std::string rule, const std::string& message)
      : std::runtime_error(message), rule_(std::move(rule)) {}
  [[nodiscard]] const std::string& rule() const noexcept { return rule_; }

private:
  std::string rule_;
};

} // namespace pg::runtime
