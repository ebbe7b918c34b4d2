// SPDX-License-Identifier: Apache-2.0
// skip.hpp — a test that cannot run on this machine says so as a skip CTest reports (exit code
// 77, registered as SKIP_RETURN_CODE by pg_add_test), with the reason on stdout. Never a silent
// pass. Ends the process: CTest runs each test case in a process of its own.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <iostream>

#define PG_SKIP(reason)                                                                            \
  do {                                                                                             \
    std::cout << "SKIPPED: " << reason << std::endl;                                               \
    std::fflush(nullptr);                                                                          \
    std::_Exit(77);                                                                                \
  } while (false)

// PG_SANITIZER_NAME: the sanitizer this build runs under, empty for the plain build.
#if defined(PG_SANITIZER_ADDRESS)
#define PG_SANITIZER_NAME "AddressSanitizer"
#elif defined(PG_SANITIZER_THREAD)
#define PG_SANITIZER_NAME "ThreadSanitizer"
#else
#define PG_SANITIZER_NAME ""
#endif

// Skips with the reason when `condition` holds in a sanitizer build; nothing in the plain one.
#define PG_SKIP_IN_SANITIZER_BUILD(condition, why)                                                 \
  do {                                                                                             \
    if (sizeof(PG_SANITIZER_NAME) > 1 && (condition))                                              \
      PG_SKIP("built with " PG_SANITIZER_NAME ": " << why);                                        \
  } while (false)

// A test whose measurement a sanitizer build changes beyond meaning — RSS and address-space
// figures under ASan's shadow memory and quarantine, descriptor counts with its runtime's own —
// skips there with the reason (`make test-asan`, `make test-tsan`; docs/hardening.md). The
// plain build (`make test`) runs it.
#define PG_SKIP_UNDER_SANITIZER(why) PG_SKIP_IN_SANITIZER_BUILD(true, why)

// ThreadSanitizer only: its runtime in a sandboxed plugin child defers signals until it reaches a
// safe point and makes calls the child's seccomp allow-list refuses, so a child's crash, its
// forbidden call or its attack at load cannot be observed as in production there. The ASan and
// plain suites run these.
#if defined(PG_SANITIZER_THREAD)
#define PG_SKIP_UNDER_THREAD_SANITIZER(why) PG_SKIP_IN_SANITIZER_BUILD(true, why)
#else
#define PG_SKIP_UNDER_THREAD_SANITIZER(why) PG_SKIP_IN_SANITIZER_BUILD(false, why)
#endif
