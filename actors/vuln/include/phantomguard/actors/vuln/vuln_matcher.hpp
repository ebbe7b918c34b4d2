// SPDX-License-Identifier: Apache-2.0
// vuln_matcher.hpp — which advisories affect an installed package, by the rules in
// docs/analyzers/vuln.md: the advisory's package name is a Debian SOURCE package name, compared
// with the installed package's source name; the installed SOURCE version is evaluated against the
// ECOSYSTEM ranges (introduced / fixed / last_affected / limit) and the explicit versions list;
// "Debian:N" entries apply only to release N (all releases when the root's release is unknown).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "phantomguard/actors/vuln/advisory_index.hpp"
#include "phantomguard/actors/vuln/dpkg_database.hpp"
#include "phantomguard/runtime/finding.hpp"

namespace pg::actors::vuln {

/// The verdict for one affected entry and one version.
struct range_verdict {
  bool affected = false;
  std::string fixed; // the first fixed version above the installed one; empty when none is known
};

/// Evaluates an affected entry's ECOSYSTEM ranges and versions list for `version` (Debian
/// ordering). Ranges of other types are ignored.
range_verdict evaluate_affected(const osv_affected& a, std::string_view version);

/// One advisory that affects one package.
struct vuln_match {
  const osv_advisory* advisory = nullptr;
  const osv_affected* affected = nullptr;
  std::string fixed;
};

class vuln_matcher {
public:
  /// `release` is the Debian release of the scanned root ("12"), empty when unknown.
  vuln_matcher(const advisory_index& index, std::string release);

  /// The advisories affecting `pkg`, at most one per advisory id.
  [[nodiscard]] std::vector<vuln_match> match(const installed_package& pkg) const;

  /// A `vuln.package` finding for a match. `root` names the scanned root file system.
  [[nodiscard]] runtime::finding make_finding(const installed_package& pkg, const vuln_match& m,
                                              const std::string& root,
                                              runtime::severity default_severity) const;

private:
  const advisory_index& index_;
  std::string release_;
};

} // namespace pg::actors::vuln
