// SPDX-License-Identifier: Apache-2.0
// Manifest parsing, semver and version requirements.
#include <catch2/catch.hpp>

#include "phantomguard/runtime/plugin_manifest.hpp"

using namespace pg::runtime;

namespace {

const char* good_manifest = R"({
  "id": "com.example.detector", "version": "1.2.3-rc.1", "vendor": "Example",
  "detectors": [{"name": "d", "subscribes": ["process"], "capabilities": ["findings"],
                 "config": [{"key": "n", "type": "integer", "default": 4, "description": "x"},
                            {"key": "l", "type": "string_list", "required": true}]}]})";

std::string parse_error(const std::string& json) {
  std::string err;
  auto m = parse_plugin_manifest(json, 1, 0, &err);
  REQUIRE_FALSE(m.has_value());
  return err;
}

} // namespace

SCENARIO("semantic versions parse and order as semver.org says", "[sdk][manifest]") {
  CHECK(semver::parse("1.2.3")->to_string() == "1.2.3");
  CHECK(semver::parse("1.2.3-rc.1+build.5")->to_string() == "1.2.3-rc.1");
  CHECK_FALSE(semver::parse("1.2").has_value());
  CHECK_FALSE(semver::parse("01.2.3").has_value());
  CHECK_FALSE(semver::parse("1.2.3.4").has_value());
  CHECK_FALSE(semver::parse("v1.2.3").has_value());
  CHECK(semver::parse_partial("2")->to_string() == "2.0.0");
  CHECK(*semver::parse("1.0.0-rc1") < *semver::parse("1.0.0"));
  CHECK(*semver::parse("1.9.9") < *semver::parse("1.10.0"));
}

SCENARIO("version requirements hold or fail clause by clause", "[sdk][manifest]") {
  std::string err;
  auto req = version_requirement::parse(">=1.2, <2", &err);
  REQUIRE(req.has_value());
  CHECK(req->matches(*semver::parse("1.2.0")));
  CHECK(req->matches(*semver::parse("1.9.7")));
  CHECK_FALSE(req->matches(*semver::parse("1.1.9")));
  CHECK_FALSE(req->matches(*semver::parse("2.0.0")));
  CHECK(version_requirement::parse("1.4.2", &err)->matches(*semver::parse("1.4.2")));
  CHECK_FALSE(version_requirement::parse("=1.4.2", &err)->matches(*semver::parse("1.4.3")));
  CHECK_FALSE(version_requirement::parse(">=x", &err).has_value());
  CHECK(err == "malformed version requirement \">=x\" (expected e.g. \">=1.2, <2\")");
}

SCENARIO("a manifest is parsed with every declared field", "[sdk][manifest]") {
  std::string err;
  auto m = parse_plugin_manifest(good_manifest, 1, 0, &err);
  REQUIRE(m.has_value());
  CHECK(m->id == "com.example.detector");
  CHECK(m->version.to_string() == "1.2.3-rc.1");
  REQUIRE(m->detectors.size() == 1);
  const auto& d = m->detectors[0];
  CHECK(d.subscribes == std::vector<std::string>{"process"});
  CHECK(d.has_capability("findings"));
  CHECK_FALSE(d.has_capability("state"));
  REQUIRE(d.find_key("n") != nullptr);
  CHECK(d.find_key("n")->type == config_key_type::integer);
  CHECK(d.find_key("n")->default_value == 4);
  CHECK(d.find_key("l")->required);
  CHECK(m->find_detector("") == &m->detectors[0]);
  CHECK(m->find_detector("nope") == nullptr);
}

SCENARIO("a broken manifest is rejected with the key at fault", "[sdk][manifest]") {
  CHECK(parse_error("{") == "the manifest is not valid JSON");
  CHECK(
      parse_error(
          R"({"id": "detector", "version": "1.0.0", "vendor": "v", "detectors": [{"name": "d"}]})") ==
      "\"id\" \"detector\" is not reverse-DNS (e.g. \"org.example.detector\")");
  CHECK(parse_error(
            R"({"id": "a.b", "version": "1.0", "vendor": "v", "detectors": [{"name": "d"}]})") ==
        "\"version\" \"1.0\" is not a semantic version (e.g. \"1.2.0\")");
  CHECK(parse_error(R"({"id": "a.b", "version": "1.0.0", "detectors": [{"name": "d"}]})") ==
        "\"vendor\" must be a non-empty string");
  CHECK(parse_error(R"({"id": "a.b", "version": "1.0.0", "vendor": "v", "detectors": []})") ==
        "\"detectors\" must be a non-empty array");
  CHECK(parse_error(R"({"id": "a.b", "version": "1.0.0", "vendor": "v",
                        "detectors": [{"name": "d", "capabilities": ["network"]}]})") ==
        "detector \"d\": unknown capability \"network\" (findings, metrics, state)");
  CHECK(parse_error(R"({"id": "a.b", "version": "1.0.0", "vendor": "v",
                        "detectors": [{"name": "d", "config": [{"key": "k", "type": "integer", "default": "x"}]}]})") ==
        "detector \"d\": config key \"k\": \"default\" does not match type integer");
  CHECK(parse_error(R"({"id": "a.b", "version": "1.0.0", "vendor": "v",
                        "detectors": [{"name": "d", "config": [{"key": "k", "type": "map"}]}]})") ==
        "detector \"d\": config key \"k\": unknown type \"map\" (string, integer, float, boolean, "
        "string_list)");
  CHECK(parse_error(R"({"id": "a.b", "version": "1.0.0", "vendor": "v",
                        "detectors": [{"name": "d"}, {"name": "d"}]})") ==
        "detector \"d\" declared twice");
}

SCENARIO("plugin ids are reverse DNS", "[sdk][manifest]") {
  CHECK(is_reverse_dns_id("org.phantomguard.cryptominer"));
  CHECK(is_reverse_dns_id("com.example.reverse-shell"));
  CHECK_FALSE(is_reverse_dns_id("cryptominer"));
  CHECK_FALSE(is_reverse_dns_id("Org.example"));
  CHECK_FALSE(is_reverse_dns_id("org..example"));
  CHECK_FALSE(is_reverse_dns_id("1org.example"));
  CHECK_FALSE(is_reverse_dns_id("org.example."));
}
