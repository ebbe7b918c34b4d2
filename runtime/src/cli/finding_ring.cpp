// SPDX-License-Identifier: Apache-2.0
#include "cli/finding_ring.hpp"

namespace pg::cli {

void finding_ring::push(const runtime::finding& f) {
  {
    std::lock_guard lock(mutex_);
    ring_.emplace_back(++last_, f);
    if (ring_.size() > capacity_)
      ring_.pop_front();
  }
  changed_.notify_all();
}

nlohmann::json finding_ring::after(std::uint64_t since, runtime::severity min_level,
                                   std::size_t limit) {
  std::lock_guard lock(mutex_);
  auto items = nlohmann::json::array();
  std::uint64_t next = since;
  for (const auto& [seq, f] : ring_) {
    if (seq <= since || f.level < min_level)
      continue;
    if (items.size() >= limit)
      break;
    auto j = f.to_json();
    j["seq"] = seq;
    items.push_back(std::move(j));
    next = seq;
  }
  const std::uint64_t oldest = ring_.empty() ? last_ + 1 : ring_.front().first;
  return {{"findings", items},
          {"next", next},
          {"last", last_},
          {"dropped_before", since + 1 < oldest ? oldest - since - 1 : 0}};
}

std::uint64_t finding_ring::wait_newer(std::uint64_t seq, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return last_ > seq || stopping_; });
  return last_;
}

void finding_ring::wake() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
}

std::uint64_t finding_ring::last() const {
  std::lock_guard lock(mutex_);
  return last_;
}

} // namespace pg::cli
