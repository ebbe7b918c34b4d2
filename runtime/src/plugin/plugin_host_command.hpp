// SPDX-License-Identifier: Apache-2.0
// plugin_host_command.hpp — `phantomguard plugin-host`: the child side of an isolated plugin.
// Started by the engine (never by hand) with the channel as descriptor 3.
#pragma once

namespace pg::runtime::detail {

/// `plugin-host [--channel FD]`: reads the init frame, re-runs the load-time checks, loads the
/// plugin, applies the sandbox, creates the detector, says ready, then serves calls until the
/// channel closes. Returns the process exit status.
int run_plugin_host(int argc, char** argv);

} // namespace pg::runtime::detail
