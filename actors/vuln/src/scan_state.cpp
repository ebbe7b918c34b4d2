// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/vuln/scan_state.hpp"

#include <charconv>
#include <filesystem>

#include "phantomguard/actors/storage/sqlite_handle.hpp"

namespace pg::actors::vuln {

using storage::database;
using storage::sqlite_error;

scan_state::scan_state(std::unique_ptr<database> db, std::size_t max_reported)
    : db_(std::move(db)), max_reported_(max_reported) {}
scan_state::scan_state(scan_state&&) noexcept = default;
scan_state& scan_state::operator=(scan_state&&) noexcept = default;
scan_state::~scan_state() = default;

std::optional<scan_state> scan_state::open(const std::string& path, std::string* error,
                                           std::size_t max_reported) {
  std::error_code ec;
  auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty())
    std::filesystem::create_directories(dir, ec);
  if (ec) {
    if (error)
      *error = dir.string() + ": " + ec.message();
    return std::nullopt;
  }
  try {
    auto db = std::make_unique<database>(path, true);
    db->exec("CREATE TABLE IF NOT EXISTS progress(key TEXT PRIMARY KEY, value TEXT)");
    db->exec("CREATE TABLE IF NOT EXISTS reported(key TEXT PRIMARY KEY)");
    scan_state state(std::move(db), max_reported);
    state.compacted_ = state.db_->compact(); // what trimming left behind
    return state;
  } catch (const sqlite_error& e) {
    if (error)
      *error = e.what();
    return std::nullopt;
  }
}

std::optional<std::string> scan_state::get(std::string_view key) const {
  try {
    auto st = db_->prepare("SELECT value FROM progress WHERE key = ?1");
    st.bind(1, key);
    if (!st.step())
      return std::nullopt;
    return st.column_text(0);
  } catch (const sqlite_error&) {
    return std::nullopt;
  }
}

bool scan_state::set(std::string_view key, std::string_view value) {
  try {
    auto st = db_->prepare("INSERT OR REPLACE INTO progress(key, value) VALUES (?1, ?2)");
    st.bind(1, key).bind(2, value);
    st.step();
    return true;
  } catch (const sqlite_error&) {
    return false;
  }
}

bool scan_state::remember(std::string_view key) {
  try {
    auto st = db_->prepare("INSERT OR IGNORE INTO reported(key) VALUES (?1)");
    st.bind(1, key);
    st.step();
    const bool added = db_->changes() > 0;
    if (added && ++since_trim_ >= 1024) {
      since_trim_ = 0;
      trim();
    }
    return added;
  } catch (const sqlite_error&) {
    return true; // cannot tell: report rather than lose a finding
  }
}

void scan_state::trim() {
  // The oldest keys go first (rowid is insertion order): at worst a finding reported long ago
  // is reported once more, never one that was not.
  auto count = db_->prepare("SELECT count(*) FROM reported");
  const auto rows = count.step() ? count.column_int(0) : 0;
  const auto cap = static_cast<std::int64_t>(max_reported_);
  if (rows <= cap)
    return;
  auto drop = db_->prepare(
      "DELETE FROM reported WHERE rowid IN (SELECT rowid FROM reported ORDER BY rowid LIMIT ?1)");
  drop.bind(1, rows - cap);
  drop.step();
  trimmed_ += static_cast<std::size_t>(db_->changes());
}

std::size_t stored_number(const std::optional<std::string>& text) noexcept {
  if (!text)
    return 0;
  std::size_t value = 0;
  auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  return ec == std::errc() && ptr == text->data() + text->size() ? value : 0;
}

bool scan_state::forget_all() {
  try {
    db_->exec("DELETE FROM reported");
    compacted_ += db_->compact();
    return true;
  } catch (const sqlite_error&) {
    return false;
  }
}

} // namespace pg::actors::vuln
