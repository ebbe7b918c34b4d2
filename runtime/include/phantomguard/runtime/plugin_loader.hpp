// SPDX-License-Identifier: Apache-2.0
// plugin_loader.hpp — finds a detector plugin, runs every load-time check BEFORE any of its code
// runs, and loads it (RTLD_NOW | RTLD_LOCAL). The file is opened once (O_RDONLY | O_NOFOLLOW,
// every directory from / down walked with O_NOFOLLOW); every check reads that descriptor and the
// loader maps /proc/self/fd/N, so the bytes checked (ELF, note, pin, signature) are the bytes
// loaded, whatever is renamed over the path meanwhile. Shared by the in-process detector adapter
// and the child plugin host, which runs the same checks, confines itself, and only then loads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "phantomguard/runtime/plugin_manifest.hpp"
#include "phantomguard/runtime/unique_fd.hpp"
#include "phantomguard/sdk/plugin.h"

namespace pg::runtime {

/// engine.plugin_signature: whether a plugin must carry an ed25519 signature (NAME.so.sig) by a
/// key in engine.plugin_trust_dir. if_present (the default) verifies a signature that exists and
/// refuses a bad or untrusted one; required also refuses an unsigned plugin; off ignores them.
enum class signature_policy { off, if_present, required };

std::string_view to_string(signature_policy p) noexcept;
/// "off", "if_present", "required"; nullopt for anything else.
std::optional<signature_policy> parse_signature_policy(std::string_view text) noexcept;

/// The default of engine.plugin_trust_dir.
inline constexpr const char* default_plugin_trust_dir = "/etc/phantomguard/trusted-keys";

/// What a `[detectors.NAME]` table of type "plugin" asks for.
struct plugin_request {
  std::string plugin;   // an id looked up in plugin_dir, or a path (contains '/' or ends in .so)
  std::string version;  // a requirement (">=1.2, <2"); empty = any
  std::string sha256;   // a pin (64 hex digits, optionally "sha256:"-prefixed); empty = none
  std::string detector; // which detector of the .so; empty = the first
  std::string isolation = "in_process";
  toml::table config;     // checked against the detector's declared keys
  std::string plugin_dir; // where ids are looked up
  signature_policy signature = signature_policy::if_present;
  std::string trust_dir = default_plugin_trust_dir; // the trusted *.pub keys
};

/// The plugin file as the checks saw it: the one descriptor and the bytes read from it.
struct plugin_file {
  unique_fd fd;          // O_RDONLY | O_CLOEXEC, opened without following a symbolic link
  std::string bytes;     // the whole file, read from fd
  std::string canonical; // the path it was opened by (symbolic links resolved)
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
  std::string signer;                      // key id of a verified signature; empty = unsigned
  std::shared_ptr<const plugin_file> file; // open while someone may still load it

  [[nodiscard]] bool ok() const noexcept { return refusal.empty(); }
};

/// Runs every check in order: resolve the id or path; the file and every directory from / down
/// to it owned by root or the engine's user and not writable by group or others (a sticky
/// directory such as /tmp, owned by root, is accepted: nobody else can rename what is in it);
/// ELF of this machine; the manifest note; the manifest; the ABI rule (major == ours, required
/// minor <= ours); the required symbols; the version requirement; the sha256 pin; the
/// signature; the detector; the config keys and types; the isolation. Each refusal is one line:
/// plugin, path, expected vs found, and the fix. On success `file` holds the open descriptor.
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
  friend std::shared_ptr<loaded_plugin> load_inspected(const plugin_inspection&);
  struct library;
  loaded_plugin() = default;
  std::unique_ptr<library> lib_;
  const pg_plugin* table_ = nullptr;
  plugin_manifest manifest_;
  std::string path_;
};

/// Loads what `inspection` checked (it must be ok()): dlopen of /proc/self/fd/N on its
/// descriptor, the entry point, and a cross-check of the entry's ABI and manifest against the
/// note. This is where the plugin's code first runs (constructors, then pg_plugin_entry).
/// Throws component_refused("engine.plugin_refused", ...) with the one-line refusal.
std::shared_ptr<loaded_plugin> load_inspected(const plugin_inspection& inspection);

/// inspect_plugin, then load_inspected. `inspection` (optional) receives the inspection result.
std::shared_ptr<loaded_plugin> load_plugin(const plugin_request& request,
                                           plugin_inspection* inspection = nullptr);

/// Opens `path` the way inspect_plugin does (the ownership walk, then O_RDONLY | O_NOFOLLOW) and
/// reads it. nullptr with `*refusal` (one line naming `who`) when a check fails.
std::shared_ptr<const plugin_file> open_plugin_file(const std::string& who, const std::string& path,
                                                    std::string* refusal);

/// The signature check alone, for `plugins verify`: the state of FILE.sig against `trust_dir`.
struct signature_status {
  enum class state { unsigned_file, valid, untrusted, invalid, malformed, no_trust };
  state status = state::unsigned_file;
  std::string key_id; // from the .sig (empty when there is none or it is unreadable)
  std::string detail; // one line: what was found
};
signature_status check_plugin_signature(const plugin_file& file, const std::string& trust_dir);

/// The host's ABI version as "1.0".
std::string host_abi_version();

} // namespace pg::runtime
