// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/vuln/register.hpp"

#include "phantomguard/actors/vuln/vuln_analyzer.hpp"
#include "phantomguard/actors/vuln/vuln_command.hpp"

namespace pg::actors::vuln {

void register_components(runtime::registry& reg) {
  runtime::component_type type;
  type.name = "vuln";
  type.kind = runtime::component_kind::analyzer;
  type.description = "installed Debian packages (dpkg status, status.d) matched against local OSV "
                     "advisories: vuln.package findings";
  type.options = vuln_analyzer::options();
  type.factory = [](const runtime::component_init& init) {
    return std::make_unique<vuln_analyzer>(init);
  };
  reg.add(std::move(type));
  reg.add_command(runtime::command{
      "vuln",
      "match installed packages against advisories (--advisories PATH), or download them (update)",
      run_vuln_command});
}

} // namespace pg::actors::vuln
