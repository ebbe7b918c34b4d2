// SPDX-License-Identifier: Apache-2.0
// package_integrity.hpp — the `package_integrity` analyzer: every installed file against dpkg's
// own checksums (/var/lib/dpkg/info/*.md5sums), as Debian's `debsums` does, so a replaced system
// binary is found without any baseline of our own.
//
//   fim.package_changed  a file's MD5 differs from what its package installed (high)
//   fim.package_missing  a file its package installed is gone (medium)
//
// Conffiles are not in the md5sums files (dpkg keeps their sums in the status database, and an
// operator edits them): they are the FIM baseline's business. A file another package diverted
// (dpkg-divert) is checked where the diversion moved it; the diverting package's own file stays
// at the original path. A file is hashed again only when its stamp
// (inode, size, mtime, ctime) changed since the last pass. Reads run at the throttled priority
// (nice, idle I/O), package by package, and stop when the engine asks.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "phantomguard/runtime/component.hpp"
#include "phantomguard/runtime/registry.hpp"

namespace pg::actors::fim {

/// One line of an md5sums file: "<32 hex>  <path without its leading slash>".
struct package_sum {
  std::string md5;
  std::string path; // absolute
};

/// Parses an md5sums file's text; malformed lines are counted in `*bad` and skipped.
std::vector<package_sum> parse_md5sums(const std::string& text, std::size_t* bad = nullptr);

/// One dpkg diversion: `from` moved to `to` by package `by`.
struct diversion {
  std::string to;
  std::string by;
};
/// dpkg's diversions file (triplets of lines: from, to, diverting package), by `from`.
std::map<std::string, diversion> parse_diversions(const std::string& text);

/// The MD5 of a file as 32 hex digits; nullopt (errno set) when it cannot be read.
std::optional<std::string> md5_file(const std::string& path);

class package_integrity_analyzer final : public runtime::component {
public:
  struct options {
    std::string root = "/";            // a mounted image's root works too
    std::vector<std::string> packages; // empty: every package
  };
  static runtime::component_type type();
  explicit package_integrity_analyzer(options o) : opts_(std::move(o)) {}
  void on_tick(runtime::context& ctx) override;

private:
  struct stamp {
    std::uint64_t ino = 0, dev = 0;
    std::int64_t size = 0, mtime_ns = 0, ctime_ns = 0;
    std::string md5;
    bool operator==(const stamp& o) const {
      return ino == o.ino && dev == o.dev && size == o.size && mtime_ns == o.mtime_ns &&
             ctime_ns == o.ctime_ns;
    }
  };
  options opts_;
  std::unordered_map<std::string, stamp> verified_; // path -> the stamp its MD5 was taken at
};

} // namespace pg::actors::fim
