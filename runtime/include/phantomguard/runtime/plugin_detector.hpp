// SPDX-License-Identifier: Apache-2.0
// plugin_detector.hpp — the in-process adapter: a loaded plugin's detector seen as a component,
// so the engine runs it exactly like a built-in (same actor, flow control, quotas, restarts).
#pragma once

#include <memory>
#include <string>

#include <toml++/toml.h>

#include "phantomguard/runtime/component.hpp"
#include "phantomguard/runtime/plugin_loader.hpp"

namespace pg::runtime {

/// Creates one instance of `detector` (empty = the plugin's first) with `config`, which
/// inspect_plugin has already checked against the manifest; missing keys get their declared
/// defaults. Throws component_refused("engine.plugin_refused", ...) when the plugin rejects its
/// config (PG_ERR_CONFIG) or has no such detector, and std::runtime_error when create fails
/// otherwise (a failure the supervisor may retry).
///
/// The component: on_batch passes the subscribed events of each batch (borrowed C views of the
/// engine's events, no copies of strings); on_tick calls on_timer and reads the plugin's
/// metrics; stop calls drain; snapshot/restore carry the plugin's state (capability "state").
/// A hook that returns an error throws std::runtime_error naming the plugin, the detector, the
/// hook, the code and the plugin's message. Host API calls made outside a hook with a context
/// (during create, restore, snapshot) are kept and replayed at the next hook.
std::unique_ptr<component> make_plugin_detector(std::shared_ptr<loaded_plugin> plugin,
                                                const std::string& detector,
                                                const toml::table& config);

/// load_plugin + make_plugin_detector: what the "plugin" component type's factory does.
std::unique_ptr<component> make_plugin_component(const plugin_request& request);

} // namespace pg::runtime
