// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/vuln/vuln_matcher.hpp"

#include <algorithm>
#include <cmath>

#include "phantomguard/actors/vuln/debian_version.hpp"

namespace pg::actors::vuln {

namespace {

// "0" as introduced means "from the beginning": below every real version.
int compare_event(const osv_event& e, std::string_view version) {
  if (e.kind == osv_event_kind::introduced && e.version == "0")
    return -1;
  return compare_debian_versions(e.version, version);
}

int kind_rank(osv_event_kind k) {
  switch (k) {
  case osv_event_kind::introduced:
    return 0;
  case osv_event_kind::last_affected:
    return 1;
  case osv_event_kind::fixed:
    return 2;
  case osv_event_kind::limit:
    return 3;
  }
  return 4;
}

range_verdict evaluate_range(const osv_range& range, std::string_view version) {
  std::vector<const osv_event*> events;
  for (const auto& e : range.events)
    events.push_back(&e);
  std::stable_sort(events.begin(), events.end(), [](const osv_event* a, const osv_event* b) {
    bool a0 = a->kind == osv_event_kind::introduced && a->version == "0";
    bool b0 = b->kind == osv_event_kind::introduced && b->version == "0";
    if (a0 != b0)
      return a0;
    int c = a0 ? 0 : compare_debian_versions(a->version, b->version);
    if (c != 0)
      return c < 0;
    return kind_rank(a->kind) < kind_rank(b->kind);
  });
  range_verdict v;
  for (const auto* e : events) {
    int c = compare_event(*e, version);
    switch (e->kind) {
    case osv_event_kind::introduced:
      if (c <= 0)
        v.affected = true;
      break;
    case osv_event_kind::fixed:
      if (c <= 0)
        v.affected = false;
      else if (v.affected && v.fixed.empty())
        v.fixed = e->version;
      break;
    case osv_event_kind::last_affected:
      if (c < 0)
        v.affected = false;
      break;
    case osv_event_kind::limit:
      if (c <= 0)
        v.affected = false;
      break;
    }
  }
  if (!v.affected)
    v.fixed.clear();
  return v;
}

} // namespace

range_verdict evaluate_affected(const osv_affected& a, std::string_view version) {
  range_verdict out;
  for (const auto& r : a.ranges) {
    if (r.type != "ECOSYSTEM")
      continue;
    auto v = evaluate_range(r, version);
    if (v.affected && (!out.affected ||
                       (!v.fixed.empty() &&
                        (out.fixed.empty() || compare_debian_versions(v.fixed, out.fixed) < 0)))) {
      out = v;
    }
  }
  if (!out.affected) {
    for (const auto& listed : a.versions) {
      if (compare_debian_versions(listed, version) == 0) {
        out.affected = true;
        // A fix named by a range still helps the reader even when the versions list matched.
        for (const auto& r : a.ranges)
          for (const auto& e : r.events)
            if (e.kind == osv_event_kind::fixed &&
                compare_debian_versions(e.version, version) > 0 &&
                (out.fixed.empty() || compare_debian_versions(e.version, out.fixed) < 0))
              out.fixed = e.version;
        break;
      }
    }
  }
  return out;
}

vuln_matcher::vuln_matcher(const advisory_index& index, std::string release)
    : index_(index), release_(std::move(release)) {}

std::vector<vuln_match> vuln_matcher::match(const installed_package& pkg) const {
  std::vector<vuln_match> out;
  for (const auto& ref : index_.lookup("Debian", pkg.source_name)) {
    const auto& adv = index_.advisories()[ref.advisory];
    const auto& aff = adv.affected[ref.affected];
    if (!aff.release.empty() && !release_.empty() && aff.release != release_)
      continue;
    auto verdict = evaluate_affected(aff, pkg.source_version);
    if (!verdict.affected)
      continue;
    auto dup = std::find_if(out.begin(), out.end(),
                            [&](const vuln_match& m) { return m.advisory == &adv; });
    if (dup != out.end()) {
      // The same advisory through two entries (release-less and release-specific, or two
      // releases when the release is unknown): keep the release-specific entry.
      if (dup->affected->release.empty() && !aff.release.empty())
        *dup = {&adv, &aff, verdict.fixed};
      continue;
    }
    out.push_back({&adv, &aff, verdict.fixed});
  }
  return out;
}

runtime::finding vuln_matcher::make_finding(const installed_package& pkg, const vuln_match& m,
                                            const std::string& root,
                                            runtime::severity default_severity) const {
  const auto& adv = *m.advisory;
  runtime::finding f;
  f.rule = "vuln.package";
  std::string severity_from = "default";
  f.level = default_severity;
  if (adv.cvss_score) {
    f.level = severity_from_cvss(*adv.cvss_score);
    severity_from = "cvss";
  } else if (auto s = severity_from_text(m.affected->severity_text)) {
    f.level = *s;
    severity_from = "advisory";
  } else if (auto s2 = severity_from_text(adv.severity_text)) {
    f.level = *s2;
    severity_from = "advisory";
  }
  std::string cve;
  for (const auto& a : adv.aliases)
    if (a.starts_with("CVE-")) {
      cve = a;
      break;
    }
  f.title = pkg.name + " " + pkg.version + " is affected by " + adv.id +
            (cve.empty() || cve == adv.id ? "" : " (" + cve + ")") +
            (m.fixed.empty() ? ", no fixed version known" : ", fixed in " + m.fixed);
  f.entity = {{"package", pkg.name},
              {"version", pkg.version},
              {"architecture", pkg.architecture},
              {"source", pkg.source_name},
              {"source_version", pkg.source_version},
              {"root", root}};
  f.evidence = {{"advisory", adv.id},
                {"aliases", adv.aliases},
                {"installed", pkg.source_version},
                {"fixed", m.fixed.empty() ? nlohmann::json(nullptr) : nlohmann::json(m.fixed)},
                {"ecosystem", m.affected->ecosystem},
                {"severity_from", severity_from},
                {"advisory_file", adv.origin}};
  if (adv.cvss_score)
    f.evidence["cvss_score"] = std::round(*adv.cvss_score * 10.0) / 10.0;
  if (!adv.cvss_vector.empty())
    f.evidence["cvss_vector"] = adv.cvss_vector;
  if (!adv.summary.empty())
    f.evidence["summary"] = adv.summary;
  if (!m.affected->status.empty())
    f.evidence["tracker_status"] = m.affected->status;
  return f;
}

} // namespace pg::actors::vuln
