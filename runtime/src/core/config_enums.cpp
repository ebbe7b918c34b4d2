// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/runtime/config.hpp"

namespace pg::runtime {

std::string_view to_string(overflow_policy p) noexcept {
  switch (p) {
  case overflow_policy::block:
    return "block";
  case overflow_policy::drop_oldest:
    return "drop_oldest";
  case overflow_policy::drop_newest:
    return "drop_newest";
  case overflow_policy::sample:
    return "sample";
  }
  return "?";
}

std::string_view to_string(restart_type t) noexcept {
  switch (t) {
  case restart_type::permanent:
    return "permanent";
  case restart_type::transient:
    return "transient";
  case restart_type::temporary:
    return "temporary";
  }
  return "?";
}

std::string_view to_string(restart_strategy s) noexcept {
  switch (s) {
  case restart_strategy::one_for_one:
    return "one_for_one";
  case restart_strategy::one_for_all:
    return "one_for_all";
  case restart_strategy::rest_for_one:
    return "rest_for_one";
  }
  return "?";
}

bool component_decl::same_settings(const component_decl& o) const {
  return name == o.name && kind == o.kind && type == o.type && inputs == o.inputs &&
         enabled == o.enabled && mailbox == o.mailbox && restart == o.restart && quota == o.quota &&
         schedule == o.schedule && supervisor == o.supervisor && throttle == o.throttle &&
         settings == o.settings;
}

const component_decl* pipeline_config::find(std::string_view n) const {
  for (const auto& c : components)
    if (c.name == n)
      return &c;
  return nullptr;
}

} // namespace pg::runtime
