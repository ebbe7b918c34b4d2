// SPDX-License-Identifier: Apache-2.0
#include "cli/service_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>

#include "phantomguard/runtime/unique_fd.hpp"

namespace pg::cli {

service_notifier::service_notifier() {
  if (const char* s = std::getenv("NOTIFY_SOCKET"); s != nullptr && *s != '\0')
    socket_ = s;
  const char* usec = std::getenv("WATCHDOG_USEC");
  const char* pid = std::getenv("WATCHDOG_PID");
  if (usec != nullptr && (pid == nullptr || std::atol(pid) == static_cast<long>(::getpid())))
    watchdog_usec_ = std::strtoull(usec, nullptr, 10);
}

service_notifier::~service_notifier() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (watchdog_.joinable())
    watchdog_.join();
}

bool service_notifier::notify(const std::string& state) const {
  if (socket_.empty())
    return false;
  runtime::unique_fd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0)
    return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_.size() >= sizeof addr.sun_path)
    return false;
  std::memcpy(addr.sun_path, socket_.data(), socket_.size());
  if (addr.sun_path[0] == '@')
    addr.sun_path[0] = '\0'; // an abstract socket
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_.size());
  return ::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL,
                  reinterpret_cast<const sockaddr*>(&addr),
                  len) == static_cast<ssize_t>(state.size());
}

void service_notifier::ready(const std::string& status) const {
  notify("READY=1\nSTATUS=" + status + "\nMAINPID=" + std::to_string(::getpid()));
}

void service_notifier::reloading() const {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  const auto usec = static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000 +
                    static_cast<std::uint64_t>(ts.tv_nsec) / 1000;
  notify("RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=" + std::to_string(usec));
}

void service_notifier::stopping() const {
  notify("STOPPING=1\nSTATUS=draining");
}

void service_notifier::start_watchdog(std::function<std::string()> unhealthy) {
  if (socket_.empty() || watchdog_usec_ == 0 || watchdog_.joinable())
    return;
  const auto every = std::chrono::microseconds(watchdog_usec_ / 2);
  watchdog_ = std::thread([this, every, unhealthy = std::move(unhealthy)] {
    std::unique_lock lock(mutex_);
    std::string said; // the reason last reported, so it is said once per episode
    while (!stop_) {
      auto why = unhealthy ? unhealthy() : std::string();
      if (why.empty()) {
        if (!said.empty())
          notify("STATUS=running (healthy again)");
        said.clear();
        notify("WATCHDOG=1");
      } else if (why != said) {
        said = why;
        notify("STATUS=unhealthy: " + why);
      }
      wake_.wait_for(lock, every, [this] { return stop_; });
    }
  });
}

} // namespace pg::cli
