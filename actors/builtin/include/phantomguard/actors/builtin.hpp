// SPDX-License-Identifier: Apache-2.0
// builtin.hpp — registers every built-in component type with the registry.
#pragma once

#include <array>
#include <span>

#include "phantomguard/runtime/registry.hpp"

namespace pg::actors {

/// A family the build may leave out (CMake option PG_FAMILY_<NAME>, docs/build.md): its name,
/// whether this binary has it, and the component types and commands it registers (unused slots
/// null). sink (console, jsonl, syslog, http) is always built.
struct family_names {
  const char* family;
  bool built;
  std::array<const char*, 4> names;
};
std::span<const family_names> optional_families() noexcept;

/// Registers all built-in sources, analyzers and sinks. Idempotent.
void register_builtin(runtime::registry& reg = runtime::registry::instance());

} // namespace pg::actors
