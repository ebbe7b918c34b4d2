// SPDX-License-Identifier: Apache-2.0
// test_reload_plan.cpp — what a reload would do, planned without actors: what it stops and
// starts, and why it is refused before anything running is touched.
#include <catch2/catch.hpp>

#include "engine/reload_plan.hpp"
#include "test_components.hpp"

using namespace pg::runtime;
using namespace pg::runtime::detail;
using namespace pg::test;

TEST_CASE("a reload plan names what changes and refuses what could not start",
          "[reload][policy]") {
  register_test_components();
  auto cfg = base_config();
  cfg.components.push_back(decl("gen", component_kind::source, "generator"));
  cfg.components.push_back(decl("keep", component_kind::sink, "collector", {"gen"}));
  cfg.components.push_back(decl("drop", component_kind::sink, "collector", {"gen"}));
  std::map<std::string, const component_decl*> running;
  for (const auto& d : cfg.components)
    running.emplace(d.name, &d);
  const auto& reg = registry::instance();

  SECTION("a changed, a removed and an added component") {
    auto next = cfg;
    next.components.pop_back();
    next.components[1].settings = component_settings(toml::table{{"sleep_us", 5}});
    next.components.push_back(decl("new", component_kind::sink, "collector", {"gen"}));
    auto plan = plan_reload(running, next, reg);
    CHECK(plan.errors.empty());
    CHECK(plan.changed == std::set<std::string>{"keep", "drop"});
    CHECK(plan.added == std::set<std::string>{"new"});
    CHECK(plan.order == std::vector<std::string>{"gen", "keep", "new"});
  }
  SECTION("an unknown type, an unknown input and a cycle") {
    auto next = cfg;
    next.components.push_back(decl("ghost", component_kind::sink, "no_such_sink", {"gen"}));
    next.components.push_back(decl("lost", component_kind::sink, "collector", {"nowhere"}));
    next.components.push_back(decl("a", component_kind::analyzer, "passthrough", {"b"}));
    next.components.push_back(decl("b", component_kind::analyzer, "passthrough", {"a"}));
    auto plan = plan_reload(running, next, reg);
    std::vector<std::string> messages;
    for (const auto& e : plan.errors)
      messages.push_back(e.message);
    CHECK(messages == std::vector<std::string>{
                          "unknown sink type 'no_such_sink' for component 'ghost'",
                          "component 'lost' has unknown input 'nowhere'",
                          "component 'a' is part of a cycle"}); // one report per cycle
  }
  SECTION("a new component whose factory refuses") {
    auto next = cfg;
    next.components.push_back(decl("picky", component_kind::sink, "collector", {"gen"},
                                   toml::table{{"fail_factory", "refuse"}}));
    auto plan = plan_reload(running, next, reg);
    REQUIRE(plan.errors.size() == 1);
    CHECK(plan.errors[0].message == "[sinks.picky] would not start: factory of picky refused");
  }
  SECTION("the same config plans nothing") {
    auto plan = plan_reload(running, cfg, reg);
    CHECK(plan.errors.empty());
    CHECK(plan.changed.empty());
    CHECK(plan.added.empty());
  }
}
