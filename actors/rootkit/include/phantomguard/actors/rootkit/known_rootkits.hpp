// SPDX-License-Identifier: Apache-2.0
// known_rootkits.hpp — the data file of file and directory paths that well-known Linux rootkits
// leave behind (config/rootkits/known_files.toml; format in docs/analyzers/rootkit.md).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace pg::actors::rootkit {

struct known_rootkit {
  std::string name;
  std::vector<std::string> files; // absolute paths of files the rootkit installs
  std::vector<std::string> dirs;  // absolute paths of directories it creates
};

struct known_rootkit_list {
  std::vector<known_rootkit> rootkits;
  std::string origin; // the file it was read from
  std::string error;  // "FILE:LINE:COL: message" when the file could not be read or parsed
  [[nodiscard]] bool ok() const noexcept { return error.empty(); }
};

/// Reads and checks a known-rootkit data file. Never throws: a missing or malformed file comes
/// back with `error` set, and entries with a relative path are refused in `error` too.
known_rootkit_list load_known_rootkits(const std::string& path);

/// The file to use when the config names none: the first that exists of
/// /etc/phantomguard/rootkits/known_files.toml, /usr/share/phantomguard/rootkits/known_files.toml,
/// and config/rootkits/known_files.toml beside or above the running executable (a build tree).
std::optional<std::string> find_known_rootkit_file();

struct known_file_hit {
  std::string rootkit;
  std::string path;      // the path as listed
  std::string real_path; // root + path
  bool directory = false;
};

/// The listed paths that exist below `root` ("" or "/" for the host), checked with lstat.
std::vector<known_file_hit> find_known_files(const known_rootkit_list& list,
                                             const std::string& root = "");

} // namespace pg::actors::rootkit
