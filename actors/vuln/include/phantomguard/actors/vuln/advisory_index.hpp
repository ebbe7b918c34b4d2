// SPDX-License-Identifier: Apache-2.0
// advisory_index.hpp — OSV advisories loaded from a local directory or a .zip (no network), indexed
// by (ecosystem name, package name) for matching installed packages.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "phantomguard/actors/vuln/dpkg_database.hpp"
#include "phantomguard/actors/vuln/osv_advisory.hpp"
#include "phantomguard/runtime/component_threads.hpp"

namespace pg::actors::vuln {

struct advisory_load_options {
  std::size_t workers = 1;                       // threads parsing JSON
  std::uint64_t max_bytes = 512ull << 20;        // JSON text read in total; the rest is left out
  std::uint64_t max_file_bytes = 16ull << 20;    // larger files are parsed streaming from disk;
                                                 // larger zip members are malformed
  const std::atomic<bool>* stop = nullptr;       // checked between files
  runtime::component_threads* threads = nullptr; // the parsing threads; plain ones when null
};

struct advisory_load_stats {
  bool found = false;         // the path existed
  std::size_t files = 0;      // JSON files (or zip members) read
  std::size_t advisories = 0; // advisories kept
  std::size_t withdrawn = 0;
  std::size_t other_ecosystems = 0; // affected entries for ecosystems we do not match
  std::size_t not_affected = 0;     // tracker entries marked not affected (fixed in "0")
  std::size_t unknown_releases = 0; // tracker entries for release codenames we do not know
  std::uint64_t bytes = 0;
  bool truncated = false;                 // max_bytes was reached or a stop was requested
  std::vector<malformed_entry> malformed; // bad JSON, bad OSV structure, oversized files
  std::vector<std::string> errors;        // unreadable paths, broken archives
};

/// Which affected entry of which advisory names a package.
struct advisory_ref {
  std::uint32_t advisory = 0;
  std::uint32_t affected = 0;
};

class advisory_index {
public:
  /// Loads every *.json under `path` (a directory, recursively) or inside `path` (a .zip). A
  /// file holds one advisory object or an array of them. Never throws for bad input: malformed
  /// files and members are recorded in stats() and skipped.
  static advisory_index load(const std::string& path, const advisory_load_options& options = {});

  /// Adds advisories (tests and the benchmark build sets in memory).
  void add(osv_advisory adv);

  [[nodiscard]] const std::vector<osv_advisory>& advisories() const noexcept { return list_; }
  [[nodiscard]] const advisory_load_stats& stats() const noexcept { return stats_; }

  /// The affected entries naming `package` in ecosystem `ecosystem_name` ("Debian").
  [[nodiscard]] const std::vector<advisory_ref>& lookup(std::string_view ecosystem_name,
                                                        std::string_view package) const;

private:
  std::vector<osv_advisory> list_;
  std::unordered_map<std::string, std::vector<advisory_ref>> by_package_;
  advisory_load_stats stats_;
};

} // namespace pg::actors::vuln
