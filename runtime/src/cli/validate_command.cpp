// SPDX-License-Identifier: Apache-2.0
// `phantomguard validate` and `phantomguard graph`: the config checks without running anything.
#include <iostream>

#include "cli/commands.hpp"
#include "cli/config_source.hpp"
#include "cli/engine_setup.hpp"

namespace pg::cli {

using namespace pg::runtime;

namespace {

std::string counted(std::size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

} // namespace

int validate_command(const global_options& global) {
  // The same path as scan and run: what is ok here starts there.
  auto loaded = build_pipeline(global.config_path, global);
  if (!loaded.ok()) {
    print_diagnostics(std::cerr, loaded.errors, global.config_path);
    return 2;
  }
  const auto& cfg = *loaded.config;
  std::size_t per_kind[4] = {};
  std::size_t edges = 0;
  std::size_t disabled = 0;
  for (const auto& c : cfg.components) {
    ++per_kind[static_cast<std::size_t>(c.kind)];
    edges += c.inputs.size();
    disabled += c.enabled ? 0 : 1;
  }
  std::cout << cfg.origin << ": ok ("
            << counted(per_kind[static_cast<std::size_t>(component_kind::source)], "source",
                       "sources")
            << ", "
            << counted(per_kind[static_cast<std::size_t>(component_kind::analyzer)], "analyzer",
                       "analyzers")
            << ", "
            << counted(per_kind[static_cast<std::size_t>(component_kind::detector)], "detector",
                       "detectors")
            << ", "
            << counted(per_kind[static_cast<std::size_t>(component_kind::sink)], "sink", "sinks")
            << "; " << counted(edges, "edge", "edges");
  if (disabled > 0)
    std::cout << "; " << disabled << " disabled";
  std::size_t expired = 0;
  auto now = wall_clock::now();
  for (const auto& s : cfg.suppressions)
    expired += s.expires && now >= *s.expires ? 1 : 0;
  if (!cfg.suppressions.empty()) {
    std::cout << "; " << counted(cfg.suppressions.size(), "suppression", "suppressions");
    if (expired)
      std::cout << ", " << expired << " expired";
  }
  std::cout << ")\n";
  // The allow-list, entry by entry: what is not reported, and why.
  for (const auto& s : cfg.suppressions) {
    std::cout << "  suppress " << s.rule;
    for (const auto& [k, v] : s.entity)
      std::cout << ' ' << k << '=' << v;
    if (s.expires)
      std::cout << (now >= *s.expires ? " (EXPIRED " : " (until ") << format_rfc3339(*s.expires)
                << ')';
    std::cout << ": " << s.reason << "  [" << s.where << "]\n";
  }
  return 0;
}

int graph_command(const global_options& global) {
  auto loaded = load_config(global.config_path);
  if (!loaded.ok()) {
    print_diagnostics(std::cerr, loaded.errors, global.config_path);
    return 2;
  }
  std::cout << to_dot(*loaded.config);
  return 0;
}

} // namespace pg::cli
