// SPDX-License-Identifier: Apache-2.0
// advisory_update.hpp — keeps a local advisory file current: a conditional HTTP(S) download
// (ETag / If-Modified-Since), bounded in size, verified (the server's MD5 when it sends one, an
// expected SHA-256 given or fetched from a checksum URL, and the content must load as advisories)
// and installed atomically beside the last good copy, which stays in place whenever anything
// fails. What was fetched, and when the source was last confirmed current, is kept in
// `<output>.meta.json`; the scan's staleness check (`max_age`) reads it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "phantomguard/runtime/finding.hpp"

namespace pg::actors::vuln {

/// The default source: the OSV project's export of Debian's advisories (DSA, DLA, DTSA and the
/// security tracker's per-CVE records).
inline constexpr const char* default_advisory_url =
    "https://osv-vulnerabilities.storage.googleapis.com/Debian/all.zip";

struct advisory_update_request {
  std::string url = default_advisory_url;
  std::string output;                   // the advisory file to keep current (.zip or .json)
  std::uint64_t max_bytes = 1ull << 30; // a larger download is refused
  std::string sha256;                   // the expected SHA-256 (hex); empty: none given
  std::string checksum_url;             // a file naming the SHA-256 (sha256sum format); empty: none
  std::chrono::seconds timeout{300};
  std::string ca_file; // extra CA bundle for https; empty: the system's
  bool force = false;  // ignore the stored ETag / Last-Modified
};

struct advisory_update_result {
  enum class outcome { updated, not_modified, failed };
  outcome result = outcome::failed;
  std::string error; // why it failed (the old copy is kept)
  int http_status = 0;
  std::uint64_t bytes = 0;
  std::string sha256;
  std::size_t advisories = 0; // in the new file
  bool md5_checked = false;   // the server sent a Content-MD5 / x-goog-hash and it matched
  bool sha256_checked = false;
};

/// What the last update stored beside the file.
struct advisory_source_meta {
  std::string url;
  std::string etag;
  std::string last_modified;
  std::string sha256;
  std::uint64_t size = 0;
  std::size_t advisories = 0;
  runtime::wall_clock::time_point fetched_at{}; // when this content was downloaded
  runtime::wall_clock::time_point
      checked_at{}; // when the source last confirmed it current (200 or 304)
};

/// Downloads and installs; never throws. Serialised by a lock file beside the output: a second
/// update of the same file at the same time fails with "another update is running".
advisory_update_result update_advisories(const advisory_update_request& request);

/// The meta record of `output`, nullopt when absent, unreadable, of the wrong types, or holding
/// control characters in the validators it would send back (etag, last_modified).
std::optional<advisory_source_meta> read_advisory_meta(const std::string& output);

/// The SHA-256 (lower-case hex) a checksum file names for the download at `url`: a bare digest,
/// or sha256sum lines, where the line naming the downloaded file's name wins over the first one;
/// nullopt when it names none.
std::optional<std::string> expected_from_checksum_file(const std::string& text,
                                                       const std::string& url);

/// When the advisory data at `path` was last known current: the update record's checked_at when
/// it describes the file in place, else the file's (or folder's) modification time; nullopt when
/// the path does not exist. `from` says which ("update record" or "file mtime").
std::optional<runtime::wall_clock::time_point> advisories_confirmed_at(const std::string& path,
                                                                       std::string* from = nullptr);

/// A `vuln.advisories_stale` finding when the data at `path` is older than `max_age`
/// (zero disables), nullopt otherwise.
std::optional<runtime::finding> staleness_finding(const std::string& path,
                                                  std::chrono::seconds max_age,
                                                  runtime::wall_clock::time_point now);

} // namespace pg::actors::vuln
