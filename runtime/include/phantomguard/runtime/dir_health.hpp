// SPDX-License-Identifier: Apache-2.0
// dir_health.hpp — whether a folder the engine writes to (state_dir, temp_dir) can still take
// writes: it exists, it is writable, and its file system has room. The supervisor checks each at
// its quota checks (every few seconds while running) and raises engine.state_dir_unusable when
// one stops being usable — it vanished (and is made again, mode 0700), turned read-only, or its
// file system fills below `min_free` — and engine.state_dir_recovered when it is usable again:
// components then fail their own writes (counted as theirs), but the operator learns why at once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pg::runtime {

struct dir_health {
  enum class status { ok, vanished, not_writable, full };
  status state = status::ok;
  std::uint64_t free_bytes = 0;  // for the unprivileged (f_bavail), when statvfs answered
  std::uint64_t total_bytes = 0; // the file system's size
  bool recreated = false;        // it had vanished and was made again
  std::string error;             // what the kernel said, when something failed

  [[nodiscard]] bool usable() const noexcept { return state == status::ok; }
};

std::string_view to_string(dir_health::status s) noexcept;

/// Checks `path`. A folder that does not exist is made again (with its parents, mode 0700) when
/// `recreate`: the state is gone, but what comes after can be kept. Full: less than `min_free`
/// bytes left for the unprivileged.
dir_health check_dir(const std::string& path, std::uint64_t min_free, bool recreate = true);

} // namespace pg::runtime
