// SPDX-License-Identifier: Apache-2.0
// event.hpp — the event model: typed records moving between actors in immutable, shared batches.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "phantomguard/runtime/finding.hpp"

namespace pg::runtime {

/// A field value. Integers are signed 64-bit (pids, uids, inodes and sizes all fit).
using field_value = std::variant<std::monostate, bool, std::int64_t, double, std::string>;

struct field {
  std::string key;
  field_value value;
};

/// One record. Well-known kinds: "process" (procfs snapshot entry), "process_exec",
/// "process_exit", "socket", "file_change", "finding" (then `payload` holds the finding),
/// "tick". Fields are a small ordered list: lookups are linear, which beats a map for the
/// handful of fields an event carries.
struct event {
  std::string kind;
  wall_clock::time_point time{};
  std::string source;
  std::vector<field> fields;
  std::shared_ptr<const finding> payload; // set when kind == "finding"

  /// The value of `key`, or nullptr when absent.
  [[nodiscard]] const field_value* get(std::string_view key) const noexcept;
  /// Typed accessors; the fallback when the field is absent or of another type.
  [[nodiscard]] std::int64_t get_int(std::string_view key, std::int64_t fallback = 0) const noexcept;
  [[nodiscard]] std::string_view get_string(std::string_view key,
                                            std::string_view fallback = {}) const noexcept;
  [[nodiscard]] bool get_bool(std::string_view key, bool fallback = false) const noexcept;
  [[nodiscard]] double get_double(std::string_view key, double fallback = 0.0) const noexcept;

  /// Sets `key` (replacing an existing value). Returns *this for chaining.
  event& set(std::string key, field_value value);

  /// An estimate of the heap bytes this event holds; used for byte credit and memory accounting.
  [[nodiscard]] std::size_t approx_bytes() const noexcept;
};

/// Makes a "finding" event that carries `f`.
event make_finding_event(finding f, std::string source);

/// An immutable batch; one actor message carries one batch.
struct event_batch {
  std::vector<event> events;
  std::size_t bytes = 0; // sum of approx_bytes(), computed once by make_batch

  [[nodiscard]] std::size_t size() const noexcept { return events.size(); }
  [[nodiscard]] bool empty() const noexcept { return events.empty(); }
};

using batch_ptr = std::shared_ptr<const event_batch>;

/// Freezes `events` into a shared batch and computes its byte size.
batch_ptr make_batch(std::vector<event> events);

} // namespace pg::runtime
