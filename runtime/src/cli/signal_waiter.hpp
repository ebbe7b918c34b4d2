// SPDX-License-Identifier: Apache-2.0
// signal_waiter.hpp — turns SIGTERM, SIGINT and SIGHUP into calls on an ordinary thread.
// The signals are blocked in every thread (construct this before starting any other thread, so
// that they inherit the mask) and collected by one thread with sigwait(): no logic runs in a
// signal handler, so the callbacks may lock, allocate and log.
#pragma once

#include <atomic>
#include <csignal>
#include <functional>
#include <thread>

namespace pg::cli {

class signal_waiter {
public:
  struct handlers {
    std::function<void(int signo)> stop; // SIGTERM, SIGINT
    std::function<void()> reload;        // SIGHUP
  };

  /// Blocks the signals in the calling thread (and the threads it starts later).
  signal_waiter();
  ~signal_waiter();
  signal_waiter(const signal_waiter&) = delete;
  signal_waiter& operator=(const signal_waiter&) = delete;

  /// Starts the waiting thread.
  void start(handlers h);

  /// Ends the waiting thread (idempotent); the signals stay blocked.
  void finish();

private:
  void loop();

  sigset_t set_{};
  handlers handlers_;
  std::atomic<bool> finishing_{false};
  std::thread thread_;
};

} // namespace pg::cli
