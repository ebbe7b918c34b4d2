// SPDX-License-Identifier: Apache-2.0
// scratch_dir.hpp — a private temporary directory (mode 0700, removed at scope exit) for tests
// that copy plugins around and change their modes; plus the fixture paths.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace pg::test {

inline std::string fixture(const std::string& file) {
  return std::string(PG_SDK_FIXTURE_DIR) + "/" + file;
}

class scratch_dir {
public:
  scratch_dir() {
    char tmpl[] = "/tmp/pg-sdk-test-XXXXXX";
    const char* p = ::mkdtemp(tmpl);
    path_ = p != nullptr ? p : "";
  }
  ~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;

  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] std::string operator/(const std::string& name) const { return path_ + "/" + name; }

  /// Copies `from` into this directory as `name` with `mode`; returns the new path.
  std::string copy(const std::string& from, const std::string& name, mode_t mode = 0644) const {
    const std::string to = *this / name;
    std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
    ::chmod(to.c_str(), mode);
    return to;
  }

  std::string write(const std::string& name, const std::string& content, mode_t mode = 0644) const {
    const std::string to = *this / name;
    std::ofstream(to, std::ios::binary) << content;
    ::chmod(to.c_str(), mode);
    return to;
  }

private:
  std::string path_;
};

} // namespace pg::test
