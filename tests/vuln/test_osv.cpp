// SPDX-License-Identifier: Apache-2.0
// OSV advisories: parsing, CVSS scoring, range evaluation, loading folders and zips, malformed
// input.
#include <catch2/catch.hpp>

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "phantomguard/actors/vuln/advisory_index.hpp"
#include "phantomguard/actors/vuln/osv_advisory.hpp"
#include "phantomguard/actors/vuln/vuln_matcher.hpp"
#include "vuln_fixture.hpp"

using namespace pg::actors::vuln;
using pg::runtime::severity;

SCENARIO("CVSS v3 base scores are computed from vectors") {
  CHECK(*cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H") == Approx(9.8));
  CHECK(*cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H") == Approx(10.0));
  CHECK(*cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N") == Approx(6.1));
  CHECK(*cvss3_base_score("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N") == Approx(5.5));
  CHECK(*cvss3_base_score("CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N") == Approx(1.8));
  CHECK(*cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N") == Approx(0.0));
  CHECK_FALSE(cvss3_base_score("AV:N/AC:L/Au:N/C:P/I:P/A:P"));       // v2
  CHECK_FALSE(cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:X")); // incomplete
  CHECK(severity_from_cvss(9.8) == severity::critical);
  CHECK(severity_from_cvss(7.0) == severity::high);
  CHECK(severity_from_cvss(6.9) == severity::medium);
  CHECK(severity_from_cvss(1.8) == severity::low);
  CHECK(severity_from_text("MODERATE") == severity::medium);
  CHECK(severity_from_text("unimportant") == severity::info);
  CHECK_FALSE(severity_from_text("not yet assigned"));
}

SCENARIO("ECOSYSTEM ranges are evaluated with Debian ordering") {
  osv_affected a;
  a.ranges.push_back({"ECOSYSTEM",
                      {{osv_event_kind::introduced, "1.0-1"},
                       {osv_event_kind::fixed, "1.0-3"},
                       {osv_event_kind::introduced, "2.0-1"},
                       {osv_event_kind::fixed, "2.0-1+deb12u1"}}});
  CHECK_FALSE(evaluate_affected(a, "0.9-1").affected);
  CHECK(evaluate_affected(a, "1.0-1").affected);
  CHECK(evaluate_affected(a, "1.0-2+b1").fixed == "1.0-3");
  CHECK_FALSE(evaluate_affected(a, "1.0-3").affected);
  CHECK_FALSE(evaluate_affected(a, "1.5-1").affected);
  CHECK(evaluate_affected(a, "2.0-1").fixed == "2.0-1+deb12u1");
  CHECK_FALSE(evaluate_affected(a, "2.0-1+deb12u1").affected);
  CHECK(evaluate_affected(a, "2.0-1~bpo1").affected == false);

  osv_affected b;
  b.ranges.push_back(
      {"ECOSYSTEM", {{osv_event_kind::introduced, "0"}, {osv_event_kind::last_affected, "5.0"}}});
  CHECK(evaluate_affected(b, "5.0").affected);
  CHECK(evaluate_affected(b, "5.0").fixed.empty());
  CHECK_FALSE(evaluate_affected(b, "5.0+b1").affected);
  CHECK(evaluate_affected(b, "1:0.1").affected == false); // epoch 1 is above 5.0

  osv_affected git;
  git.ranges.push_back({"GIT", {{osv_event_kind::introduced, "0"}}});
  CHECK_FALSE(evaluate_affected(git, "1.0").affected); // not an ecosystem range: ignored
}

SCENARIO("a release fixed in version 0 was never affected, as the tracker marks not-affected") {
  osv_affected a;
  a.ecosystem = "Debian:12";
  a.ecosystem_name = "Debian";
  a.release = "12";
  a.ranges.push_back(
      {"ECOSYSTEM", {{osv_event_kind::introduced, "0"}, {osv_event_kind::fixed, "0"}}});
  for (const char* v : {"0", "0.1-1", "1:2.0-1", "3.0.11-1~deb12u1"})
    CHECK_FALSE(evaluate_affected(a, v).affected);
}

SCENARIO("the fixture folder loads, skipping withdrawn advisories and other ecosystems") {
  auto index = advisory_index::load(pg::test::fixtures_dir() + "/osv");
  const auto& st = index.stats();
  CHECK(st.found);
  CHECK(st.files == 9);
  CHECK(st.advisories == 9); // 8 single-advisory files + an array of two, minus the withdrawn one
  CHECK(st.withdrawn == 1);
  CHECK(st.other_ecosystems == 1);
  CHECK(st.malformed.empty());
  CHECK(index.lookup("Debian", "openssl").size() == 2); // two releases of DSA-9001-1
  CHECK(index.lookup("Debian", "bar").size() == 2);
  CHECK(index.lookup("PyPI", "openssl").empty());
  const auto& dsa = index.advisories()[index.lookup("Debian", "openssl")[0].advisory];
  CHECK(dsa.id == "DSA-9001-1");
  CHECK(dsa.aliases == std::vector<std::string>{"CVE-2099-0001"});
  CHECK(*dsa.cvss_score == Approx(9.8));
}

SCENARIO("malformed advisory files are counted with a reason, the good one is kept") {
  auto index = advisory_index::load(pg::test::fixtures_dir() + "/malformed");
  const auto& st = index.stats();
  CHECK(st.files == 5);
  CHECK(st.advisories == 1);
  REQUIRE(st.malformed.size() == 4);
  bool saw_json = false, saw_id = false, saw_event = false, saw_affected = false;
  for (const auto& m : st.malformed) {
    saw_json |= m.reason == "not valid JSON";
    saw_id |= m.reason == "the advisory has no 'id'";
    saw_event |= m.reason.find("BROKEN-3") != std::string::npos;
    saw_affected |= m.reason == "BROKEN-4: the advisory has no 'affected' array";
  }
  CHECK(saw_json);
  CHECK(saw_id);
  CHECK(saw_event);
  CHECK(saw_affected);
}

SCENARIO("advisories load from a zip as from a folder, and a broken zip is an error") {
  pg::test::temp_dir dir("pg-vuln-zip");
  auto zip = (dir.path() / "osv.zip").string();
  auto cmd = "cd " + pg::test::fixtures_dir() + "/osv && python3 -m zipfile -c " + zip + " *.json";
  REQUIRE(std::system(cmd.c_str()) == 0);
  auto from_zip = advisory_index::load(zip);
  CHECK(from_zip.stats().found);
  CHECK(from_zip.stats().files == 9);
  CHECK(from_zip.stats().advisories == 9);
  CHECK(from_zip.lookup("Debian", "openssl").size() == 2);

  auto bad = dir.write("broken.zip", "PK\x03\x04 this is not really a zip");
  auto broken = advisory_index::load(bad.string());
  CHECK(broken.stats().advisories == 0);
  CHECK_FALSE(broken.stats().errors.empty());

  auto missing = advisory_index::load((dir.path() / "nope").string());
  CHECK_FALSE(missing.stats().found);
}

SCENARIO("max_memory bounds the advisory text read") {
  advisory_load_options o;
  o.max_bytes = 1500; // room for two or three fixture files
  auto index = advisory_index::load(pg::test::fixtures_dir() + "/osv", o);
  CHECK(index.stats().truncated);
  CHECK(index.stats().files < 9);
  CHECK(index.stats().bytes <= 1500);
}

SCENARIO("a single advisory file is an advisory source too") {
  auto index = advisory_index::load(pg::test::fixtures_dir() + "/real/PGTEST-GLIBC.json");
  CHECK(index.stats().found);
  CHECK(index.stats().files == 1);
  CHECK(index.stats().advisories == 1);
  CHECK(index.lookup("Debian", "glibc").size() == 1);
}

SCENARIO("a field of an unexpected type makes one advisory malformed, never a crash") {
  // Found by fuzz_osv in CI: severity[].type given as an object threw out of the parser, and an
  // exception on the loading thread ended the scan.
  pg::test::temp_dir dir("pg-osv-types");
  dir.write("bad.json", R"({"id":"DSA-1","severity":[{"type":{"x":1},"score":"7.5"}],
    "affected":[{"package":{"ecosystem":"Debian:12","name":"foo"}}]})");
  dir.write("good.json",
            R"({"id":"DSA-2","affected":[{"package":{"ecosystem":"Debian:12","name":"foo"},
    "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]})");
  auto idx = advisory_index::load(dir.str());
  CHECK(idx.stats().advisories == 2); // the type is ignored, the advisory is still usable
  auto parsed = nlohmann::json::parse(
      std::string(R"({"id":"X","severity":[{"type":[1],"score":5}],"affected":[]})"));
  std::string error;
  CHECK_NOTHROW(parse_osv_advisory(parsed, &error));
}

SCENARIO("a severity score outside 0 to 10 is not a CVSS score") {
  // Found by fuzz_osv's range check: "score": 99 (or "99") was taken as a CVSS base score.
  for (const char* score : {"99", "\"99\"", "-1", "\"1e308\"", "10.5"}) {
    auto j =
        nlohmann::json::parse(std::string(R"({"id":"X","severity":[{"type":"CVSS_V3","score":)") +
                              score + R"(}],"affected":[]})");
    std::string error;
    auto a = parse_osv_advisory(j, &error);
    REQUIRE(a);
    INFO(score);
    CHECK_FALSE(a->cvss_score.has_value());
  }
  auto ok = parse_osv_advisory(
      nlohmann::json::parse(
          R"({"id":"X","severity":[{"type":"CVSS_V3","score":7.5}],"affected":[]})"),
      nullptr);
  REQUIRE(ok);
  CHECK(*ok->cvss_score == Approx(7.5));
}
