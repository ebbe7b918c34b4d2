// SPDX-License-Identifier: Apache-2.0
#include "cli/config_source.hpp"

namespace pg::cli {

runtime::load_options load_options_of(const global_options& global, runtime::diagnostics* errors) {
  runtime::load_options opts;
  opts.profile = global.profile;
  if (!global.host_resources.empty()) {
    std::string error;
    opts.host = runtime::parse_host_resources(global.host_resources,
                                              runtime::detect_host_resources(), &error);
    if (!opts.host && errors)
      errors->push_back({runtime::source_position{"--host-resources", 0, 0}, error});
  }
  return opts;
}

runtime::config_result load_config(const std::string& path, const global_options& global) {
  runtime::diagnostics errors;
  auto opts = load_options_of(global, &errors);
  if (!errors.empty()) {
    runtime::config_result r;
    r.errors = std::move(errors);
    return r;
  }
  if (!path.empty())
    return runtime::load_config_file(path, opts);
  if (!opts.profile.empty()) // the profile alone: nothing of the default config under it
    return runtime::load_config_string("", "<profile:" + opts.profile + ">", opts);
  return runtime::load_config_string(runtime::default_config_text(), "<default>", opts);
}

std::vector<std::string> profile_lines(const runtime::pipeline_config& cfg) {
  std::vector<std::string> out;
  const auto& p = cfg.profile;
  if (!p.requested.empty())
    out.push_back("profile " + p.name +
                  (p.requested == "auto" ? " (auto: " + p.reason + ")" : std::string()));
  for (const auto& r : cfg.resolved)
    out.push_back(r.key + " = " + std::to_string(r.value) + " (" + r.written + ": " + r.reason +
                  ")");
  return out;
}

nlohmann::json profile_json(const runtime::pipeline_config& cfg) {
  const auto& p = cfg.profile;
  if (p.requested.empty() && cfg.resolved.empty())
    return nullptr;
  nlohmann::json out = {{"requested", p.requested},
                        {"name", p.name},
                        {"origin", p.origin},
                        {"reason", p.reason},
                        {"auto", nlohmann::json::array()}};
  for (const auto& r : cfg.resolved)
    out["auto"].push_back(
        {{"key", r.key}, {"written", r.written}, {"value", r.value}, {"reason", r.reason}});
  return out;
}

void print_diagnostics(std::ostream& out, const runtime::diagnostics& errors,
                       const std::string& origin) {
  for (const auto& d : errors)
    out << d.to_string() << '\n';
  out << errors.size() << (errors.size() == 1 ? " error" : " errors") << " in "
      << (origin.empty() ? std::string("<default>") : origin) << '\n';
}

} // namespace pg::cli
