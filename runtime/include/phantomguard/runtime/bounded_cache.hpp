// SPDX-License-Identifier: Apache-2.0
// bounded_cache.hpp — the one cache facility: a size limit (`max_entries`, least recently used
// out first), an age limit (`ttl`), and the same four counters wherever a cache is kept —
// cache_hits, cache_misses, cache_evictions, cache_expired — published as the component's
// counters. bounded_cache is the in-memory store (process); a persistent cache (yara's results in
// SQLite) applies the same policy to its table and counts into the same cache_counters.
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "phantomguard/runtime/component.hpp"
#include "phantomguard/runtime/options.hpp"

namespace pg::runtime {

struct cache_policy {
  std::uint64_t max_entries = 0; // 0: no size limit
  std::chrono::seconds ttl{0};   // 0: entries do not expire
};

/// The options every cache's owner accepts under the same names: `cache_max_entries` (at least
/// 1; `entries_text` says what an entry is and what goes first) and, when `ttl_text` is not
/// empty (the cache has an age limit), `cache_ttl`. Defaults from `defaults`.
std::vector<option_spec> cache_option_specs(const cache_policy& defaults, std::string entries_text,
                                            std::string ttl_text = {});
/// The policy those options give (`defaults` where a key is not set).
cache_policy cache_policy_from(const component_settings& s, const cache_policy& defaults);

/// What a cache did; publish() adds what happened since the last publish to the component's
/// counters (the engine exports them as custom.cache_*).
struct cache_counters {
  std::int64_t hits = 0;
  std::int64_t misses = 0;
  std::int64_t evictions = 0; // pushed out by max_entries
  std::int64_t expired = 0;   // older than ttl when looked up or swept

  void publish(context& ctx) {
    auto one = [&ctx](const char* name, std::int64_t now, std::int64_t& before) {
      if (now != before)
        ctx.count(name, now - before);
      before = now;
    };
    one("cache_hits", hits, published_.hits);
    one("cache_misses", misses, published_.misses);
    one("cache_evictions", evictions, published_.evictions);
    one("cache_expired", expired, published_.expired);
  }

private:
  struct figures {
    std::int64_t hits = 0, misses = 0, evictions = 0, expired = 0;
  };
  figures published_;
};

/// Keys to values, at most policy.max_entries of them: inserting one more drops the least
/// recently used. Not thread-safe (a component's cache lives on its actor thread).
template <class K, class V, class Hash = std::hash<K>>
class bounded_cache {
public:
  using clock = std::chrono::steady_clock;

  explicit bounded_cache(cache_policy policy = {}) : policy_(policy) {}

  /// The value, marked as just used; nullptr when absent or older than ttl (then dropped and
  /// counted as expired). Hits and misses are the owner's to count: it knows what a usable
  /// entry is.
  V* find(const K& key, clock::time_point now = clock::now()) {
    auto it = index_.find(key);
    if (it == index_.end())
      return nullptr;
    if (policy_.ttl.count() > 0 && now - it->second->stored >= policy_.ttl) {
      order_.erase(it->second);
      index_.erase(it);
      ++counters_.expired;
      return nullptr;
    }
    order_.splice(order_.begin(), order_, it->second);
    return &it->second->value;
  }

  /// The value for `key`, created (default-constructed, stored now) when absent; true when it
  /// was created. Creating one past max_entries evicts the least recently used.
  std::pair<V*, bool> try_emplace(const K& key, clock::time_point now = clock::now()) {
    if (auto* v = find(key, now))
      return {v, false};
    order_.push_front(node{key, V{}, now});
    index_.emplace(key, order_.begin());
    while (policy_.max_entries > 0 && index_.size() > policy_.max_entries) {
      index_.erase(order_.back().key);
      order_.pop_back();
      ++counters_.evictions;
    }
    return {&order_.front().value, true};
  }

  /// Restarts the entry's age (a refreshed value).
  void touch(const K& key, clock::time_point now = clock::now()) {
    if (auto it = index_.find(key); it != index_.end())
      it->second->stored = now;
  }

  bool erase(const K& key) {
    auto it = index_.find(key);
    if (it == index_.end())
      return false;
    order_.erase(it->second);
    index_.erase(it);
    return true;
  }

  /// Drops every entry for which pred(key, value) holds; returns how many.
  template <class Pred>
  std::size_t erase_if(Pred pred) {
    std::size_t n = 0;
    for (auto it = order_.begin(); it != order_.end();) {
      if (pred(it->key, it->value)) {
        index_.erase(it->key);
        it = order_.erase(it);
        ++n;
      } else {
        ++it;
      }
    }
    return n;
  }

  /// Calls f(key, value) for each entry, most recently used first.
  template <class F>
  void for_each(F f) const {
    for (const auto& n : order_)
      f(n.key, n.value);
  }

  [[nodiscard]] std::size_t size() const noexcept { return index_.size(); }
  [[nodiscard]] const cache_policy& policy() const noexcept { return policy_; }
  [[nodiscard]] cache_counters& counters() noexcept { return counters_; }

private:
  struct node {
    K key;
    V value;
    clock::time_point stored;
  };
  cache_policy policy_;
  std::list<node> order_; // most recently used first
  std::unordered_map<K, typename std::list<node>::iterator, Hash> index_;
  cache_counters counters_;
};

} // namespace pg::runtime
