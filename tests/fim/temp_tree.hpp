// SPDX-License-Identifier: Apache-2.0
// temp_tree.hpp — a scratch directory for a test, removed with everything in it afterwards.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace pg::test {

class temp_tree {
public:
  temp_tree() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "pg-fim-XXXXXX").string();
    if (!::mkdtemp(tmpl.data()))
      throw std::runtime_error("mkdtemp failed");
    root_ = tmpl;
  }
  temp_tree(const temp_tree&) = delete;
  temp_tree& operator=(const temp_tree&) = delete;
  ~temp_tree() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }

  [[nodiscard]] std::string path(const std::string& rel = {}) const {
    return rel.empty() ? root_.string() : (root_ / rel).string();
  }

  void write(const std::string& rel, const std::string& content) const {
    auto p = root_ / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary | std::ios::trunc) << content;
  }

private:
  std::filesystem::path root_;
};

} // namespace pg::test
