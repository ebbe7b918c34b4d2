// counting_resource.hpp — a std::pmr resource that forwards to another and counts the bytes a
// component holds through it; the memory quota reads the count from the supervisor's thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory_resource>

namespace pg::runtime::detail {

class counting_resource final : public std::pmr::memory_resource {
public:
  explicit counting_resource(std::atomic<std::int64_t>& counter,
                             std::pmr::memory_resource* upstream = std::pmr::new_delete_resource())
      : counter_(counter), upstream_(upstream) {}

  /// Bytes currently allocated through this resource.
  [[nodiscard]] std::int64_t held() const noexcept { return held_; }

private:
  void* do_allocate(std::size_t bytes, std::size_t align) override {
    void* p = upstream_->allocate(bytes, align);
    held_ += static_cast<std::int64_t>(bytes);
    counter_.fetch_add(static_cast<std::int64_t>(bytes), std::memory_order_relaxed);
    return p;
  }
  void do_deallocate(void* p, std::size_t bytes, std::size_t align) override {
    upstream_->deallocate(p, bytes, align);
    held_ -= static_cast<std::int64_t>(bytes);
    counter_.fetch_sub(static_cast<std::int64_t>(bytes), std::memory_order_relaxed);
  }
  bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
    return this == &other;
  }

  std::atomic<std::int64_t>& counter_;
  std::pmr::memory_resource* upstream_;
  std::int64_t held_ = 0; // touched only from the owning actor's thread
};

} // namespace pg::runtime::detail
