// SPDX-License-Identifier: Apache-2.0
// child_channel.cpp — framing and deadlines over the socketpair.
#include "plugin/child_channel.hpp"

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace pg::runtime {

child_channel::~child_channel() {
  close();
}

child_channel::child_channel(child_channel&& o) noexcept
    : fd_(o.fd_), in_(std::move(o.in_)), in_pos_(o.in_pos_) {
  o.fd_ = -1;
}

child_channel& child_channel::operator=(child_channel&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = o.fd_;
    in_ = std::move(o.in_);
    in_pos_ = o.in_pos_;
    o.fd_ = -1;
  }
  return *this;
}

void child_channel::close() noexcept {
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = -1;
}

bool child_channel::wait(short events, std::optional<clock::time_point> deadline) {
  for (;;) {
    int timeout_ms = -1;
    if (deadline) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - clock::now());
      if (left.count() <= 0)
        return false;
      timeout_ms = static_cast<int>(std::min<long long>(left.count(), 1 << 30));
    }
    pollfd p{fd_, events, 0};
    const int rc = ::poll(&p, 1, timeout_ms);
    if (rc > 0)
      return true;
    if (rc < 0 && errno != EINTR)
      throw channel_closed(std::string("poll on the plugin channel failed: ") +
                           std::strerror(errno));
  }
}

bool child_channel::fill(std::optional<clock::time_point> deadline) {
  if (in_pos_ > 0 && in_pos_ == in_.size()) {
    in_.clear();
    in_pos_ = 0;
  } else if (in_pos_ > (1u << 20)) {
    in_.erase(0, in_pos_);
    in_pos_ = 0;
  }
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n > 0) {
      in_.append(buf, static_cast<std::size_t>(n));
      return true;
    }
    if (n == 0)
      throw channel_closed("the plugin channel was closed by the other side");
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!wait(POLLIN, deadline))
        return false;
      continue;
    }
    if (errno == ECONNRESET || errno == EPIPE)
      throw channel_closed("the plugin channel was reset by the other side");
    throw channel_closed(std::string("reading the plugin channel failed: ") + std::strerror(errno));
  }
}

bool child_channel::has_frame() const noexcept {
  const std::size_t avail = in_.size() - in_pos_;
  if (avail < wire::frame_header_size)
    return false;
  std::uint32_t len = 0;
  std::memcpy(&len, in_.data() + in_pos_, sizeof len);
  return avail >= wire::frame_header_size + len;
}

bool child_channel::receive(frame& out, std::optional<clock::time_point> deadline) {
  for (;;) {
    const std::size_t avail = in_.size() - in_pos_;
    if (avail >= wire::frame_header_size) {
      std::uint32_t len = 0;
      std::memcpy(&len, in_.data() + in_pos_, sizeof len);
      if (len > wire::max_frame_size)
        throw wire::protocol_error("frame of " + std::to_string(len) + " bytes (limit " +
                                   std::to_string(wire::max_frame_size) + ")");
      if (avail >= wire::frame_header_size + len) {
        out.type = static_cast<wire::frame_type>(in_[in_pos_ + 4]);
        out.payload.assign(in_, in_pos_ + wire::frame_header_size, len);
        in_pos_ += wire::frame_header_size + len;
        return true;
      }
    }
    if (!fill(deadline))
      return false;
  }
}

void child_channel::write_all(const char* data, std::size_t size,
                              std::optional<clock::time_point> deadline) {
  while (size > 0) {
    // The engine's end (it always has a deadline) must not die of SIGPIPE when the child is
    // gone: send with MSG_NOSIGNAL. The child's end uses write, because its sandbox denies
    // sendto.
    const ssize_t n = deadline ? ::send(fd_, data, size, MSG_NOSIGNAL) : ::write(fd_, data, size);
    if (n > 0) {
      data += n;
      size -= static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait(POLLOUT | POLLIN, deadline))
        throw channel_timeout("the plugin did not read its channel before the deadline");
      // Read what the peer wrote meanwhile so it can go on and read ours.
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 0) > 0 && (p.revents & POLLIN) != 0)
        fill(clock::now());
      continue;
    }
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
      throw channel_closed("the plugin channel was closed by the other side");
    throw channel_closed(std::string("writing the plugin channel failed: ") + std::strerror(errno));
  }
}

void child_channel::send(wire::frame_type type, std::string_view payload,
                         std::optional<clock::time_point> deadline) {
  std::string buffer(wire::frame_header_size, '\0');
  buffer.append(payload);
  send_prepared(type, buffer, deadline);
}

void child_channel::send_prepared(wire::frame_type type, std::string& buffer,
                                  std::optional<clock::time_point> deadline) {
  const auto len = static_cast<std::uint32_t>(buffer.size() - wire::frame_header_size);
  std::memcpy(buffer.data(), &len, sizeof len);
  buffer[4] = static_cast<char>(type);
  write_all(buffer.data(), buffer.size(), deadline);
}

} // namespace pg::runtime
