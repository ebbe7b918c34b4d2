// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/runtime/finding.hpp"

#include "phantomguard/runtime/digest.hpp"

#include <array>
#include <ctime>

namespace pg::runtime {

namespace {
constexpr std::array<std::string_view, 5> severity_names{"info", "low", "medium", "high",
                                                         "critical"};
} // namespace

std::string_view to_string(severity s) noexcept {
  return severity_names[static_cast<std::size_t>(s)];
}

std::optional<severity> parse_severity(std::string_view text) noexcept {
  for (std::size_t i = 0; i < severity_names.size(); ++i)
    if (severity_names[i] == text)
      return static_cast<severity>(i);
  return std::nullopt;
}

std::string format_rfc3339(wall_clock::time_point tp) {
  auto secs = std::chrono::time_point_cast<std::chrono::seconds>(tp);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(tp - secs).count();
  if (ms < 0) { // before the epoch: keep the fraction positive
    secs -= std::chrono::seconds(1);
    ms += 1000;
  }
  std::time_t t = wall_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms));
  return buf;
}

std::optional<wall_clock::time_point> parse_rfc3339(const std::string& text) {
  std::tm tm{};
  int ms = 0;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &y, &mo, &d, &h, &mi, &s, &ms) < 6)
    return std::nullopt;
  // Fields out of their ranges are not a time, and the clock counts nanoseconds from 1970 in
  // 64 bits, up to 2262: a year beyond would overflow it (found by fuzz_finding).
  if (y < 1970 || y > 2261 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 ||
      mi < 0 || mi > 59 || s < 0 || s > 60 || ms < 0 || ms > 999)
    return std::nullopt;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  auto t = timegm(&tm);
  return wall_clock::from_time_t(t) + std::chrono::milliseconds(ms);
}

nlohmann::json finding::to_json() const {
  nlohmann::json j;
  j["time"] = format_rfc3339(time);
  j["host"] = host;
  j["analyzer"] = analyzer;
  j["rule"] = rule;
  j["severity"] = std::string(to_string(level));
  j["title"] = title;
  j["entity"] = entity.is_null() ? nlohmann::json::object() : entity;
  j["evidence"] = evidence.is_null() ? nlohmann::json::object() : evidence;
  j["mitre"] = mitre;
  // The stable id: of the fields above, so the same finding has it in every sink, report and
  // redelivery, and a receiver can drop duplicates.
  j["id"] = sha256_hex(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)).substr(0, 32);
  return j;
}

std::string finding_id(const finding& f) {
  return f.to_json()["id"].get<std::string>();
}

std::string finding::to_jsonl() const {
  // Replace invalid UTF-8 (command lines and paths are bytes, not text) instead of throwing.
  return to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<finding> finding::from_json(const nlohmann::json& j) {
  try {
    finding f;
    auto t = parse_rfc3339(j.at("time").get<std::string>());
    if (!t)
      return std::nullopt;
    f.time = *t;
    f.host = j.at("host").get<std::string>();
    f.analyzer = j.at("analyzer").get<std::string>();
    f.rule = j.at("rule").get<std::string>();
    auto sev = parse_severity(j.at("severity").get<std::string>());
    if (!sev)
      return std::nullopt;
    f.level = *sev;
    f.title = j.at("title").get<std::string>();
    f.entity = j.value("entity", nlohmann::json::object());
    f.evidence = j.value("evidence", nlohmann::json::object());
    f.mitre = j.value("mitre", std::vector<std::string>{});
    return f;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

} // namespace pg::runtime
