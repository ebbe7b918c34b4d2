// SPDX-License-Identifier: Apache-2.0
// The pipeline graph: inputs, cycles, duplicates, unconnected sinks, all reported at once.
#include <catch2/catch.hpp>

#include "test_registry.hpp"

using namespace pg::runtime;
using namespace pg::test;

SCENARIO("inputs must name declared components") {
  THEN("an unknown input is reported at the string itself, with a suggestion when close") {
    CHECK(errors_of(R"([sources.procfs]
type = "ticker"
[sinks.out]
type = "store"
path = "/x"
inputs = ["procfx", "nothing"]
)") == lines{
           "t.toml:6:11: unknown input 'procfx' in [sinks.out]; did you mean 'procfs'?",
           "t.toml:6:21: unknown input 'nothing' in [sinks.out]",
       });
  }
  THEN("an input listed twice is reported") {
    CHECK(errors_of(R"([sources.a]
type = "ticker"
[sinks.out]
type = "store"
path = "/x"
inputs = ["a", "a"]
)") == lines{"t.toml:6:16: input 'a' is listed twice in [sinks.out]"});
  }
}

SCENARIO("sinks need inputs, sources take none, and a sink is never an input") {
  THEN("a sink without inputs is reported at its header, or at an empty inputs list") {
    CHECK(errors_of("[sinks.out]\ntype = \"store\"\npath = \"/x\"\n") ==
          lines{"t.toml:1:1: sink 'out' has no inputs: add inputs = [\"NAME\", ...] naming the "
                "sources, analyzers or detectors it delivers"});
    CHECK(errors_of("[sinks.out]\ntype = \"store\"\npath = \"/x\"\ninputs = []\n") ==
          lines{"t.toml:4:1: sink 'out' has no inputs: add inputs = [\"NAME\", ...] naming the "
                "sources, analyzers or detectors it delivers"});
  }
  THEN("a source with inputs is reported") {
    CHECK(errors_of(R"([sources.a]
type = "ticker"
[sources.b]
type = "ticker"
inputs = ["a"]
)") == lines{"t.toml:5:1: source 'b' cannot have inputs: sources collect on their own (declare "
             "it under [analyzers] to consume events)"});
  }
  THEN("a sink used as an input is reported") {
    CHECK(errors_of(R"([sources.a]
type = "ticker"
[sinks.s1]
type = "store"
path = "/x"
inputs = ["a"]
[sinks.s2]
type = "store"
path = "/y"
inputs = ["s1"]
)") == lines{"t.toml:10:11: input 's1' of [sinks.s2] is a sink: sinks deliver findings and emit "
             "no events"});
  }
  THEN("an analyzer without inputs is fine: it collects on its own tick") {
    const auto reg = make_registry();
    auto r = load_config_string("[analyzers.a]\ntype = \"counter\"\n[sinks.s]\ntype = \"store\"\n"
                                "path = \"/x\"\ninputs = [\"a\"]\n",
                                "t.toml", reg);
    CHECK(r.errors.empty());
    CHECK(r.ok());
  }
}

SCENARIO("component names are unique across all sections") {
  THEN("the second declaration is blamed and the first one named") {
    CHECK(errors_of(R"([sources.x]
type = "ticker"
[analyzers.x]
type = "counter"
)") == lines{"t.toml:3:12: duplicate component name 'x': [analyzers.x] and [sources.x] (line 1) "
             "need different names"});
  }
}

SCENARIO("cycles are named member by member") {
  THEN("a three-component cycle is reported once, at the input that closes it") {
    CHECK(errors_of(R"([sources.s]
type = "ticker"
[analyzers.a]
type = "counter"
inputs = ["s", "c"]
[analyzers.b]
type = "counter"
inputs = ["a"]
[analyzers.c]
type = "counter"
inputs = ["b"]
)") == lines{"t.toml:5:16: cycle in the pipeline: a -> b -> c -> a (remove one of these inputs)"});
  }
  THEN("a component that is its own input is a cycle") {
    CHECK(errors_of("[analyzers.a]\ntype = \"counter\"\ninputs = [\"a\"]\n") ==
          lines{"t.toml:3:11: cycle in the pipeline: a -> a (remove one of these inputs)"});
  }
  THEN("a diamond is not a cycle") {
    const auto reg = make_registry();
    auto r = load_config_string(R"([sources.s]
type = "ticker"
[analyzers.a]
type = "counter"
inputs = ["s"]
[analyzers.b]
type = "counter"
inputs = ["s"]
[sinks.out]
type = "store"
path = "/x"
inputs = ["a", "b"]
)",
                                "t.toml", reg);
    CHECK(r.ok());
  }
}

SCENARIO("every error of a broken config comes at once, in file order") {
  GIVEN("a config with a syntax-clean mix of mistakes") {
    THEN("each is reported with its position") {
      CHECK(errors_of(R"([engine]
log_levl = "info"

[sources.procfs]
type = "ticker"
count = 0

[analyzers.mem]
type = "countr"
inputs = ["procfs"]

[sinks.out]
type = "store"
inputs = ["procfs", "mem", "missing"]

[sinks.console]
type = "console"
format = "xml"
)") == lines{
           "t.toml:2:1: unknown key 'log_levl' in [engine]; did you mean 'log_level'?",
           "t.toml:6:9: 'count' in [sources.procfs] must be between 1 and 1000 (got 0)",
           "t.toml:9:8: unknown analyzer type 'countr' in [analyzers.mem]; did you mean "
           "'counter'? (known analyzer types: counter)",
           "t.toml:12:1: [sinks.out] is missing required key 'path'",
           "t.toml:14:28: unknown input 'missing' in [sinks.out]",
           "t.toml:16:1: sink 'console' has no inputs: add inputs = [\"NAME\", ...] naming "
           "the sources, analyzers or detectors it delivers",
           "t.toml:18:10: 'format' in [sinks.console] must be one of 'table', 'json', "
           "'jsonl' (got 'xml')",
       });
    }
  }
}

SCENARIO("disabled components stay in the config, flagged") {
  THEN("enabled = false is kept for the engine to skip") {
    const auto reg = make_registry();
    auto r = load_config_string(R"([sources.s]
type = "ticker"
enabled = false
[sinks.out]
type = "store"
path = "/x"
inputs = ["s"]
)",
                                "t.toml", reg);
    REQUIRE(r.ok());
    CHECK_FALSE(r.config->find("s")->enabled);
    CHECK(r.config->find("out")->enabled);
  }
}
