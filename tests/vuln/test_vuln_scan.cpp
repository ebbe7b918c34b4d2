// SPDX-License-Identifier: Apache-2.0
// End to end: a fake root matched against the fixtures, the real dpkg database of this machine,
// the `vuln` analyzer driven through a test context, and the `phantomguard vuln` command.
#include <catch2/catch.hpp>

#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "phantomguard/actors/storage/sqlite_handle.hpp"
#include "phantomguard/actors/vuln/dpkg_database.hpp"
#include "phantomguard/actors/vuln/register.hpp"
#include "phantomguard/actors/vuln/scan_state.hpp"
#include "phantomguard/actors/vuln/vuln_analyzer.hpp"
#include "phantomguard/actors/vuln/vuln_command.hpp"
#include "phantomguard/actors/vuln/vuln_scan.hpp"
#include "skip.hpp"
#include "test_context.hpp"
#include "vuln_fixture.hpp"

using namespace pg::actors::vuln;
using pg::runtime::finding;
using pg::runtime::severity;

namespace {

const char* status_text = R"(Package: libfoo1
Status: install ok installed
Architecture: amd64
Source: foo (1.0-1)
Version: 1.0-1+b1

Package: openssl
Status: install ok installed
Architecture: amd64
Version: 3.0.11-1~deb12u1

Package: libssl3
Status: install ok installed
Architecture: amd64
Source: openssl
Version: 3.0.11-1~deb12u1

Package: zlib1g
Status: install ok installed
Architecture: amd64
Source: zlib
Version: 1:1.2.13.dfsg-1

Package: curl
Status: install ok installed
Architecture: amd64
Version: 7.88.1-10+deb12u5

Package: bar
Status: install ok installed
Architecture: all
Version: 0.9-1

Package: broken
Status: install ok installed
Version: not-a-version
)";

void make_root(const pg::test::temp_dir& root, const std::string& version_id = "12") {
  root.write("var/lib/dpkg/status", status_text);
  root.write("etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux " + version_id +
                                   "\"\nID=debian\nVERSION_ID=\"" + version_id + "\"\n");
}

std::vector<const finding*> rule(const std::vector<finding>& fs, const std::string& id) {
  std::vector<const finding*> out;
  for (const auto& f : fs)
    if (f.rule == id)
      out.push_back(&f);
  return out;
}

const finding* match_of(const std::vector<finding>& fs, const std::string& package,
                        const std::string& advisory) {
  for (const auto& f : fs)
    if (f.rule == "vuln.package" && f.entity.value("package", "") == package &&
        f.evidence.value("advisory", "") == advisory)
      return &f;
  return nullptr;
}

// Runs a command with stdout captured.
int run_command(std::vector<std::string> args, std::string& out) {
  return pg::test::run_vuln(std::move(args), out);
}

} // namespace

SCENARIO("a Debian 12 root is matched against the OSV fixtures") {
  GIVEN("a fake root with openssl, a binNMU of foo, zlib, curl, bar and a malformed entry") {
    pg::test::temp_dir root;
    make_root(root);
    vuln_scan_request req;
    req.root = root.str();
    req.advisories = pg::test::fixtures_dir() + "/osv";
    collecting_sink sink;
    auto result = run_vuln_scan(req, sink);
    const auto& fs = sink.findings;
    THEN("the release is detected and the scan completes") {
      CHECK(result.release == "12");
      CHECK(result.completed);
      CHECK(result.packages == 6);
    }
    THEN("openssl and libssl3 (source openssl) match DSA-9001-1 for Debian 12 only, critical") {
      for (auto pkg : {"openssl", "libssl3"}) {
        auto f = match_of(fs, pkg, "DSA-9001-1");
        REQUIRE(f);
        CHECK(f->level == severity::critical);
        CHECK(f->evidence["fixed"] == "3.0.11-1~deb12u2");
        CHECK(f->evidence["ecosystem"] == "Debian:12");
        CHECK(f->evidence["aliases"][0] == "CVE-2099-0001");
        CHECK(f->evidence["installed"] == "3.0.11-1~deb12u1");
        CHECK(f->evidence["severity_from"] == "cvss");
        CHECK(f->entity["source"] == "openssl");
      }
    }
    THEN("the binNMU libfoo1 matches through its source version; the Debian 11 DLA does not") {
      auto f = match_of(fs, "libfoo1", "PGTEST-2099-0003");
      REQUIRE(f);
      CHECK(f->level == severity::high); // database_specific.severity
      CHECK(f->entity["source_version"] == "1.0-1");
      CHECK(f->evidence["fixed"] == "1.0-2");
      CHECK_FALSE(match_of(fs, "libfoo1", "DLA-9002-1"));
    }
    THEN("zlib matches an explicit versions list with the default severity") {
      auto f = match_of(fs, "zlib1g", "PGTEST-2099-0004");
      REQUIRE(f);
      CHECK(f->level == severity::medium);
      CHECK(f->evidence["severity_from"] == "default");
      CHECK(f->evidence["fixed"].is_null());
    }
    THEN("curl matches the last_affected range that covers it, not the one below it") {
      auto f = match_of(fs, "curl", "PGTEST-2099-0006");
      REQUIRE(f);
      CHECK(f->level == severity::low); // ecosystem_specific.urgency
      CHECK_FALSE(match_of(fs, "curl", "PGTEST-2099-0005"));
    }
    THEN("bar has an unfixed issue and one fixed in a later epoch") {
      auto unfixed = match_of(fs, "bar", "PGTEST-2099-0009");
      REQUIRE(unfixed);
      CHECK(unfixed->title.find("no fixed version known") != std::string::npos);
      auto fixed = match_of(fs, "bar", "PGTEST-2099-0010");
      REQUIRE(fixed);
      CHECK(fixed->evidence["fixed"] == "1:0.5-1");
      CHECK(fixed->level == severity::low); // CVSS 1.8
    }
    THEN("withdrawn advisories and other ecosystems never match; totals are exact") {
      CHECK_FALSE(match_of(fs, "openssl", "PGTEST-2099-0008"));
      CHECK_FALSE(match_of(fs, "openssl", "PYSEC-2099-0007"));
      CHECK(rule(fs, "vuln.package").size() == 7);
      CHECK(result.findings == 7);
    }
    THEN("the malformed status entry is reported with its count") {
      auto m = rule(fs, "vuln.malformed_status");
      REQUIRE(m.size() == 1);
      CHECK(m[0]->evidence["count"] == 1);
      CHECK(sink.counters["malformed_status_entries"] == 1);
    }
  }
}

SCENARIO("an unknown release matches every Debian release, once per advisory") {
  pg::test::temp_dir root;
  root.write("var/lib/dpkg/status", status_text); // no os-release, no debian_version
  vuln_scan_request req;
  req.root = root.str();
  req.advisories = pg::test::fixtures_dir() + "/osv";
  collecting_sink sink;
  auto result = run_vuln_scan(req, sink);
  CHECK(result.release.empty());
  CHECK(match_of(sink.findings, "libfoo1", "DLA-9002-1"));
  std::size_t dsa = 0;
  for (const auto& f : sink.findings)
    dsa += f.entity.value("package", "") == "openssl" &&
           f.evidence.value("advisory", "") == "DSA-9001-1";
  CHECK(dsa == 1);
}

SCENARIO("a Debian 11 root gets the Debian 11 advisories") {
  pg::test::temp_dir root;
  make_root(root, "11");
  vuln_scan_request req;
  req.root = root.str();
  req.advisories = pg::test::fixtures_dir() + "/osv";
  collecting_sink sink;
  run_vuln_scan(req, sink);
  CHECK(match_of(sink.findings, "libfoo1", "DLA-9002-1"));
  auto dsa = match_of(sink.findings, "openssl", "DSA-9001-1");
  CHECK_FALSE(dsa); // 3.0.11 is newer than the Debian 11 fix 1.1.1w-0+deb11u1
  CHECK_FALSE(match_of(sink.findings, "zlib1g", "PGTEST-2099-0004")); // Debian:12 only
}

SCENARIO("malformed advisories are reported and the good ones still match") {
  pg::test::temp_dir root;
  make_root(root);
  vuln_scan_request req;
  req.root = root.str();
  req.advisories = pg::test::fixtures_dir() + "/malformed";
  collecting_sink sink;
  run_vuln_scan(req, sink);
  auto bad = rule(sink.findings, "vuln.malformed_advisory");
  REQUIRE(bad.size() == 1);
  CHECK(bad[0]->evidence["count"] == 4);
  CHECK(bad[0]->evidence["examples"].size() == 4);
  CHECK(sink.counters["malformed_advisories"] == 4);
  CHECK(match_of(sink.findings, "openssl", "PGTEST-GOOD"));
}

SCENARIO("the real dpkg database of this machine matches a glibc fixture through libc6") {
  auto db = read_dpkg_database("/");
  const installed_package* libc = nullptr;
  for (const auto& p : db.packages)
    if (p.name == "libc6")
      libc = &p;
  if (libc == nullptr) {
    PG_SKIP("libc6 is not in /var/lib/dpkg/status here: skipped");
  }
  vuln_scan_request req;
  req.root = "/";
  req.advisories = pg::test::fixtures_dir() + "/real";
  collecting_sink sink;
  auto result = run_vuln_scan(req, sink);
  auto f = match_of(sink.findings, "libc6", "PGTEST-GLIBC-0001");
  REQUIRE(f);
  CHECK(f->entity["source"] == "glibc");
  CHECK(f->entity["version"] == libc->version);
  CHECK(f->evidence["installed"] == libc->source_version);
  CHECK(f->evidence["fixed"] == "99:0");
  CHECK(f->level == severity::critical);
  auto bash = match_of(sink.findings, "bash", "PGTEST-BASH-0001");
  REQUIRE(bash);
  CHECK(result.packages == db.packages.size());
  // Every package built from glibc matched, and nothing else matched glibc's advisory.
  std::size_t from_glibc = 0;
  for (const auto& p : db.packages)
    from_glibc += p.source_name == "glibc";
  std::size_t glibc_findings = 0;
  for (const auto& x : sink.findings)
    glibc_findings += x.evidence.value("advisory", "") == "PGTEST-GLIBC-0001";
  CHECK(glibc_findings == from_glibc);
}

SCENARIO("the vuln analyzer streams findings through its context") {
  GIVEN("an analyzer whose advisory source does not exist") {
    pg::test::temp_dir root;
    make_root(root);
    pg::runtime::component_init init;
    init.name = "vuln";
    toml::table t;
    t.insert("root", root.str());
    t.insert("advisories", (root.path() / "no-such-advisories").string());
    init.settings = pg::runtime::component_settings(t);
    vuln_analyzer a(init);
    pg::test::test_context ctx("vuln");
    a.start(ctx);
    a.on_tick(ctx);
    THEN("the tick reports an info finding, not an error") {
      auto f = ctx.with_rule("vuln.advisories_missing");
      REQUIRE(f.size() == 1);
      CHECK(f[0]->level == severity::info);
      CHECK(ctx.with_rule("vuln.package").empty());
      CHECK(ctx.counters["packages"] == 6);
    }
  }
  GIVEN("an analyzer with state and report = \"new\"") {
    pg::test::temp_dir root;
    make_root(root);
    pg::test::temp_dir state("pg-vuln-state");
    pg::runtime::component_init init;
    init.name = "vuln";
    init.state_dir = state.str();
    toml::table t;
    t.insert("root", root.str());
    t.insert("advisories", pg::test::fixtures_dir() + "/osv");
    t.insert("report", "new");
    t.insert("segment_size", 2);
    init.settings = pg::runtime::component_settings(t);
    WHEN("it scans twice, the second time as a restarted instance") {
      pg::test::test_context first("vuln");
      {
        vuln_analyzer a(init);
        a.start(first);
        a.on_tick(first);
      }
      pg::test::test_context second("vuln");
      vuln_analyzer b(init);
      b.start(second);
      b.on_tick(second);
      THEN("the matches come once, the state database exists, every scan completed") {
        CHECK(first.with_rule("vuln.package").size() == 7);
        CHECK(second.with_rule("vuln.package").empty());
        CHECK(std::filesystem::exists(state.path() / "vuln" / "vuln.db"));
        CHECK(first.counters["scans_completed"] == 1);
        CHECK(second.counters["scans_completed"] == 1);
        CHECK(first.counters["packages_scanned"] == 6);
      }
    }
    WHEN("the engine asks it to stop before the scan starts") {
      pg::test::test_context ctx("vuln");
      ctx.stop_requested = true;
      vuln_analyzer a(init);
      a.start(ctx);
      a.on_tick(ctx);
      THEN("it returns without matching and without claiming completion") {
        CHECK(ctx.with_rule("vuln.package").empty());
        CHECK(ctx.counters["scans_completed"] == 0);
      }
    }
  }
}

namespace {

struct vuln_tick {
  std::map<std::string, std::int64_t> counters;
  std::multiset<std::string> matches; // package|advisory of each vuln.package finding
};

vuln_tick vuln_once(const pg::runtime::component_init& init) {
  vuln_analyzer a(init);
  pg::test::test_context ctx("vuln");
  a.start(ctx);
  a.on_tick(ctx);
  vuln_tick r;
  r.counters = ctx.counters;
  for (const auto* f : ctx.with_rule("vuln.package")) {
    CHECK(f->time != pg::runtime::wall_clock::time_point{});
    r.matches.insert(f->entity.value("package", "") + "|" + f->evidence.value("advisory", ""));
  }
  return r;
}

std::size_t matches_of(const vuln_tick& t, const std::string& package) {
  std::size_t n = 0;
  for (const auto& m : t.matches)
    n += m.starts_with(package + "|") ? 1 : 0;
  return n;
}

} // namespace

SCENARIO("an unchanged host is matched from the match cache, without loading the advisory index") {
  pg::test::temp_dir root;
  make_root(root);
  pg::test::temp_dir state("pg-vuln-cache");
  const auto advisories = state.path() / "osv";
  std::filesystem::copy(pg::test::fixtures_dir() + "/osv", advisories);
  pg::runtime::component_init init;
  init.name = "vuln";
  init.state_dir = (state.path() / "state").string();
  toml::table t{{"root", root.str()}, {"advisories", advisories.string()}};
  init.settings = pg::runtime::component_settings(t);

  auto first = vuln_once(init);
  REQUIRE(first.matches.size() == 7);
  CHECK(first.counters["index_loads"] == 1);
  CHECK(first.counters.count("packages_cached") == 0);
  REQUIRE(matches_of(first, "curl") >= 1);

  WHEN("a restarted analyzer scans the same packages against the same advisories") {
    auto second = vuln_once(init);
    THEN("every match comes from the cache and the index is never loaded") {
      CHECK(second.matches == first.matches);
      CHECK(second.counters.count("index_loads") == 0);
      CHECK(second.counters["packages_cached"] == 6);
      CHECK(second.counters["cache_hits"] == 7); // six packages and the advisory summary
      CHECK(second.counters["advisories"] == first.counters["advisories"]);
      CHECK(second.counters["scans_completed"] == 1);
    }
  }
  WHEN("one package is upgraded past its fixes") {
    std::string status = status_text;
    status.replace(status.find("Version: 7.88.1-10+deb12u5"), 26, "Version: 99.0.0-1");
    root.write("var/lib/dpkg/status", status);
    auto second = vuln_once(init);
    THEN("only that package is matched again, against a loaded index") {
      CHECK(second.counters["index_loads"] == 1);
      CHECK(second.counters["packages_cached"] == 5);
      CHECK(matches_of(second, "curl") == 0);
      CHECK(second.matches.size() == first.matches.size() - matches_of(first, "curl"));
    }
  }
  WHEN("the advisory set changes") {
    std::filesystem::remove(advisories / "PGTEST-2099-0005.json");
    auto second = vuln_once(init);
    THEN("nothing kept stands for it: every package is matched again") {
      CHECK(second.counters["index_loads"] == 1);
      CHECK(second.counters.count("packages_cached") == 0);
    }
  }
  WHEN("the kept entries are damaged") {
    {
      pg::actors::storage::database raw((state.path() / "state/vuln/vuln.db").string(), false);
      raw.exec("UPDATE match_cache SET value = '{broken'");
    }
    auto second = vuln_once(init);
    THEN("they are misses: matched again from the index, with the same findings") {
      CHECK(second.matches == first.matches);
      CHECK(second.counters["index_loads"] == 1);
      CHECK(second.counters.count("cache_hits") == 0);
      AND_THEN("the entries are written again") {
        CHECK(vuln_once(init).counters["packages_cached"] == 6);
      }
    }
  }
  WHEN("cache_max_entries is smaller than the packages") {
    auto capped = init;
    capped.settings = pg::runtime::component_settings(toml::table{
        {"root", root.str()}, {"advisories", advisories.string()}, {"cache_max_entries", 3}});
    auto second = vuln_once(capped);
    THEN("the cache keeps three entries and counts what it pushed out") {
      CHECK(second.counters["cache_evictions"] >= 4);
      pg::actors::storage::database raw((state.path() / "state/vuln/vuln.db").string(), false);
      auto rows = raw.prepare("SELECT count(*) FROM match_cache");
      REQUIRE(rows.step());
      CHECK(rows.column_int(0) == 3);
      CHECK(second.matches == first.matches);
    }
  }
}

SCENARIO("phantomguard vuln prints findings and exits as scan does") {
  pg::test::temp_dir root;
  make_root(root);
  auto adv = pg::test::fixtures_dir() + "/osv";
  std::string out;
  WHEN("findings reach --fail-on") {
    int rc = run_command({"--root", root.str(), "--advisories", adv, "--format", "jsonl"}, out);
    THEN("exit code 1 and one JSON line per finding") {
      CHECK(rc == 1);
      std::istringstream in(out);
      std::size_t lines = 0, packages = 0;
      for (std::string line; std::getline(in, line); ++lines) {
        auto j = nlohmann::json::parse(line);
        CHECK(j["analyzer"] == "vuln");
        packages += j["rule"] == "vuln.package";
      }
      CHECK(packages == 7);
      CHECK(lines == 8); // plus the malformed status entry
    }
  }
  WHEN("nothing reaches --fail-on") {
    pg::test::temp_dir empty_adv("pg-vuln-noadv");
    int rc = run_command({"--root", root.str(), "--advisories", empty_adv.str(), "--fail-on",
                          "critical", "--format", "json"},
                         out);
    THEN("exit code 0 and a JSON array") {
      CHECK(rc == 0);
      auto j = nlohmann::json::parse(out);
      CHECK(j.is_array());
    }
  }
  WHEN("the advisory source does not exist or an option is wrong") {
    CHECK(run_command({"--root", root.str(), "--advisories", "/nonexistent/osv"}, out) == 2);
    CHECK(run_command({"--root", root.str()}, out) == 2);
    CHECK(run_command({"--advisories", adv, "--format", "xml"}, out) == 2);
  }
}

SCENARIO("the family registers the vuln analyzer type and the vuln command") {
  pg::runtime::registry reg;
  pg::actors::vuln::register_components(reg);
  const auto* type = reg.find(pg::runtime::component_kind::analyzer, "vuln");
  REQUIRE(type != nullptr);
  std::set<std::string> keys;
  for (const auto& o : type->options)
    keys.insert(o.key);
  for (auto k : {"root", "advisories", "release", "default_severity", "report", "workers",
                 "segment_size", "max_memory"})
    CHECK(keys.count(k) == 1);
  CHECK(keys.count("nice") == 0); // the engine's key, for every component
  CHECK(type->throttle_defaults.nice == 10);
  CHECK(type->throttle_defaults.io_class == "idle");
  pg::runtime::component_init init;
  init.name = "v";
  auto c = type->factory(init);
  CHECK(c != nullptr);
  const auto* cmd = reg.find_command("vuln");
  REQUIRE(cmd != nullptr);
  pg::test::temp_dir root;
  make_root(root);
  std::vector<std::string> args{
      "phantomguard vuln", "--root", root.str(), "--advisories", pg::test::fixtures_dir() + "/osv",
      "--format",          "json"};
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  std::ostringstream captured;
  auto* old = std::cout.rdbuf(captured.rdbuf());
  int rc = cmd->run(static_cast<int>(argv.size()), argv.data());
  std::cout.rdbuf(old);
  CHECK(rc == 1);
  CHECK(nlohmann::json::parse(captured.str()).size() == 8);
}

SCENARIO("damaged state values start the scan over instead of failing it") {
  CHECK(stored_number(std::string("12")) == 12);
  CHECK(stored_number(std::string("12x")) == 0);
  CHECK(stored_number(std::string("-3")) == 0);
  CHECK(stored_number(std::nullopt) == 0);
  GIVEN("a state database whose cursor is garbage") {
    pg::test::temp_dir root;
    make_root(root);
    pg::test::temp_dir state("pg-vuln-state");
    {
      std::string error;
      auto db = scan_state::open((state.path() / "vuln" / "vuln.db").string(), &error);
      REQUIRE(db);
      db->set("cursor", "not a number");
      db->set("inputs", "whatever");
    }
    pg::runtime::component_init init;
    init.name = "vuln";
    init.state_dir = state.str();
    toml::table t;
    t.insert("root", root.str());
    t.insert("advisories", pg::test::fixtures_dir() + "/osv");
    init.settings = pg::runtime::component_settings(t);
    vuln_analyzer a(init);
    pg::test::test_context ctx("vuln");
    a.start(ctx);
    a.on_tick(ctx);
    CHECK(ctx.with_rule("vuln.package").size() == 7);
    CHECK(ctx.counters["scans_completed"] == 1);
  }
}

SCENARIO("the reported set of a scan's state is capped: the oldest keys go, the newest stay, and "
         "the file is compacted") {
  pg::test::temp_dir state("pg-vuln-cap");
  const auto path = (state.path() / "vuln" / "vuln.db").string();
  std::string error;
  // Keys as long as the real ones (package|version|advisory): enough pages for compaction to be
  // worth it once they are gone.
  const std::string pad(90, 'k');
  auto key = [&](int i) { return pad + std::to_string(i); };
  {
    auto db = scan_state::open(path, &error, 2000);
    REQUIRE(db);
    for (int i = 0; i < 5000; ++i)
      CHECK(db->remember(key(i)));
    // Trimmed every 1024 new keys: at most 2000 + 1023 kept, and the oldest went first.
    CHECK(db->trimmed() >= 5000 - 2000 - 1023);
    CHECK_FALSE(db->remember(key(4999))); // the newest is still known: not reported again
    CHECK(db->remember(key(0)));          // the oldest was dropped: reported once more
    const auto full = std::filesystem::file_size(path);
    CHECK(db->forget_all());
    // Everything deleted: the file is rewritten small at once.
    CHECK(db->compacted_bytes() > 0);
    CHECK(std::filesystem::file_size(path) < full / 2);
    CHECK(db->remember(key(4999))); // forgotten with the rest
  }
  WHEN("it is opened again") {
    auto db = scan_state::open(path, &error, 2000);
    REQUIRE(db);
    CHECK(db->compacted_bytes() == 0);    // nothing left worth giving back
    CHECK_FALSE(db->remember(key(4999))); // remembered after the forget, and kept
  }
}

SCENARIO(
    "a scan state that is not a database is refused with its path, and the scan runs without") {
  pg::test::temp_dir state("pg-vuln-bad");
  std::filesystem::create_directories(state.path() / "vuln");
  const auto path = (state.path() / "vuln" / "vuln.db").string();
  std::ofstream(path) << "this is not an SQLite file, but it is long enough to look like one ...";
  std::string error;
  auto db = scan_state::open(path, &error);
  CHECK_FALSE(db);
  CHECK(error.find(path) != std::string::npos);
}
