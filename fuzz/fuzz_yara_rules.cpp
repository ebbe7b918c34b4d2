// SPDX-License-Identifier: Apache-2.0
// A YARA rule file as an operator (or whoever can write the rules folder) gives it: compiled
// through the loader's error path (each file alone, then together, the culprit dropped), with
// the result cache off. Invariant: a set that compiled reports no error for the same file, and
// a file that did not compile is named in an error.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

#include "fuzz_scratch.hpp"
#include "phantomguard/actors/yara/compiled_rules.hpp"

using namespace pg::actors::yara;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string dir = fuzz_scratch("yara");
  const std::string file = dir + "/rules.yar";
  // No includes of other files: the fuzzer must not make libyara read the file system.
  std::string text(reinterpret_cast<const char*>(data), size);
  if (text.find("include") != std::string::npos)
    return 0;
  std::ofstream(file, std::ios::binary | std::ios::trunc) << text;
  auto set = load_ruleset({file});
  if (set.rules && !set.errors.empty())
    __builtin_trap();
  if (!set.rules && set.errors.empty())
    __builtin_trap();
  return 0;
}
