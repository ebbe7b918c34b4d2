// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/storage/persistent_cache.hpp"

#include <ctime>

namespace pg::actors::storage {

namespace {

std::int64_t unix_now() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

} // namespace

persistent_cache::persistent_cache(database& db, std::string table, runtime::cache_policy policy)
    : db_(db), table_(std::move(table)), policy_(policy) {
  bool has_table = false, layout_ok = true;
  int columns = 0;
  for (auto info = db_.prepare("PRAGMA table_info(" + table_ + ")"); info.step();) {
    has_table = true;
    const auto name = info.column_text(1);
    ++columns;
    layout_ok =
        layout_ok && (name == "key" || name == "tag" || name == "value" || name == "stored");
  }
  if (has_table && (!layout_ok || columns != 4))
    db_.exec("DROP TABLE " + table_);
  db_.exec("CREATE TABLE IF NOT EXISTS " + table_ +
           " (key TEXT PRIMARY KEY, tag TEXT NOT NULL, value TEXT NOT NULL,"
           " stored INTEGER NOT NULL) WITHOUT ROWID");
  db_.exec("CREATE INDEX IF NOT EXISTS " + table_ + "_stored ON " + table_ + " (stored)");
  find_ = db_.prepare("SELECT tag, value, stored FROM " + table_ + " WHERE key = ?1");
  put_ = db_.prepare("INSERT OR REPLACE INTO " + table_ +
                     " (key, tag, value, stored) VALUES (?1, ?2, ?3, ?4)");
}

std::optional<std::string> persistent_cache::find(std::string_view key, std::string_view tag) {
  find_.reset();
  find_.bind(1, key);
  if (!find_.step()) {
    ++counters_.misses;
    return std::nullopt;
  }
  const bool same_tag = find_.column_text(0) == tag;
  auto value = find_.column_text(1);
  const auto stored = find_.column_int(2);
  find_.reset();
  if (!same_tag) {
    ++counters_.misses;
    return std::nullopt;
  }
  if (policy_.ttl.count() > 0 && unix_now() - stored >= policy_.ttl.count()) {
    ++counters_.expired; // too old to vouch for what it was computed from: computed again
    ++counters_.misses;
    return std::nullopt;
  }
  ++counters_.hits;
  return value;
}

void persistent_cache::put(std::string_view key, std::string_view tag, std::string_view value) {
  put_.reset();
  put_.bind(1, key).bind(2, tag).bind(3, value).bind(4, unix_now());
  put_.step();
  put_.reset();
}

std::int64_t persistent_cache::keep_tag_prefix(std::string_view prefix) {
  auto s = db_.prepare("DELETE FROM " + table_ + " WHERE substr(tag, 1, ?2) <> ?1");
  s.bind(1, prefix).bind(2, static_cast<std::int64_t>(prefix.size()));
  s.step();
  return db_.changes();
}

std::int64_t persistent_cache::entries() {
  auto s = db_.prepare("SELECT count(*) FROM " + table_);
  return s.step() ? s.column_int(0) : 0;
}

void persistent_cache::enforce() {
  if (policy_.ttl.count() > 0) {
    auto drop = db_.prepare("DELETE FROM " + table_ + " WHERE stored <= ?1");
    drop.bind(1, unix_now() - policy_.ttl.count());
    drop.step();
    counters_.expired += db_.changes();
  }
  if (policy_.max_entries > 0) {
    const auto rows = entries();
    const auto cap = static_cast<std::int64_t>(policy_.max_entries);
    if (rows > cap) {
      auto drop = db_.prepare("DELETE FROM " + table_ + " WHERE key IN (SELECT key FROM " + table_ +
                              " ORDER BY stored, key LIMIT ?1)");
      drop.bind(1, rows - cap);
      drop.step();
      counters_.evictions += db_.changes();
    }
  }
  db_.compact();
}

void persistent_cache::finish_pass(runtime::context& ctx, std::string_view owner) {
  try {
    enforce();
  } catch (const sqlite_error& e) {
    ctx.log(runtime::log_level::warn, std::string(owner) + ": " + table_ + ": " + e.what());
  }
  counters_.publish(ctx);
}

} // namespace pg::actors::storage
