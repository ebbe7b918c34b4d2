// SPDX-License-Identifier: Apache-2.0
// scan_state.hpp — a content scanner's state in SQLite (<state_dir>/<name>/<file>): key/value
// progress (resume cursor, input fingerprints) and the set of findings already reported, so a
// restarted scan resumes where it stopped and `report = "new"` reports each finding once.
// Every change is its own transaction (WAL journal): a kill mid-write leaves the last commit.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

struct sqlite3;

namespace pg::actors::vuln {

class scan_state {
public:
  /// Opens (creating the folder and tables) the database at `path`. nullopt with a reason in
  /// `*error` when the folder cannot be created or SQLite refuses the file.
  static std::optional<scan_state> open(const std::string& path, std::string* error);

  scan_state(scan_state&&) noexcept = default;
  scan_state& operator=(scan_state&&) noexcept = default;
  ~scan_state();

  [[nodiscard]] std::optional<std::string> get(std::string_view key) const;
  /// Stores a value; false when SQLite failed (disk full, read-only): the caller counts it.
  bool set(std::string_view key, std::string_view value);

  /// Records `key` as reported; true when it was not recorded before.
  bool remember(std::string_view key);
  /// Forgets every reported key (when the inputs changed completely).
  bool forget_all();

private:
  struct closer {
    void operator()(sqlite3* db) const noexcept;
  };
  explicit scan_state(sqlite3* db) : db_(db) {}
  bool exec(const char* sql);
  std::unique_ptr<sqlite3, closer> db_;
};

/// A non-negative number stored as text; 0 when absent or not a number (a damaged value must not
/// stop the scanner: it starts over instead).
std::size_t stored_number(const std::optional<std::string>& text) noexcept;

} // namespace pg::actors::vuln
