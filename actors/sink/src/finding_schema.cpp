// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/sink/finding_schema.hpp"

#include <chrono>

namespace pg::actors::sink {

using runtime::severity;

namespace {

constexpr const char* ecs_version = "8.11.0";
constexpr const char* ocsf_version = "1.1.0";

int ocsf_severity(severity s) {
  switch (s) {
  case severity::info:
    return 1; // Informational
  case severity::low:
    return 2;
  case severity::medium:
    return 3;
  case severity::high:
    return 4;
  case severity::critical:
    return 5;
  }
  return 0;
}

// Elastic's detection rules use these risk-like steps for event.severity.
int ecs_severity(severity s) {
  switch (s) {
  case severity::info:
    return 0;
  case severity::low:
    return 21;
  case severity::medium:
    return 47;
  case severity::high:
    return 73;
  case severity::critical:
    return 99;
  }
  return 0;
}

/// The entity's well-known keys as ECS fields (process.pid, file.path, ...).
void ecs_entity(const nlohmann::json& entity, nlohmann::json& out) {
  if (!entity.is_object())
    return;
  auto copy = [&](const char* from, const nlohmann::json::json_pointer& to) {
    if (auto it = entity.find(from); it != entity.end())
      out[to] = *it;
  };
  using ptr = nlohmann::json::json_pointer;
  copy("pid", ptr("/process/pid"));
  copy("ppid", ptr("/process/parent/pid"));
  copy("comm", ptr("/process/name"));
  copy("exe", ptr("/process/executable"));
  copy("cmdline", ptr("/process/command_line"));
  copy("path", ptr("/file/path"));
  copy("uid", ptr("/user/id"));
  copy("user", ptr("/user/name"));
  copy("port", ptr("/destination/port"));
  copy("container", ptr("/container/id"));
  copy("package", ptr("/package/name"));
}

} // namespace

std::optional<finding_schema> parse_finding_schema(std::string_view text) noexcept {
  if (text == "native")
    return finding_schema::native;
  if (text == "ecs")
    return finding_schema::ecs;
  if (text == "ocsf")
    return finding_schema::ocsf;
  return std::nullopt;
}

std::string dump_line(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json to_schema(const runtime::finding& f, finding_schema schema, const std::string& id) {
  const auto when = runtime::format_rfc3339(f.time);
  const auto level = std::string(runtime::to_string(f.level));
  switch (schema) {
  case finding_schema::native: {
    auto j = f.to_json();
    j["id"] = id;
    return j;
  }
  case finding_schema::ecs: {
    nlohmann::json j;
    j["@timestamp"] = when;
    j["message"] = f.title;
    j["ecs"] = {{"version", ecs_version}};
    j["event"] = {{"kind", "alert"},
                  {"category", {"intrusion_detection"}},
                  {"type", {"indicator"}},
                  {"id", id},
                  {"severity", ecs_severity(f.level)},
                  {"module", "phantomguard"},
                  {"dataset", "phantomguard.finding"},
                  {"provider", f.analyzer}};
    j["rule"] = {{"id", f.rule}, {"name", f.rule}, {"ruleset", f.analyzer}};
    j["host"] = {{"hostname", f.host}, {"name", f.host}};
    j["observer"] = {{"vendor", "PhantomGuard"}, {"product", "phantomguard"}, {"type", "hids"}};
    j["log"] = {{"level", level}};
    if (!f.mitre.empty()) {
      j["threat"] = {{"framework", "MITRE ATT&CK"}, {"technique", {{"id", f.mitre}}}};
    }
    ecs_entity(f.entity, j);
    j["phantomguard"] = {{"severity", level},
                         {"analyzer", f.analyzer},
                         {"entity", f.entity},
                         {"evidence", f.evidence}};
    return j;
  }
  case finding_schema::ocsf: {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(f.time.time_since_epoch()).count();
    nlohmann::json attacks = nlohmann::json::array();
    for (const auto& t : f.mitre)
      attacks.push_back({{"technique", {{"uid", t}}}, {"version", "14"}});
    nlohmann::json j;
    j["class_uid"] = 2004;
    j["class_name"] = "Detection Finding";
    j["category_uid"] = 2;
    j["category_name"] = "Findings";
    j["activity_id"] = 1; // Create
    j["activity_name"] = "Create";
    j["type_uid"] = 200401; // class_uid * 100 + activity_id
    j["time"] = ms;
    j["severity_id"] = ocsf_severity(f.level);
    j["severity"] = level == "info" ? "Informational"
                                    : std::string(1, static_cast<char>(std::toupper(level[0]))) +
                                          level.substr(1);
    j["status_id"] = 1; // New
    j["status"] = "New";
    j["message"] = f.title;
    j["metadata"] = {{"version", ocsf_version},
                     {"uid", id},
                     {"product", {{"name", "PhantomGuard"}, {"vendor_name", "PhantomGuard"}}}};
    j["finding_info"] = {
        {"uid", id},
        {"title", f.title},
        {"types", {f.rule}},
        {"analytic", {{"uid", f.rule}, {"name", f.rule}, {"type_id", 1}, {"type", "Rule"}}},
        {"product_uid", f.analyzer}};
    if (!attacks.empty())
      j["finding_info"]["attacks"] = attacks;
    j["device"] = {{"hostname", f.host}, {"type_id", 0}};
    j["evidences"] = nlohmann::json::array({{{"data", f.entity}}});
    j["unmapped"] = {{"phantomguard", {{"analyzer", f.analyzer}, {"evidence", f.evidence}}}};
    return j;
  }
  }
  return {};
}

} // namespace pg::actors::sink
