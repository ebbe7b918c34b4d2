// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/sink/delivery_spool.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace pg::actors::sink {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t header_bytes = 8;

std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k)
      c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}

void put_u32(unsigned char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i)
    p[i] = static_cast<unsigned char>(v >> (8 * i));
}

std::uint32_t get_u32(const unsigned char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<std::uint32_t>(p[i]) << (8 * i);
  return v;
}

/// Writes all of `data` at `fd`'s end; 0 or errno.
int write_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    const auto w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return errno;
    }
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return 0;
}

} // namespace

std::uint32_t crc32(std::string_view data) noexcept {
  static const auto table = make_crc_table();
  std::uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data)
    c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::string_view to_string(fsync_policy p) noexcept {
  switch (p) {
  case fsync_policy::always:
    return "always";
  case fsync_policy::interval:
    return "interval";
  case fsync_policy::never:
    return "never";
  }
  return "?";
}

delivery_spool::delivery_spool(settings s) : s_(std::move(s)) {
  std::error_code ec;
  fs::create_directories(s_.dir, ec);
  if (ec)
    throw std::runtime_error("spool: cannot create " + s_.dir + ": " + ec.message());
  ::chmod(s_.dir.c_str(), 0700);
  reopen();
}

delivery_spool::~delivery_spool() {
  std::lock_guard lock(mutex_);
  if (write_fd_ >= 0) {
    if (dirty_ && s_.fsync != fsync_policy::never)
      ::fdatasync(write_fd_);
    ::close(write_fd_);
  }
}

std::string delivery_spool::segment_path(std::uint64_t seq) const {
  char name[32];
  std::snprintf(name, sizeof name, "%016llu.seg", static_cast<unsigned long long>(seq));
  return s_.dir + "/" + name;
}

void delivery_spool::reopen() {
  std::lock_guard lock(mutex_);
  std::vector<std::uint64_t> segments;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(s_.dir, ec)) {
    const auto name = e.path().filename().string();
    if (name.size() == 20 && name.ends_with(".seg") &&
        std::all_of(name.begin(), name.begin() + 16, ::isdigit))
      segments.push_back(std::stoull(name.substr(0, 16)));
  }
  if (ec)
    throw std::runtime_error("spool: cannot read " + s_.dir + ": " + ec.message());
  std::sort(segments.begin(), segments.end());
  std::uint64_t ack_seg = 0;
  std::uint64_t ack_off = 0;
  {
    std::ifstream in(s_.dir + "/ack");
    in >> ack_seg >> ack_off;
  }
  for (auto seq : segments) {
    if (seq < ack_seg) {
      ::unlink(segment_path(seq).c_str()); // acknowledged whole
      continue;
    }
    const auto path = segment_path(seq);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      continue;
    struct stat st {};
    ::fstat(fd, &st);
    const auto size = static_cast<std::uint64_t>(st.st_size);
    std::uint64_t off = seq == ack_seg ? ack_off : 0;
    std::string payload;
    while (off < size) {
      unsigned char h[header_bytes];
      if (size - off < header_bytes ||
          ::pread(fd, h, header_bytes, static_cast<off_t>(off)) != header_bytes) {
        ++recovered_.torn;
        break;
      }
      const auto len = get_u32(h);
      if (len > size - off - header_bytes) {
        ++recovered_.torn;
        break;
      }
      payload.resize(len);
      if (::pread(fd, payload.data(), len, static_cast<off_t>(off + header_bytes)) !=
          static_cast<ssize_t>(len)) {
        ++recovered_.torn;
        break;
      }
      if (crc32(payload) != get_u32(h + 4)) {
        ++recovered_.corrupt;
        break;
      }
      queue_.push_back({seq, off, len});
      bytes_ += header_bytes + len;
      off += header_bytes + len;
    }
    ::close(fd);
    if (off < size) // cut what cannot be read, so new records follow valid ones
      if (::truncate(path.c_str(), static_cast<off_t>(off)) != 0)
        continue;
    write_seq_ = seq;
    write_offset_ = off;
  }
  recovered_.records = queue_.size();
  // New records go to a fresh segment: the last one may have been cut.
  if (int err = open_segment(segments.empty() ? 1 : segments.back() + 1))
    throw std::runtime_error("spool: cannot create a segment in " + s_.dir + ": " +
                             std::strerror(err));
  write_ack();
}

int delivery_spool::open_segment(std::uint64_t seq) {
  const auto path = segment_path(seq);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0)
    return errno; // the current segment (if any) stays the one written
  if (write_fd_ >= 0) {
    if (dirty_ && s_.fsync != fsync_policy::never)
      ::fdatasync(write_fd_);
    ::close(write_fd_);
  }
  write_fd_ = fd;
  write_seq_ = seq;
  struct stat st {};
  ::fstat(write_fd_, &st);
  write_offset_ = static_cast<std::uint64_t>(st.st_size);
  dirty_ = false;
  return 0;
}

void delivery_spool::write_ack() {
  const std::uint64_t seg = queue_.empty() ? write_seq_ : queue_.front().segment;
  const std::uint64_t off = queue_.empty() ? write_offset_ : queue_.front().offset;
  const auto tmp = s_.dir + "/ack.tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return; // the next ack tries again; a stale ack only means a redelivery
  char line[64];
  const int n =
      std::snprintf(line, sizeof line, "%llu %llu\n", static_cast<unsigned long long>(seg),
                    static_cast<unsigned long long>(off));
  const bool ok = write_all(fd, line, static_cast<std::size_t>(n)) == 0;
  if (ok && s_.fsync == fsync_policy::always)
    ::fdatasync(fd);
  ::close(fd);
  if (ok)
    ::rename(tmp.c_str(), (s_.dir + "/ack").c_str());
}

void delivery_spool::remove_segments_before(std::uint64_t seq) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(s_.dir, ec)) {
    const auto name = e.path().filename().string();
    if (name.size() == 20 && name.ends_with(".seg") &&
        std::all_of(name.begin(), name.begin() + 16, ::isdigit) &&
        std::stoull(name.substr(0, 16)) < seq)
      ::unlink(e.path().c_str());
  }
}

void delivery_spool::drop_front(std::size_t n) {
  n = std::min(n, queue_.size());
  for (std::size_t i = 0; i < n; ++i) {
    bytes_ -= header_bytes + queue_.front().length;
    queue_.pop_front();
  }
  // Everything acknowledged: the segment being written goes too (its space comes back at once,
  // which is what a full disk needs), and new records start a fresh one.
  if (queue_.empty() && write_offset_ > 0)
    (void)open_segment(write_seq_ + 1);
  write_ack();
  // Segments wholly acknowledged go; the folder is looked at only when the front moved on.
  const auto front = queue_.empty() ? write_seq_ : queue_.front().segment;
  if (front != front_segment_) {
    remove_segments_before(front);
    front_segment_ = front;
  }
}

int delivery_spool::append(std::string_view payload, std::uint64_t& dropped) {
  std::lock_guard lock(mutex_);
  dropped = 0;
  const std::uint64_t need = header_bytes + payload.size();
  if (need > s_.max_bytes)
    return EFBIG;
  std::size_t over = 0;
  std::uint64_t freed = 0;
  while (bytes_ - freed + need > s_.max_bytes && over < queue_.size())
    freed += header_bytes + queue_[over++].length;
  if (over > 0) {
    dropped = over;
    drop_front(over);
  }
  if (write_offset_ >= s_.segment_bytes)
    (void)open_segment(write_seq_ + 1); // on failure the full one takes the record
  std::string rec(header_bytes, '\0');
  put_u32(reinterpret_cast<unsigned char*>(rec.data()), static_cast<std::uint32_t>(payload.size()));
  put_u32(reinterpret_cast<unsigned char*>(rec.data()) + 4, crc32(payload));
  rec.append(payload);
  if (int err = write_all(write_fd_, rec.data(), rec.size())) {
    // Nothing half-written stays behind: the next record follows the last whole one.
    if (::ftruncate(write_fd_, static_cast<off_t>(write_offset_)) != 0) {
    }
    return err;
  }
  queue_.push_back({write_seq_, write_offset_, static_cast<std::uint32_t>(payload.size())});
  write_offset_ += rec.size();
  bytes_ += rec.size();
  dirty_ = true;
  return 0;
}

void delivery_spool::sync() {
  std::lock_guard lock(mutex_);
  if (!dirty_ || s_.fsync == fsync_policy::never)
    return;
  const auto now = std::chrono::steady_clock::now();
  if (s_.fsync == fsync_policy::interval && now - last_sync_ < s_.fsync_interval)
    return;
  ::fdatasync(write_fd_);
  dirty_ = false;
  last_sync_ = now;
}

std::vector<std::string> delivery_spool::peek(std::size_t max_records,
                                              std::size_t max_bytes) const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  std::size_t total = 0;
  int fd = -1;
  std::uint64_t fd_seg = 0;
  for (const auto& p : queue_) {
    if (out.size() >= max_records || (!out.empty() && total + p.length > max_bytes))
      break;
    if (fd < 0 || fd_seg != p.segment) {
      if (fd >= 0)
        ::close(fd);
      fd = ::open(segment_path(p.segment).c_str(), O_RDONLY | O_CLOEXEC);
      fd_seg = p.segment;
      if (fd < 0)
        break;
    }
    std::string payload(p.length, '\0');
    if (::pread(fd, payload.data(), p.length, static_cast<off_t>(p.offset + header_bytes)) !=
        static_cast<ssize_t>(p.length))
      break;
    total += p.length;
    out.push_back(std::move(payload));
  }
  if (fd >= 0)
    ::close(fd);
  return out;
}

void delivery_spool::ack(std::size_t n) {
  std::lock_guard lock(mutex_);
  drop_front(n);
}

std::size_t delivery_spool::records() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

std::uint64_t delivery_spool::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

} // namespace pg::actors::sink
