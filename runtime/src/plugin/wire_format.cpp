// SPDX-License-Identifier: Apache-2.0
// wire_format.cpp — decoding an event batch into C views in the child host.
#include "plugin/wire_format.hpp"

#include <algorithm>

namespace pg::runtime::wire {

void decode_views(std::string_view payload, std::vector<pg_event>& events,
                  std::vector<pg_field>& fields) {
  reader r(payload);
  const auto n = r.get<std::uint32_t>();
  if (n > payload.size() / 16 + 1)
    throw protocol_error("event count " + std::to_string(n) + " exceeds the frame");
  events.resize(n);
  std::size_t nfields = 0;
  auto view = [](std::string_view s) { return pg_str{s.data(), s.size()}; };
  for (std::uint32_t i = 0; i < n; ++i) {
    pg_event& e = events[i];
    e.struct_size = sizeof(pg_event);
    e.kind = view(r.get_string());
    e.time_ns = r.get<std::int64_t>();
    e.source = view(r.get_string());
    const auto nf = r.get<std::uint16_t>();
    if (fields.size() < nfields + nf)
      fields.resize(std::max(fields.size() * 2, nfields + nf));
    // An offset until the vector is final (it may still grow), fixed up below.
    e.fields = reinterpret_cast<const pg_field*>(nfields);
    e.field_count = nf;
    for (std::uint16_t k = 0; k < nf; ++k) {
      pg_field& f = fields[nfields++];
      f.key = view(r.get_string());
      f.value.reserved_ = 0;
      switch (r.get<std::uint8_t>()) {
      case 0:
        f.value.type = PG_VALUE_NONE;
        f.value.as.i = 0;
        break;
      case 1:
        f.value.type = PG_VALUE_BOOL;
        f.value.as.b = r.get<std::uint8_t>() != 0 ? 1 : 0;
        break;
      case 2:
        f.value.type = PG_VALUE_INT;
        f.value.as.i = r.get<std::int64_t>();
        break;
      case 3:
        f.value.type = PG_VALUE_DOUBLE;
        f.value.as.d = r.get<double>();
        break;
      case 4:
        f.value.type = PG_VALUE_STRING;
        f.value.as.s = view(r.get_string());
        break;
      default:
        throw protocol_error("unknown field value type");
      }
    }
  }
  if (!r.at_end())
    throw protocol_error("trailing bytes after the batch");
  for (auto& e : events)
    e.fields = fields.data() + reinterpret_cast<std::uintptr_t>(e.fields);
}

} // namespace pg::runtime::wire
