// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/container/register.hpp"

#include "phantomguard/actors/container/container_analyzer.hpp"
#include "phantomguard/actors/container/container_command.hpp"

namespace pg::actors::container {

void register_components(runtime::registry& reg) {
  runtime::component_type type;
  type.name = "container";
  type.kind = runtime::component_kind::analyzer;
  type.description = "live containers (privileged, host namespaces, sensitive mounts, drift) and "
                     "images / root file systems (packages, setuid, world-writable, secrets, "
                     "root user)";
  type.options = container_analyzer::options();
  type.throttle_defaults = runtime::background_scan_throttle();
  type.factory = [](const runtime::component_init& init) {
    return std::make_unique<container_analyzer>(init);
  };
  reg.add(std::move(type));
  reg.add_command(runtime::command{
      "container", "scan an image or root file system (scan DIR), or the live containers (live)",
      run_container_command});
}

} // namespace pg::actors::container
