// SPDX-License-Identifier: Apache-2.0
// Advisory files as a mirror (or a man in the middle of a plain-http mirror) serves them, through
// the loader the scanner uses: the bytes as a .json file, loaded whole and streaming (the path of
// the tracker's export and large OSV arrays), and as a .zip (libarchive's zip reader, member
// limits). The first byte picks the form. Invariant: every advisory kept has an id, and every
// entry a package name.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

#include "fuzz_scratch.hpp"
#include "phantomguard/actors/vuln/advisory_index.hpp"

using namespace pg::actors::vuln;

namespace {

const std::string& work_dir() {
  static const std::string dir = fuzz_scratch("advisories");
  return dir;
}

void check(const advisory_index& idx) {
  for (const auto& a : idx.advisories()) {
    if (a.id.empty())
      __builtin_trap();
    for (const auto& e : a.affected)
      if (e.package.empty())
        __builtin_trap();
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0)
    return 0;
  const int form = data[0] % 3;
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::string path = work_dir() + (form == 2 ? "/input.zip" : "/input.json");
  std::ofstream(path, std::ios::binary | std::ios::trunc) << body;
  advisory_load_options options;
  options.max_bytes = 64u << 20;
  if (form == 1)
    options.max_file_bytes = 16; // every input goes the streaming way
  auto idx = advisory_index::load(path, options);
  check(idx);
  return 0;
}
