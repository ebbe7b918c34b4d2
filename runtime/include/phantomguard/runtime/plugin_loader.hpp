// plugin_loader.hpp — finds a detector plugin, runs every load-time check BEFORE any of its code
// runs, and loads it (Boost.DLL, RTLD_NOW | RTLD_LOCAL). Shared by the in-process detector
// adapter and (issue 4) the child plugin host, which runs the same checks before its sandbox.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "phantomguard/runtime/plugin_manifest.hpp"
#include "phantomguard/sdk/plugin.h"

namespace pg::runtime {

/// What a `[detectors.NAME]` table of type "plugin" asks for.
struct plugin_request {
  std::string plugin;   // an id looked up in plugin_dir, or a path (contains '/' or ends in .so)
  std::string version;  // a requirement (">=1.2, <2"); empty = any
  std::string sha256;   // a pin (64 hex digits, optionally "sha256:"-prefixed); empty = none
  std::string detector; // which detector of the .so; empty = the first
  std::string isolation = "in_process";
  toml::table config;     // checked against the detector's declared keys
  std::string plugin_dir; // where ids are looked up
};

/// One load-time check and its outcome (for `phantomguard plugins check`).
struct plugin_check {
  std::string name; // "file", "elf", "manifest", "abi", ...
  bool ok = false;
  std::string detail; // what was found; on failure the one-line refusal
};

/// The outcome of every load-time check on one plugin file. No plugin code has run.
struct plugin_inspection {
  std::string path;                        // resolved path (empty when not found)
  std::optional<plugin_manifest> manifest; // when the note could be read and parsed
  std::vector<plugin_check> checks;        // in order; stops at the first failure
  std::string refusal;                     // empty when every check passed

  [[nodiscard]] bool ok() const noexcept { return refusal.empty(); }
};

/// Runs every check in order: resolve the id or path; file and directory owned by root or the
/// engine's user and not writable by group or others; ELF of this machine; the manifest note;
/// the manifest; the ABI rule (major == ours, required minor <= ours); the required symbols; the
/// version requirement; the sha256 pin; the detector; the config keys and types; the isolation.
/// Each refusal is one line: plugin, path, expected vs found, and the fix.
plugin_inspection inspect_plugin(const plugin_request& request);

/// Reads the manifest note of `path` without running its code or checking permissions
/// (`phantomguard plugins info`). nullopt with `*error` set when there is none.
std::optional<plugin_manifest> read_plugin_manifest(const std::string& path, std::string* error);

/// Every `*.so` in `dir` whose note can be read, with its manifest (unreadable files are listed
/// with an error instead). Sorted by file name.
struct plugin_listing_entry {
  std::string path;
  std::optional<plugin_manifest> manifest;
  std::string error;
};
std::vector<plugin_listing_entry> list_plugins(const std::string& dir);

/// A plugin library loaded after its checks passed. Unloaded when the last owner lets go, so
/// every detector instance holds a shared_ptr to it.
class loaded_plugin {
public:
  ~loaded_plugin();
  loaded_plugin(const loaded_plugin&) = delete;
  loaded_plugin& operator=(const loaded_plugin&) = delete;

  [[nodiscard]] const plugin_manifest& manifest() const noexcept { return manifest_; }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] const pg_plugin& table() const noexcept { return *table_; }
  /// The vtable of `detector` (validated: create and destroy present); nullptr when missing.
  [[nodiscard]] const pg_detector_vtable* vtable(const std::string& detector) const noexcept;

private:
  friend std::shared_ptr<loaded_plugin> load_plugin(const plugin_request&, plugin_inspection*);
  struct library;
  loaded_plugin() = default;
  std::unique_ptr<library> lib_;
  const pg_plugin* table_ = nullptr;
  plugin_manifest manifest_;
  std::string path_;
};

/// Inspects, then loads: dlopen, the entry point, and a cross-check of the entry's ABI and
/// manifest against the note. Throws component_refused("engine.plugin_refused", ...) with the
/// one-line refusal. `inspection` (optional) receives the inspection result.
std::shared_ptr<loaded_plugin> load_plugin(const plugin_request& request,
                                           plugin_inspection* inspection = nullptr);

/// The host's ABI version as "1.0".
std::string host_abi_version();

} // namespace pg::runtime
