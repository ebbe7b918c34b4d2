// SPDX-License-Identifier: Apache-2.0
// sqlite_handle.hpp — move-only RAII around sqlite3* and sqlite3_stmt*, plus a transaction guard.
// Shared by the families that keep state under the engine's state directory (fim baseline, yara
// result cache, the vuln and container scan state).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include <sqlite3.h>

namespace pg::actors::storage {

/// Thrown for any SQLite failure; the message names the database file and SQLite's reason.
class sqlite_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

class statement {
public:
  statement() = default;
  statement(sqlite3* db, std::string_view sql);
  statement(statement&& other) noexcept : stmt_(other.stmt_), db_(other.db_) {
    other.stmt_ = nullptr;
  }
  statement& operator=(statement&& other) noexcept;
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;
  ~statement() { sqlite3_finalize(stmt_); }

  statement& bind(int index, std::int64_t value);
  statement& bind(int index, std::string_view value);
  statement& bind_null(int index);

  /// True when a row is available, false when done; throws on error.
  bool step();
  /// Clears bindings and rewinds for reuse.
  void reset();

  [[nodiscard]] std::int64_t column_int(int index) const;
  [[nodiscard]] std::string column_text(int index) const;
  [[nodiscard]] bool column_is_null(int index) const;

private:
  sqlite3_stmt* stmt_ = nullptr;
  sqlite3* db_ = nullptr;
};

class database {
public:
  /// Opens (creating when `create`) the file in WAL mode. Throws sqlite_error with the path.
  /// A write-ahead log left non-empty by the last writer (killed, or still open elsewhere) is
  /// replayed by SQLite; the database is then checked (PRAGMA quick_check) and a damaged one is
  /// refused with the reason. replayed_wal_bytes() says how much there was.
  database(const std::string& path, bool create, bool read_only = false);
  database(database&& other) noexcept
      : db_(other.db_), path_(std::move(other.path_)), replayed_wal_(other.replayed_wal_) {
    other.db_ = nullptr;
  }
  database& operator=(database&&) = delete;
  database(const database&) = delete;
  database& operator=(const database&) = delete;
  ~database() { sqlite3_close_v2(db_); }

  void exec(std::string_view sql);
  [[nodiscard]] statement prepare(std::string_view sql) { return statement(db_, sql); }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] sqlite3* get() const noexcept { return db_; }
  /// Bytes of write-ahead log found at open (0: the last writer closed it cleanly).
  [[nodiscard]] std::uintmax_t replayed_wal_bytes() const noexcept { return replayed_wal_; }
  /// Rows the last INSERT, UPDATE or DELETE changed.
  [[nodiscard]] std::int64_t changes() const noexcept { return sqlite3_changes64(db_); }

  /// The file's pages: in use and free (left by deletes until a VACUUM).
  struct page_use {
    std::int64_t pages = 0;
    std::int64_t free_pages = 0;
    std::int64_t page_size = 0;
  };
  [[nodiscard]] page_use pages();
  /// Rewrites the file (VACUUM, after a WAL checkpoint) when at least `sparse` of its pages are
  /// free and there are at least `min_free_pages` of them: what deletes left is given back to
  /// the file system. Returns the bytes given back (0: nothing to do). Throws sqlite_error.
  std::int64_t compact(double sparse = 0.25, std::int64_t min_free_pages = 64);

private:
  sqlite3* db_ = nullptr;
  std::string path_;
  std::uintmax_t replayed_wal_ = 0;
};

/// BEGIN IMMEDIATE on construction, ROLLBACK in the destructor unless commit() ran: a segment
/// is either fully in the database or not at all, whatever interrupts it.
class transaction {
public:
  explicit transaction(database& db);
  transaction(const transaction&) = delete;
  transaction& operator=(const transaction&) = delete;
  ~transaction();
  void commit();

private:
  database& db_;
  bool done_ = false;
};

} // namespace pg::actors::storage
