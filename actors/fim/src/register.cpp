// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/fim/register.hpp"

#include <iostream>

#include "phantomguard/actors/fim/fim_analyzer.hpp"
#include "phantomguard/actors/fim/fim_command.hpp"
#include "phantomguard/actors/fim/fim_settings.hpp"
#include "phantomguard/actors/fim/package_integrity.hpp"

namespace pg::actors::fim {

void register_components(runtime::registry& reg) {
  runtime::component_type t;
  t.name = "fim";
  t.kind = runtime::component_kind::analyzer;
  t.description = "file integrity: baseline of watched trees (metadata, xattrs, capabilities, "
                  "SHA-256) and fim.added / fim.removed / fim.changed findings; optional inotify";
  t.options = fim_option_specs();
  t.throttle_defaults = runtime::background_scan_throttle();
  t.factory = [](const runtime::component_init& init) -> std::unique_ptr<runtime::component> {
    return std::make_unique<fim_analyzer>(init);
  };
  reg.add(std::move(t));
  reg.add(package_integrity_analyzer::type());
  reg.add_command(runtime::command{
      "fim", "file integrity: record a baseline (init), compare against it (check), accept changes",
      [](int argc, char** argv) { return run_fim_command(argc, argv, std::cout, std::cerr); }});
  reg.add_api_action(runtime::api_action{
      "fim/accept",
      "accept reported file changes into the baseline: {\"by\": NAME, \"paths\": [...]}",
      accept_over_api});
}

} // namespace pg::actors::fim
