// SPDX-License-Identifier: Apache-2.0
// dead_pid.hpp — a pid that was alive a moment ago and is not now: a child that exited and was
// reaped (for tests of what the engine does with what a gone process left behind).
#pragma once

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

namespace pg::test {

inline pid_t dead_pid() {
  const pid_t child = ::fork();
  if (child == 0)
    ::_exit(0);
  ::waitpid(child, nullptr, 0);
  return child;
}

} // namespace pg::test
