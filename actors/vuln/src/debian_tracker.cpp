// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/vuln/debian_tracker.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "phantomguard/runtime/json_fields.hpp"

namespace pg::actors::vuln {

namespace {

using json = nlohmann::json;

// "medium**" (an unconfirmed urgency) → "medium"; "not yet assigned" stays and rates nothing.
std::string clean_urgency(std::string u) {
  while (!u.empty() && u.back() == '*')
    u.pop_back();
  return u;
}

void osv_element(const json& j, const std::string& origin, std::vector<osv_advisory>& out,
                 std::vector<malformed_entry>& malformed) {
  std::string error;
  std::optional<osv_advisory> adv;
  try {
    adv = parse_osv_advisory(j, &error);
  } catch (const json::exception& e) {
    error = std::string("unexpected JSON type: ") + e.what();
  }
  if (adv) {
    adv->origin = origin;
    out.push_back(std::move(*adv));
  } else {
    malformed.push_back({origin, 0, error});
  }
}

} // namespace

std::string debian_release_of_codename(std::string_view codename) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 10> names{{
      {"wheezy", "7"},
      {"jessie", "8"},
      {"stretch", "9"},
      {"buster", "10"},
      {"bullseye", "11"},
      {"bookworm", "12"},
      {"trixie", "13"},
      {"forky", "14"},
      {"duke", "15"},
      {"sid", "sid"},
  }};
  for (const auto& [name, number] : names)
    if (name == codename)
      return std::string(number);
  return {};
}

bool is_tracker_package(const json& value) {
  if (!value.is_object() || value.empty())
    return false;
  for (const auto& [id, cve] : value.items())
    if (cve.is_object() && cve.contains("releases") && cve["releases"].is_object())
      return true;
  return false;
}

void tracker_package_advisories(const std::string& package, const json& entry,
                                const std::string& origin, std::vector<osv_advisory>& out,
                                std::vector<malformed_entry>& malformed, tracker_counts& counts) {
  if (!entry.is_object() || package.empty()) {
    malformed.push_back({origin, 0, "tracker entry for '" + package + "' is not an object"});
    return;
  }
  for (const auto& [id, cve] : entry.items()) {
    auto releases = cve.is_object() ? cve.find("releases") : cve.end();
    if (id.empty() || !cve.is_object() || releases == cve.end() || !releases->is_object()) {
      malformed.push_back({origin, 0, package + " " + id + ": no 'releases' object"});
      continue;
    }
    osv_advisory adv;
    adv.id = id;
    adv.summary = runtime::string_field(cve, "description");
    adv.origin = origin;
    for (const auto& [codename, rel] : releases->items()) {
      if (!rel.is_object()) {
        malformed.push_back({origin, 0, package + " " + id + " " + codename + ": not an object"});
        continue;
      }
      const auto status = runtime::string_field(rel, "status");
      const auto fixed = runtime::string_field(rel, "fixed_version");
      if (status.empty() || (status == "resolved" && fixed.empty())) {
        malformed.push_back(
            {origin, 0, package + " " + id + " " + codename + ": no status or fixed_version"});
        continue;
      }
      const auto number = debian_release_of_codename(codename);
      if (number.empty()) {
        ++counts.unknown_releases;
        continue;
      }
      if (status == "resolved" && fixed == "0") {
        ++counts.not_affected; // the release never shipped an affected version
        continue;
      }
      osv_affected a;
      a.ecosystem = "Debian:" + number;
      a.ecosystem_name = "Debian";
      a.release = number;
      a.package = package;
      a.status = status;
      a.severity_text = clean_urgency(runtime::string_field(rel, "urgency"));
      osv_range r;
      r.type = "ECOSYSTEM";
      r.events.push_back({osv_event_kind::introduced, "0"});
      if (status == "resolved")
        r.events.push_back({osv_event_kind::fixed, fixed});
      a.ranges.push_back(std::move(r));
      adv.affected.push_back(std::move(a));
    }
    if (!adv.affected.empty())
      out.push_back(std::move(adv));
  }
}

void parse_advisory_stream(std::istream& in, const std::string& origin,
                           std::vector<osv_advisory>& out, std::vector<malformed_entry>& malformed,
                           tracker_counts& counts) {
  // Depth-1 documents are converted as soon as they are complete and then discarded, so the
  // tree held is one package (or one advisory) plus the root's remaining small members.
  std::string key;
  bool root_is_array = false;
  bool tracker = false;
  auto cb = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth == 0 && event == json::parse_event_t::array_start)
      root_is_array = true;
    if (depth == 1 && event == json::parse_event_t::key)
      key = parsed.get<std::string>();
    if (depth == 1 && event == json::parse_event_t::object_end) {
      if (root_is_array) {
        osv_element(parsed, origin, out, malformed);
        return false;
      }
      if (is_tracker_package(parsed)) {
        tracker = true;
        tracker_package_advisories(key, parsed, origin, out, malformed, counts);
        return false;
      }
    }
    return true;
  };
  json root;
  try {
    root = json::parse(in, cb, true);
  } catch (const json::exception& e) {
    malformed.push_back({origin, 0, std::string("not valid JSON: ") + e.what()});
    return;
  }
  if (root_is_array || tracker)
    return;
  if (root.is_object() && (root.contains("id") || root.contains("affected"))) {
    osv_element(root, origin, out, malformed);
    return;
  }
  malformed.push_back({origin, 0, "neither an OSV advisory nor Debian security tracker data"});
}

} // namespace pg::actors::vuln
