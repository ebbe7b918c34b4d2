// SPDX-License-Identifier: Apache-2.0
// scratch_dir.hpp — a temporary directory for one test, removed afterwards.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace pg::test {

class scratch_dir {
public:
  scratch_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "pg-yara-XXXXXX").string();
    if (!::mkdtemp(tmpl.data()))
      throw std::runtime_error("mkdtemp failed");
    root_ = tmpl;
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  ~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  [[nodiscard]] std::string path(const std::string& rel = {}) const {
    return rel.empty() ? root_.string() : (root_ / rel).string();
  }
  std::string write(const std::string& rel, const std::string& content) const {
    auto p = root_ / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary | std::ios::trunc) << content;
    return p.string();
  }

private:
  std::filesystem::path root_;
};

} // namespace pg::test
