// SPDX-License-Identifier: Apache-2.0
// An image layer as a registry (or an attacker who pushed an image) serves it: the tar (plain or
// gzip) unpacked by the container family's extractor into a scratch folder, with small limits.
// Invariant: nothing is written outside the target (every path it made is below it).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz_scratch.hpp"
#include "phantomguard/actors/container/layer_extractor.hpp"

using namespace pg::actors::container;
namespace fs = std::filesystem;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string dir = fuzz_scratch("layer");
  const std::string archive = dir + "/layer.tar";
  const std::string target = dir + "/root";
  const std::string outside = dir + "/outside";
  std::error_code ec;
  fs::remove_all(target, ec);
  fs::remove_all(outside, ec);
  fs::create_directories(target);
  std::ofstream(archive, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  extract_limits limits;
  limits.max_total_bytes = 1 << 20;
  limits.max_file_bytes = 256 << 10;
  limits.max_entries = 256;
  extract_stats stats;
  (void)extract_layer(archive, target, limits, stats);
  // Only the archive, the target and nothing else may exist in the scratch folder.
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    auto name = e.path().filename().string();
    if (name != "layer.tar" && name != "root")
      __builtin_trap();
  }
  return 0;
}
