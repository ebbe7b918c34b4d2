// SPDX-License-Identifier: Apache-2.0
// fuzz_scratch.hpp — a scratch folder for the targets that must hand their input to a reader of
// files (the advisory loader, the plugin note reader, libarchive, libyara). It lies under
// $PG_FUZZ_SCRATCH (scripts/run-fuzzers points it into the fuzz build tree and empties it after
// each target) or /tmp, and is removed when the fuzzer exits: mutated plugins and rule files
// must not be left where the engine's own yara analyzer scans.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

inline std::string fuzz_scratch(const char* tag) {
  static std::string dir;
  if (!dir.empty())
    return dir;
  const char* base = std::getenv("PG_FUZZ_SCRATCH");
  std::filesystem::path parent = base && *base ? base : "/tmp";
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  std::string tmpl = (parent / (std::string("pg-fuzz-") + tag + "-XXXXXX")).string();
  dir = ::mkdtemp(tmpl.data()) ? tmpl : std::string(parent);
  std::atexit([] {
    std::error_code e;
    std::filesystem::remove_all(dir, e);
  });
  return dir;
}
