// SPDX-License-Identifier: Apache-2.0
// units.hpp — durations ("250ms", "5s", "10m", "1h", "2d") and sizes ("512", "64KiB", "1MB").
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pg::runtime {

using duration = std::chrono::nanoseconds;

/// Parses a duration with a unit: ns, us, ms, s, m, h, d; a decimal number is allowed ("1.5s").
/// nullopt when the text has no unit, an unknown unit, or is negative.
std::optional<duration> parse_duration(std::string_view text) noexcept;

/// Parses a size: a plain number of bytes or a number with B, KB, MB, GB (powers of 1000) or
/// KiB, MiB, GiB (powers of 1024); also K, M, G as powers of 1024. nullopt on anything else.
std::optional<std::uint64_t> parse_size(std::string_view text) noexcept;

/// "1.5s", "250ms", "10m": the shortest exact form for printing.
std::string format_duration(duration d);

/// "64MiB", "1.5KiB", "12B".
std::string format_size(std::uint64_t bytes);

} // namespace pg::runtime
