// SPDX-License-Identifier: Apache-2.0
// [[suppress]]: the operator's allow-list, read and checked like every other section, matched
// on rule and entity globs, and expiring into a finding of its own.
#include <catch2/catch.hpp>

#include "phantomguard/runtime/suppression.hpp"
#include "test_registry.hpp"

using namespace pg::runtime;
using namespace pg::test;

namespace {

const char* base = R"([sources.tick]
type = "ticker"
[sinks.out]
type = "store"
path = "/x"
inputs = ["tick"]
)";

finding make(std::string rule, nlohmann::json entity) {
  finding f;
  f.rule = std::move(rule);
  f.entity = std::move(entity);
  return f;
}

std::string messages(const config_result& r) {
  std::string all;
  for (const auto& e : r.errors)
    all += e.where.file + ":" + std::to_string(e.where.line) + ":" + std::to_string(e.where.column) +
           ": " + e.message + "\n";
  return all;
}

} // namespace

SCENARIO("[[suppress]] entries load with their rule, entity, reason and expiry") {
  const auto reg = make_registry();
  auto r = load_config_string(std::string(base) + R"(
[[suppress]]
rule = "memory.memfd_exec"
entity = { exe = "/memfd:sealed-*", uid = 0 }
reason = "the VM's process runner"
expires = 2027-03-01

[[suppress]]
rule = "network.*"
reason = "a lab host"
expires = "2026-06-01T12:00:00.000Z"
)",
                              "s.toml", reg);
  INFO(messages(r));
  REQUIRE(r.ok());
  const auto& s = r.config->suppressions;
  REQUIRE(s.size() == 2);
  CHECK(s[0].rule == "memory.memfd_exec");
  CHECK(s[0].entity.at("exe") == "/memfd:sealed-*");
  CHECK(s[0].entity.at("uid") == "0");
  CHECK(s[0].where == "s.toml:8:1");
  REQUIRE(s[0].expires);
  CHECK(format_rfc3339(*s[0].expires) == "2027-03-01T00:00:00.000Z");
  CHECK(format_rfc3339(*s[1].expires) == "2026-06-01T12:00:00.000Z");
}

SCENARIO("a bad [[suppress]] entry is an error at its place") {
  const auto reg = make_registry();
  auto r = load_config_string(std::string(base) + R"(
[[suppress]]
entity = { exe = ["a"] }
expires = "next week"
because = "x"
)",
                              "bad.toml", reg);
  auto m = messages(r);
  INFO(m);
  CHECK_FALSE(r.ok());
  CHECK(m.find("bad.toml:8:1: [[suppress]] at line 8 needs rule") != std::string::npos);
  CHECK(m.find("needs reason") != std::string::npos);
  CHECK(m.find("'entity.exe' in [[suppress]] at line 8 must be a string") != std::string::npos);
  CHECK(m.find("'expires' in [[suppress]] at line 8 must be a date") != std::string::npos);
  CHECK(m.find("unknown key 'because'") != std::string::npos);
  auto far = load_config_string(std::string(base) +
                                    "[[suppress]]\nrule = \"x\"\nreason = \"y\"\nexpires = 2999-01-01\n",
                                "far.toml", reg);
  CHECK(messages(far).find("must be a year from 1970 to 2261") != std::string::npos);
  auto table = load_config_string(std::string(base) + "[suppress]\nrule = \"x\"\n", "t.toml", reg);
  CHECK(messages(table).find("'suppress' must be an array of tables") != std::string::npos);
}

SCENARIO("a suppression matches rule and entity globs, and stops at its expiry with a finding") {
  CHECK(glob_match("memory.*", "memory.memfd_exec"));
  CHECK(glob_match("*", ""));
  CHECK(glob_match("/memfd:*-*", "/memfd:sealed-91 (deleted)"));
  CHECK_FALSE(glob_match("memory.*", "process.exe_in_temp"));
  CHECK_FALSE(glob_match("a*b", "a-c"));

  suppression_decl d;
  d.rule = "memory.*";
  d.entity = {{"exe", "/memfd:sealed-*"}, {"pid", "42"}};
  d.reason = "r";
  d.where = "x.toml:3:1";
  CHECK(suppression_matches(d, make("memory.memfd_exec", {{"exe", "/memfd:sealed-1"}, {"pid", 42}})));
  CHECK_FALSE(suppression_matches(d, make("memory.memfd_exec", {{"exe", "/tmp/x"}, {"pid", 42}})));
  CHECK_FALSE(suppression_matches(d, make("memory.memfd_exec", {{"exe", "/memfd:sealed-1"}})));

  auto now = wall_clock::now();
  d.expires = now + std::chrono::hours(1);
  suppressor s;
  s.replace({d});
  auto f = make("memory.memfd_exec", {{"exe", "/memfd:sealed-1"}, {"pid", 42}});
  auto before = s.check(f, now);
  CHECK(before.suppressed);
  CHECK_FALSE(before.newly_expired);
  CHECK(s.take_expired(now).empty());
  auto after = s.check(f, now + std::chrono::hours(2));
  CHECK_FALSE(after.suppressed); // reported again
  REQUIRE(after.newly_expired);  // and the expiry said, once
  CHECK_FALSE(s.check(f, now + std::chrono::hours(3)).newly_expired);
  CHECK(s.counts() == std::vector<std::int64_t>{1});
  auto notice = expired_suppression_finding(*after.newly_expired);
  CHECK(notice.rule == "engine.suppression_expired");
  CHECK(notice.entity["suppression"] == "x.toml:3:1");
  CHECK(notice.evidence["reason"] == "r");
  // A reload that keeps the entry keeps its count and that its expiry was said.
  s.replace({d});
  CHECK(s.counts() == std::vector<std::int64_t>{1});
  CHECK(s.take_expired(now + std::chrono::hours(4)).empty());
}
