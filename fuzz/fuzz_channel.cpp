// SPDX-License-Identifier: Apache-2.0
// The channel from a sandboxed plugin host: a hostile plugin controls every byte its child sends
// the engine. The bytes go through a real socketpair into child_channel::receive (the frame
// header, the size limit), and each frame is decoded as the engine does: a finding's JSON, a log
// line, a counter, a gauge, a memory delta; a batch frame (engine -> child) through the
// decoder the child uses. Anything malformed must be a protocol_error or a JSON error, never a
// crash or a read past the frame.
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "plugin/child_channel.hpp"
#include "plugin/wire_format.hpp"

using namespace pg::runtime;

namespace {

void decode(const child_channel::frame& f) {
  using wire::frame_type;
  wire::reader r(f.payload);
  switch (f.type) {
  case frame_type::finding: {
    // As the engine reads it; a wrong type is a json exception it turns into "garbage".
    try {
      const auto j = nlohmann::json::parse(r.get_string());
      (void)j.at("rule").get<std::string>();
      (void)j.at("severity").get<int>();
      (void)j.at("title").get<std::string>();
      (void)j.at("mitre").get<std::vector<std::string>>();
    } catch (const nlohmann::json::exception&) {
    }
    break;
  }
  case frame_type::log:
    (void)r.get<std::uint8_t>();
    (void)r.get_string();
    break;
  case frame_type::counter:
    (void)r.get<std::int64_t>();
    (void)r.get_string();
    break;
  case frame_type::gauge:
    (void)r.get<double>();
    (void)r.get_string();
    break;
  case frame_type::memory:
  case frame_type::violation:
    (void)r.get<std::int64_t>();
    break;
  case frame_type::done:
    (void)r.get<std::int32_t>();
    (void)r.get_string();
    (void)r.rest();
    break;
  case frame_type::batch: {
    std::vector<pg_event> events;
    std::vector<pg_field> fields;
    wire::decode_views(f.payload, events, fields);
    // Touch every byte the views point at: ASan catches a view past the payload.
    volatile unsigned sum = 0;
    for (const auto& e : events)
      for (std::size_t i = 0; i < e.field_count; ++i)
        for (std::size_t k = 0; k < e.fields[i].key.size; ++k)
          sum = sum + static_cast<unsigned char>(e.fields[i].key.data[k]);
    break;
  }
  default:
    break;
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return 0;
  std::size_t done = 0;
  while (done < size) {
    auto n = ::write(sv[1], data + done, size - done);
    if (n <= 0)
      break;
    done += static_cast<std::size_t>(n);
  }
  ::close(sv[1]);
  child_channel channel(sv[0]);
  try {
    child_channel::frame f;
    for (int i = 0; i < 64 && channel.receive(f); ++i) {
      try {
        decode(f);
      } catch (const wire::protocol_error&) {
      }
    }
  } catch (const channel_closed&) {
  } catch (const wire::protocol_error&) {
  }
  return 0;
}
