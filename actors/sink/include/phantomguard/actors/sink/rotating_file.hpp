// SPDX-License-Identifier: Apache-2.0
// rotating_file.hpp — the file behind the jsonl sink: append-only, rotated by size, and
// reporting errno values instead of throwing so that a full disk is a result, not an exception.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pg::actors::sink {

/// An append-only file descriptor that rotates by size: `path` → `path.1` → ... → `path.N`.
/// Move-only; closes in the destructor. All functions return 0 or an errno value.
class rotating_file {
public:
  rotating_file() = default;
  rotating_file(std::string path, bool append, std::uint64_t max_size, std::uint32_t max_files);
  ~rotating_file();
  rotating_file(rotating_file&& other) noexcept;
  rotating_file& operator=(rotating_file&& other) noexcept;
  rotating_file(const rotating_file&) = delete;
  rotating_file& operator=(const rotating_file&) = delete;

  /// Opens (creating) the file when it is not open. Truncates only on the first open when
  /// `append` is false.
  int open();
  [[nodiscard]] bool is_open() const noexcept { return fd_ >= 0; }

  /// Writes as much of `data` as possible; `written` receives the bytes written even on error.
  int write(std::string_view data, std::size_t& written);
  /// fdatasync of the open file: 0 or errno.
  int sync();

  /// True when appending `next` bytes after `pending` bytes not yet written would exceed
  /// max_size. Never for a closed or non-regular file (/dev/full, a pipe) nor when nothing would
  /// precede `next` in the file: a single line larger than max_size still gets written.
  [[nodiscard]] bool needs_rotation(std::uint64_t pending, std::uint64_t next) const noexcept;

  /// Closes, shifts path.(i) → path.(i+1) dropping the oldest beyond max_files, renames path →
  /// path.1 and opens a fresh path.
  int rotate();

  [[nodiscard]] std::uint64_t size() const noexcept { return size_; }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

private:
  void close() noexcept;

  std::string path_;
  bool append_ = true;
  bool opened_once_ = false;
  bool regular_ = true;
  std::uint64_t max_size_ = 0; // 0 = never rotate
  std::uint32_t max_files_ = 5;
  std::uint64_t size_ = 0;
  int fd_ = -1;
};

} // namespace pg::actors::sink
