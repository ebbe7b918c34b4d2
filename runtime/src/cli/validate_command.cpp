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

std::string position(const source_position& p) {
  return p.line > 0 ? p.file + ':' + std::to_string(p.line) + ':' + std::to_string(p.column)
                    : p.file;
}

/// --explain: the profile and why, each "auto" and what it came to, and where every key of the
/// effective config was written.
void explain(std::ostream& out, const pipeline_config& cfg) {
  const auto& p = cfg.profile;
  if (p.requested.empty()) {
    out << "profile: none (set [engine] profile or --profile)\n";
  } else {
    out << "profile: " << p.name;
    if (p.requested == "auto")
      out << " (auto: " << p.reason << ")";
    out << ", keys from " << p.origin << " under the file's own\n";
  }
  if (!cfg.resolved.empty()) {
    out << "auto values:\n";
    for (const auto& r : cfg.resolved)
      out << "  " << r.key << " = " << r.value << "  (" << r.written << ": " << r.reason << ")  "
          << position(r.where) << '\n';
  }
  out << "keys (" << cfg.origins.size() << "):\n";
  for (const auto& o : cfg.origins)
    out << "  " << o.key << " = " << o.value << "  " << position(o.where) << '\n';
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
  if (global.explain)
    explain(std::cout, cfg);
  return 0;
}

int graph_command(const global_options& global) {
  auto loaded = load_config(global.config_path, global);
  if (!loaded.ok()) {
    print_diagnostics(std::cerr, loaded.errors, global.config_path);
    return 2;
  }
  std::cout << to_dot(*loaded.config);
  return 0;
}

} // namespace pg::cli
