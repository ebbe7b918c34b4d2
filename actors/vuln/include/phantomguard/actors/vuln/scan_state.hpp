// SPDX-License-Identifier: Apache-2.0
// scan_state.hpp — a content scanner's state in SQLite (<state_dir>/<name>/<file>): key/value
// progress (resume cursor, input fingerprints) and the set of findings already reported, so a
// restarted scan resumes where it stopped and `report = "new"` reports each finding once.
// Every change is its own transaction (WAL journal): a kill mid-write leaves the last commit.
// The reported set is capped (the oldest keys go), and the file is compacted at open when what
// was deleted left a quarter of it free. On the one SQLite wrapper (storage::database).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace pg::actors::storage {
class database;
}

namespace pg::actors::vuln {

class scan_state {
public:
  /// Opens (creating the folder and tables) the database at `path`. nullopt with a reason in
  /// `*error` when the folder cannot be created or SQLite refuses the file.
  /// At most `max_reported` keys are kept as reported.
  static std::optional<scan_state> open(const std::string& path, std::string* error,
                                        std::size_t max_reported = default_max_reported);
  static constexpr std::size_t default_max_reported = 200'000;

  scan_state(scan_state&&) noexcept;
  scan_state& operator=(scan_state&&) noexcept;
  ~scan_state();

  [[nodiscard]] std::optional<std::string> get(std::string_view key) const;
  /// Stores a value; false when SQLite failed (disk full, read-only): the caller counts it.
  bool set(std::string_view key, std::string_view value);

  /// Records `key` as reported; true when it was not recorded before.
  bool remember(std::string_view key);
  /// Forgets every reported key (when the inputs changed completely).
  bool forget_all();

  /// The database itself, for a cache kept in the same file (storage::persistent_cache).
  [[nodiscard]] storage::database& db() noexcept { return *db_; }

  /// Reported keys dropped by the cap since open; bytes given back by compaction.
  [[nodiscard]] std::size_t trimmed() const noexcept { return trimmed_; }
  [[nodiscard]] std::int64_t compacted_bytes() const noexcept { return compacted_; }

private:
  scan_state(std::unique_ptr<storage::database> db, std::size_t max_reported);
  void trim();
  std::unique_ptr<storage::database> db_;
  std::size_t max_reported_;
  std::size_t since_trim_ = 0;
  std::size_t trimmed_ = 0;
  std::int64_t compacted_ = 0;
};

/// A non-negative number stored as text; 0 when absent or not a number (a damaged value must not
/// stop the scanner: it starts over instead).
std::size_t stored_number(const std::optional<std::string>& text) noexcept;

} // namespace pg::actors::vuln
