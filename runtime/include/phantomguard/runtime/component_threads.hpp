// SPDX-License-Identifier: Apache-2.0
// component_threads.hpp — the threads a component runs besides its actor's own: hashing and
// scanning workers, a netlink or inotify reader. Started through here, their CPU time is the
// component's: it counts against its cpu_percent quota, and pace() holds them to it. No CAF here.
#pragma once

#include <cstdint>
#include <functional>
#include <thread>

namespace pg::runtime {

class component_threads {
public:
  virtual ~component_threads() = default;

  /// Starts a thread running `body`. The caller joins it before the component is destroyed.
  /// An exception escaping `body` ends the process, as with std::thread: catch inside.
  [[nodiscard]] virtual std::thread start(std::function<void()> body) = 0;

  /// Called between work items (a file hashed, a batch parsed) on any thread of the component,
  /// the actor's own included: waits while the component is over its CPU quota, and returns false
  /// when the component is asked to stop (the caller then returns early). Cheap when there is no
  /// quota or the component is within it.
  virtual bool pace() = 0;

  /// Memory the component's threads hold outside the C++ heap (which the engine counts by
  /// itself): a file mapped for scanning, a C library's buffers. Positive when taken, negative
  /// when given back; from any of its threads. The default does nothing.
  virtual void account_memory(std::int64_t /*delta_bytes*/) {}

  /// Runs body(0) ... body(n - 1), each on a thread of its own (body(0) too when n > 1), and
  /// returns once all have returned. The first exception a body throws is rethrown here.
  void run(unsigned n, const std::function<void(unsigned)>& body);
};

/// Plain threads that nothing measures or paces: for the command-line tools that run the
/// scanners outside an engine, and for contexts in tests.
component_threads& unmetered_threads() noexcept;

} // namespace pg::runtime
