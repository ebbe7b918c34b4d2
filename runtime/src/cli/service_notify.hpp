// SPDX-License-Identifier: Apache-2.0
// service_notify.hpp — the sd_notify protocol without libsystemd: datagrams to $NOTIFY_SOCKET
// (a path, or an abstract name starting with '@'). READY, STATUS, RELOADING, STOPPING, and
// WATCHDOG=1 every half $WATCHDOG_USEC from a thread of its own while the daemon is healthy:
// a health check that names a reason stops the pings (with STATUS=unhealthy: REASON), so the
// manager restarts a daemon whose engine is stuck even though its process lives. Does nothing
// when the daemon was not started by a service manager.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace pg::cli {

class service_notifier {
public:
  service_notifier();  // reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID
  ~service_notifier(); // stops the watchdog thread
  service_notifier(const service_notifier&) = delete;
  service_notifier& operator=(const service_notifier&) = delete;

  [[nodiscard]] bool active() const noexcept { return !socket_.empty(); }
  /// One notification ("READY=1\nSTATUS=..."); false when it could not be sent.
  bool notify(const std::string& state) const;
  void ready(const std::string& status) const;
  void reloading() const;
  void stopping() const;
  /// Starts WATCHDOG=1 pings when the manager asked for them (WatchdogSec=). `unhealthy`
  /// returns why the daemon should not be vouched for, or an empty string when it is fine.
  void start_watchdog(std::function<std::string()> unhealthy = {});

private:
  std::string socket_;
  std::uint64_t watchdog_usec_ = 0;
  std::thread watchdog_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
};

} // namespace pg::cli
