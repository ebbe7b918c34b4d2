// SPDX-License-Identifier: Apache-2.0
// vuln_scan.hpp — one vulnerability scan of a root file system: read its dpkg database, match it
// against an advisory index, post `vuln.package` findings segment by segment, and report what
// could not be used (malformed entries, missing advisories) as findings too.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "phantomguard/actors/host/finding_sink.hpp"
#include "phantomguard/actors/vuln/advisory_index.hpp"
#include "phantomguard/actors/vuln/throttle.hpp"

namespace pg::actors::storage {
class persistent_cache;
}

namespace pg::actors::vuln {

using host::collecting_sink;
using host::finding_sink;

/// The Debian release of a root ("12") from ROOT/etc/os-release (VERSION_ID when ID is debian or
/// ID_LIKE names debian), else the major part of ROOT/etc/debian_version when it is numeric;
/// empty when unknown (testing, sid, no files).
std::string detect_debian_release(const std::string& root);

struct vuln_scan_request {
  std::string root = "/";
  std::string advisories; // directory or .zip; may be empty or missing (info finding)
  std::string release;    // overrides detection when not empty
  runtime::severity default_severity = runtime::severity::medium;
  /// Older advisory data is reported as vuln.advisories_stale (medium); zero disables the check.
  std::chrono::seconds max_age{7 * 86400};
  throttle_settings throttle;
  std::size_t resume_from = 0; // index into the name-sorted package list
  /// Called after each segment with the index of the next package (for resumable state), from
  /// the scanning thread.
  std::function<void(std::size_t next)> on_segment;
  /// Called before posting a match; returning false suppresses it (report only new findings).
  std::function<bool(const runtime::finding&)> filter;

  /// The match cache (the cache facility's persistent store, in the analyzer's state database):
  /// each package's matches keyed by name, architecture and origin, tagged with its version, the
  /// release, the default severity and `advisory_fingerprint`; and the advisory set's summary
  /// (its counts and problems). A package found there is not matched again, and a scan in which
  /// every package is found there never loads the advisory index at all. Null: no cache.
  storage::persistent_cache* match_cache = nullptr;
  /// What identifies the advisory source's content (vuln_analyzer: its files' sizes and mtimes);
  /// required with match_cache.
  std::string advisory_fingerprint;
  /// Gives the index when the scan needs it and run_vuln_scan was given none (the analyzer's
  /// reuse of the last one); unset: load_advisories(request).
  std::function<std::shared_ptr<const advisory_index>()> index_source;
};

struct vuln_scan_result {
  std::size_t packages = 0;   // installed packages read
  std::size_t scanned = 0;    // packages matched in this run (from resume_from)
  std::size_t findings = 0;   // vuln.package findings posted
  std::size_t advisories = 0; // advisories in the index
  std::size_t cached = 0;     // packages whose matches came from the match cache
  bool index_loaded = false;  // the advisory index was needed (and loaded, or reused)
  bool completed = false;     // reached the end (not stopped)
  std::string release;
};

/// Loads the advisory index `request.advisories` with the request's throttle budget. A shared
/// index lets a component reuse it between scans while the source has not changed.
std::shared_ptr<const advisory_index> load_advisories(const vuln_scan_request& request,
                                                      const std::atomic<bool>* stop = nullptr);

/// Runs the scan. `index` may be null (then loaded from request.advisories). Problems become
/// findings: vuln.advisories_missing (info: nothing to match against), vuln.no_dpkg_database
/// (info), vuln.malformed_status and vuln.malformed_advisory (low, with counts and examples),
/// vuln.advisories_truncated (medium: max_memory cut the advisory set short),
/// vuln.advisories_stale (medium: the data is older than max_age).
vuln_scan_result run_vuln_scan(const vuln_scan_request& request, finding_sink& sink,
                               std::shared_ptr<const advisory_index> index = nullptr);

} // namespace pg::actors::vuln
