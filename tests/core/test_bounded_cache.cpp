// SPDX-License-Identifier: Apache-2.0
// The one cache facility: a cache at max_entries evicts the least recently used and counts it,
// an entry older than ttl is not returned and counts as expired, and the counters reach the
// component as deltas.
#include <catch2/catch.hpp>

#include <string>

#include "phantomguard/runtime/bounded_cache.hpp"
#include "test_context.hpp"

using namespace pg::runtime;
using namespace std::chrono_literals;

SCENARIO("a cache at max_entries evicts the least recently used, and counts it") {
  bounded_cache<int, std::string> c(cache_policy{3, {}});
  for (int k = 1; k <= 3; ++k)
    *c.try_emplace(k).first = "v" + std::to_string(k);
  REQUIRE(c.size() == 3);
  REQUIRE(c.find(1) != nullptr); // 1 is now the most recently used; 2 the least
  auto [v, created] = c.try_emplace(4);
  CHECK(created);
  CHECK(c.size() == 3);
  CHECK(c.find(2) == nullptr);
  CHECK(c.find(1) != nullptr);
  CHECK(c.find(3) != nullptr);
  CHECK(c.find(4) != nullptr);
  CHECK(c.counters().evictions == 1);
  for (int k = 5; k < 105; ++k)
    c.try_emplace(k);
  CHECK(c.size() == 3);
  CHECK(c.counters().evictions == 101);
  THEN("an existing key is found, not created, and evicts nothing") {
    auto [again, made] = c.try_emplace(104);
    CHECK_FALSE(made);
    CHECK(c.counters().evictions == 101);
  }
}

SCENARIO("an entry older than ttl is not returned and counts as expired") {
  bounded_cache<std::string, int> c(cache_policy{0, 60s});
  const auto t0 = std::chrono::steady_clock::now();
  *c.try_emplace("a", t0).first = 1;
  CHECK(c.find("a", t0 + 59s) != nullptr);
  CHECK(c.find("a", t0 + 60s) == nullptr);
  CHECK(c.counters().expired == 1);
  CHECK(c.size() == 0);
  GIVEN("a refreshed entry") {
    *c.try_emplace("b", t0).first = 2;
    c.touch("b", t0 + 50s);
    CHECK(c.find("b", t0 + 100s) != nullptr); // 50 s old, not 100
  }
}

SCENARIO("erase_if sweeps, and the counters reach the component as deltas") {
  bounded_cache<int, int> c;
  for (int k = 0; k < 10; ++k)
    *c.try_emplace(k).first = k;
  CHECK(c.erase_if([](int, int v) { return v % 2 == 1; }) == 5);
  CHECK(c.size() == 5);
  CHECK(c.erase(0));
  CHECK_FALSE(c.erase(0));
  pg::test::test_context ctx;
  c.counters().hits += 7;
  c.counters().misses += 2;
  c.counters().publish(ctx);
  c.counters().hits += 1;
  c.counters().publish(ctx);
  c.counters().publish(ctx); // nothing new: nothing added
  CHECK(ctx.counters["cache_hits"] == 8);
  CHECK(ctx.counters["cache_misses"] == 2);
  CHECK(ctx.counters.count("cache_evictions") == 0);
}
