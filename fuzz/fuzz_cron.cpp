// SPDX-License-Identifier: Apache-2.0
// Cron expressions from a config file (`schedule = "..."`): parsed, and when accepted, the next
// firing times computed from a fixed instant. Invariant: the next time is after the start.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "phantomguard/runtime/cron.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error;
  auto expr = pg::runtime::parse_cron(text, &error);
  if (!expr)
    return 0;
  auto t = pg::runtime::wall_clock::time_point(std::chrono::seconds(1764547200)); // 2025-12-01
  for (int i = 0; i < 3; ++i) {
    auto next = pg::runtime::next_after(*expr, t);
    if (next <= t && next != pg::runtime::wall_clock::time_point::max())
      __builtin_trap();
    if (next == pg::runtime::wall_clock::time_point::max())
      break;
    t = next;
  }
  return 0;
}
