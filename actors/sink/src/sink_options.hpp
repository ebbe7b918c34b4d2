// SPDX-License-Identifier: Apache-2.0
// sink_options.hpp — what the sinks of this family share: an option_spec in one line, and the
// text of an errno.
#pragma once

#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "phantomguard/runtime/options.hpp"

namespace pg::actors::sink {

inline runtime::option_spec opt(std::string key, runtime::option_type type, std::string def,
                                std::string desc, std::vector<std::string> choices = {},
                                std::optional<double> min = {}, std::optional<double> max = {}) {
  runtime::option_spec s;
  s.key = std::move(key);
  s.type = type;
  s.default_text = std::move(def);
  s.description = std::move(desc);
  s.choices = std::move(choices);
  s.min = min;
  s.max = max;
  return s;
}

inline std::string error_text(int err) {
  return std::error_code(err, std::generic_category()).message();
}

} // namespace pg::actors::sink
