// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/storage/sqlite_handle.hpp"

#include <algorithm>

#include <sys/stat.h>

namespace pg::actors::storage {

namespace {

[[noreturn]] void fail(sqlite3* db, std::string_view what) {
  const char* file = db ? sqlite3_db_filename(db, "main") : nullptr;
  std::string msg(what);
  msg += ": ";
  msg += db ? sqlite3_errmsg(db) : "out of memory";
  if (file && *file) {
    msg += " (database ";
    msg += file;
    msg += ')';
  }
  throw sqlite_error(msg);
}

} // namespace

statement::statement(sqlite3* db, std::string_view sql) : db_(db) {
  if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr) !=
      SQLITE_OK)
    fail(db, "cannot prepare statement");
}

statement& statement::operator=(statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = other.stmt_;
    db_ = other.db_;
    other.stmt_ = nullptr;
  }
  return *this;
}

statement& statement::bind(int index, std::int64_t value) {
  if (sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK)
    fail(db_, "cannot bind");
  return *this;
}

statement& statement::bind(int index, std::string_view value) {
  if (sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()),
                        SQLITE_TRANSIENT) != SQLITE_OK)
    fail(db_, "cannot bind");
  return *this;
}

statement& statement::bind_null(int index) {
  if (sqlite3_bind_null(stmt_, index) != SQLITE_OK)
    fail(db_, "cannot bind");
  return *this;
}

bool statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW)
    return true;
  if (rc == SQLITE_DONE)
    return false;
  fail(db_, "query failed");
}

void statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::int64_t statement::column_int(int index) const {
  return sqlite3_column_int64(stmt_, index);
}

std::string statement::column_text(int index) const {
  const auto* p = sqlite3_column_text(stmt_, index);
  if (!p)
    return {};
  return std::string(reinterpret_cast<const char*>(p),
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt_, index)));
}

bool statement::column_is_null(int index) const {
  return sqlite3_column_type(stmt_, index) == SQLITE_NULL;
}

database::database(const std::string& path, bool create, bool read_only) : path_(path) {
  // Measured before SQLite opens it: a clean close of the last connection removes the log.
  struct stat wal {};
  if (::stat((path + "-wal").c_str(), &wal) == 0 && wal.st_size > 0)
    replayed_wal_ = static_cast<std::uintmax_t>(wal.st_size);
  int flags = read_only ? SQLITE_OPEN_READONLY
                        : (SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0));
  flags |= SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    std::string msg = "cannot open database " + path + ": " +
                      (db_ ? sqlite3_errmsg(db_) : std::string("out of memory"));
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw sqlite_error(msg);
  }
  sqlite3_busy_timeout(db_, 5000);
  try {
    // The first statement touches the file: a corrupt or foreign file fails here, with the path.
    if (!read_only)
      exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=NORMAL");
    statement probe(db_, "SELECT count(*) FROM sqlite_master");
    probe.step();
    if (replayed_wal_ > 0) {
      // The last writer did not close it: check what the replay left before trusting it.
      statement check(db_, "PRAGMA quick_check");
      std::string verdict = check.step() ? check.column_text(0) : "no answer";
      if (verdict != "ok")
        throw sqlite_error("damaged after an interrupted write (quick_check: " + verdict + ")");
    }
  } catch (const sqlite_error& e) {
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw sqlite_error("cannot open database " + path + ": " + e.what());
  }
}

void database::exec(std::string_view sql) {
  std::string text(sql);
  char* err = nullptr;
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    throw sqlite_error(msg + " (database " + path_ + ")");
  }
}

database::page_use database::pages() {
  page_use u;
  auto one = [this](const char* sql) {
    statement st(db_, sql);
    return st.step() ? st.column_int(0) : 0;
  };
  u.pages = one("PRAGMA page_count");
  u.free_pages = one("PRAGMA freelist_count");
  u.page_size = one("PRAGMA page_size");
  return u;
}

std::int64_t database::compact(double sparse, std::int64_t min_free_pages) {
  const auto before = pages();
  if (before.pages <= 0 || before.free_pages < min_free_pages ||
      static_cast<double>(before.free_pages) < sparse * static_cast<double>(before.pages))
    return 0;
  exec("PRAGMA wal_checkpoint(TRUNCATE)");
  exec("VACUUM");
  // In WAL mode the rewrite lands in the log: the file itself shrinks at the checkpoint.
  exec("PRAGMA wal_checkpoint(TRUNCATE)");
  const auto after = pages();
  return std::max<std::int64_t>(0, (before.pages - after.pages) * before.page_size);
}

transaction::transaction(database& db) : db_(db) {
  db_.exec("BEGIN IMMEDIATE");
}

transaction::~transaction() {
  if (!done_) {
    try {
      db_.exec("ROLLBACK");
    } catch (...) { // nothing more to do: SQLite rolls back on close anyway
    }
  }
}

void transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

} // namespace pg::actors::storage
