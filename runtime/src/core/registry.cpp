// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/runtime/registry.hpp"

#include <algorithm>

namespace pg::runtime {

std::string_view to_string(component_kind k) noexcept {
  switch (k) {
  case component_kind::source:
    return "source";
  case component_kind::analyzer:
    return "analyzer";
  case component_kind::detector:
    return "detector";
  case component_kind::sink:
    return "sink";
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

namespace {

// Commands, API actions and host checks are lists of named entries: a second one of a name replaces
// the first, lookups are by name, listings are sorted.
template <class T>
void add_named(std::vector<T>& list, T item) {
  for (auto& existing : list) {
    if (existing.name == item.name) {
      existing = std::move(item);
      return;
    }
  }
  list.push_back(std::move(item));
}

template <class T>
const T* find_named(const std::vector<T>& list, std::string_view name) {
  for (const auto& item : list)
    if (item.name == name)
      return &item;
  return nullptr;
}

template <class T>
std::vector<const T*> sorted_named(const std::vector<T>& list) {
  std::vector<const T*> out;
  for (const auto& item : list)
    out.push_back(&item);
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->name < b->name; });
  return out;
}

} // namespace

void registry::add_command(command cmd) {
  add_named(commands_, std::move(cmd));
}
const command* registry::find_command(std::string_view name) const {
  return find_named(commands_, name);
}
std::vector<const command*> registry::commands() const {
  return sorted_named(commands_);
}

void registry::add_api_action(api_action action) {
  add_named(actions_, std::move(action));
}
const api_action* registry::find_api_action(std::string_view name) const {
  return find_named(actions_, name);
}
std::vector<const api_action*> registry::api_actions() const {
  return sorted_named(actions_);
}

void registry::add_host_check(host_check check) {
  add_named(host_checks_, std::move(check));
}
std::vector<const host_check*> registry::host_checks() const {
  return sorted_named(host_checks_);
}

std::string_view to_string(host_level level) noexcept {
  switch (level) {
  case host_level::ok:
    return "ok";
  case host_level::note:
    return "note";
  case host_level::warn:
    return "warn";
  case host_level::fail:
    return "fail";
  }
  return "?";
}

} // namespace pg::runtime
