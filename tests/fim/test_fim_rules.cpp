// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include "phantomguard/actors/fim/attribute_set.hpp"
#include "phantomguard/actors/fim/fim_rule.hpp"
#include "phantomguard/actors/fim/fim_settings.hpp"

using namespace pg::actors::fim;

SCENARIO("attribute groups and +/- modifiers parse like AIDE's") {
  auto perms = attribute_set::parse("PERMS");
  REQUIRE(perms);
  CHECK(perms->names() ==
        std::vector<std::string>{"type", "perms", "uid", "gid", "xattrs", "caps"});
  auto content = attribute_set::parse("content");
  REQUIRE(content);
  CHECK(content->names() == std::vector<std::string>{"type", "sha256"});
  auto normal_minus = attribute_set::parse("NORMAL-ctime-inode");
  REQUIRE(normal_minus);
  CHECK_FALSE(normal_minus->has(attribute::ctime));
  CHECK_FALSE(normal_minus->has(attribute::inode));
  CHECK(normal_minus->has(attribute::sha256));
  auto plus = attribute_set::parse("PERMS+sha256+size");
  REQUIRE(plus);
  CHECK(plus->has(attribute::sha256));
  CHECK(plus->has(attribute::size));
  CHECK_FALSE(plus->has(attribute::mtime));
  std::string error;
  CHECK_FALSE(attribute_set::parse("NORMAL+md5", &error));
  CHECK(error.find("md5") != std::string::npos);
  CHECK_FALSE(attribute_set::parse("PERMS+", &error));
}

SCENARIO("rules pick the most specific path and honour recursion and exclusions") {
  auto doc = toml::parse(R"(
rules = [
  { path = "/etc/", recurse = true, exclude = ["*.swp", "/etc/cache/*", "re:\\.bak$"] },
  { path = "/etc/ssh", attributes = "CONTENT", severity = "critical" },
  { path = "/var/log", recurse = false, attributes = "LOG" },
]
)");
  std::string error;
  auto set = rule_set::parse(*doc.get("rules"), &error);
  REQUIRE(set);
  REQUIRE(set->rule_for("/etc/passwd"));
  CHECK(set->rule_for("/etc/passwd")->path == "/etc");
  CHECK(set->rule_for("/etc/ssh/sshd_config")->path == "/etc/ssh");
  CHECK(set->rule_for("/etc/ssh/sshd_config")->level == pg::runtime::severity::critical);
  CHECK(set->rule_for("/var/log/syslog")->path == "/var/log");
  CHECK(set->rule_for("/var/log/apt/history.log") == nullptr); // not recursive
  CHECK(set->rule_for("/usr/bin/ls") == nullptr);
  CHECK(set->rule_for("/etcetera") == nullptr);
  CHECK_FALSE(set->watched("/etc/.passwd.swp"));
  CHECK_FALSE(set->watched("/etc/cache/x/y"));
  CHECK_FALSE(set->watched("/etc/hosts.bak"));
  CHECK(set->watched("/etc/hosts"));
}

SCENARIO("rules may be named sub-tables too") {
  auto doc = toml::parse(R"(
[rules.etc]
path = "/etc"
[rules.bin]
path = "/usr/bin"
attributes = ["perms", "sha256"]
)");
  std::string error;
  auto set = rule_set::parse(*doc.get("rules"), &error);
  REQUIRE(set);
  CHECK(set->rules().size() == 2);
  CHECK(set->rule_for("/usr/bin/ls")->attributes.names() ==
        std::vector<std::string>{"perms", "sha256"});
}

SCENARIO("bad rules are refused with the rule and the reason") {
  std::string error;
  auto doc = toml::parse(R"(rules = [{ path = "/etc" }, { path = "relative" }])");
  CHECK_FALSE(rule_set::parse(*doc.get("rules"), &error));
  CHECK(error.find("#2") != std::string::npos);
  CHECK(error.find("absolute") != std::string::npos);

  doc = toml::parse(R"(rules = [{ path = "/etc", exclude = ["re:(unclosed"] }])");
  CHECK_FALSE(rule_set::parse(*doc.get("rules"), &error));
  CHECK(error.find("invalid regex") != std::string::npos);

  doc = toml::parse(R"(rules = [{ path = "/etc", recursive = true }])");
  CHECK_FALSE(rule_set::parse(*doc.get("rules"), &error));
  CHECK(error.find("recursive") != std::string::npos);

  doc = toml::parse(R"(rules = [{ path = "/etc", attributes = "NORMAL+nope" }])");
  CHECK_FALSE(rule_set::parse(*doc.get("rules"), &error));
  CHECK(error.find("nope") != std::string::npos);
}

SCENARIO("settings fall back to the default rules and parse the work options") {
  auto doc = toml::parse(R"(
workers = 2
segment_size = 100
max_memory = "8MiB"
rehash = "always"
)");
  std::string error;
  auto s = parse_fim_settings(doc, &error);
  REQUIRE(s);
  CHECK(s->rules.rule_for("/etc/passwd"));
  CHECK(s->rules.rule_for("/usr/bin/ls"));
  CHECK_FALSE(s->rules.watched("/etc/mtab"));
  CHECK(s->scan.workers == 2);
  CHECK(s->scan.segment_size == 100);
  CHECK(s->scan.max_memory == 8u << 20);
  CHECK(s->scan.rehash == rehash_policy::always);
}
