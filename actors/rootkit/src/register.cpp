// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/rootkit/register.hpp"

#include <memory>

#include "phantomguard/actors/rootkit/kernel_loads_analyzer.hpp"
#include "phantomguard/actors/rootkit/rootkit_analyzer.hpp"

namespace pg::actors::rootkit {

void register_components(runtime::registry& reg) {
  runtime::component_type t;
  t.name = "rootkit";
  t.kind = runtime::component_kind::analyzer;
  t.description = "cross-view rootkit checks: hidden processes, ports, modules and files, "
                  "ld.so.preload, kernel taint, known rootkit paths";
  t.options = rootkit_options();
  t.factory = [](const runtime::component_init& init) -> std::unique_ptr<runtime::component> {
    return std::make_unique<rootkit_analyzer>(rootkit_settings::from(init.settings));
  };
  reg.add(std::move(t));
  reg.add(kernel_loads_analyzer::type());
}

} // namespace pg::actors::rootkit
