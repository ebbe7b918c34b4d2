// SPDX-License-Identifier: Apache-2.0
// The config loader on arbitrary text: TOML parsing, every section's checks, units, cron,
// alerts and the [api] table. It must answer with diagnostics, never crash or hang.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "phantomguard/runtime/config.hpp"
#include "phantomguard/runtime/cron.hpp"
#include "phantomguard/runtime/units.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = pg::runtime::load_config_string(text, "fuzz.toml");
  (void)r;
  // The value parsers the loader uses, on the raw text too.
  (void)pg::runtime::parse_duration(text);
  (void)pg::runtime::parse_size(text);
  return 0;
}
