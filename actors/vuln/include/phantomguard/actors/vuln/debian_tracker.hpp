// SPDX-License-Identifier: Apache-2.0
// debian_tracker.hpp — the Debian Security Tracker's own data
// (https://security-tracker.debian.org/tracker/data/json): per source package, per CVE, per
// release a status ("open", "resolved", "undetermined"), the fixed version (which already names a
// fix shipped in the security suite, e.g. "3.0.11-1~deb12u2"), "0" for "not affected", and an
// urgency. Turned into the advisory model the matcher uses, so the tracker's verdicts are
// honoured as it gives them: a "not affected" release yields no affected entry at all.
#pragma once

#include <cstddef>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "phantomguard/actors/vuln/dpkg_database.hpp"
#include "phantomguard/actors/vuln/osv_advisory.hpp"

namespace pg::actors::vuln {

/// The number of a Debian release codename ("bookworm" → "12"); "sid" for sid/unstable; empty
/// for a name we do not know (a future release) — its entries are then left out.
std::string debian_release_of_codename(std::string_view codename);

struct tracker_counts {
  std::size_t not_affected = 0; // (package, CVE, release) entries the tracker marks fixed in "0"
  std::size_t unknown_releases = 0; // entries for codenames we do not map
};

/// True when `value` looks like one package's entry of tracker data: an object whose members
/// are objects holding a `releases` object.
bool is_tracker_package(const nlohmann::json& value);

/// The advisories of one source package's tracker entry (one per CVE that affects some
/// release). Malformed CVE entries are reported and skipped.
void tracker_package_advisories(const std::string& package, const nlohmann::json& entry,
                                const std::string& origin, std::vector<osv_advisory>& out,
                                std::vector<malformed_entry>& malformed, tracker_counts& counts);

/// Streams a JSON file of either shape — OSV (one object or an array) or tracker data — keeping
/// only one package's (or one array element's) document in memory at a time: for files too large
/// to hold as text (the tracker's export is ~70 MB).
void parse_advisory_stream(std::istream& in, const std::string& origin,
                           std::vector<osv_advisory>& out, std::vector<malformed_entry>& malformed,
                           tracker_counts& counts);

} // namespace pg::actors::vuln
