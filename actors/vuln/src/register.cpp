// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/vuln/register.hpp"

#include <chrono>
#include <string>
#include <vector>

#include "phantomguard/actors/vuln/advisory_update.hpp"
#include "phantomguard/actors/vuln/vuln_analyzer.hpp"
#include "phantomguard/actors/vuln/vuln_command.hpp"

namespace pg::actors::vuln {

namespace {

// `phantomguard doctor`: each vuln analyzer's advisory data, present and current.
std::vector<runtime::host_report> host_reports(const runtime::pipeline_config& config) {
  using runtime::host_level;
  std::vector<runtime::host_report> out;
  for (const auto& c : config.components) {
    if (!c.enabled || c.type != "vuln")
      continue;
    runtime::host_report r{"content", "advisories of " + c.name, host_level::ok, "", ""};
    const auto path = c.settings.get_string("advisories", "");
    const auto max_age = std::chrono::duration_cast<std::chrono::seconds>(
        c.settings.get_duration("max_age", std::chrono::hours(24 * 7)));
    std::string from;
    const auto at = path.empty() ? std::nullopt : advisories_confirmed_at(path, &from);
    if (path.empty()) {
      r.level = host_level::warn;
      r.detail = "no `advisories` file is configured: the analyzer matches nothing";
      r.advice = "set advisories (and update_url) in [analyzers." + c.name + "]";
    } else if (!at) {
      r.level = host_level::warn;
      r.detail = path + " is missing: no package is matched until it is downloaded";
      r.advice = "phantomguard vuln update --output " + path;
    } else {
      const auto age =
          std::chrono::duration_cast<std::chrono::hours>(runtime::wall_clock::now() - *at);
      r.detail =
          path + ": confirmed current " + std::to_string(age.count()) + " h ago (" + from + ")";
      if (max_age.count() > 0 && age > max_age) {
        r.level = host_level::warn;
        r.detail += ", older than max_age (" + std::to_string(max_age.count() / 3600) + " h)";
        r.advice = "phantomguard vuln update --output " + path;
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

} // namespace

void register_components(runtime::registry& reg) {
  runtime::component_type type;
  type.name = "vuln";
  type.kind = runtime::component_kind::analyzer;
  type.description = "installed Debian packages (dpkg status, status.d) matched against local OSV "
                     "advisories: vuln.package findings";
  type.options = vuln_analyzer::options();
  type.throttle_defaults = runtime::background_scan_throttle();
  type.factory = [](const runtime::component_init& init) {
    return std::make_unique<vuln_analyzer>(init);
  };
  reg.add(std::move(type));
  reg.add_command(runtime::command{
      "vuln",
      "match installed packages against advisories (--advisories PATH), or download them (update)",
      run_vuln_command});
  reg.add_host_check(runtime::host_check{"vuln", host_reports});
}

} // namespace pg::actors::vuln
