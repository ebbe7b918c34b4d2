// SPDX-License-Identifier: Apache-2.0
// osv_advisory.hpp — the parts of an OSV advisory (https://ossf.github.io/osv-schema/) that the
// scanner matches on: affected packages with ECOSYSTEM ranges and version lists, aliases, and the
// severity inputs (CVSS vectors or scores, textual database/ecosystem severities).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "phantomguard/runtime/finding.hpp"

namespace pg::actors::vuln {

enum class osv_event_kind { introduced, fixed, last_affected, limit };

struct osv_event {
  osv_event_kind kind = osv_event_kind::introduced;
  std::string version; // "0" for introduced means "since the first version"
};

struct osv_range {
  std::string type; // ECOSYSTEM, SEMVER, GIT; only ECOSYSTEM is evaluated for Debian
  std::vector<osv_event> events;
};

struct osv_affected {
  std::string ecosystem;      // as written: "Debian:12"
  std::string ecosystem_name; // "Debian"
  std::string release;        // "12"; empty when the ecosystem names no release
  std::string package;        // for Debian: the SOURCE package name
  std::vector<osv_range> ranges;
  std::vector<std::string> versions;
  std::string severity_text; // ecosystem_specific/database_specific severity or urgency
  std::string status;        // the security tracker's: "open", "resolved", "undetermined"; OSV: ""
};

struct osv_advisory {
  std::string id;
  std::vector<std::string> aliases;
  std::string summary;
  bool withdrawn = false;
  std::optional<double> cvss_score; // computed from a CVSS v3 vector or given as a number
  std::string cvss_vector;
  std::string severity_text; // top-level database_specific.severity
  std::vector<osv_affected> affected;
  std::string origin; // file (or zip member) it came from
};

/// Builds an advisory from one parsed OSV object. nullopt (reason in `*error`) when `id` or
/// `affected` is missing or a field has the wrong type; unknown fields are ignored.
std::optional<osv_advisory> parse_osv_advisory(const nlohmann::json& j, std::string* error);

/// The CVSS v3.0/v3.1 base score of a vector ("CVSS:3.1/AV:N/AC:L/..."); nullopt when a base
/// metric is missing or unknown.
std::optional<double> cvss3_base_score(std::string_view vector);

/// The qualitative CVSS v3 rating as our severity: 0 → info, 0.1–3.9 low, 4.0–6.9 medium,
/// 7.0–8.9 high, 9.0–10 critical.
runtime::severity severity_from_cvss(double score) noexcept;

/// A textual severity ("LOW", "moderate", "medium", "HIGH", "critical", Debian urgencies
/// "unimportant", "low", "medium", "high"); nullopt for anything else ("not yet assigned").
std::optional<runtime::severity> severity_from_text(std::string_view text) noexcept;

} // namespace pg::actors::vuln
