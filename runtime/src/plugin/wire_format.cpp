// wire_format.cpp — decoding an event batch in the child host.
#include "plugin/wire_format.hpp"

#include <chrono>

namespace pg::runtime::wire {

void decode_batch(std::string_view payload, event_batch& out) {
  reader r(payload);
  const auto n = r.get<std::uint32_t>();
  // Every event takes at least 16 bytes: a count beyond that is garbage, not an allocation.
  if (n > payload.size() / 16 + 1)
    throw protocol_error("event count " + std::to_string(n) + " exceeds the frame");
  if (out.events.size() < n)
    out.events.resize(n);
  out.events.erase(out.events.begin() + n, out.events.end());
  for (std::uint32_t i = 0; i < n; ++i) {
    event& e = out.events[i];
    e.kind.assign(r.get_string());
    e.time = wall_clock::time_point(std::chrono::duration_cast<wall_clock::duration>(
        std::chrono::nanoseconds(r.get<std::int64_t>())));
    e.source.assign(r.get_string());
    const auto nf = r.get<std::uint16_t>();
    if (e.fields.size() < nf)
      e.fields.resize(nf);
    e.fields.erase(e.fields.begin() + nf, e.fields.end());
    for (std::uint16_t k = 0; k < nf; ++k) {
      field& f = e.fields[k];
      f.key.assign(r.get_string());
      switch (r.get<std::uint8_t>()) {
      case 0:
        f.value = std::monostate{};
        break;
      case 1:
        f.value = r.get<std::uint8_t>() != 0;
        break;
      case 2:
        f.value = r.get<std::int64_t>();
        break;
      case 3:
        f.value = r.get<double>();
        break;
      case 4: {
        const auto s = r.get_string();
        if (auto* cur = std::get_if<std::string>(&f.value))
          cur->assign(s); // keeps the capacity of the previous batch's string
        else
          f.value = std::string(s);
        break;
      }
      default:
        throw protocol_error("unknown field value type");
      }
    }
  }
  if (!r.at_end())
    throw protocol_error("trailing bytes after the batch");
}

} // namespace pg::runtime::wire
