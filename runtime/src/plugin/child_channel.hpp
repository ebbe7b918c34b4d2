// SPDX-License-Identifier: Apache-2.0
// child_channel.hpp — one end of the socketpair between the engine and an isolated plugin's
// child host: length-prefixed frames (wire_format.hpp), written whole, read with a deadline.
// The engine's end never blocks without a deadline: a child that stops reading or writing is
// treated as hung, not waited for.
#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "plugin/wire_format.hpp"

namespace pg::runtime {

/// The peer closed its end (it exited or crashed).
class channel_closed : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// A deadline passed before the frame could be sent or received.
class channel_timeout : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

class child_channel {
public:
  using clock = std::chrono::steady_clock;
  struct frame {
    wire::frame_type type{};
    std::string payload;
  };

  child_channel() = default;
  explicit child_channel(int fd) noexcept : fd_(fd) {}
  ~child_channel();
  child_channel(child_channel&& o) noexcept;
  child_channel& operator=(child_channel&& o) noexcept;
  child_channel(const child_channel&) = delete;
  child_channel& operator=(const child_channel&) = delete;

  [[nodiscard]] int fd() const noexcept { return fd_; }
  [[nodiscard]] bool open() const noexcept { return fd_ >= 0; }
  void close() noexcept;

  /// Sends one frame. With a deadline the fd must be non-blocking: while waiting to write, what
  /// the peer sends is read into the receive buffer (so neither side can wedge the other).
  void send(wire::frame_type type, std::string_view payload,
            std::optional<clock::time_point> deadline = std::nullopt);
  /// Sends a frame whose payload was built in `buffer` after frame_header_size reserved bytes
  /// (saves a copy of a large batch).
  void send_prepared(wire::frame_type type, std::string& buffer,
                     std::optional<clock::time_point> deadline = std::nullopt);

  /// Receives one frame into `out`. false when the deadline passed first. Throws channel_closed
  /// on end of file and wire::protocol_error on a malformed header.
  bool receive(frame& out, std::optional<clock::time_point> deadline = std::nullopt);

  /// True when a whole frame is already buffered (receive would not wait).
  [[nodiscard]] bool has_frame() const noexcept;

private:
  bool wait(short events, std::optional<clock::time_point> deadline);
  bool fill(std::optional<clock::time_point> deadline);
  void write_all(const char* data, std::size_t size, std::optional<clock::time_point> deadline);

  int fd_ = -1;
  std::string in_;
  std::size_t in_pos_ = 0;
};

} // namespace pg::runtime
