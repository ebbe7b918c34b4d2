// SPDX-License-Identifier: Apache-2.0
// json_fields.hpp — reading a member of JSON that came from outside (an advisory, an image
// manifest, a plugin's frame) without trusting its type: nlohmann's `value(key, fallback)` throws
// when the member exists with another type, and an exception out of a parser of hostile input
// is a crash waiting for its input.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace pg::runtime {

/// The string member `key` of object `j`; `fallback` when `j` is not an object, the member is
/// missing, or it is not a string.
inline std::string string_field(const nlohmann::json& j, const char* key,
                                std::string fallback = {}) {
  if (!j.is_object())
    return fallback;
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

} // namespace pg::runtime
