// SPDX-License-Identifier: Apache-2.0
// persistent_cache.hpp — the cache facility's store that outlives the process: one table of a
// state database holding (key, tag, value, stored), under the facility's policy (cache_policy:
// max_entries, ttl) and counted into the same cache_counters (bounded_cache.hpp). A lookup hits
// when the key is there with the same tag — what the value was computed from: a file's stamp and
// the rule set for yara, an image's manifest digest and the advisories for container — and the
// entry is younger than ttl. Used from one thread, like the database it lives in.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "phantomguard/actors/storage/sqlite_handle.hpp"
#include "phantomguard/runtime/bounded_cache.hpp"

namespace pg::actors::storage {

class persistent_cache {
public:
  /// Creates `table` in `db` when it is not there (a table written by an older layout is
  /// replaced: a cache is only saved work). `db` must outlive the cache. Throws sqlite_error.
  persistent_cache(database& db, std::string table, runtime::cache_policy policy = {});

  /// The value stored under `key` for `tag`. A different tag, or an entry older than ttl, is a
  /// miss (counted; an expired entry is counted as expired too) and the caller computes the
  /// value again and put()s it. Throws sqlite_error.
  [[nodiscard]] std::optional<std::string> find(std::string_view key, std::string_view tag);
  /// Stores (or replaces) the value under `key`, stamped now.
  void put(std::string_view key, std::string_view tag, std::string_view value);
  /// Drops every entry whose tag does not start with `prefix` (a rule set replaced: its results
  /// can never be hit again). Returns how many went.
  std::int64_t keep_tag_prefix(std::string_view prefix);

  /// Drops the entries older than ttl (counted as expired) and the least recently stored
  /// beyond max_entries (counted as evictions), then compacts the file when that left a quarter
  /// of it free. Called at the end of a pass, outside a transaction.
  void enforce();
  /// enforce(), a failure of it logged as a warning naming `owner`, then the counters published
  /// as the component's: what an analyzer does at the end of each pass.
  void finish_pass(runtime::context& ctx, std::string_view owner);

  void set_policy(runtime::cache_policy policy) noexcept { policy_ = policy; }
  [[nodiscard]] const runtime::cache_policy& policy() const noexcept { return policy_; }
  [[nodiscard]] runtime::cache_counters& counters() noexcept { return counters_; }
  [[nodiscard]] std::int64_t entries();

private:
  database& db_;
  std::string table_;
  runtime::cache_policy policy_;
  runtime::cache_counters counters_;
  statement find_;
  statement put_;
};

} // namespace pg::actors::storage
