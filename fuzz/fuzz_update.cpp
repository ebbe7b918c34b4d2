// SPDX-License-Identifier: Apache-2.0
// What `phantomguard vuln update` reads back that others can write: the checksum file a mirror
// serves (first byte 'c': the rest is the file, for a download named all.zip) and the meta record
// kept beside the advisories (anything else: the rest is <file>.meta.json), whose validators go
// back out as request headers.
// Invariants: a digest taken from a checksum file is 64 lower-case hex digits; an accepted meta
// record holds no control character in etag or last_modified.
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

#include "fuzz_scratch.hpp"
#include "phantomguard/actors/vuln/advisory_update.hpp"

using namespace pg::actors::vuln;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string dir = fuzz_scratch("update");
  if (size == 0)
    return 0;
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] == 'c') {
    auto digest = expected_from_checksum_file(rest, "https://mirror.example/osv/Debian/all.zip");
    if (digest) {
      if (digest->size() != 64)
        __builtin_trap();
      for (char c : *digest)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
          __builtin_trap();
    }
    return 0;
  }
  const std::string output = dir + "/debian.zip";
  std::ofstream(output + ".meta.json", std::ios::binary | std::ios::trunc) << rest;
  if (auto meta = read_advisory_meta(output))
    for (const auto* v : {&meta->etag, &meta->last_modified})
      for (unsigned char c : *v)
        if (c < 0x20 || c == 0x7f)
          __builtin_trap();
  std::string from;
  (void)advisories_confirmed_at(output, &from);
  return 0;
}
