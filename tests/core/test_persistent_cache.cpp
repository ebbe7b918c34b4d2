// SPDX-License-Identifier: Apache-2.0
// The cache facility's persistent store: hits need the key and the tag, ttl makes old entries
// misses and enforce() drops them, max_entries pushes the oldest out, and all of it outlives the
// connection (a restarted process finds what the last one kept).
#include <catch2/catch.hpp>

#include <filesystem>
#include <thread>
#include <unistd.h>

#include "phantomguard/actors/storage/persistent_cache.hpp"

using pg::actors::storage::database;
using pg::actors::storage::persistent_cache;
namespace fs = std::filesystem;

namespace {

struct scratch {
  fs::path dir = fs::temp_directory_path() / ("pg-pcache-" + std::to_string(::getpid()));
  scratch() { fs::create_directories(dir); }
  ~scratch() { fs::remove_all(dir); }
  [[nodiscard]] std::string db() const { return (dir / "cache.db").string(); }
};

} // namespace

TEST_CASE("a persistent cache hits on key and tag, and outlives its connection", "[cache]") {
  scratch s;
  {
    database db(s.db(), true);
    persistent_cache c(db, "things");
    CHECK_FALSE(c.find("a", "v1"));
    c.put("a", "v1", "alpha");
    REQUIRE(c.find("a", "v1") == std::optional<std::string>("alpha"));
    CHECK_FALSE(c.find("a", "v2")); // computed from something else: a miss
    CHECK(c.counters().hits == 1);
    CHECK(c.counters().misses == 2);
  }
  database db(s.db(), false);
  persistent_cache again(db, "things");
  CHECK(again.find("a", "v1") == std::optional<std::string>("alpha"));
  CHECK(again.entries() == 1);
}

TEST_CASE("a persistent cache holds max_entries, the least recently stored out first", "[cache]") {
  scratch s;
  database db(s.db(), true);
  persistent_cache c(db, "things", pg::runtime::cache_policy{2, {}});
  c.put("old", "t", "1");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100)); // stored is in whole seconds
  c.put("mid", "t", "2");
  c.put("new", "t", "3");
  c.enforce();
  CHECK(c.entries() == 2);
  CHECK(c.counters().evictions == 1);
  CHECK_FALSE(c.find("old", "t"));
  CHECK(c.find("new", "t"));
}

TEST_CASE("a persistent cache entry older than ttl is a miss and is swept", "[cache]") {
  scratch s;
  database db(s.db(), true);
  persistent_cache c(db, "things", pg::runtime::cache_policy{0, std::chrono::seconds(1)});
  c.put("a", "t", "x");
  CHECK(c.find("a", "t"));
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  CHECK_FALSE(c.find("a", "t"));
  CHECK(c.counters().expired == 1);
  c.enforce();
  CHECK(c.entries() == 0);
  CHECK(c.counters().expired == 2); // and the sweep dropped it
}

TEST_CASE("a table of another layout is replaced, and keep_tag_prefix drops the rest", "[cache]") {
  scratch s;
  database db(s.db(), true);
  db.exec("CREATE TABLE things (path TEXT PRIMARY KEY, matches TEXT)");
  db.exec("INSERT INTO things VALUES ('/x', '[]')");
  persistent_cache c(db, "things");
  CHECK(c.entries() == 0);
  c.put("a", "rules-1|stamp", "x");
  c.put("b", "rules-2|stamp", "y");
  CHECK(c.keep_tag_prefix("rules-2|") == 1);
  CHECK_FALSE(c.find("a", "rules-1|stamp"));
  CHECK(c.find("b", "rules-2|stamp"));
}
