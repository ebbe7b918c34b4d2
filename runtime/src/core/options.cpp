// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/runtime/options.hpp"

namespace pg::runtime {

std::string_view to_string(option_type t) noexcept {
  switch (t) {
  case option_type::string:
    return "string";
  case option_type::integer:
    return "integer";
  case option_type::floating:
    return "float";
  case option_type::boolean:
    return "boolean";
  case option_type::duration:
    return "duration";
  case option_type::size:
    return "size";
  case option_type::string_list:
    return "string list";
  case option_type::table:
    return "table";
  case option_type::cpu_list:
    return "CPU list";
  }
  return "?";
}

std::string component_settings::get_string(std::string_view key, std::string fallback) const {
  if (auto v = table_[key].value<std::string>())
    return *v;
  return fallback;
}

std::int64_t component_settings::get_int(std::string_view key, std::int64_t fallback) const {
  if (auto v = table_[key].value<std::int64_t>())
    return *v;
  return fallback;
}

double component_settings::get_double(std::string_view key, double fallback) const {
  if (auto v = table_[key].value<double>()) // toml++ converts integers to double here
    return *v;
  return fallback;
}

bool component_settings::get_bool(std::string_view key, bool fallback) const {
  if (auto v = table_[key].value<bool>())
    return *v;
  return fallback;
}

duration component_settings::get_duration(std::string_view key, duration fallback) const {
  if (auto v = table_[key].value<std::string>())
    if (auto d = parse_duration(*v))
      return *d;
  return fallback;
}

std::uint64_t component_settings::get_size(std::string_view key, std::uint64_t fallback) const {
  if (auto v = table_[key].value<std::string>())
    if (auto s = parse_size(*v))
      return *s;
  if (auto i = table_[key].value<std::int64_t>(); i && *i >= 0)
    return static_cast<std::uint64_t>(*i);
  return fallback;
}

std::vector<std::string>
component_settings::get_string_list(std::string_view key, std::vector<std::string> fallback) const {
  const auto* arr = table_[key].as_array();
  if (!arr)
    return fallback;
  std::vector<std::string> out;
  out.reserve(arr->size());
  for (const auto& node : *arr)
    if (auto s = node.value<std::string>())
      out.push_back(*s);
  return out;
}

} // namespace pg::runtime
