// SPDX-License-Identifier: Apache-2.0
// json_fields.hpp — reading a member of JSON that came from outside (an advisory, an image
// manifest, a plugin's frame) without trusting its type: nlohmann's `value(key, fallback)` throws
// when the member exists with another type, and an exception out of a parser of hostile input
// is a crash waiting for its input; its `get<int>()` of a number too large for an int (1e300,
// or 2^70 written as an integer, which JSON parses as a double) is undefined behaviour.
#pragma once

#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>

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

/// The number `j` as an integer of type T: nullopt unless it is a JSON integer (or a double with
/// no fraction) that T holds exactly. Never undefined behaviour, never an exception.
template <std::integral T> std::optional<T> integer_value(const nlohmann::json& j) {
  if (j.is_number_unsigned()) {
    const auto v = j.get<std::uint64_t>();
    if (v > static_cast<std::uint64_t>(std::numeric_limits<T>::max()))
      return std::nullopt;
    return static_cast<T>(v);
  }
  if (j.is_number_integer()) {
    const auto v = j.get<std::int64_t>();
    if constexpr (std::is_unsigned_v<T>) {
      if (v < 0 || static_cast<std::uint64_t>(v) > std::numeric_limits<T>::max())
        return std::nullopt;
    } else if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) {
      return std::nullopt;
    }
    return static_cast<T>(v);
  }
  if (j.is_number_float()) {
    const double d = j.get<double>();
    // The bounds as doubles: min() is a power of two (exact); max()+1 is too, and a double below
    // it converts without overflow.
    const double lo = static_cast<double>(std::numeric_limits<T>::min());
    const double hi = std::ldexp(1.0, std::numeric_limits<T>::digits);
    if (!std::isfinite(d) || d != std::trunc(d) || d < lo || d >= hi)
      return std::nullopt;
    return static_cast<T>(d);
  }
  return std::nullopt;
}

/// The integer member `key` of object `j` (integer_value); nullopt when `j` is not an object,
/// the member is missing, or it is not an integer T holds.
template <std::integral T>
std::optional<T> integer_field(const nlohmann::json& j, const char* key) {
  if (!j.is_object())
    return std::nullopt;
  auto it = j.find(key);
  return it != j.end() ? integer_value<T>(*it) : std::nullopt;
}

} // namespace pg::runtime
