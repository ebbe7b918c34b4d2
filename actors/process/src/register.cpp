// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/process/register.hpp"

#include "phantomguard/actors/process/behavior_analyzer.hpp"
#include "phantomguard/actors/process/process_analyzer.hpp"
#include "phantomguard/actors/process/procfs_source.hpp"

namespace pg::actors::process {

void register_components(runtime::registry& reg) {
  reg.add(procfs_source::type());
  reg.add(process_analyzer::type());
  reg.add(behavior_analyzer::type());
}

} // namespace pg::actors::process
