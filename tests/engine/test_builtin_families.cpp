// SPDX-License-Identifier: Apache-2.0
// The table of families a build may leave out (actors/builtin) names exactly what each family
// registers: in this build, which has every family, each name is a registered type or command,
// and every registered type but the sinks' belongs to one family. A type added to a family
// without its name in the table would be "unknown" rather than "left out" in a reduced build.
#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "phantomguard/actors/builtin.hpp"
#include "phantomguard/runtime/build_families.hpp"

using namespace pg::runtime;

TEST_CASE("the optional families' table matches what the families register", "[families]") {
  auto& reg = registry::instance();
  pg::actors::register_builtin(reg);
  std::set<std::string> in_table;
  for (const auto& f : pg::actors::optional_families()) {
    INFO(f.family);
    CHECK(f.built); // the suite's build has every family
    for (const char* name : f.names) {
      if (name == nullptr)
        continue;
      in_table.insert(name);
      bool registered = reg.find_command(name) != nullptr;
      for (auto kind : {component_kind::source, component_kind::analyzer, component_kind::sink})
        registered = registered || reg.find(kind, name) != nullptr;
      CHECK(registered);
      CHECK_FALSE(left_out_family(name)); // nothing is left out here
    }
  }
  for (auto kind : {component_kind::source, component_kind::analyzer}) {
    for (const auto* t : reg.list(kind)) {
      INFO(t->name);
      CHECK(in_table.count(t->name) == 1);
    }
  }
  for (const auto* c : reg.commands()) {
    INFO(c->name);
    if (c->name != "plugins" && c->name != "plugin")
      CHECK(in_table.count(c->name) == 1);
  }
  CHECK(left_out_families().empty());
}
