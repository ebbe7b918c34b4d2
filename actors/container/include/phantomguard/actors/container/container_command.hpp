// SPDX-License-Identifier: Apache-2.0
// container_command.hpp — `phantomguard container scan DIR` (a root file system or an OCI image
// layout) and `phantomguard container live` (the containers running on this host).
#pragma once

namespace pg::actors::container {

/// Exit codes as `scan`: 0 clean, 1 a finding at or above --fail-on, 2 usage error or an image
/// that cannot be opened.
int run_container_command(int argc, char** argv);

} // namespace pg::actors::container
