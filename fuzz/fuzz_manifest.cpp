// SPDX-License-Identifier: Apache-2.0
// A plugin file as a third party ships it, read without running any of its code: input that
// starts like an ELF goes through the note reader (`plugins info` / `list`: ELF headers, section
// and note walk, the manifest JSON inside), anything else is parsed as manifest JSON against this
// engine's ABI. Invariants: an accepted manifest has a reverse-DNS id; a refusal says why.
// scripts/run-fuzzers adds the plugins of a regular build as seeds.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>

#include "fuzz_scratch.hpp"
#include "phantomguard/runtime/plugin_loader.hpp"
#include "phantomguard/runtime/plugin_manifest.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error;
  std::optional<pg::runtime::plugin_manifest> m;
  if (text.rfind("\x7f"
                 "ELF",
                 0) == 0) {
    static const std::string path = fuzz_scratch("plugin") + "/plugin.so";
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(text.data(), static_cast<std::streamsize>(text.size()));
    m = pg::runtime::read_plugin_manifest(path, &error);
  } else {
    (void)pg::runtime::is_reverse_dns_id(text);
    m = pg::runtime::parse_plugin_manifest(text, 1, 1, &error);
  }
  if (m && !pg::runtime::is_reverse_dns_id(m->id))
    __builtin_trap();
  if (!m && error.empty())
    __builtin_trap(); // a refusal always says why
  return 0;
}
