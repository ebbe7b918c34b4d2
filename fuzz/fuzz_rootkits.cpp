// SPDX-License-Identifier: Apache-2.0
// The known-rootkit data file (TOML shipped with the engine, replaceable by the operator):
// loaded from a file holding the input; a broken file is an error text, never a crash.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

#include "fuzz_scratch.hpp"
#include "phantomguard/actors/rootkit/known_rootkits.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = fuzz_scratch("rootkits") + "/known_files.toml";
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  auto list = pg::actors::rootkit::load_known_rootkits(path);
  (void)list;
  return 0;
}
