// SPDX-License-Identifier: Apache-2.0
// taint_flags.hpp — /proc/sys/kernel/tainted decoded into the kernel's flag letters
// (Documentation/admin-guide/tainted-kernels.rst). A rootkit module is typically out of tree and
// unsigned (O, E) and may have been force-loaded (F).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "phantomguard/runtime/finding.hpp"

namespace pg::actors::rootkit {

struct taint_flag {
  unsigned bit = 0;
  char letter = '?';
  std::string_view meaning;
  runtime::severity level = runtime::severity::info; // what the flag alone is worth
};

/// The flags set in `value`, lowest bit first. Unknown bits come back with letter '?'.
std::vector<taint_flag> decode_taint(std::uint64_t value);

/// The kernel's own one-letter-per-bit string for the known bits ("P" for 1, "OE" for 12288).
std::string taint_letters(const std::vector<taint_flag>& flags);

/// Parses the decimal contents of /proc/sys/kernel/tainted; nullopt when malformed.
std::optional<std::uint64_t> parse_taint(std::string_view text);

} // namespace pg::actors::rootkit
