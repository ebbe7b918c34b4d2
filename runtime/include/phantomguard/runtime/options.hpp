// SPDX-License-Identifier: Apache-2.0
// options.hpp — the settings a component type declares, and the validated values it receives.
// The declaration drives validation (unknown keys with "did you mean", wrong types, ranges),
// `validate` output and plugin manifests alike.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "phantomguard/runtime/units.hpp"

namespace pg::runtime {

/// cpu_list: `[0, 1]` or `"0-3,6"`, CPUs this host has (the throttle's cpu_affinity).
enum class option_type {
  string,
  integer,
  floating,
  boolean,
  duration,
  size,
  string_list,
  table,
  cpu_list
};

std::string_view to_string(option_type t) noexcept;

/// One setting a component type accepts inside its `[sources.NAME]` (etc.) table.
struct option_spec {
  std::string key;
  option_type type = option_type::string;
  std::string default_text; // shown by validate/docs; empty means no default (optional)
  std::string description;
  bool required = false;
  std::optional<double> min; // for integer/floating/duration (seconds)/size (bytes)
  std::optional<double> max;
  std::vector<std::string> choices; // for strings: the allowed values, empty = any
  /// For a table (or an array of tables): the keys it accepts, checked like the component's
  /// own (unknown keys with "did you mean", types, ranges). Empty = any keys.
  std::vector<option_spec> fields{};
};

/// The component-specific settings after validation: a copy of the component's TOML table with
/// the runtime's own keys (type, inputs, quota, mailbox, restart, schedule, ...) removed.
/// Getters return the fallback when the key is absent; validation has already checked types.
class component_settings {
public:
  component_settings() = default;
  explicit component_settings(toml::table table) : table_(std::move(table)) {}

  [[nodiscard]] const toml::table& table() const noexcept { return table_; }
  [[nodiscard]] bool contains(std::string_view key) const { return table_.contains(key); }

  [[nodiscard]] std::string get_string(std::string_view key, std::string fallback = {}) const;
  [[nodiscard]] std::int64_t get_int(std::string_view key, std::int64_t fallback = 0) const;
  [[nodiscard]] double get_double(std::string_view key, double fallback = 0.0) const;
  [[nodiscard]] bool get_bool(std::string_view key, bool fallback = false) const;
  [[nodiscard]] duration get_duration(std::string_view key, duration fallback) const;
  [[nodiscard]] std::uint64_t get_size(std::string_view key, std::uint64_t fallback) const;
  [[nodiscard]] std::vector<std::string>
  get_string_list(std::string_view key, std::vector<std::string> fallback = {}) const;

  friend bool operator==(const component_settings& a, const component_settings& b) {
    return a.table_ == b.table_;
  }

private:
  toml::table table_;
};

} // namespace pg::runtime
