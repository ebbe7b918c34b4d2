// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/runtime/report.hpp"

#include <algorithm>
#include <iomanip>

namespace pg::runtime {

std::optional<output_format> parse_output_format(std::string_view text) noexcept {
  if (text == "table")
    return output_format::table;
  if (text == "json")
    return output_format::json;
  if (text == "jsonl")
    return output_format::jsonl;
  return std::nullopt;
}

namespace {

// A short human label for the entity: the first of the fields people look for.
std::string entity_label(const nlohmann::json& entity) {
  if (!entity.is_object() || entity.empty())
    return "-";
  static constexpr const char* keys[] = {"path", "exe", "pid", "port", "package", "container",
                                         "component", "plugin", "module", "file", "name"};
  std::string out;
  for (const char* k : keys) {
    auto it = entity.find(k);
    if (it == entity.end())
      continue;
    if (!out.empty())
      out += ' ';
    out += k;
    out += '=';
    out += it->is_string() ? it->get<std::string>() : it->dump();
    if (out.size() > 60)
      break;
  }
  if (out.empty())
    out = entity.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (out.size() > 72)
    out = out.substr(0, 69) + "...";
  return out;
}

void write_table(std::ostream& out, const std::vector<finding>& findings) {
  std::size_t rule_w = 4;
  for (const auto& f : findings)
    rule_w = std::max(rule_w, f.rule.size());
  rule_w = std::min<std::size_t>(rule_w, 36);
  out << std::left << std::setw(9) << "SEVERITY" << ' ' << std::setw(static_cast<int>(rule_w))
      << "RULE" << ' ' << std::setw(40) << "ENTITY" << ' ' << "TITLE" << '\n';
  for (const auto& f : findings) {
    out << std::left << std::setw(9) << to_string(f.level) << ' '
        << std::setw(static_cast<int>(rule_w)) << f.rule << ' ' << std::setw(40)
        << entity_label(f.entity) << ' ' << f.title << '\n';
  }
  std::size_t per_level[5] = {};
  for (const auto& f : findings)
    ++per_level[static_cast<std::size_t>(f.level)];
  out << findings.size() << " finding" << (findings.size() == 1 ? "" : "s");
  if (!findings.empty()) {
    out << " (";
    bool first = true;
    for (int i = 4; i >= 0; --i) {
      if (per_level[i] == 0)
        continue;
      out << (first ? "" : ", ") << per_level[i] << ' ' << to_string(static_cast<severity>(i));
      first = false;
    }
    out << ')';
  }
  out << '\n';
}

} // namespace

void write_findings(std::ostream& out, const std::vector<finding>& findings, output_format fmt) {
  switch (fmt) {
    case output_format::table:
      write_table(out, findings);
      break;
    case output_format::json: {
      auto arr = nlohmann::json::array();
      for (const auto& f : findings)
        arr.push_back(f.to_json());
      out << arr.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
      break;
    }
    case output_format::jsonl:
      for (const auto& f : findings)
        out << f.to_jsonl() << '\n';
      break;
  }
  out.flush();
}

int exit_code_for(const std::vector<finding>& findings, severity fail_on) noexcept {
  for (const auto& f : findings)
    if (f.level >= fail_on)
      return 1;
  return 0;
}

} // namespace pg::runtime
