// SPDX-License-Identifier: Apache-2.0
// [supervisors.NAME]: a supervision tree in the config, checked like the rest — unknown parents
// and supervisors with a suggestion, cycles named, 'root' reserved — and drawn by `graph`.
// Names of components and supervisors are at most 64 characters.
#include <catch2/catch.hpp>

#include "test_registry.hpp"

using namespace pg::runtime;
using namespace pg::test;
using namespace std::chrono_literals;

namespace {

const char* tree_config = R"([supervisors.collectors]
strategy = "one_for_all"
max_restarts = 3
period = "30s"

[supervisors.inner]
parent = "collectors"

[sources.tick]
type = "ticker"
supervisor = "collectors"

[sources.tock]
type = "ticker"
supervisor = "inner"

[sinks.out]
type = "store"
path = "/x"
inputs = ["tick", "tock"]
)";

} // namespace

SCENARIO("a supervision tree loads with its strategies, intensities and members") {
  const auto reg = make_registry();
  auto r = load_config_string(tree_config, "t.toml", reg);
  for (const auto& e : r.errors)
    UNSCOPED_INFO(e.message);
  REQUIRE(r.ok());
  const auto& cfg = *r.config;
  REQUIRE(cfg.supervisors.size() == 2);
  CHECK(cfg.supervisors[0].name == "collectors");
  CHECK(cfg.supervisors[0].strategy == restart_strategy::one_for_all);
  CHECK(cfg.supervisors[0].max_restarts == 3);
  CHECK(cfg.supervisors[0].period == duration(30s));
  CHECK(cfg.supervisors[0].parent.empty()); // the root
  CHECK(cfg.supervisors[1].name == "inner");
  CHECK(cfg.supervisors[1].parent == "collectors");
  CHECK(cfg.find("tick")->supervisor == "collectors");
  CHECK(cfg.find("tock")->supervisor == "inner");
  CHECK(cfg.find("out")->supervisor.empty());

  auto dot = to_dot(cfg);
  INFO(dot);
  // Nested clusters: inner inside collectors, each with its members.
  auto outer = dot.find("subgraph \"cluster_supervisor_collectors\"");
  auto inner = dot.find("subgraph \"cluster_supervisor_inner\"");
  REQUIRE(outer != std::string::npos);
  REQUIRE(inner != std::string::npos);
  CHECK(outer < dot.find("\"tick\" [shape=box"));
  CHECK(dot.find("\"tick\" [shape=box") < inner);
  CHECK(inner < dot.find("\"tock\" [shape=box"));
  CHECK(dot.find("label=\"supervisor collectors\\none_for_all, 3 restarts / 30s\"") !=
        std::string::npos);
  CHECK(dot.find("cluster_sources") == std::string::npos); // no source left under the root
  CHECK(dot.find("cluster_sinks") != std::string::npos);
}

SCENARIO("mistakes in the supervision tree are errors at their position") {
  CHECK(errors_of(R"([supervisors.a]
parent = "colectors"
[supervisors.collectors]
[sources.tick]
type = "ticker"
supervisor = "colectors"
[sinks.out]
type = "store"
path = "/x"
inputs = ["tick"]
)") == lines{"t.toml:2:10: unknown parent 'colectors' of [supervisors.a]; did you mean "
              "'collectors'?",
              "t.toml:6:14: unknown supervisor 'colectors' of [sources.tick]; did you mean "
              "'collectors'? (declare it as [supervisors.colectors])"});
  CHECK(errors_of(R"([supervisors.a]
parent = "b"
[supervisors.b]
parent = "a"
[sources.tick]
type = "ticker"
[sinks.out]
type = "store"
path = "/x"
inputs = ["tick"]
)") == lines{"t.toml:2:10: cycle of supervisors: a -> b -> a (one of them needs another "
              "parent, or none: the root)",
              "t.toml:4:10: cycle of supervisors: b -> a -> b (one of them needs another "
              "parent, or none: the root)"});
  CHECK(errors_of(R"([supervisors.root]
strategy = "one_for_some"
[sources.tick]
type = "ticker"
[sinks.out]
type = "store"
path = "/x"
inputs = ["tick"]
)") == lines{"t.toml:1:14: 'root' is the engine's own supervisor (its strategy and intensity "
              "are [engine] strategy, max_restarts and restart_period): pick another name",
              "t.toml:2:12: 'strategy' in [supervisors.root] must be one of 'one_for_one', "
              "'one_for_all', 'rest_for_one' (got 'one_for_some'); did you mean 'one_for_one'?"});
  CHECK(errors_of(R"([supervisors.s]
max_restart = 3
[sources.tick]
type = "ticker"
[sinks.out]
type = "store"
path = "/x"
inputs = ["tick"]
)") == lines{"t.toml:2:1: unknown key 'max_restart' in [supervisors.s]; did you mean "
              "'max_restarts'?"});
  CHECK(errors_of("supervisors = 3\n[sources.tick]\ntype = \"ticker\"\n[sinks.out]\n"
                  "type = \"store\"\npath = \"/x\"\ninputs = [\"tick\"]\n") ==
        lines{"t.toml:1:15: 'supervisors' must be a table of [supervisors.NAME] tables, not an "
              "integer"});
}

SCENARIO("names are at most 64 characters") {
  const std::string long_name(100000, 'a');
  auto errs = errors_of("[sources." + long_name + "]\ntype = \"ticker\"\n[sinks.out]\ntype = " +
                        "\"store\"\npath = \"/x\"\ninputs = [\"" + long_name + "\"]\n");
  REQUIRE(errs.size() == 1);
  CHECK(errs[0] == "t.toml:1:10: the component name 'aaaaaaaaaaaaaaaaaaaaaaaa...' is 100000 "
                   "characters long: at most 64 (it names a directory under state_dir)");
  const std::string ok_name(64, 'b');
  CHECK(errors_of("[sources." + ok_name + "]\ntype = \"ticker\"\n[sinks.out]\ntype = " +
                  "\"store\"\npath = \"/x\"\ninputs = [\"" + ok_name + "\"]\n")
            .empty());
  CHECK(errors_of("[supervisors." + std::string(65, 's') +
                  "]\n[sources.tick]\ntype = \"ticker\"\n[sinks.out]\ntype = \"store\"\npath = "
                  "\"/x\"\ninputs = [\"tick\"]\n") ==
        lines{"t.toml:1:14: the supervisor name 'ssssssssssssssssssssssss...' is 65 characters "
              "long: at most 64 (it names a directory under state_dir)"});
}

SCENARIO("an input whose events its consumer does not take is an error") {
  auto reg = make_registry();
  component_type sockets;
  sockets.name = "sockets";
  sockets.kind = component_kind::source;
  sockets.produces = {"socket"};
  reg.add(sockets);
  component_type procs;
  procs.name = "procs";
  procs.kind = component_kind::analyzer;
  procs.consumes = {"process", "process_exec"};
  reg.add(procs);
  component_type findings_only;
  findings_only.name = "alerts";
  findings_only.kind = component_kind::sink;
  findings_only.consumes = {"finding"};
  reg.add(findings_only);
  auto errors = [&](const std::string& text) {
    std::vector<std::string> out;
    for (const auto& d : load_config_string(text, "t.toml", reg).errors)
      out.push_back(d.to_string());
    return out;
  };
  CHECK(errors(R"([sources.net]
type = "sockets"
[analyzers.p]
type = "procs"
inputs = ["net"]
[sinks.a]
type = "alerts"
inputs = ["p", "net"]
)") == lines{"t.toml:5:11: input 'net' of [analyzers.p] produces socket events (and findings), "
              "but procs consumes process, process_exec: nothing it sends would be used"});
  // A type that declares nothing (any kind) is never judged; findings reach every consumer
  // that takes them.
  CHECK(errors(R"([sources.t]
type = "ticker"
[analyzers.p]
type = "procs"
inputs = ["t"]
[sinks.a]
type = "alerts"
inputs = ["p"]
)")
            .empty());
}
