// SPDX-License-Identifier: Apache-2.0
// build_families.hpp — the component families this binary was built without. An appliance build
// leaves families out with the CMake options PG_FAMILY_<NAME>=OFF (docs/build.md); the families
// still name their component types and commands here, so that a config or a command line that
// uses one is told it is not in this build and by which option, rather than "unknown type".
// Filled by pg::actors::register_builtin() before anything is looked up.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pg::runtime {

/// Records that `name`, a component type or a command, belongs to `family`, which this binary
/// was built without.
void add_left_out(std::string name, std::string family);

/// The family `name` belongs to when that family was left out of this build; nullopt otherwise.
std::optional<std::string> left_out_family(std::string_view name);

/// The families left out, sorted, once each.
std::vector<std::string> left_out_families();

/// "'yara' is not in this build: it belongs to the yara family, which this binary was built
/// without (CMake option PG_FAMILY_YARA=OFF, docs/build.md)".
std::string left_out_message(std::string_view name, const std::string& family);

} // namespace pg::runtime
