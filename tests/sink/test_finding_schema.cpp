// SPDX-License-Identifier: Apache-2.0
// The finding in ECS and OCSF: each schema's required attributes are there with the right
// types and values, MITRE ids become threat.technique / finding_info.attacks, and the entity's
// well-known keys land in their ECS fields.
#include <catch2/catch.hpp>

#include "phantomguard/actors/sink/finding_schema.hpp"

using namespace pg::actors::sink;
using pg::runtime::finding;
using pg::runtime::severity;

namespace {

finding sample() {
  finding f;
  f.time = pg::runtime::wall_clock::time_point(std::chrono::milliseconds(1764547200123));
  f.host = "web-1";
  f.analyzer = "process";
  f.rule = "memory.memfd_exec";
  f.level = severity::high;
  f.title = "fileless execution from memfd:x";
  f.entity = {{"pid", 4242}, {"exe", "/memfd:x (deleted)"}, {"uid", 0}};
  f.evidence = {{"maps", 3}};
  f.mitre = {"T1620"};
  return f;
}

} // namespace

SCENARIO("OCSF: a Detection Finding with every required attribute of class 2004") {
  const auto f = sample();
  const auto id = pg::runtime::finding_id(f);
  const auto j = to_schema(f, finding_schema::ocsf, id);
  // OCSF 1.1.0 Detection Finding: the attributes the class marks required.
  for (const char* key : {"activity_id", "category_uid", "class_uid", "finding_info", "metadata",
                          "severity_id", "time", "type_uid"})
    CHECK(j.contains(key));
  CHECK(j["class_uid"] == 2004);
  CHECK(j["category_uid"] == 2);
  CHECK(j["activity_id"] == 1);
  CHECK(j["type_uid"] == 2004 * 100 + 1);
  CHECK(j["time"] == 1764547200123);
  CHECK(j["severity_id"] == 4); // High
  CHECK(j["severity"] == "High");
  CHECK(j["metadata"]["version"] == "1.1.0");
  CHECK(j["metadata"]["product"]["name"] == "PhantomGuard");
  CHECK(j["finding_info"]["uid"] == id);
  CHECK(j["finding_info"]["title"] == f.title);
  CHECK(j["finding_info"]["types"][0] == "memory.memfd_exec");
  CHECK(j["finding_info"]["attacks"][0]["technique"]["uid"] == "T1620");
  CHECK(j["device"]["hostname"] == "web-1");
  CHECK(j["evidences"][0]["data"]["pid"] == 4242);
  for (auto [s, want] : {std::pair{severity::info, 1}, {severity::low, 2}, {severity::medium, 3},
                         {severity::critical, 5}}) {
    auto g = f;
    g.level = s;
    CHECK(to_schema(g, finding_schema::ocsf, id)["severity_id"] == want);
  }
}

SCENARIO("ECS: the core fields, the alert's event fields and the entity mapped") {
  const auto f = sample();
  const auto j = to_schema(f, finding_schema::ecs, "abc");
  CHECK(j["@timestamp"] == "2025-12-01T00:00:00.123Z");
  CHECK(j["ecs"]["version"] == "8.11.0");
  CHECK(j["message"] == f.title);
  CHECK(j["event"]["kind"] == "alert");
  CHECK(j["event"]["id"] == "abc");
  CHECK(j["event"]["severity"] == 73);
  CHECK(j["event"]["category"][0] == "intrusion_detection");
  CHECK(j["rule"]["id"] == "memory.memfd_exec");
  CHECK(j["host"]["hostname"] == "web-1");
  CHECK(j["threat"]["framework"] == "MITRE ATT&CK");
  CHECK(j["threat"]["technique"]["id"][0] == "T1620");
  CHECK(j["process"]["pid"] == 4242);
  CHECK(j["process"]["executable"] == "/memfd:x (deleted)");
  CHECK(j["user"]["id"] == 0);
  CHECK(j["phantomguard"]["evidence"]["maps"] == 3);
}

SCENARIO("native is the finding's own JSON with its stable id - the id follows the content") {
  const auto f = sample();
  const auto id = pg::runtime::finding_id(f);
  CHECK(id.size() == 32);
  CHECK(pg::runtime::finding_id(f) == id); // stable
  auto g = f;
  g.title += "!";
  CHECK(pg::runtime::finding_id(g) != id);
  const auto j = to_schema(f, finding_schema::native, id);
  CHECK(j["id"] == id);
  CHECK(j["rule"] == "memory.memfd_exec");
  CHECK(parse_finding_schema("ocsf") == finding_schema::ocsf);
  CHECK_FALSE(parse_finding_schema("cef"));
  // Attacker-controlled bytes that are not UTF-8 never throw.
  auto h = f;
  h.title = std::string("bad \xff\xfe bytes");
  CHECK_NOTHROW(dump_line(to_schema(h, finding_schema::ecs, id)));
}
