// SPDX-License-Identifier: Apache-2.0
// The delivery spool reopening whatever a crash (or a hostile writer of the state dir) left:
// the input becomes a segment file and an ack file; reopening must count what it cannot read,
// keep only whole records, and serve them.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz_scratch.hpp"
#include "phantomguard/actors/sink/delivery_spool.hpp"

using namespace pg::actors::sink;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string dir = fuzz_scratch("spool");
  const auto spool = dir + "/spool";
  std::filesystem::remove_all(spool);
  std::filesystem::create_directories(spool);
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  // The first line (up to 32 bytes) is the ack file, the rest the first segment.
  const auto nl = bytes.find('\n');
  const auto ack = nl != std::string::npos && nl < 32 ? bytes.substr(0, nl) : std::string("1 0");
  std::ofstream(spool + "/ack") << ack << "\n";
  std::ofstream(spool + "/0000000000000001.seg", std::ios::binary)
      << (nl != std::string::npos && nl < 32 ? bytes.substr(nl + 1) : bytes);
  delivery_spool::settings s;
  s.dir = spool;
  s.fsync = fsync_policy::never;
  s.max_bytes = 1 << 20;
  try {
    delivery_spool sp(s);
    auto all = sp.peek(1000, 1 << 20);
    if (all.size() > sp.records())
      __builtin_trap();
    std::uint64_t dropped = 0;
    sp.append("after", dropped);
    sp.ack(sp.records());
  } catch (const std::runtime_error&) {
    // a folder it cannot use: said, not crashed
  }
  return 0;
}
