// SPDX-License-Identifier: Apache-2.0
// proc_connector.hpp — the kernel's netlink process connector (NETLINK_CONNECTOR, CN_IDX_PROC):
// one message per fork, exec and exit, pushed by the kernel, so even a process that lives for a
// millisecond is seen. Subscribing needs CAP_NET_ADMIN.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

namespace pg::actors::realtime {

struct proc_connector_event {
  enum class kind { fork, exec, exit } what = kind::exec;
  int pid = 0;                   // the thread (fork: the child)
  int tgid = 0;                  // its process (equal to pid for a process, not a thread)
  int parent_pid = 0;            // fork: the parent's tgid; exit: the parent's tgid (kernel >= 6.1)
  std::uint32_t exit_code = 0;   // exit: wait status as the kernel stores it
  std::uint32_t exit_signal = 0; // exit: the signal sent to the parent
};

/// A subscribed connector socket. Move-only; unsubscribes and closes in the destructor.
class proc_connector {
public:
  /// Opens, binds and subscribes (PROC_CN_MCAST_LISTEN). nullopt with errno in `*err` when the
  /// kernel refuses (EPERM without CAP_NET_ADMIN, EPROTONOSUPPORT without CONFIG_PROC_EVENTS).
  static std::optional<proc_connector> open(int* err = nullptr);

  proc_connector(proc_connector&& other) noexcept;
  proc_connector& operator=(proc_connector&& other) noexcept;
  proc_connector(const proc_connector&) = delete;
  proc_connector& operator=(const proc_connector&) = delete;
  ~proc_connector();

  [[nodiscard]] int fd() const noexcept { return fd_; }

  /// Reads what one recv() returns (non-blocking: call after poll() says readable). Returns
  /// false on a socket error other than EAGAIN/EINTR; ENOBUFS (the kernel dropped messages
  /// because we were slow) returns true and increments `*overruns`.
  bool read(std::vector<proc_connector_event>& out, std::uint64_t* overruns);

private:
  explicit proc_connector(int fd) noexcept : fd_(fd) {}
  void close() noexcept;
  int fd_ = -1;
};

} // namespace pg::actors::realtime
