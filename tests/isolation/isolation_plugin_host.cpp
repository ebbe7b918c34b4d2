// SPDX-License-Identifier: Apache-2.0
// isolation_plugin_host.cpp — `phantomguard plugin-host` as a small binary for the tests.
#include "phantomguard/runtime/plugin_isolation.hpp"

int main(int argc, char** argv) {
  return pg::runtime::run_plugin_host_main(argc, argv);
}
