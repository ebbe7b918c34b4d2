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
