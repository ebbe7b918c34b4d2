// SPDX-License-Identifier: Apache-2.0
// The Debian Security Tracker's data as an advisory source: per-release statuses honoured as the
// tracker gives them ("not affected" = fixed in "0", fixes in the security suite, open and
// undetermined issues, unimportant urgencies), loaded whole or streaming from a large file.
#include <catch2/catch.hpp>

#include <fstream>
#include <set>

#include "phantomguard/actors/vuln/advisory_index.hpp"
#include "phantomguard/actors/vuln/debian_tracker.hpp"
#include "phantomguard/actors/vuln/vuln_scan.hpp"
#include "vuln_fixture.hpp"

using namespace pg::actors::vuln;
using pg::runtime::finding;
using pg::runtime::severity;

namespace {

std::string tracker_file() {
  return pg::test::fixtures_dir() + "/tracker/tracker.json";
}

void make_root(const pg::test::temp_dir& root, const std::string& release,
               const std::string& openssl_version) {
  root.write("var/lib/dpkg/status", "Package: libssl3\nStatus: install ok installed\n"
                                    "Architecture: amd64\nSource: openssl\nVersion: " +
                                        openssl_version +
                                        "\n\nPackage: zlib1g\nStatus: install ok installed\n"
                                        "Architecture: amd64\nSource: zlib\n"
                                        "Version: 1:1.2.13.dfsg-1\n");
  root.write("etc/os-release", "ID=debian\nVERSION_ID=\"" + release + "\"\n");
}

std::vector<finding> scan(const pg::test::temp_dir& root, const std::string& advisories) {
  vuln_scan_request req;
  req.root = root.str();
  req.advisories = advisories;
  collecting_sink sink;
  run_vuln_scan(req, sink);
  return sink.findings;
}

std::set<std::string> advisories_of(const std::vector<finding>& fs, const std::string& pkg) {
  std::set<std::string> out;
  for (const auto& f : fs)
    if (f.rule == "vuln.package" && f.entity.value("package", "") == pkg)
      out.insert(f.evidence.value("advisory", ""));
  return out;
}

const finding* of(const std::vector<finding>& fs, const std::string& advisory) {
  for (const auto& f : fs)
    if (f.rule == "vuln.package" && f.evidence.value("advisory", "") == advisory)
      return &f;
  return nullptr;
}

} // namespace

SCENARIO("tracker codenames map to release numbers") {
  CHECK(debian_release_of_codename("bookworm") == "12");
  CHECK(debian_release_of_codename("bullseye") == "11");
  CHECK(debian_release_of_codename("trixie") == "13");
  CHECK(debian_release_of_codename("sid") == "sid");
  CHECK(debian_release_of_codename("zorro").empty());
}

SCENARIO("a bookworm host below the security-suite fix is matched as the tracker says") {
  pg::test::temp_dir root("pg-tracker");
  make_root(root, "12", "3.0.11-1~deb12u1");
  auto fs = scan(root, tracker_file());
  THEN("open, undetermined and fixed-later issues match; not-affected and fixed-earlier do not") {
    CHECK(advisories_of(fs, "libssl3") ==
          std::set<std::string>{"CVE-2099-0001", "CVE-2099-0003", "CVE-2099-0004"});
    CHECK(advisories_of(fs, "zlib1g") == std::set<std::string>{"CVE-2099-0100"});
  }
  THEN("the fix named is the security suite's, with the tracker's urgency as severity") {
    auto f = of(fs, "CVE-2099-0001");
    REQUIRE(f);
    CHECK(f->evidence["fixed"] == "3.0.11-1~deb12u2");
    CHECK(f->evidence["ecosystem"] == "Debian:12");
    CHECK(f->evidence["tracker_status"] == "resolved");
    CHECK(f->level == severity::high);
  }
  THEN("an unimportant open issue is info, an unconfirmed urgency is read without its stars") {
    REQUIRE(of(fs, "CVE-2099-0003"));
    CHECK(of(fs, "CVE-2099-0003")->level == severity::info);
    CHECK(of(fs, "CVE-2099-0003")->evidence["fixed"].is_null());
    REQUIRE(of(fs, "CVE-2099-0004"));
    CHECK(of(fs, "CVE-2099-0004")->level == severity::medium);
    CHECK(of(fs, "CVE-2099-0004")->evidence["tracker_status"] == "undetermined");
  }
  THEN("the malformed CVE entries are reported, the rest still match") {
    bool reported = false;
    for (const auto& f : fs)
      if (f.rule == "vuln.malformed_advisory") {
        reported = true;
        CHECK(f.evidence["count"] == 2);
      }
    CHECK(reported);
  }
}

SCENARIO("the security fix installed, or another release, changes the verdict") {
  GIVEN("bookworm with the security suite's openssl") {
    pg::test::temp_dir root("pg-tracker-fixed");
    make_root(root, "12", "3.0.11-1~deb12u2");
    auto fs = scan(root, tracker_file());
    CHECK(advisories_of(fs, "libssl3") == std::set<std::string>{"CVE-2099-0003", "CVE-2099-0004"});
  }
  GIVEN("bullseye, which the tracker marks not affected") {
    pg::test::temp_dir root("pg-tracker-11");
    make_root(root, "11", "1.1.1w-0+deb11u1");
    auto fs = scan(root, tracker_file());
    CHECK(advisories_of(fs, "libssl3").empty());
  }
}

SCENARIO("the tracker's export loads the same whole or streaming from disk") {
  advisory_load_options whole;
  auto a = advisory_index::load(tracker_file(), whole);
  advisory_load_options streaming;
  streaming.max_file_bytes = 64; // the fixture is larger: parsed one package at a time
  auto b = advisory_index::load(tracker_file(), streaming);
  for (const auto* idx : {&a, &b}) {
    CHECK(idx->stats().advisories == 5);
    CHECK(idx->stats().not_affected == 2);
    CHECK(idx->stats().unknown_releases == 1);
    CHECK(idx->stats().malformed.size() == 2);
    CHECK(idx->lookup("Debian", "openssl").size() == 5);
  }
  GIVEN("a large file that is not JSON") {
    pg::test::temp_dir dir("pg-tracker-bad");
    auto p = dir.write("big.json", std::string(200, '{'));
    auto c = advisory_index::load(p.string(), streaming);
    CHECK(c.stats().advisories == 0);
    REQUIRE(c.stats().malformed.size() == 1);
    CHECK_THAT(c.stats().malformed[0].reason, Catch::Contains("not valid JSON"));
  }
  GIVEN("a large JSON object of neither shape") {
    pg::test::temp_dir dir("pg-tracker-other");
    auto p = dir.write("other.json", R"({"hello": {"world": 1}, "n": 2, "pad": ")" +
                                         std::string(100, 'x') + "\"}");
    auto c = advisory_index::load(p.string(), streaming);
    REQUIRE(c.stats().malformed.size() == 1);
    CHECK_THAT(c.stats().malformed[0].reason, Catch::Contains("neither an OSV advisory"));
  }
  GIVEN("a large OSV array") {
    pg::test::temp_dir dir("pg-tracker-array");
    std::string text = "[";
    for (int i = 0; i < 50; ++i)
      text +=
          std::string(i ? "," : "") + R"({"id":"DSA-)" + std::to_string(i) +
          R"(","affected":[{"package":{"ecosystem":"Debian:12","name":"foo"},)" +
          R"("ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.0-1"}]}]}]})";
    text += "]";
    auto p = dir.write("array.json", text);
    auto c = advisory_index::load(p.string(), streaming);
    CHECK(c.stats().advisories == 50);
    CHECK(c.lookup("Debian", "foo").size() == 50);
  }
}

SCENARIO("tracker entries without a package or CVE name are malformed, not advisories") {
  // Found by fuzz_advisories: an empty key became an advisory without an id.
  pg::test::temp_dir dir("pg-tracker-empty");
  auto p = dir.write("t.json", R"({"": {"CVE-1": {"releases": {"bookworm": {"status": "open"}}}},
    "pkg": {"": {"releases": {"bookworm": {"status": "open"}}},
            "CVE-2": {"releases": {"bookworm": {"status": "open"}}}}})");
  auto idx = advisory_index::load(p.string());
  CHECK(idx.stats().advisories == 1);
  CHECK(idx.stats().malformed.size() == 2);
  for (const auto& a : idx.advisories())
    CHECK_FALSE(a.id.empty());
}
