// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/yara/result_cache.hpp"

#include "phantomguard/actors/storage/sqlite_handle.hpp"

#include <ctime>
#include <filesystem>

namespace pg::actors::yara {

struct result_cache::impl {
  storage::database db;
  storage::statement find_stmt;
  storage::statement put_stmt;
  bool in_txn = false;
  runtime::cache_policy policy;
  runtime::cache_counters counters;

  explicit impl(const std::string& path) : db(path, true) {
    db.exec("CREATE TABLE IF NOT EXISTS results ("
            " path TEXT PRIMARY KEY, ruleset TEXT NOT NULL, dev INTEGER, inode INTEGER,"
            " size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER, matches TEXT NOT NULL,"
            " stored INTEGER NOT NULL DEFAULT 0"
            ") WITHOUT ROWID");
    bool has_stored = false;
    for (auto info = db.prepare("PRAGMA table_info(results)"); info.step();)
      has_stored = has_stored || info.column_text(1) == "stored";
    if (!has_stored) // a cache from before the column: its rows count as stored long ago
      db.exec("ALTER TABLE results ADD COLUMN stored INTEGER NOT NULL DEFAULT 0");
    find_stmt = db.prepare("SELECT matches, stored FROM results WHERE path = ?1 AND ruleset = ?2"
                           " AND dev = ?3 AND inode = ?4 AND size = ?5 AND mtime_ns = ?6 AND"
                           " ctime_ns = ?7");
    put_stmt = db.prepare("INSERT OR REPLACE INTO results (path, ruleset, dev, inode, size,"
                          " mtime_ns, ctime_ns, matches, stored)"
                          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  }
};

namespace {

std::int64_t unix_now() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

template <class F>
auto guarded(F&& f) {
  try {
    return f();
  } catch (const storage::sqlite_error& e) {
    throw cache_error(e.what());
  }
}

} // namespace

result_cache::result_cache(const std::string& path) {
  guarded([&] {
    impl_ = std::make_unique<impl>(path);
    return 0;
  });
}

std::uintmax_t result_cache::replayed_wal_bytes() const noexcept {
  return impl_->db.replayed_wal_bytes();
}

std::unique_ptr<result_cache> open_result_cache(const std::string& path,
                                                std::vector<std::string>& notes) {
  auto opened = [&](std::unique_ptr<result_cache> c) {
    if (auto wal = c->replayed_wal_bytes(); wal > 0)
      notes.push_back("result cache " + path + ": replayed " + std::to_string(wal) +
                      " bytes of write-ahead log its last writer left (killed, or open "
                      "elsewhere); the integrity check passed");
    return c;
  };
  try {
    return opened(std::make_unique<result_cache>(path));
  } catch (const cache_error& first) {
    std::error_code ec;
    const std::string aside = path + ".damaged";
    std::filesystem::rename(path, aside, ec);
    if (ec) {
      notes.push_back("result cache disabled: " + std::string(first.what()));
      return nullptr;
    }
    for (const char* side : {"-wal", "-shm"}) {
      std::error_code side_ec;
      std::filesystem::remove(path + side, side_ec);
    }
    try {
      auto fresh = std::make_unique<result_cache>(path);
      notes.push_back("result cache " + path + " could not be used (" + first.what() +
                      "); moved to " + aside + ", starting empty (every file is scanned once)");
      return fresh;
    } catch (const cache_error& second) {
      notes.push_back("result cache disabled: " + std::string(second.what()));
      return nullptr;
    }
  }
}

result_cache::result_cache(result_cache&&) noexcept = default;
result_cache& result_cache::operator=(result_cache&&) noexcept = default;
result_cache::~result_cache() {
  rollback();
}

std::optional<std::vector<rule_match>>
result_cache::find(const std::string& path, const file_stamp& st, const std::string& ruleset) {
  return guarded([&]() -> std::optional<std::vector<rule_match>> {
    auto& s = impl_->find_stmt;
    s.reset();
    s.bind(1, path)
        .bind(2, ruleset)
        .bind(3, static_cast<std::int64_t>(st.dev))
        .bind(4, static_cast<std::int64_t>(st.inode))
        .bind(5, st.size)
        .bind(6, st.mtime_ns)
        .bind(7, st.ctime_ns);
    if (!s.step()) {
      ++impl_->counters.misses;
      return std::nullopt;
    }
    auto text = s.column_text(0);
    const auto stored = s.column_int(1);
    s.reset();
    if (impl_->policy.ttl.count() > 0 && unix_now() - stored >= impl_->policy.ttl.count()) {
      ++impl_->counters.expired; // too old to vouch for the file: scanned again, then replaced
      ++impl_->counters.misses;
      return std::nullopt;
    }
    std::vector<rule_match> out;
    try {
      for (const auto& j : nlohmann::json::parse(text))
        out.push_back(rule_match::from_json(j));
    } catch (const std::exception&) {
      ++impl_->counters.misses;
      return std::nullopt; // a damaged row is a miss: the file is scanned again
    }
    ++impl_->counters.hits;
    return out;
  });
}

void result_cache::put(const std::string& path, const file_stamp& st, const std::string& ruleset,
                       const std::vector<rule_match>& matches) {
  guarded([&] {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& m : matches)
      arr.push_back(m.to_json());
    auto& s = impl_->put_stmt;
    s.reset();
    s.bind(1, path)
        .bind(2, ruleset)
        .bind(3, static_cast<std::int64_t>(st.dev))
        .bind(4, static_cast<std::int64_t>(st.inode))
        .bind(5, st.size)
        .bind(6, st.mtime_ns)
        .bind(7, st.ctime_ns)
        .bind(8, arr.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))
        .bind(9, unix_now());
    s.step();
    return 0;
  });
}

void result_cache::forget_other_rulesets(const std::string& ruleset) {
  guarded([&] {
    auto s = impl_->db.prepare("DELETE FROM results WHERE ruleset <> ?1");
    s.bind(1, ruleset);
    s.step();
    return 0;
  });
}

void result_cache::set_policy(runtime::cache_policy policy) noexcept {
  impl_->policy = policy;
}

runtime::cache_counters& result_cache::counters() noexcept {
  return impl_->counters;
}

void result_cache::enforce() {
  guarded([&] {
    auto& db = impl_->db;
    if (impl_->policy.ttl.count() > 0) {
      auto drop = db.prepare("DELETE FROM results WHERE stored < ?1");
      drop.bind(1, unix_now() - impl_->policy.ttl.count());
      drop.step();
      impl_->counters.expired += db.changes();
    }
    if (impl_->policy.max_entries > 0) {
      auto count = db.prepare("SELECT count(*) FROM results");
      const auto rows = count.step() ? count.column_int(0) : 0;
      const auto cap = static_cast<std::int64_t>(impl_->policy.max_entries);
      if (rows > cap) {
        auto drop = db.prepare("DELETE FROM results WHERE path IN"
                               " (SELECT path FROM results ORDER BY stored, path LIMIT ?1)");
        drop.bind(1, rows - cap);
        drop.step();
        impl_->counters.evictions += db.changes();
      }
    }
    db.compact();
    return 0;
  });
}

void result_cache::begin() {
  guarded([&] {
    impl_->db.exec("BEGIN IMMEDIATE");
    impl_->in_txn = true;
    return 0;
  });
}

void result_cache::commit() {
  guarded([&] {
    impl_->db.exec("COMMIT");
    impl_->in_txn = false;
    return 0;
  });
}

void result_cache::rollback() noexcept {
  if (!impl_ || !impl_->in_txn)
    return;
  impl_->in_txn = false;
  try {
    impl_->db.exec("ROLLBACK");
  } catch (...) { // closing the connection rolls back anyway
  }
}

} // namespace pg::actors::yara
