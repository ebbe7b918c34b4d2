// SPDX-License-Identifier: Apache-2.0
// file_record.hpp — the watched properties of one file system entry, as read from lstat(2),
// the extended attributes and (for regular files and symlinks) the SHA-256 of the content.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "phantomguard/actors/fim/attribute_set.hpp"

namespace pg::actors::fim {

struct file_record {
  std::string path;
  char type = '?'; // f regular, d directory, l symlink, c char dev, b block dev, p fifo, s socket
  std::uint32_t mode = 0; // permission bits including setuid/setgid/sticky (07777)
  std::uint64_t inode = 0;
  std::uint64_t dev = 0;
  std::uint64_t links = 0;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::int64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
  std::string xattrs; // "name=value;..." sorted by name, security.capability left out
  std::string caps;   // decoded security.capability ("" when none)
  std::string sha256; // hex; for a symlink the hash of its target; "" when not hashed

  /// The attribute's value as shown in findings ("0755", "root"-less numeric ids, ...).
  [[nodiscard]] std::string value_of(attribute a) const;

  /// True when nothing that a content change must touch differs (inode, device, size, mtime,
  /// ctime): the stored hash can be reused instead of reading the file again.
  [[nodiscard]] bool same_content_stamp(const file_record& other) const noexcept;
};

/// Fills everything but sha256 from lstat(2) and, when `want` has xattrs or caps, the extended
/// attributes. Returns false with `*err` = errno when the entry cannot be read (ENOENT when it
/// vanished, which callers treat as normal).
bool read_metadata(const std::string& path, attribute_set want, file_record& out, int* err);

/// Hashes a regular file (O_NOFOLLOW, O_NOATIME when permitted) or a symlink's target text into
/// `out.sha256`, using `buffer` as the read buffer. Returns the bytes read, or -1 with `*err`.
std::int64_t hash_content(file_record& out, std::vector<unsigned char>& buffer, int* err);

/// The attributes of `watched` whose values differ between `before` and `after`.
attribute_set changed_attributes(const file_record& before, const file_record& after,
                                 attribute_set watched);

} // namespace pg::actors::fim
