#include "phantomguard/runtime/registry.hpp"

#include <algorithm>

namespace pg::runtime {

std::string_view to_string(component_kind k) noexcept {
  switch (k) {
    case component_kind::source: return "source";
    case component_kind::analyzer: return "analyzer";
    case component_kind::detector: return "detector";
    case component_kind::sink: return "sink";
  }
  return "?";
}

registry& registry::instance() {
  static registry r;
  return r;
}

void registry::add(component_type type) {
  for (auto& t : types_) {
    if (t.kind == type.kind && t.name == type.name) {
      t = std::move(type);
      return;
    }
  }
  types_.push_back(std::move(type));
}

const component_type* registry::find(component_kind kind, std::string_view name) const {
  for (const auto& t : types_)
    if (t.kind == kind && t.name == name)
      return &t;
  return nullptr;
}

std::vector<const component_type*> registry::list(component_kind kind) const {
  std::vector<const component_type*> out;
  for (const auto& t : types_)
    if (t.kind == kind)
      out.push_back(&t);
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->name < b->name; });
  return out;
}

void registry::add_command(command cmd) {
  for (auto& c : commands_) {
    if (c.name == cmd.name) {
      c = std::move(cmd);
      return;
    }
  }
  commands_.push_back(std::move(cmd));
}

const command* registry::find_command(std::string_view name) const {
  for (const auto& c : commands_)
    if (c.name == name)
      return &c;
  return nullptr;
}

std::vector<const command*> registry::commands() const {
  std::vector<const command*> out;
  for (const auto& c : commands_)
    out.push_back(&c);
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->name < b->name; });
  return out;
}

} // namespace pg::runtime
