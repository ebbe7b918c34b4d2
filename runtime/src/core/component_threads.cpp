// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/runtime/component_threads.hpp"

#include <exception>
#include <mutex>
#include <vector>

namespace pg::runtime {

void component_threads::run(unsigned n, const std::function<void(unsigned)>& body) {
  if (n == 0)
    return;
  std::mutex mutex;
  std::exception_ptr first;
  std::vector<std::thread> threads;
  threads.reserve(n);
  try {
    for (unsigned i = 0; i < n; ++i)
      threads.push_back(start([&, i] {
        try {
          body(i);
        } catch (...) {
          std::lock_guard lock(mutex);
          if (!first)
            first = std::current_exception();
        }
      }));
  } catch (...) {
    // A thread could not be started: the ones running finish their share, then the error.
    for (auto& t : threads)
      t.join();
    throw;
  }
  for (auto& t : threads)
    t.join();
  if (first)
    std::rethrow_exception(first);
}

namespace {

class plain_threads final : public component_threads {
public:
  std::thread start(std::function<void()> body) override { return std::thread(std::move(body)); }
  bool pace() override { return true; }
};

} // namespace

component_threads& unmetered_threads() noexcept {
  static plain_threads threads;
  return threads;
}

} // namespace pg::runtime
