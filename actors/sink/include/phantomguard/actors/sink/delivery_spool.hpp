// SPDX-License-Identifier: Apache-2.0
// delivery_spool.hpp — the on-disk queue between a remote sink and its destination. A finding
// is appended here before anything tries to send it, and leaves only when the destination
// acknowledged it, so an outage, a `kill -9` or a restart loses nothing: the next start replays
// what was not acknowledged, in order.
//
// Layout under its folder: segment files NNNNNNNNNNNNNNNN.seg (at most `segment_bytes` each) of
// records [u32 length][u32 CRC-32 of the payload][payload], and `ack` ("SEGMENT OFFSET"), the
// first record not yet acknowledged (replaced by rename). Reopening checks every record from
// there: a torn tail (a crash in the middle of a write) is cut off, a record whose checksum does
// not match ends its segment; both are counted. Bounded by `max_bytes`: appending beyond it drops
// the oldest records first (the caller counts them as lost, cause spool_full). Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace pg::actors::sink {

enum class fsync_policy { always, interval, never };

/// The IEEE CRC-32 (as zlib's crc32) of `data`.
std::uint32_t crc32(std::string_view data) noexcept;

class delivery_spool {
public:
  struct settings {
    std::string dir;
    std::uint64_t max_bytes = 256ull << 20;
    std::uint64_t segment_bytes = 4ull << 20;
    fsync_policy fsync = fsync_policy::interval;
    std::chrono::milliseconds fsync_interval{1000};
  };

  /// What reopening found.
  struct recovery {
    std::uint64_t records = 0; // not yet acknowledged, replayed
    std::uint64_t torn = 0;    // cut off at a segment's end (a write the crash interrupted)
    std::uint64_t corrupt = 0; // checksum mismatches (the rest of that segment is skipped)
  };

  /// Creates the folder (0700) and reopens what is there. Throws std::runtime_error when the
  /// folder cannot be created or read.
  explicit delivery_spool(settings s);
  ~delivery_spool();
  delivery_spool(const delivery_spool&) = delete;
  delivery_spool& operator=(const delivery_spool&) = delete;

  [[nodiscard]] const recovery& recovered() const noexcept { return recovered_; }

  /// Appends one record. Returns 0, or the errno of a failed write (a full disk: the record is
  /// not kept, the segment is cut back to where it was). `dropped` counts the oldest records
  /// given up to stay within max_bytes.
  int append(std::string_view payload, std::uint64_t& dropped);

  /// Makes what was appended durable as the policy says: `always` syncs now, `interval` when
  /// the last sync is older than the interval, `never` leaves it to the kernel.
  void sync();

  /// Up to `max_records` of the oldest unacknowledged records, at most `max_bytes` of payload
  /// (at least one record when any is there).
  std::vector<std::string> peek(std::size_t max_records, std::size_t max_bytes) const;

  /// The oldest `n` records were acknowledged: they leave the spool.
  void ack(std::size_t n);

  [[nodiscard]] std::size_t records() const;
  [[nodiscard]] std::uint64_t bytes() const;

private:
  struct position {
    std::uint64_t segment;
    std::uint64_t offset;
    std::uint32_t length; // payload length
  };

  [[nodiscard]] std::string segment_path(std::uint64_t seq) const;
  void reopen();
  void write_ack();
  int open_segment(std::uint64_t seq); // 0 or errno
  void drop_front(std::size_t n);
  void remove_segments_before(std::uint64_t seq);

  settings s_;
  mutable std::mutex mutex_;
  std::deque<position> queue_; // unacknowledged, oldest first
  std::uint64_t bytes_ = 0;    // payload + headers of queue_
  std::uint64_t write_seq_ = 0;
  std::uint64_t front_segment_ = 0; // the oldest segment that may still be on disk
  std::uint64_t write_offset_ = 0;
  int write_fd_ = -1;
  bool dirty_ = false;
  std::chrono::steady_clock::time_point last_sync_{};
  recovery recovered_;
};

[[nodiscard]] std::string_view to_string(fsync_policy p) noexcept;

} // namespace pg::actors::sink
