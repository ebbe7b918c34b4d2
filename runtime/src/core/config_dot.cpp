// SPDX-License-Identifier: Apache-2.0
// config_dot.cpp — the pipeline graph as Graphviz DOT (`phantomguard graph | dot -Tsvg`).
// Components are grouped by kind (one cluster each, left to right in data flow order), edges
// follow `inputs`; an edge whose consumer may drop events is labelled with its overflow policy.
// Components that answer to a [supervisors.NAME] are drawn inside its cluster instead, nested as
// the supervisors are.
#include <functional>
#include <string>

#include "phantomguard/runtime/units.hpp"

#include "phantomguard/runtime/config.hpp"

namespace pg::runtime {

namespace {

std::string escaped(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out;
}

std::string dot_id(std::string_view text) {
  return '"' + escaped(text) + '"';
}

struct kind_style {
  component_kind kind;
  const char* cluster;
  const char* label;
  const char* shape;
  const char* color;
};

constexpr kind_style styles[] = {
    {component_kind::source, "cluster_sources", "sources", "box", "#dbeafe"},
    {component_kind::analyzer, "cluster_analyzers", "analyzers", "ellipse", "#dcfce7"},
    {component_kind::detector, "cluster_detectors", "detectors", "hexagon", "#fef9c3"},
    {component_kind::sink, "cluster_sinks", "sinks", "cds", "#fee2e2"},
};

const kind_style& style_of(component_kind k) {
  for (const auto& st : styles)
    if (st.kind == k)
      return st;
  return styles[0];
}

std::string node_line(const component_decl& c, const std::string& indent) {
  const auto& st = style_of(c.kind);
  std::string out = indent + dot_id(c.name) + " [shape=" + st.shape + ", fillcolor=\"" + st.color +
                    "\", label=" + "\"" + escaped(c.name) + "\\n" + escaped(c.type) + "\"";
  if (!c.enabled)
    out += ", style=\"filled,dashed\", fontcolor=gray50";
  out += "];\n";
  return out;
}

} // namespace

std::string to_dot(const pipeline_config& cfg) {
  std::string out;
  out += "digraph phantomguard {\n";
  out += "  rankdir=LR;\n";
  out += "  node [fontname=\"sans-serif\", fontsize=10, style=filled];\n";
  for (const auto& st : styles) {
    bool any = false;
    for (const auto& c : cfg.components)
      any = any || (c.kind == st.kind && c.supervisor.empty());
    if (!any)
      continue;
    out += std::string("  subgraph ") + st.cluster + " {\n";
    out += std::string("    label=\"") + st.label + "\";\n";
    out += "    style=dashed;\n";
    for (const auto& c : cfg.components)
      if (c.kind == st.kind && c.supervisor.empty())
        out += node_line(c, "    ");
    out += "  }\n";
  }
  // Supervisors, nested: each a solid cluster with its strategy and intensity.
  std::function<void(const supervisor_decl&, const std::string&)> draw =
      [&](const supervisor_decl& s, const std::string& indent) {
        out += indent + "subgraph " + dot_id("cluster_supervisor_" + s.name) + " {\n";
        out += indent + "  label=\"supervisor " + escaped(s.name) + "\\n" +
               std::string(to_string(s.strategy)) + ", " + std::to_string(s.max_restarts) +
               " restarts / " + format_duration(s.period) + "\";\n";
        out += indent + "  style=solid;\n";
        for (const auto& c : cfg.components)
          if (c.supervisor == s.name)
            out += node_line(c, indent + "  ");
        for (const auto& child : cfg.supervisors)
          if (child.parent == s.name)
            draw(child, indent + "  ");
        out += indent + "}\n";
      };
  for (const auto& s : cfg.supervisors)
    if (s.parent.empty())
      draw(s, "  ");
  for (const auto& c : cfg.components) {
    for (const auto& in : c.inputs) {
      out += "  " + dot_id(in) + " -> " + dot_id(c.name);
      if (c.mailbox.policy != overflow_policy::block)
        out += std::string(" [label=\"") + std::string(to_string(c.mailbox.policy)) + "\"]";
      out += ";\n";
    }
  }
  out += "}\n";
  return out;
}

} // namespace pg::runtime
