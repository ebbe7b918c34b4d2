// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/runtime/io_usage.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>

namespace pg::runtime {

namespace {

std::uint64_t minus(std::uint64_t now, std::uint64_t before) noexcept {
  return now > before ? now - before : 0;
}

// One read of a small /proc file into `buf`: the kernel builds it whole on the first read.
std::optional<io_counters> read_io_file(const char* path) noexcept {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return std::nullopt;
  char buf[512];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  if (n <= 0)
    return std::nullopt;
  return parse_io_counters(std::string_view(buf, static_cast<std::size_t>(n)));
}

} // namespace

io_counters io_counters::since(const io_counters& earlier) const noexcept {
  return {minus(read_chars, earlier.read_chars), minus(write_chars, earlier.write_chars),
          minus(storage_read, earlier.storage_read), minus(storage_write, earlier.storage_write)};
}

io_counters& io_counters::operator+=(const io_counters& o) noexcept {
  read_chars += o.read_chars;
  write_chars += o.write_chars;
  storage_read += o.storage_read;
  storage_write += o.storage_write;
  return *this;
}

std::optional<io_counters> parse_io_counters(std::string_view text) noexcept {
  io_counters c;
  bool have_read = false;
  bool have_write = false;
  while (!text.empty()) {
    const auto eol = text.find('\n');
    const std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos)
      continue;
    const std::string_view key = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ')
      value.remove_prefix(1);
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc{} || end == value.data())
      continue;
    if (key == "rchar") {
      c.read_chars = v;
      have_read = true;
    } else if (key == "wchar") {
      c.write_chars = v;
      have_write = true;
    } else if (key == "read_bytes") {
      c.storage_read = v;
    } else if (key == "write_bytes") {
      c.storage_write = v;
    }
  }
  if (!have_read || !have_write)
    return std::nullopt;
  return c;
}

std::optional<io_counters> io_of_process() noexcept {
  return read_io_file("/proc/self/io");
}

std::optional<io_counters> io_of_process(pid_t pid) noexcept {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/io", static_cast<int>(pid));
  return read_io_file(path);
}

std::optional<io_counters> io_of_thread(pid_t tid) noexcept {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/io", static_cast<int>(tid));
  return read_io_file(path);
}

} // namespace pg::runtime
