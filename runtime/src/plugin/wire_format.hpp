// SPDX-License-Identifier: Apache-2.0
// wire_format.hpp — the byte format of the isolated plugin channel: frame types, a little
// writer/reader of fixed-width values and length-prefixed strings, and the event batch codec.
// Both ends are the same binary (the engine re-executes itself as the child host), so values are
// in host byte order; every read is bounds-checked because the child is not trusted.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "phantomguard/runtime/event.hpp"
#include "phantomguard/sdk/plugin.h"

namespace pg::runtime::wire {

/// A frame is: uint32 payload length, uint8 type, then the payload.
inline constexpr std::size_t frame_header_size = 5;
/// Larger frames are garbage (a batch of 256 events is ~60 KiB).
inline constexpr std::uint32_t max_frame_size = 64u << 20;

enum class frame_type : std::uint8_t {
  // engine -> child
  init = 1,     // TOML text: the plugin request and the sandbox settings
  batch = 2,    // an encoded event batch
  timer = 3,    // int64 now_ns
  drain = 4,    // -
  snapshot = 5, // -
  restore = 6,  // the state bytes
  shutdown = 7, // -
  // child -> engine
  ready = 0x81,     // -
  refused = 0x82,   // uint8 is_config_refusal, string message
  done = 0x83,      // int32 status, string message, then (snapshot) the state bytes
  finding = 0x84,   // string: the finding as JSON
  log = 0x85,       // uint8 level, string message
  counter = 0x86,   // int64 delta, string name
  gauge = 0x87,     // double value, string name
  memory = 0x88,    // int64 delta bytes
  violation = 0x89, // int32 syscall number (written by the child's SIGSYS handler)
};

/// Status codes of a done frame.
enum class call_status : std::int32_t { ok = 0, failed = 1, no_memory = 2 };

class protocol_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

class writer {
public:
  explicit writer(std::string& out) : out_(out) {}
  template <class T>
  void put(T v) {
    const auto* p = reinterpret_cast<const char*>(&v);
    out_.append(p, sizeof v);
  }
  void put_string(std::string_view s) {
    put(static_cast<std::uint32_t>(s.size()));
    out_.append(s.data(), s.size());
  }
  void put_bytes(std::string_view s) { out_.append(s.data(), s.size()); }

private:
  std::string& out_;
};

class reader {
public:
  reader(const char* data, std::size_t size) : p_(data), end_(data + size) {}
  explicit reader(std::string_view s) : reader(s.data(), s.size()) {}
  template <class T>
  T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, p_, sizeof v);
    p_ += sizeof v;
    return v;
  }
  std::string_view get_string() {
    const auto n = get<std::uint32_t>();
    need(n);
    std::string_view s(p_, n);
    p_ += n;
    return s;
  }
  std::string_view rest() noexcept {
    std::string_view s(p_, static_cast<std::size_t>(end_ - p_));
    p_ = end_;
    return s;
  }
  [[nodiscard]] bool at_end() const noexcept { return p_ == end_; }

private:
  void need(std::size_t n) const {
    if (static_cast<std::size_t>(end_ - p_) < n)
      throw protocol_error("truncated frame");
  }
  const char* p_;
  const char* end_;
};

/// Appends the events of `batch` whose kind passes `keep` (count first, patched at the end).
/// Returns how many were encoded.
template <class Keep>
std::size_t encode_batch(const event_batch& batch, Keep&& keep, std::string& out) {
  const std::size_t count_at = out.size();
  writer w(out);
  w.put(std::uint32_t{0});
  std::uint32_t n = 0;
  for (const event& e : batch.events) {
    if (!keep(e.kind))
      continue;
    ++n;
    w.put_string(e.kind);
    w.put(static_cast<std::int64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(e.time.time_since_epoch()).count()));
    w.put_string(e.source);
    w.put(static_cast<std::uint16_t>(std::min<std::size_t>(e.fields.size(), 0xffff)));
    std::size_t written = 0;
    for (const field& f : e.fields) {
      if (written++ == 0xffff)
        break;
      w.put_string(f.key);
      w.put(static_cast<std::uint8_t>(f.value.index()));
      if (const auto* b = std::get_if<bool>(&f.value))
        w.put(static_cast<std::uint8_t>(*b ? 1 : 0));
      else if (const auto* i = std::get_if<std::int64_t>(&f.value))
        w.put(*i);
      else if (const auto* d = std::get_if<double>(&f.value))
        w.put(*d);
      else if (const auto* s = std::get_if<std::string>(&f.value))
        w.put_string(*s);
    }
  }
  std::memcpy(out.data() + count_at, &n, sizeof n);
  return n;
}

/// Decodes an encoded batch into C views whose strings point into `payload` (which must outlive
/// them): `events` and `fields` are reused across batches. Throws protocol_error.
void decode_views(std::string_view payload, std::vector<pg_event>& events,
                  std::vector<pg_field>& fields);

} // namespace pg::runtime::wire
