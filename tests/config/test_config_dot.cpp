// SPDX-License-Identifier: Apache-2.0
// to_dot: the graph an operator pipes into `dot -Tsvg`.
#include <catch2/catch.hpp>

#include "test_registry.hpp"

using namespace pg::runtime;
using namespace pg::test;

SCENARIO("the pipeline graph renders as DOT, grouped by kind, edges from inputs") {
  GIVEN("a source, an analyzer with a dropping mailbox, a disabled sink and a plain sink") {
    const auto reg = make_registry();
    auto r = load_config_string(R"([sources.procfs]
type = "ticker"
[analyzers.mem]
type = "counter"
inputs = ["procfs"]
mailbox = { overflow = "drop_oldest" }
[sinks.file]
type = "store"
path = "/x"
inputs = ["mem", "procfs"]
[sinks.old]
type = "store"
path = "/y"
enabled = false
inputs = ["mem"]
)",
                                "t.toml", reg);
    REQUIRE(r.ok());
    THEN("the DOT text is exactly this") {
      CHECK(to_dot(*r.config) == R"(digraph phantomguard {
  rankdir=LR;
  node [fontname="sans-serif", fontsize=10, style=filled];
  subgraph cluster_sources {
    label="sources";
    style=dashed;
    "procfs" [shape=box, fillcolor="#dbeafe", label="procfs\nticker"];
  }
  subgraph cluster_analyzers {
    label="analyzers";
    style=dashed;
    "mem" [shape=ellipse, fillcolor="#dcfce7", label="mem\ncounter"];
  }
  subgraph cluster_sinks {
    label="sinks";
    style=dashed;
    "file" [shape=cds, fillcolor="#fee2e2", label="file\nstore"];
    "old" [shape=cds, fillcolor="#fee2e2", label="old\nstore", style="filled,dashed", fontcolor=gray50];
  }
  "procfs" -> "mem" [label="drop_oldest"];
  "mem" -> "file";
  "procfs" -> "file";
  "mem" -> "old";
}
)");
    }
  }
}
