// SPDX-License-Identifier: Apache-2.0
// root_file.hpp — reading files of a root file system that may be hostile (an extracted container
// image): paths resolve inside the root (openat2 RESOLVE_IN_ROOT: an absolute symlink such as
// etc/os-release -> /usr/lib/os-release stays in the image, `..` cannot climb out), only regular
// files are read, and reads are bounded.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace pg::actors::vuln {

/// The owned descriptor of `rel` opened inside `root` (read-only), or -1 with errno in `*err`.
/// For root "/" this is a plain open.
int open_in_root(const std::string& root, const std::string& rel, int flags, int* err = nullptr);

/// Reads at most `max_bytes` of the regular file `rel` inside `root`. nullopt (errno in `*err`:
/// ENOENT, EISDIR/EINVAL for a non-regular file, EFBIG when larger than `max_bytes`) on failure.
std::optional<std::string> read_in_root(const std::string& root, const std::string& rel,
                                        std::size_t max_bytes, int* err = nullptr);

/// The names of the regular files in directory `rel` inside `root`, sorted; nullopt when the
/// directory does not exist or cannot be read (errno in `*err`).
std::optional<std::vector<std::string>>
list_files_in_root(const std::string& root, const std::string& rel, int* err = nullptr);

} // namespace pg::actors::vuln
