// SPDX-License-Identifier: Apache-2.0
// plugin_host.hpp — the engine's entry into plugin support. The CLI calls
// register_plugin_support() (under #ifdef PG_HAVE_PLUGIN_HOST) next to the built-in families.
#pragma once

#include <string>

#include "phantomguard/runtime/plugin_loader.hpp"

namespace pg::runtime {

class registry;

/// Registers
///  - the detector component type "plugin": `[detectors.NAME] type = "plugin"` with keys
///    plugin (id or path, required), version (requirement), sha256 (pin), isolation
///    ("in_process", or "process": a sandboxed child host, see plugin_isolation.hpp), detector
///    (default: the first), config (table checked against the manifest), plugin_dir (overrides
///    plugin_dir()), sandbox (the child's limits, isolation_settings). Its factory runs every
///    load-time check, loads the .so (or starts the child) and returns the adapter; a refusal
///    throws component_refused("engine.plugin_refused", one line with the fix);
///  - the internal command "plugin-host": the child side of isolation = "process";
///  - the CLI command "plugins": `plugins list [--plugin-dir D]`, `plugins info PATH|ID`
///    (manifest read without running plugin code), `plugins check PATH|ID [--sha256 X]
///    [--version REQ] [--detector D]` (every load-time check; exit 0 when all pass, 1 otherwise,
///    2 on a usage error).
void register_plugin_support(registry& reg);

/// Where plugin ids are looked up when a detector does not set plugin_dir: the last value given
/// to set_plugin_dir(), else $PHANTOMGUARD_PLUGIN_DIR, else "/usr/lib/phantomguard/plugins"
/// (the default of engine.plugin_dir). The CLI sets it from engine.plugin_dir / --plugin-dir
/// before the engine starts (component factories do not see engine settings). Thread-safe.
void set_plugin_dir(std::string dir);

/// engine.plugin_signature and engine.plugin_trust_dir, which every plugin load obeys (the
/// CLI sets them before the engine starts, like the plugin directory). Thread-safe.
struct plugin_trust {
  signature_policy signature = signature_policy::if_present;
  std::string trust_dir = default_plugin_trust_dir;
};
void set_plugin_trust(plugin_trust trust);
[[nodiscard]] plugin_trust current_plugin_trust();
[[nodiscard]] std::string plugin_dir();

} // namespace pg::runtime
