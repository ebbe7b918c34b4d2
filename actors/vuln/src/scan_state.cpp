// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/vuln/scan_state.hpp"

#include <charconv>
#include <filesystem>

#include <sqlite3.h>

namespace pg::actors::vuln {

namespace {

// A prepared statement, finalized on every path out.
class statement {
public:
  statement(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;
  ~statement() { sqlite3_finalize(stmt_); }
  [[nodiscard]] bool ok() const noexcept { return stmt_ != nullptr; }
  void bind(int i, std::string_view text) {
    sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  }
  int step() { return sqlite3_step(stmt_); }
  [[nodiscard]] std::string column_text(int i) const {
    auto p = sqlite3_column_text(stmt_, i);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<std::size_t>(sqlite3_column_bytes(stmt_, i)))
             : std::string();
  }

private:
  sqlite3_stmt* stmt_ = nullptr;
};

} // namespace

void scan_state::closer::operator()(sqlite3* db) const noexcept {
  sqlite3_close(db);
}

scan_state::~scan_state() = default;

std::optional<scan_state> scan_state::open(const std::string& path, std::string* error) {
  std::error_code ec;
  auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty())
    std::filesystem::create_directories(dir, ec);
  if (ec) {
    if (error)
      *error = dir.string() + ": " + ec.message();
    return std::nullopt;
  }
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  scan_state state(raw);
  if (rc != SQLITE_OK) {
    if (error)
      *error = path + ": " + (raw ? sqlite3_errmsg(raw) : "cannot open");
    return std::nullopt;
  }
  sqlite3_busy_timeout(raw, 2000);
  if (!state.exec("PRAGMA journal_mode=WAL") || !state.exec("PRAGMA synchronous=NORMAL") ||
      !state.exec("CREATE TABLE IF NOT EXISTS progress(key TEXT PRIMARY KEY, value TEXT)") ||
      !state.exec("CREATE TABLE IF NOT EXISTS reported(key TEXT PRIMARY KEY)")) {
    if (error)
      *error = path + ": " + sqlite3_errmsg(raw);
    return std::nullopt;
  }
  return state;
}

bool scan_state::exec(const char* sql) {
  return sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr) == SQLITE_OK;
}

std::optional<std::string> scan_state::get(std::string_view key) const {
  statement st(db_.get(), "SELECT value FROM progress WHERE key = ?1");
  if (!st.ok())
    return std::nullopt;
  st.bind(1, key);
  if (st.step() != SQLITE_ROW)
    return std::nullopt;
  return st.column_text(0);
}

bool scan_state::set(std::string_view key, std::string_view value) {
  statement st(db_.get(), "INSERT OR REPLACE INTO progress(key, value) VALUES (?1, ?2)");
  if (!st.ok())
    return false;
  st.bind(1, key);
  st.bind(2, value);
  return st.step() == SQLITE_DONE;
}

bool scan_state::remember(std::string_view key) {
  statement st(db_.get(), "INSERT OR IGNORE INTO reported(key) VALUES (?1)");
  if (!st.ok())
    return true; // cannot tell: report rather than lose a finding
  st.bind(1, key);
  if (st.step() != SQLITE_DONE)
    return true;
  return sqlite3_changes(db_.get()) > 0;
}

std::size_t stored_number(const std::optional<std::string>& text) noexcept {
  if (!text)
    return 0;
  std::size_t value = 0;
  auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  return ec == std::errc() && ptr == text->data() + text->size() ? value : 0;
}

bool scan_state::forget_all() {
  return exec("DELETE FROM reported");
}

} // namespace pg::actors::vuln
