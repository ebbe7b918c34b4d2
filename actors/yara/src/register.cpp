// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/yara/register.hpp"

#include <iostream>

#include "phantomguard/actors/yara/yara_analyzer.hpp"
#include "phantomguard/actors/yara/yara_command.hpp"
#include "phantomguard/actors/yara/yara_settings.hpp"

namespace pg::actors::yara {

void register_components(runtime::registry& reg) {
  runtime::component_type t;
  t.name = "yara";
  t.kind = runtime::component_kind::analyzer;
  t.description = "YARA rules over file trees and process memory (libyara), compiled rules and "
                  "per-file results cached; yara.match findings";
  t.options = yara_option_specs();
  t.throttle_defaults = runtime::background_scan_throttle();
  t.factory = [](const runtime::component_init& init) -> std::unique_ptr<runtime::component> {
    return std::make_unique<yara_analyzer>(init);
  };
  reg.add(std::move(t));
  reg.add_command(runtime::command{
      "yara", "scan files or process memory with YARA rules",
      [](int argc, char** argv) { return run_yara_command(argc, argv, std::cout, std::cerr); }});
}

} // namespace pg::actors::yara
