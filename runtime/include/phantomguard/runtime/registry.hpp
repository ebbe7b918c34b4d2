// SPDX-License-Identifier: Apache-2.0
// registry.hpp — component types register a factory by type name; the config names the type.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "phantomguard/runtime/component.hpp"
#include "phantomguard/runtime/config.hpp"
#include "phantomguard/runtime/options.hpp"
#include "phantomguard/runtime/throttle.hpp"

namespace pg::runtime {

/// What the factory receives: the instance's name, its validated settings, and where the engine
/// keeps state (SQLite databases, caches): `<engine.state_dir>`; a component stores its files under
/// `<state_dir>/<name>/`, creating the folder when it needs it. `quota` is the component's
/// declared quota: the engine enforces it; a factory may also apply it where it owns the
/// resource itself (an isolated plugin's child gets RLIMIT_AS from memory_mb).
struct component_init {
  std::string name;
  component_settings settings;
  std::string state_dir;
  quota_settings quota{};
  /// True in `scan`: the component runs once (start, one tick, stop). A source that only
  /// reports what happens while it runs (kernel_events) has nothing to say in one pass.
  bool one_pass = false;
  /// The engine's managed scratch folder (temp_space.hpp; cleaned at start) and what it may hold
  /// in all: a component makes its scratch folders there with make_temp_folder. Empty: none was
  /// set up (a unit test's factory call), use your own.
  std::string temp_dir{};
  std::uint64_t temp_max_bytes = 0;
};

using component_factory = std::function<std::unique_ptr<component>(const component_init&)>;

/// A registered component type.
struct component_type {
  std::string name; // "procfs", "jsonl", "memory", ...
  component_kind kind = component_kind::analyzer;
  std::string description;
  std::vector<option_spec> options;
  /// Event kinds the type consumes (analyzers/sinks) or produces (sources); empty means any.
  std::vector<std::string> consumes;
  std::vector<std::string> produces;
  component_factory factory;
  /// What proves a declaration would start, short of starting it: throws with the reason. Run by
  /// validate, scan, run and reload alike (check_components). Unset: the factory itself, its
  /// instance discarded — a built-in factory only reads and checks its settings (I/O waits for
  /// start()). A type whose factory does more (a plugin loads code) sets its own.
  std::function<void(const component_init&)> check;
  /// Sinks tick only when their config sets an `interval`; a sink type that delivers from a
  /// thread of its own sets this, so its on_tick reports what that thread did (counts, losses,
  /// findings) even while no batch arrives.
  std::optional<std::chrono::milliseconds> sink_tick;
  /// The throttle a declaration of this type gets for the keys its table does not set (`nice`,
  /// `io_class`, ...): the heavy scanners ship at nice 10 and idle I/O.
  throttle_settings throttle_defaults;
};

/// An ad hoc command of the CLI contributed by a family (`phantomguard fim ...`,
/// `phantomguard yara ...`). `run` receives the arguments after the command name (argv[0] is
/// "phantomguard <name>") and returns the process exit code (0 clean, 1 findings at or above
/// --fail-on, 2 usage or config error). It parses its own options (CLI11 is available).
struct command {
  std::string name;
  std::string summary;
  std::function<int(int argc, char** argv)> run;
};

/// An operator action a family offers on the daemon's API, `POST /api/v1/<name>` (token
/// required): `run` gets the request body (a JSON object, empty when none was sent) and the
/// daemon's config file (empty: the embedded default config) and returns the HTTP status and a
/// JSON body. It runs on an API worker thread, beside the running engine.
struct api_action {
  std::string name; // "fim/accept"
  std::string summary;
  std::function<std::pair<int, nlohmann::json>(const nlohmann::json& request,
                                               const std::string& config_path)>
      run;
};

/// What `phantomguard doctor` says of one thing the engine needs on this host.
enum class host_level { ok, note, warn, fail }; // note: told, costs nothing the config asks for
std::string_view to_string(host_level level) noexcept;

struct host_report {
  std::string area; // "kernel", "privileges", "vuln", ...
  std::string what; // "BPF sensor", "advisories of vuln"
  host_level level = host_level::ok;
  std::string detail; // what was found
  std::string advice; // what to do about it (empty when ok)
};

/// A family's checks of this host for `phantomguard doctor`: what its components, as `config`
/// declares them, will find here (kernel facilities, privileges, data files and their age). It
/// must not change the host: it probes and gives back what it opened.
struct host_check {
  std::string name; // "realtime"
  std::function<std::vector<host_report>(const pipeline_config& config)> run;
};

/// The process-wide registry. Each actor family exposes a `register_*` function and
/// pg::actors::register_builtin() calls them all before the engine starts (explicit calls, not
/// static initialisers, so nothing is lost when linking static libraries); lookups afterwards
/// are read-only and thread-safe.
class registry {
public:
  static registry& instance();

  /// Adds a type. A second type with the same name and kind replaces the first (tests use this).
  void add(component_type type);

  /// The type `name` of kind `kind`, or nullptr.
  [[nodiscard]] const component_type* find(component_kind kind, std::string_view name) const;

  /// All types of `kind`, sorted by name (for "did you mean" and `phantomguard list`).
  [[nodiscard]] std::vector<const component_type*> list(component_kind kind) const;

  /// Adds (or replaces) an ad hoc CLI command.
  void add_command(command cmd);
  [[nodiscard]] const command* find_command(std::string_view name) const;
  [[nodiscard]] std::vector<const command*> commands() const;

  /// Adds (or replaces) an API action.
  void add_api_action(api_action action);
  [[nodiscard]] const api_action* find_api_action(std::string_view name) const;
  [[nodiscard]] std::vector<const api_action*> api_actions() const;

  /// Adds (or replaces) a family's host checks; listed in name order.
  void add_host_check(host_check check);
  [[nodiscard]] std::vector<const host_check*> host_checks() const;

private:
  std::vector<component_type> types_;
  std::vector<command> commands_;
  std::vector<api_action> actions_;
  std::vector<host_check> host_checks_;
};

} // namespace pg::runtime
