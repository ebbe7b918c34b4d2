// SPDX-License-Identifier: Apache-2.0
// The kernel sensor's ring-buffer records as kernel_events decodes them: a record of any kind,
// cut at any length, with any bytes in its fields (strings without their NUL, counts larger than
// their arrays) is decoded within its bounds or refused, never read past.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "phantomguard/actors/realtime/kernel_events_source.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static pg::actors::realtime::kernel_events_source source(
      pg::actors::realtime::kernel_events_settings{});
  if (size == 0)
    return 0;
  // The first byte picks the kind (the fuzzer finds each one at once); the rest is the record,
  // in a buffer of exactly its length so that ASan sees any read past it.
  std::vector<std::uint8_t> record(data + 1, data + size);
  if (record.size() >= 4) {
    std::uint32_t kind = data[0] % 20;
    std::memcpy(record.data(), &kind, sizeof kind);
  }
  pg::runtime::event e;
  source.convert(record.data(), record.size(), e);
  return 0;
}
