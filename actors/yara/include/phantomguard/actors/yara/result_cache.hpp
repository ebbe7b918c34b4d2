// SPDX-License-Identifier: Apache-2.0
// result_cache.hpp — scan results in SQLite keyed by (path, device, inode, size, mtime, ctime,
// rule set hash): a file whose metadata is unchanged is not scanned again with the same rules.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "phantomguard/actors/yara/rule_scanner.hpp"
#include "phantomguard/runtime/bounded_cache.hpp"

namespace pg::actors::yara {

class cache_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// What must be equal for a cached result to stand for the file.
struct file_stamp {
  std::uint64_t dev = 0;
  std::uint64_t inode = 0;
  std::int64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
};

/// One connection, used from one thread. Each row carries when it was stored (`stored`, unix
/// seconds; a cache written before that column existed gets it, as 0, at open).
class result_cache {
public:
  /// Opens or creates the database (WAL). Throws cache_error naming the file and the reason.
  explicit result_cache(const std::string& path);
  result_cache(result_cache&&) noexcept;
  result_cache& operator=(result_cache&&) noexcept;
  ~result_cache();
  /// Bytes of write-ahead log the open found and replayed (0 after a clean close).
  [[nodiscard]] std::uintmax_t replayed_wal_bytes() const noexcept;

  [[nodiscard]] std::optional<std::vector<rule_match>>
  find(const std::string& path, const file_stamp& stamp, const std::string& ruleset);
  void put(const std::string& path, const file_stamp& stamp, const std::string& ruleset,
           const std::vector<rule_match>& matches);
  /// Drops results of other rule sets (they can never be hit again).
  void forget_other_rulesets(const std::string& ruleset);

  /// The cache facility's policy (bounded_cache.hpp) applied to the table: a result older than
  /// `ttl` is a miss (the file is scanned again however unchanged its metadata looks), and
  /// enforce() keeps at most `max_entries` rows, the oldest out first.
  void set_policy(runtime::cache_policy policy) noexcept;
  /// Drops expired rows and the oldest beyond max_entries, then compacts the file when that
  /// left a quarter of it free. Called at the end of a pass, outside a transaction.
  void enforce();
  /// hits, misses, evictions and expired, counted by find() and enforce().
  [[nodiscard]] runtime::cache_counters& counters() noexcept;

  void begin();
  void commit();
  void rollback() noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// The cache as the analyzer and `phantomguard yara` open it. A cache is only saved work, so a
/// damaged one (torn by a kill, or not a database) is moved aside to `<path>.damaged` and a new
/// one started; when even that fails the result is null and every file is scanned. `notes` gets
/// one line for each thing worth saying: a write-ahead log replayed after an unclean stop, a
/// damaged file moved aside, the cache disabled.
std::unique_ptr<result_cache> open_result_cache(const std::string& path,
                                                std::vector<std::string>& notes);

} // namespace pg::actors::yara
