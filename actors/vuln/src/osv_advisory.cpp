// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/vuln/osv_advisory.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>

#include <nlohmann/json.hpp>

#include "phantomguard/runtime/json_fields.hpp"

namespace pg::actors::vuln {

namespace {

using json = nlohmann::json;

bool fail(std::string* error, std::string why) {
  if (error)
    *error = std::move(why);
  return false;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A string member, or empty. Wrong types are errors, absent members are not.
bool string_member(const json& j, const char* key, std::string& out, std::string* error) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null())
    return true;
  if (!it->is_string())
    return fail(error, std::string("'") + key + "' is not a string");
  out = it->get<std::string>();
  return true;
}

std::string severity_text_of(const json& j) {
  for (const char* section : {"ecosystem_specific", "database_specific"}) {
    auto it = j.find(section);
    if (it == j.end() || !it->is_object())
      continue;
    for (const char* key : {"severity", "urgency"}) {
      auto s = it->find(key);
      if (s != it->end() && s->is_string())
        return s->get<std::string>();
    }
  }
  return {};
}

bool parse_affected(const json& a, osv_affected& out, std::string* error) {
  if (!a.is_object())
    return fail(error, "an 'affected' entry is not an object");
  auto pkg = a.find("package");
  if (pkg == a.end() || !pkg->is_object())
    return fail(error, "an 'affected' entry has no 'package' object");
  if (!string_member(*pkg, "ecosystem", out.ecosystem, error) ||
      !string_member(*pkg, "name", out.package, error))
    return false;
  if (out.ecosystem.empty() || out.package.empty())
    return fail(error, "an 'affected' package lacks 'ecosystem' or 'name'");
  auto colon = out.ecosystem.find(':');
  out.ecosystem_name = out.ecosystem.substr(0, colon);
  if (colon != std::string::npos)
    out.release = out.ecosystem.substr(colon + 1);
  if (auto r = a.find("ranges"); r != a.end() && !r->is_null()) {
    if (!r->is_array())
      return fail(error, "'ranges' is not an array");
    for (const auto& range : *r) {
      if (!range.is_object())
        return fail(error, "a range is not an object");
      osv_range rg;
      if (!string_member(range, "type", rg.type, error))
        return false;
      auto ev = range.find("events");
      if (ev == range.end() || !ev->is_array())
        return fail(error, "a range has no 'events' array");
      for (const auto& e : *ev) {
        if (!e.is_object() || e.size() != 1 || !e.begin()->is_string())
          return fail(error, "a range event is not {\"introduced\"|\"fixed\"|...: \"version\"}");
        const auto& key = e.begin().key();
        osv_event event;
        event.version = e.begin()->get<std::string>();
        if (key == "introduced")
          event.kind = osv_event_kind::introduced;
        else if (key == "fixed")
          event.kind = osv_event_kind::fixed;
        else if (key == "last_affected")
          event.kind = osv_event_kind::last_affected;
        else if (key == "limit")
          event.kind = osv_event_kind::limit;
        else
          return fail(error, "unknown range event '" + key + "'");
        rg.events.push_back(std::move(event));
      }
      out.ranges.push_back(std::move(rg));
    }
  }
  if (auto v = a.find("versions"); v != a.end() && !v->is_null()) {
    if (!v->is_array())
      return fail(error, "'versions' is not an array");
    for (const auto& s : *v) {
      if (!s.is_string())
        return fail(error, "'versions' holds a non-string");
      out.versions.push_back(s.get<std::string>());
    }
  }
  out.severity_text = severity_text_of(a);
  return true;
}

double round_up_1(double x) {
  // CVSS v3.1 Roundup: the smallest number with one decimal >= x, robust to float noise.
  auto i = static_cast<long long>(std::llround(x * 100000.0));
  if (i % 10000 == 0)
    return static_cast<double>(i) / 100000.0;
  return (std::floor(static_cast<double>(i) / 10000.0) + 1.0) / 10.0;
}

} // namespace

std::optional<double> cvss3_base_score(std::string_view vector) {
  if (!vector.starts_with("CVSS:3."))
    return std::nullopt;
  std::map<std::string, std::string, std::less<>> m;
  std::size_t pos = vector.find('/');
  while (pos != std::string_view::npos) {
    auto next = vector.find('/', pos + 1);
    auto part = vector.substr(pos + 1, next == std::string_view::npos ? next : next - pos - 1);
    auto colon = part.find(':');
    if (colon != std::string_view::npos)
      m[std::string(part.substr(0, colon))] = std::string(part.substr(colon + 1));
    pos = next;
  }
  auto get = [&](const char* k) -> std::string {
    auto it = m.find(k);
    return it == m.end() ? std::string() : it->second;
  };
  const std::map<std::string, double> av{{"N", 0.85}, {"A", 0.62}, {"L", 0.55}, {"P", 0.2}};
  const std::map<std::string, double> ac{{"L", 0.77}, {"H", 0.44}};
  const std::map<std::string, double> ui{{"N", 0.85}, {"R", 0.62}};
  const std::map<std::string, double> cia{{"H", 0.56}, {"L", 0.22}, {"N", 0.0}};
  auto s = get("S");
  if (s != "U" && s != "C")
    return std::nullopt;
  bool changed = s == "C";
  const std::map<std::string, double> pr{
      {"N", 0.85}, {"L", changed ? 0.68 : 0.62}, {"H", changed ? 0.5 : 0.27}};
  auto find = [&](const std::map<std::string, double>& table, const char* key, double& out) {
    auto it = table.find(get(key));
    if (it == table.end())
      return false;
    out = it->second;
    return true;
  };
  double v_av, v_ac, v_pr, v_ui, v_c, v_i, v_a;
  if (!find(av, "AV", v_av) || !find(ac, "AC", v_ac) || !find(pr, "PR", v_pr) ||
      !find(ui, "UI", v_ui) || !find(cia, "C", v_c) || !find(cia, "I", v_i) || !find(cia, "A", v_a))
    return std::nullopt;
  double iss = 1.0 - (1.0 - v_c) * (1.0 - v_i) * (1.0 - v_a);
  double impact = changed ? 7.52 * (iss - 0.029) - 3.25 * std::pow(iss - 0.02, 15) : 6.42 * iss;
  double exploitability = 8.22 * v_av * v_ac * v_pr * v_ui;
  if (impact <= 0)
    return 0.0;
  double base = changed ? std::min(1.08 * (impact + exploitability), 10.0)
                        : std::min(impact + exploitability, 10.0);
  return round_up_1(base);
}

runtime::severity severity_from_cvss(double score) noexcept {
  if (score >= 9.0)
    return runtime::severity::critical;
  if (score >= 7.0)
    return runtime::severity::high;
  if (score >= 4.0)
    return runtime::severity::medium;
  if (score > 0.0)
    return runtime::severity::low;
  return runtime::severity::info;
}

std::optional<runtime::severity> severity_from_text(std::string_view text) noexcept {
  auto t = lower(text);
  if (t == "critical")
    return runtime::severity::critical;
  if (t == "high" || t == "important")
    return runtime::severity::high;
  if (t == "medium" || t == "moderate")
    return runtime::severity::medium;
  if (t == "low")
    return runtime::severity::low;
  if (t == "unimportant" || t == "negligible" || t == "none")
    return runtime::severity::info;
  return std::nullopt;
}

std::optional<osv_advisory> parse_osv_advisory(const json& j, std::string* error) {
  if (!j.is_object()) {
    fail(error, "the advisory is not a JSON object");
    return std::nullopt;
  }
  osv_advisory adv;
  if (!string_member(j, "id", adv.id, error) || !string_member(j, "summary", adv.summary, error))
    return std::nullopt;
  if (adv.id.empty()) {
    fail(error, "the advisory has no 'id'");
    return std::nullopt;
  }
  auto with_id = [&](bool ok) {
    if (!ok && error)
      *error = adv.id + ": " + *error;
    return ok;
  };
  if (auto w = j.find("withdrawn");
      w != j.end() && w->is_string() && !w->get<std::string>().empty())
    adv.withdrawn = true;
  if (auto a = j.find("aliases"); a != j.end() && !a->is_null()) {
    if (!with_id(a->is_array() || fail(error, "'aliases' is not an array")))
      return std::nullopt;
    for (const auto& s : *a)
      if (s.is_string())
        adv.aliases.push_back(s.get<std::string>());
  }
  if (auto s = j.find("severity"); s != j.end() && s->is_array()) {
    for (const auto& entry : *s) {
      if (!entry.is_object())
        continue;
      auto type = runtime::string_field(entry, "type");
      auto score = entry.find("score");
      if (score == entry.end())
        continue;
      // A base score is 0.0 to 10.0; anything else (99, -1, 1e308, NaN) is not one.
      auto in_range = [](double v) { return std::isfinite(v) && v >= 0.0 && v <= 10.0; };
      if (score->is_number()) {
        if (in_range(score->get<double>()))
          adv.cvss_score = score->get<double>();
      } else if (score->is_string()) {
        auto text = score->get<std::string>();
        if (auto v = cvss3_base_score(text)) {
          adv.cvss_score = *v;
          adv.cvss_vector = text;
        } else if (!text.empty() && (std::isdigit(static_cast<unsigned char>(text[0])) != 0)) {
          try {
            if (double v = std::stod(text); in_range(v))
              adv.cvss_score = v;
          } catch (...) {
          }
        } else if (adv.cvss_vector.empty()) {
          adv.cvss_vector = text; // v2 / v4 vectors are kept as evidence, not scored
        }
      }
      if (adv.cvss_score && type.starts_with("CVSS_V3"))
        break;
    }
  }
  if (auto d = j.find("database_specific"); d != j.end() && d->is_object()) {
    auto s = d->find("severity");
    if (s != d->end() && s->is_string())
      adv.severity_text = s->get<std::string>();
  }
  auto affected = j.find("affected");
  if (affected == j.end() || !affected->is_array()) {
    fail(error, adv.id + ": the advisory has no 'affected' array");
    return std::nullopt;
  }
  for (const auto& a : *affected) {
    osv_affected entry;
    if (!with_id(parse_affected(a, entry, error)))
      return std::nullopt;
    adv.affected.push_back(std::move(entry));
  }
  return adv;
}

} // namespace pg::actors::vuln
