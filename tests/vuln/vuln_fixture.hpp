// SPDX-License-Identifier: Apache-2.0
// vuln_fixture.hpp — temporary root file systems with a hand-written dpkg database, for the vuln
// tests.
#pragma once

#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "phantomguard/actors/vuln/vuln_command.hpp"

namespace pg::test {

/// A fresh temporary folder, removed with everything in it when the object goes away.
class temp_dir {
public:
  explicit temp_dir(const std::string& tag = "pg-vuln") {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            (tag + "-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  [[nodiscard]] std::string str() const { return path_.string(); }

  /// Writes `text` to `rel` (creating parent folders); returns the full path.
  std::filesystem::path write(const std::string& rel, const std::string& text) const {
    auto p = path_ / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }

private:
  std::filesystem::path path_;
};

/// Runs `phantomguard vuln ARGS...` in this process with stdout captured in `out`.
inline int run_vuln(std::vector<std::string> args, std::string& out) {
  args.insert(args.begin(), "phantomguard vuln");
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  std::ostringstream captured;
  auto* old = std::cout.rdbuf(captured.rdbuf());
  int rc = pg::actors::vuln::run_vuln_command(static_cast<int>(argv.size()), argv.data());
  std::cout.rdbuf(old);
  out = captured.str();
  return rc;
}

inline std::string fixtures_dir() {
  return std::string(PG_SOURCE_DIR) + "/tests/vuln/fixtures";
}

} // namespace pg::test
