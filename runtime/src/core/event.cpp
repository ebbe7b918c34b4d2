// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/runtime/event.hpp"

namespace pg::runtime {

const field_value* event::get(std::string_view key) const noexcept {
  for (const auto& f : fields)
    if (f.key == key)
      return &f.value;
  return nullptr;
}

std::int64_t event::get_int(std::string_view key, std::int64_t fallback) const noexcept {
  if (const auto* v = get(key)) {
    if (const auto* i = std::get_if<std::int64_t>(v))
      return *i;
    if (const auto* d = std::get_if<double>(v))
      return static_cast<std::int64_t>(*d);
  }
  return fallback;
}

std::string_view event::get_string(std::string_view key, std::string_view fallback) const noexcept {
  if (const auto* v = get(key))
    if (const auto* s = std::get_if<std::string>(v))
      return *s;
  return fallback;
}

bool event::get_bool(std::string_view key, bool fallback) const noexcept {
  if (const auto* v = get(key))
    if (const auto* b = std::get_if<bool>(v))
      return *b;
  return fallback;
}

double event::get_double(std::string_view key, double fallback) const noexcept {
  if (const auto* v = get(key)) {
    if (const auto* d = std::get_if<double>(v))
      return *d;
    if (const auto* i = std::get_if<std::int64_t>(v))
      return static_cast<double>(*i);
  }
  return fallback;
}

event& event::set(std::string key, field_value value) {
  for (auto& f : fields) {
    if (f.key == key) {
      f.value = std::move(value);
      return *this;
    }
  }
  fields.push_back(field{std::move(key), std::move(value)});
  return *this;
}

std::size_t event::approx_bytes() const noexcept {
  std::size_t n = sizeof(event) + kind.capacity() + source.capacity() +
                  fields.capacity() * sizeof(field);
  for (const auto& f : fields) {
    n += f.key.capacity();
    if (const auto* s = std::get_if<std::string>(&f.value))
      n += s->capacity();
  }
  if (payload) // a rough figure: findings are rare and small
    n += sizeof(finding) + payload->title.size() + 256;
  return n;
}

event make_finding_event(finding f, std::string source) {
  event e;
  e.kind = "finding";
  e.time = f.time;
  e.source = std::move(source);
  e.payload = std::make_shared<const finding>(std::move(f));
  return e;
}

batch_ptr make_batch(std::vector<event> events) {
  auto b = std::make_shared<event_batch>();
  std::size_t bytes = 0;
  for (const auto& e : events)
    bytes += e.approx_bytes();
  b->events = std::move(events);
  b->bytes = bytes;
  return b;
}

} // namespace pg::runtime
