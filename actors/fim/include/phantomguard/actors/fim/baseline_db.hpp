// SPDX-License-Identifier: Apache-2.0
// baseline_db.hpp — the recorded baseline in SQLite (WAL; every write inside a transaction, so
// a kill mid-scan leaves the last committed segment, never a torn row).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "phantomguard/actors/fim/file_record.hpp"

namespace pg::actors::fim {

/// A database that cannot be opened, is not a baseline, or fails a write. The message names
/// the file and the reason ("file is not a database", "unable to open database file", ...).
class baseline_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// One connection; not thread-safe (used from the component's own thread only).
class baseline_db {
public:
  /// Opens or creates the database (and its schema). Throws baseline_error.
  explicit baseline_db(const std::string& path, bool create = true);
  baseline_db(baseline_db&&) noexcept;
  baseline_db& operator=(baseline_db&&) noexcept;
  ~baseline_db();

  [[nodiscard]] const std::string& path() const noexcept;
  /// Bytes of write-ahead log the open found and replayed (0 after a clean close).
  [[nodiscard]] std::uintmax_t replayed_wal_bytes() const noexcept;
  /// Gives back what deleted entries left, when that is a quarter of the file (VACUUM: the
  /// entries, and so the seal's digest, are unchanged). Bytes given back. Throws baseline_error.
  std::int64_t compact();

  /// True once an init pass completed (set by mark_initialized).
  [[nodiscard]] bool initialized();
  void mark_initialized(bool done);
  [[nodiscard]] std::int64_t count();

  [[nodiscard]] std::optional<file_record> find(std::string_view path);
  void put(const file_record& r);
  void erase(std::string_view path);
  /// Removes `root` and everything below it.
  void erase_tree(std::string_view root);

  /// Calls fn for every recorded path at or below `root`.
  void for_each_under(std::string_view root, const std::function<void(const std::string&)>& fn);

  /// SHA-256 (hex) of everything the baseline says: every entry in path order and whether it is
  /// complete. Kept outside the database (the seal, below), it shows a baseline edited behind
  /// the engine's back.
  [[nodiscard]] std::string digest();

  /// An operator's acceptance of a reported change (`phantomguard fim accept`): kept with the
  /// baseline, who and when.
  struct acceptance {
    std::string path, change, by, at;
  };
  void record_acceptance(const acceptance& a);
  [[nodiscard]] std::vector<acceptance> acceptances(std::string_view path = {});

  /// Grouped writes: begin() ... commit(); a destroyed or failed group rolls back.
  void begin();
  void commit();
  void rollback() noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// The seal of a baseline: its digest and entry count, written outside the database (by default
/// `<database>.seal`, or `baseline_seal`) whenever the engine itself changes the baseline.
struct baseline_seal {
  std::string digest;
  std::int64_t entries = 0;
  std::string written_at;
};

/// The seal file's path for a database (`seal_path` when set).
std::string seal_path_for(const std::string& database, const std::string& seal_path = {});

/// Where a fim analyzer named `name` keeps its baseline when its `database` option is empty:
/// <state_dir>/<name>/fim.db, the state folder defaulting to /var/lib/phantomguard. The analyzer
/// and `phantomguard fim --config` share it, so the command works on the daemon's baseline.
std::string default_database_path(const std::string& state_dir, const std::string& name);
/// Reads a seal file; nullopt when it does not exist. Throws baseline_error when it exists but
/// cannot be read or parsed (a damaged seal is not "no seal").
std::optional<baseline_seal> read_seal(const std::string& path);
/// Writes the seal of `db` to `path` (a temporary file renamed over it, mode 0600).
baseline_seal write_seal(baseline_db& db, const std::string& path);

/// What the analyzer and `phantomguard fim` say after opening a baseline whose last writer did
/// not close it.
std::string recovery_note(const std::string& path, std::uintmax_t wal_bytes);

} // namespace pg::actors::fim
