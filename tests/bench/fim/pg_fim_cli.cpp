// SPDX-License-Identifier: Apache-2.0
// pg_fim_cli — `phantomguard fim` as a stand-alone binary for the AIDE comparison
// (tests/bench/fim/fim_vs_aide.sh): the same code path, without building the engine.
#include <iostream>

#include "phantomguard/actors/fim/fim_command.hpp"

int main(int argc, char** argv) {
  return pg::actors::fim::run_fim_command(argc, argv, std::cout, std::cerr);
}
