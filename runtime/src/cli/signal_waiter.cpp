// SPDX-License-Identifier: Apache-2.0
#include "cli/signal_waiter.hpp"

#include <pthread.h>

namespace pg::cli {

signal_waiter::signal_waiter() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGTERM);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set_, nullptr);
}

signal_waiter::~signal_waiter() {
  finish();
}

void signal_waiter::start(handlers h) {
  handlers_ = std::move(h);
  thread_ = std::thread([this] { loop(); });
}

void signal_waiter::finish() {
  if (!thread_.joinable())
    return;
  finishing_ = true;
  // Wake sigwait with a signal addressed to that thread; it is blocked, so it stays pending
  // for sigwait and nothing else sees it.
  pthread_kill(thread_.native_handle(), SIGTERM);
  thread_.join();
}

void signal_waiter::loop() {
  for (;;) {
    int signo = 0;
    if (sigwait(&set_, &signo) != 0)
      continue;
    if (finishing_)
      return;
    if (signo == SIGHUP) {
      if (handlers_.reload)
        handlers_.reload();
    } else if (handlers_.stop) {
      handlers_.stop(signo);
    }
  }
}

} // namespace pg::cli
