// SPDX-License-Identifier: Apache-2.0
// pg_yara_cli — `phantomguard yara` as a stand-alone binary for the comparison with the `yara`
// command (tests/bench/yara/yara_vs_cli.sh): the same code path, without building the engine.
#include <iostream>

#include "phantomguard/actors/yara/yara_command.hpp"

int main(int argc, char** argv) {
  return pg::actors::yara::run_yara_command(argc, argv, std::cout, std::cerr);
}
