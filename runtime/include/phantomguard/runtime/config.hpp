// SPDX-License-Identifier: Apache-2.0
// config.hpp — the validated pipeline configuration: engine settings and component declarations.
// Loading and checking (TOML syntax, unknown keys, types, ranges, graph) live in config_loader.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "phantomguard/runtime/alert.hpp"
#include "phantomguard/runtime/component.hpp"
#include "phantomguard/runtime/diagnostic.hpp"
#include "phantomguard/runtime/host_resources.hpp"
#include "phantomguard/runtime/options.hpp"
#include "phantomguard/runtime/suppression.hpp"
#include "phantomguard/runtime/throttle.hpp"
#include "phantomguard/runtime/units.hpp"

namespace pg::runtime {

/// What an edge does when its window is full.
enum class overflow_policy { block, drop_oldest, drop_newest, sample };
std::string_view to_string(overflow_policy p) noexcept;

/// `mailbox = { window = 1024, window_bytes = "4MiB", overflow = "block", sample_every = 10 }`
/// The window bounds the events (and bytes) in flight on each input edge of the component.
struct mailbox_settings {
  std::uint64_t window_events = 1024;
  std::uint64_t window_bytes = 8ull << 20;
  overflow_policy policy = overflow_policy::block;
  std::uint64_t sample_every = 10; // `sample`: keep 1 in N while the window is full
  friend bool operator==(const mailbox_settings&, const mailbox_settings&) = default;
};

enum class restart_type { permanent, transient, temporary };
std::string_view to_string(restart_type t) noexcept;

enum class restart_strategy { one_for_one, one_for_all, rest_for_one };
std::string_view to_string(restart_strategy s) noexcept;

/// `restart = { type = "permanent", max_restarts = 5, period = "60s", backoff = "100ms",
///              max_backoff = "30s", healthy_after = "60s", shutdown_timeout = "5s" }`
struct restart_settings {
  restart_type type = restart_type::permanent;
  std::uint32_t max_restarts = 5;             // intensity: at most this many restarts ...
  duration period = std::chrono::seconds(60); // ... within this period
  duration backoff = std::chrono::milliseconds(100);
  duration max_backoff = std::chrono::seconds(30);
  duration healthy_after = std::chrono::seconds(60); // backoff resets after this long healthy
  duration shutdown_timeout = std::chrono::seconds(5);
  friend bool operator==(const restart_settings&, const restart_settings&) = default;
};

/// `quota = { cpu_percent = 50, memory_mb = 64, events_per_second = 10000,
///            handler_timeout = "10s", grace = "5s", window = "5s" }`. Unset = unlimited.
struct quota_settings {
  std::optional<double> cpu_percent;
  std::optional<std::uint64_t> memory_mb;
  std::optional<double> events_per_second;
  std::optional<duration> handler_timeout;
  duration grace = std::chrono::seconds(5);  // no enforcement during start-up
  duration window = std::chrono::seconds(5); // sliding window for cpu and sustained excess
  friend bool operator==(const quota_settings&, const quota_settings&) = default;
};

/// When a source or analyzer ticks in `run` mode: `interval = "10s"` or `schedule = "0 2 * * *"`
/// (cron, 5 fields). In `scan` mode every component ticks once.
struct schedule_settings {
  std::optional<duration> interval;
  std::string cron; // empty when not set
  friend bool operator==(const schedule_settings&, const schedule_settings&) = default;
};

/// Names of components and supervisors: letters, digits, '_' and '-', at most this long (a name
/// is a directory under state_dir, a metric label and a log prefix).
inline constexpr std::size_t max_name_length = 64;

/// `[supervisors.NAME]`: a group of components (those naming it as `supervisor`) and of child
/// supervisors (those naming it as `parent`). Strategy and intensity work as the engine's, one
/// level down: a supervisor that exceeds its intensity restarts as a whole under its parent, up to
/// the root (the `[engine]` strategy and intensity), which disables what keeps failing.
struct supervisor_decl {
  std::string name;
  restart_strategy strategy = restart_strategy::one_for_one;
  std::uint32_t max_restarts = 5;
  duration period = std::chrono::seconds(60);
  std::string parent; // empty = the root
  source_position where;
  friend bool operator==(const supervisor_decl& a, const supervisor_decl& b) {
    return a.name == b.name && a.strategy == b.strategy && a.max_restarts == b.max_restarts &&
           a.period == b.period && a.parent == b.parent;
  }
};

struct component_decl {
  std::string name;
  component_kind kind = component_kind::analyzer;
  std::string type;
  std::vector<std::string> inputs;
  bool enabled = true;
  mailbox_settings mailbox;
  restart_settings restart;
  quota_settings quota;
  schedule_settings schedule;
  std::string supervisor;      // empty = the root
  throttle_settings throttle;  // nice, io_class, io_level, cpu_affinity, throttle = { ... }
  component_settings settings; // type-specific keys
  source_position where;       // the table's header, for diagnostics

  /// Same settings (used by reload to restart only what changed); ignores `where`.
  [[nodiscard]] bool same_settings(const component_decl& other) const;
};

enum class log_format { text, json };

struct engine_settings {
  std::string profile; // as written: "", "auto", a profile's name or a file (see profile_info)
  std::string host;    // empty = gethostname()
  std::string log_level = "info";
  log_format log_fmt = log_format::text;
  std::string state_dir = "/var/lib/phantomguard";
  std::string temp_dir;                          // empty: <state_dir>/tmp (temp_space.hpp)
  std::string log_dir = "/var/log/phantomguard"; // a sink's relative `path` is made absolute here
  std::string run_dir;                           // the control socket; empty: state_dir
  std::uint64_t temp_max_size = 4ull << 30;      // what the temp folder may hold, bytes
  std::uint64_t state_min_free = 8ull << 20;     // less room in state_dir/temp_dir: "full"
  restart_strategy strategy = restart_strategy::one_for_one;
  std::uint32_t max_restarts = 10; // engine-level intensity (escalation target)
  duration restart_period = std::chrono::seconds(60);
  duration shutdown_timeout = std::chrono::seconds(10);
  duration metrics_interval = std::chrono::seconds(0);       // 0 = no periodic metrics log in `run`
  duration heap_release_interval = std::chrono::seconds(60); // malloc_trim in `run`; 0 = never
  duration loss_report_interval = std::chrono::seconds(60); // engine.events_lost at most this often
  duration tick_interval = std::chrono::seconds(10);        // default source tick in `run`
  std::uint32_t worker_threads = 2;
  std::uint32_t max_throughput = 16; // scheduler.max-throughput
  std::uint64_t batch_size = 256;    // events per batch a component emits at most
  duration batch_delay = std::chrono::milliseconds(50); // flush a partial batch after this
  quota_settings quota;                                 // engine-wide
  throttle_settings placement; // nice, io_class, io_level, cpu_affinity of the whole process
  std::string plugin_dir = "/usr/lib/phantomguard/plugins";
  std::string plugin_signature = "if_present";                     // off | if_present | required
  std::string plugin_trust_dir = "/etc/phantomguard/trusted-keys"; // trusted *.pub keys
  friend bool operator==(const engine_settings&, const engine_settings&) = default;

  /// Where `run` puts its control socket: `run_dir`, or `state_dir` when run_dir is empty.
  [[nodiscard]] const std::string& run_folder() const noexcept {
    return run_dir.empty() ? state_dir : run_dir;
  }
};

/// `[api] listen = "127.0.0.1:9464"`: the daemon's HTTP endpoint (off when `listen` is empty).
/// On loopback /metrics, /healthz and /readyz need no token; any other address needs
/// `token_file`.
struct api_settings {
  std::string listen;     // "HOST:PORT"; port 0 picks a free one (logged)
  std::string token_file; // the bearer token, a root-only file
  std::string cert;       // TLS: PEM certificate (chain); with `key`, the API speaks HTTPS only
  std::string key;        // TLS: PEM private key, a root-only file
  // The newest findings kept in memory for /api/v1/findings and /api/v1/stream (a finding costs
  // about 3 KiB there: 10000 is ~30 MiB once full). Read at start; a reload keeps the ring.
  std::int64_t recent_findings = 10000;
  friend bool operator==(const api_settings&, const api_settings&) = default;
};

/// The profile a config stands on (`[engine] profile` or `--profile`): what was asked for, what
/// that came to and why. Empty `requested`: none.
struct profile_info {
  std::string requested; // "auto", "server", "/etc/phantomguard/profiles/edge.toml"
  std::string name;      // the profile used: "low-resource", or the file's path
  std::string origin;    // where its keys come from: "<profile:low-resource>" or the file
  std::string reason;    // `auto`: the host's facts and the rule that picked it
};

/// A value written as "auto" (or a memory budget as a share of the host's memory, "25%") and
/// the number it came to on this host.
struct resolved_value {
  std::string key;     // "engine.worker_threads", "analyzers.fim.workers"
  std::string written; // "auto", "25%"
  std::int64_t value = 0;
  std::string reason; // "2 cores: one scheduler thread per core, one left to the host"
  source_position where;
};

/// Where one key of the effective config was written (`validate --explain`): the operator's file
/// or the profile, as FILE:LINE:COL.
struct key_origin {
  std::string key;   // "analyzers.fim.rules.etc.path", "suppress[0].rule"
  std::string value; // as TOML writes it, after "auto" was resolved
  source_position where;
};

struct pipeline_config {
  std::string origin; // file path, or "<default>"
  engine_settings engine;
  std::vector<component_decl> components; // in declaration order
  std::vector<supervisor_decl> supervisors;
  api_settings api;
  std::vector<alert_decl> alerts;             // [alerts.NAME], in declaration order
  std::vector<suppression_decl> suppressions; // [[suppress]], in declaration order
  profile_info profile;
  std::vector<resolved_value> resolved; // every "auto" and "N%" and what it came to
  std::vector<key_origin> origins;      // every key set, by the file or its profile

  [[nodiscard]] const component_decl* find(std::string_view name) const;
};

/// Reads and checks a config file. On error, every problem found (syntax, unknown keys, types,
/// ranges, unknown component types, inputs, cycles, duplicates, unconnected sinks) is returned
/// at once, each with its position.
struct config_result {
  std::optional<pipeline_config> config;
  diagnostics errors;
  [[nodiscard]] bool ok() const noexcept { return config.has_value() && errors.empty(); }
};

class registry;

/// What loading takes besides the text (the command line's --profile and --host-resources).
struct load_options {
  std::string profile;                // overrides `[engine] profile`; "" keeps the file's
  std::optional<host_resources> host; // the host "auto" sizes for; nullopt: detected
  const registry* types = nullptr;    // nullptr: registry::instance()
};

config_result load_config_file(const std::string& path);
config_result load_config_string(std::string_view text, std::string origin);
config_result load_config_file(const std::string& path, const load_options& opts);
config_result load_config_string(std::string_view text, std::string origin,
                                 const load_options& opts);

/// The same, looking component types up in `reg` instead of registry::instance() (tests, tools).
config_result load_config_file(const std::string& path, const registry& reg);
config_result load_config_string(std::string_view text, std::string origin, const registry& reg);

/// The document a config stands for once its profile is laid under it and its "auto" values are
/// resolved: what commands that read one component's table (`fim`, `vuln update`) look in.
/// Merge rule (docs/config.md, "Profiles"): tables merge key by key, the file's value wins over
/// the profile's, an array replaces the profile's whole, and a component table whose `type`
/// differs from the profile's replaces it whole.
struct config_document {
  toml::table doc;
  diagnostics errors;
  profile_info profile;
  std::vector<resolved_value> resolved;
};
config_document compose_config(std::string_view text, std::string origin,
                               const load_options& opts = {});
/// The file at `path` (empty: the embedded default config), composed.
config_document compose_config_file(const std::string& path, const load_options& opts = {});

/// The text of a profile compiled into the binary (config/profiles/NAME.toml); nullopt for a
/// name that is not one (host_resources.hpp lists them).
std::optional<std::string_view> profile_text(std::string_view name) noexcept;

/// The deep check validate, scan, run and reload share after loading: each enabled component's
/// type check (or factory) on its settings — fim rules parsed, a plugin's config against its
/// manifest, a sandbox resolved — so that what validate accepts starts. One error per component
/// that would not start, at its table.
diagnostics check_components(const pipeline_config& cfg, const registry& reg);
diagnostics check_components(const pipeline_config& cfg);

/// The first `[SECTION.NAME]` whose `type` is `type` (and whose NAME is `name`, when given): a
/// command reading one component's settings from a config without building the pipeline
/// (`fim`, `vuln update`).
struct named_table {
  std::string name;
  toml::table table;
};
std::optional<named_table> find_component_table(const toml::table& doc, std::string_view section,
                                                std::string_view type, std::string_view name = {});

/// The keys every component table takes, the engine's rather than the type's (type, inputs,
/// enabled, interval, schedule, mailbox, restart, quota, supervisor, nice, io_class, io_level,
/// cpu_affinity, throttle): what a command reading one component's table strips first.
std::vector<std::string> common_component_keys();

/// The config compiled into the binary (config/default.toml).
std::string_view default_config_text() noexcept;
config_result load_default_config();

/// Graphviz DOT of the pipeline graph.
std::string to_dot(const pipeline_config& cfg);

} // namespace pg::runtime
