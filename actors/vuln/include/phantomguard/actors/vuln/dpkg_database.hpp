// SPDX-License-Identifier: Apache-2.0
// dpkg_database.hpp — the installed packages of a Debian root file system, read from the dpkg
// status database (ROOT/var/lib/dpkg/status) and from ROOT/var/lib/dpkg/status.d/* (one file per
// package, as distroless images ship them).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace pg::actors::vuln {

struct installed_package {
  std::string name;
  std::string version;
  std::string architecture;
  std::string source_name;    // the Source: field's name, or `name` when the field is absent
  std::string source_version; // the "(version)" of Source:, or `version` when absent
  std::string status;         // the Status: field ("install ok installed"); empty in status.d
  std::string origin;         // the file the entry came from
};

/// One entry that could not be used, with where it was and why.
struct malformed_entry {
  std::string origin;   // file path
  std::size_t line = 0; // first line of the paragraph (1-based)
  std::string reason;
};

struct dpkg_database {
  std::vector<installed_package> packages;
  std::vector<malformed_entry> malformed;
  std::size_t not_installed = 0;        // paragraphs whose Status says the package is not installed
  std::vector<std::string> read_errors; // files that exist but could not be read
  bool found = false;                   // a status file or a status.d folder existed
};

/// Parses the text of one status file into `db` (appends). Paragraphs are separated by blank
/// lines; continuation lines start with a space or tab. An entry without Package or Version, with
/// an invalid version, or with a line that is neither a field nor a continuation, is recorded in
/// `db.malformed` and skipped. With `require_status`, entries whose Status is not one of
/// installed / half-configured / unpacked / triggers-* are skipped (counted in not_installed);
/// status.d entries usually carry no Status at all.
void parse_dpkg_status(std::string_view text, const std::string& origin, bool require_status,
                       dpkg_database& db);

/// Reads ROOT/var/lib/dpkg/status and ROOT/var/lib/dpkg/status.d/* (files ending in .md5sums are
/// skipped). Never throws for missing or unreadable files: they are recorded in the result.
dpkg_database read_dpkg_database(const std::string& root);

/// Splits a Source: field value: "glibc" → {"glibc", ""}, "glibc (2.36-9)" → {"glibc", "2.36-9"}.
std::pair<std::string, std::string> split_source_field(std::string_view value);

} // namespace pg::actors::vuln
