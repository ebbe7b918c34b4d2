// SPDX-License-Identifier: Apache-2.0
// layer_extractor.hpp — unpacking image layers (tar, optionally gzip/zstd/xz compressed) into a
// folder without trusting them: every path is resolved component by component below the target
// with O_NOFOLLOW (no `..`, no absolute paths, never writing through a symlink, even one the same
// layer just created), device nodes are not created, and the total size, per-file size and entry
// count are bounded. OCI whiteouts (.wh.NAME, .wh..wh..opq) remove what lower layers added.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pg::actors::container {

struct extract_limits {
  std::uint64_t max_total_bytes = 4ull << 30; // all layers of an image together
  std::uint64_t max_file_bytes = 1ull << 30;
  std::size_t max_entries = 1'000'000;
};

struct extract_stats {
  std::size_t entries = 0;
  std::uint64_t bytes = 0;
  std::size_t unsafe_paths = 0;  // `..`, through a symlink, ...: skipped
  std::size_t special_files = 0; // devices and fifos: skipped
  std::size_t whiteouts = 0;
  bool limit_reached = false;               // extraction stopped at a limit
  std::vector<std::string> unsafe_examples; // the first few rejected paths
  std::vector<std::string> errors;
};

/// Extracts the tar stream in `archive_path` into the existing folder `target`, on top of what
/// earlier layers left there. `stats` accumulates across layers (the limits apply to the sum).
/// Returns false when the archive could not be read or a limit stopped it (see stats).
bool extract_layer(const std::string& archive_path, const std::string& target,
                   const extract_limits& limits, extract_stats& stats);

} // namespace pg::actors::container
