// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/yara/result_cache.hpp"

#include "phantomguard/actors/storage/persistent_cache.hpp"

#include <filesystem>

namespace pg::actors::yara {

struct result_cache::impl {
  storage::database db;
  storage::persistent_cache cache; // results: key = path, tag = rule set + file stamp
  bool in_txn = false;

  explicit impl(const std::string& path) : db(path, true), cache(db, "results") {}
};

namespace {

/// What must be equal for a stored result to stand for the file: the rule set first (so that
/// forget_other_rulesets keeps a prefix), then the file's metadata.
std::string tag_of(const file_stamp& st, const std::string& ruleset) {
  return ruleset + "|" + std::to_string(st.dev) + ":" + std::to_string(st.inode) + ":" +
         std::to_string(st.size) + ":" + std::to_string(st.mtime_ns) + ":" +
         std::to_string(st.ctime_ns);
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
    auto text = impl_->cache.find(path, tag_of(st, ruleset));
    if (!text)
      return std::nullopt;
    std::vector<rule_match> out;
    try {
      for (const auto& j : nlohmann::json::parse(*text))
        out.push_back(rule_match::from_json(j));
    } catch (const std::exception&) {
      --impl_->cache.counters().hits; // a damaged row is a miss: the file is scanned again
      ++impl_->cache.counters().misses;
      return std::nullopt;
    }
    return out;
  });
}

void result_cache::put(const std::string& path, const file_stamp& st, const std::string& ruleset,
                       const std::vector<rule_match>& matches) {
  guarded([&] {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& m : matches)
      arr.push_back(m.to_json());
    impl_->cache.put(path, tag_of(st, ruleset),
                     arr.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return 0;
  });
}

void result_cache::forget_other_rulesets(const std::string& ruleset) {
  guarded([&] { return impl_->cache.keep_tag_prefix(ruleset + "|"); });
}

void result_cache::set_policy(runtime::cache_policy policy) noexcept {
  impl_->cache.set_policy(policy);
}

runtime::cache_counters& result_cache::counters() noexcept {
  return impl_->cache.counters();
}

void result_cache::enforce() {
  guarded([&] {
    impl_->cache.enforce();
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
