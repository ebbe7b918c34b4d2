// SPDX-License-Identifier: Apache-2.0
// file_read.hpp — reading the small text files of /proc and /sys, where a file may vanish or be
// unreadable at any moment (a process exits, a permission is missing) and that is normal.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace pg::actors::host {

/// Reads at most `max_bytes` of `path`. On failure returns nullopt and stores errno in `*err`
/// (ENOENT/ESRCH for a vanished process, EACCES/EPERM for a missing privilege).
std::optional<std::string> read_file(const std::string& path, std::size_t max_bytes = 1 << 20,
                                     int* err = nullptr);

/// readlink(2) into a string; nullopt on failure (errno in `*err`).
std::optional<std::string> read_link(const std::string& path, int* err = nullptr);

/// True when `err` means "the thing is gone" (ENOENT, ESRCH): not an error for a scanner.
bool is_vanished(int err) noexcept;

/// True when `err` means "not allowed" (EACCES, EPERM).
bool is_denied(int err) noexcept;

} // namespace pg::actors::host
