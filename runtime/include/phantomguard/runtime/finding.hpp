// SPDX-License-Identifier: Apache-2.0
// finding.hpp — what the engine exists to produce: one JSON object per finding.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace pg::runtime {

using wall_clock = std::chrono::system_clock;

/// Seconds on the monotonic clock (for ages between two readings of this process).
inline double monotonic_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// Now as unix seconds (with fractions): what timestamp gauges hold.
inline double unix_seconds(wall_clock::time_point t = wall_clock::now()) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

/// Ordered severities; comparisons follow the order (info < low < ... < critical).
enum class severity { info = 0, low, medium, high, critical };

/// The lower-case name used in JSON and on the command line ("info" ... "critical").
std::string_view to_string(severity s) noexcept;

/// Parses a severity name (case-sensitive, lower case); nullopt for anything else.
std::optional<severity> parse_severity(std::string_view text) noexcept;

/// A finding with the stable fields of the design. `entity` and `evidence` are JSON objects.
/// `rule` is a stable dotted id such as "memory.memfd_exec"; engine self-reports use "engine.*".
struct finding {
  wall_clock::time_point time{};
  std::string host;
  std::string analyzer;
  std::string rule;
  severity level = severity::info;
  std::string title;
  nlohmann::json entity = nlohmann::json::object();
  nlohmann::json evidence = nlohmann::json::object();
  std::vector<std::string> mitre;

  /// The JSON object with the design's field names (time as RFC 3339 UTC with milliseconds).
  [[nodiscard]] nlohmann::json to_json() const;

  /// One line of JSON Lines, without the trailing newline.
  [[nodiscard]] std::string to_jsonl() const;

  /// Parses what to_json produced; nullopt on a missing field or a wrong type.
  static std::optional<finding> from_json(const nlohmann::json& j);
};

/// Formats a time point as RFC 3339 in UTC with millisecond precision ("2026-11-22T00:12:10.123Z").
std::string format_rfc3339(wall_clock::time_point tp);
/// Reads what format_rfc3339 writes (RFC 3339 in UTC, "Z", milliseconds optional); nullopt
/// otherwise.
std::optional<wall_clock::time_point> parse_rfc3339(const std::string& text);

/// A finding's stable id: 32 hex digits of the SHA-256 of its JSON without the id (to_json()
/// carries it as "id"). The same finding has the same id in every sink, report and redelivery,
/// so a receiver can drop duplicates.
std::string finding_id(const finding& f);

} // namespace pg::runtime
