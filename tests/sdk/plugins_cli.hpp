// SPDX-License-Identifier: Apache-2.0
// plugins_cli.hpp — runs `phantomguard plugins ...` through the registry as the CLI does, with
// its standard output and error captured.
#pragma once

#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "phantomguard/runtime/plugin_host.hpp"
#include "phantomguard/runtime/registry.hpp"

namespace pg::test {

struct run_result {
  int code = -1;
  std::string out;
  std::string err;
};

inline run_result run_plugins(std::vector<std::string> args) {
  runtime::registry reg;
  runtime::register_plugin_support(reg);
  const runtime::command* cmd = reg.find_command("plugins");
  REQUIRE(cmd != nullptr);
  args.insert(args.begin(), "phantomguard plugins");
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  std::ostringstream out, err;
  auto* old_out = std::cout.rdbuf(out.rdbuf());
  auto* old_err = std::cerr.rdbuf(err.rdbuf());
  run_result r;
  r.code = cmd->run(static_cast<int>(argv.size()), argv.data());
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

inline bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l == line)
      return true;
  return false;
}

} // namespace pg::test
