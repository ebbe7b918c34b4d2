// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/runtime/temp_space.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <vector>

#include "phantomguard/runtime/config.hpp"

namespace pg::runtime {

namespace fs = std::filesystem;

namespace {

// The pid in `<label>-<pid>-<suffix>`, 0 when the name is not one of ours.
pid_t maker_of(const std::string& name) {
  const auto last = name.rfind('-');
  if (last == std::string::npos || last == 0)
    return 0;
  const auto before = name.rfind('-', last - 1);
  if (before == std::string::npos)
    return 0;
  const std::string digits = name.substr(before + 1, last - before - 1);
  if (digits.empty() || digits.size() > 9 ||
      digits.find_first_not_of("0123456789") != std::string::npos)
    return 0;
  return static_cast<pid_t>(std::stol(digits));
}

bool alive(pid_t pid) {
  return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM);
}

std::uint64_t usage_of(const fs::path& p) {
  std::error_code ec;
  std::uint64_t total = 0;
  if (fs::is_symlink(p, ec))
    return 0;
  if (!fs::is_directory(p, ec))
    return fs::is_regular_file(p, ec) ? static_cast<std::uint64_t>(fs::file_size(p, ec)) : 0;
  for (auto it =
           fs::recursive_directory_iterator(p, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code e2;
    if (it->is_regular_file(e2) && !it->is_symlink(e2))
      total += static_cast<std::uint64_t>(it->file_size(e2));
  }
  return total;
}

} // namespace

std::string temp_dir_of(const engine_settings& e) {
  if (!e.temp_dir.empty())
    return e.temp_dir;
  return (fs::path(e.state_dir) / "tmp").string();
}

temp_cleanup prepare_temp_dir(const std::string& dir) {
  temp_cleanup out;
  std::error_code ec;
  const bool existed = fs::exists(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) {
    out.error = dir + ": " + ec.message();
    return out;
  }
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    out.error = dir + ": not a folder";
    return out;
  }
  // A folder we made is private; one the operator named that exists already keeps its mode
  // (temp_dir = "/var/tmp" must not become root's alone).
  if (!existed && ::chmod(dir.c_str(), 0700) != 0) {
    out.error = dir + ": cannot make it private (mode 0700): " + std::strerror(errno);
    return out;
  }
  // Only what is named as ours goes, and only when its maker is gone: a shared folder's other
  // files, and a live scan's folder, stay.
  std::vector<fs::path> gone;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    const pid_t maker = maker_of(it->path().filename().string());
    if (maker > 0 && !alive(maker))
      gone.push_back(it->path());
  }
  for (const auto& p : gone) {
    out.bytes += usage_of(p);
    std::error_code e2;
    if (fs::remove_all(p, e2) > 0 && !e2)
      ++out.removed;
  }
  return out;
}

std::uint64_t temp_dir_usage(const std::string& dir) {
  return usage_of(dir);
}

std::optional<std::string> make_temp_folder(const std::string& dir, const std::string& label,
                                            std::string* error) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::string tmpl =
      (fs::path(dir) / (label + "-" + std::to_string(::getpid()) + "-XXXXXX")).string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    if (error)
      *error = tmpl + ": cannot create a temporary folder: " + std::strerror(errno);
    return std::nullopt;
  }
  return std::string(buf.data());
}

} // namespace pg::runtime
