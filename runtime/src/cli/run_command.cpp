// SPDX-License-Identifier: Apache-2.0
// `phantomguard run`: the daemon. SIGTERM/SIGINT drain and stop; SIGHUP re-reads the config file
// and applies it with engine::reload (a broken file is refused and the running config kept).
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>

#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "cli/commands.hpp"
#include "cli/config_source.hpp"
#include "cli/engine_setup.hpp"
#include "cli/finding_ring.hpp"
#include "cli/http_api.hpp"
#include "cli/logging.hpp"
#include "cli/service_notify.hpp"
#include "cli/signal_waiter.hpp"
#include "phantomguard/runtime/digest.hpp"
#include "phantomguard/runtime/engine.hpp"
#include "phantomguard/runtime/process_memory.hpp"

namespace pg::cli {

using namespace pg::runtime;

namespace {

/// The running config, shared by the signal thread (SIGHUP) and the API's (POST reload): one
/// reload at a time.
struct running_config {
  std::mutex mutex;
  pipeline_config config;
  std::uint64_t generation = 1; // 1 at start, +1 per applied reload
  std::string hash;             // SHA-256 of the config text that runs
};

/// SHA-256 of the config's text: the file as it is now, or the embedded default.
std::string config_hash(const std::string& path) {
  if (path.empty())
    return sha256_hex(default_config_text());
  std::ifstream in(path, std::ios::binary);
  return sha256_hex(std::string(std::istreambuf_iterator<char>(in), {}));
}

/// Re-reads `path` and reloads; {applied, what was said}. `why` names the trigger in the log.
std::pair<bool, std::vector<std::string>> reload_from(const std::string& path,
                                                      const global_options& global, engine& eng,
                                                      running_config& state, const char* why) {
  std::lock_guard lock(state.mutex);
  auto& running = state.config;
  if (path.empty()) {
    const std::string msg = "running the embedded default config; there is no file to re-read "
                            "(start with --config FILE to reload)";
    spdlog::warn("{}: {}", why, msg);
    return {false, {msg}};
  }
  spdlog::info("{}: re-reading {}", why, path);
  // The path validate takes: loaded, plugin folder and trust prepared, every component checked.
  auto next = build_pipeline(path, global);
  if (!next.ok()) {
    spdlog::error("reload refused: {} error{} in {}; the running config is kept",
                  next.errors.size(), next.errors.size() == 1 ? "" : "s", path);
    for (const auto& d : next.errors)
      spdlog::error("{}", d.to_string());
    prepare_engine(running, global); // the plugin folder and trust of what keeps running
    eng.refuse_reload(next.errors);
    std::vector<std::string> lines;
    for (const auto& d : next.errors)
      lines.push_back(d.to_string());
    return {false, lines};
  }
  auto problems = eng.reload(*next.config); // raises engine.reload_failed itself
  if (!problems.empty()) {
    spdlog::error("reload refused by the engine; the running config is kept");
    std::vector<std::string> lines;
    for (const auto& d : problems) {
      spdlog::error("{}", d.to_string());
      lines.push_back(d.to_string());
    }
    prepare_engine(running, global);
    return {false, lines};
  }
  if (!global.log_level)
    set_log_level(next.config->engine.log_level);
  running = std::move(*next.config);
  ++state.generation;
  state.hash = config_hash(path);
  spdlog::info("reloaded {}", path);
  return {true, {"reloaded " + path}};
}

/// What /api/v1/status adds to the engine's metrics: per component rates (over the last second
/// or more) and the last error the engine raised about it.
class status_tracker {
public:
  void saw(const finding& f) {
    if (f.rule.rfind("engine.", 0) != 0 || f.level < severity::medium)
      return;
    auto it = f.entity.find("component");
    if (it == f.entity.end() || !it->is_string())
      return;
    std::lock_guard lock(mutex_);
    last_error_[it->get<std::string>()] = {
        {"rule", f.rule}, {"title", f.title}, {"time", f.to_json()["time"]}};
  }

  nlohmann::json status(engine& eng, running_config& state, finding_ring& ring) {
    nlohmann::json out;
    const auto m = eng.metrics();
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(state.mutex);
    std::lock_guard mine(mutex_);
    // Rates over at least a second: recomputed when the base is a second old or more, else
    // the last ones computed.
    const double dt = std::chrono::duration<double>(now - base_taken_).count();
    const bool roll = base_taken_ == std::chrono::steady_clock::time_point{} || dt >= 1.0;
    out["config"] = state.config.origin;
    out["generation"] = state.generation;
    out["config_sha256"] = state.hash;
    out["profile"] = profile_json(state.config);
    out["pid"] = static_cast<long>(::getpid());
    out["version"] = PG_VERSION;
    out["time"] = format_rfc3339(wall_clock::now());
    out["last_finding"] = ring.last();
    static const char* names[] = {"starting", "running", "finished", "stopped", "disabled"};
    static const char* steps[] = {"ok", "throttled", "shedding", "restarted", "disabled"};
    auto& comps = out["components"] = nlohmann::json::array();
    double cpu_total = 0;
    std::int64_t lost_total = 0;
    for (const auto& d : state.config.components) {
      nlohmann::json c = {{"name", d.name},
                          {"kind", std::string(to_string(d.kind))},
                          {"type", d.type},
                          {"enabled", d.enabled},
                          {"inputs", d.inputs},
                          {"supervisor", d.supervisor.empty() ? "root" : d.supervisor},
                          {"cpu_quota_percent", d.quota.cpu_percent.value_or(0)},
                          {"memory_quota_bytes", d.quota.memory_mb.value_or(0) << 20},
                          {"queue_capacity", d.inputs.size() * d.mailbox.window_events}};
      if (const auto* cm = m.find(d.name)) {
        auto gauge = [&](const char* k) {
          auto it = cm->gauges.find(k);
          return it == cm->gauges.end() ? 0.0 : it->second;
        };
        auto counter = [&](const char* k) {
          auto it = cm->counters.find(k);
          return it == cm->counters.end() ? std::int64_t{0} : it->second;
        };
        c["state"] = names[std::clamp(static_cast<int>(gauge("status")), 0, 4)];
        c["quota_step"] = steps[std::clamp(static_cast<int>(gauge("quota_level")), 0, 4)];
        // The adaptive throttle: why it holds the work now (null when it does not), how often
        // and how long it has.
        c["paused"] = cm->paused_because.empty() ? nlohmann::json(nullptr)
                                                 : nlohmann::json(cm->paused_because);
        c["pauses"] = counter("pauses");
        c["paused_seconds"] = static_cast<double>(counter("paused_us")) / 1e6;
        c["restarts"] = counter("restarts");
        c["failures"] = counter("failures");
        c["events_in"] = counter("events_in");
        c["events_out"] = counter("events_out");
        c["events_lost"] = counter("events_lost");
        c["cpu_seconds"] = static_cast<double>(counter("cpu_time_us")) / 1e6;
        c["cpu_percent"] = gauge("cpu_percent");
        c["memory_bytes"] = gauge("memory_bytes");
        c["queued_events"] = gauge("queued_events");
        auto& r = rates_[d.name];
        if (roll) {
          if (base_taken_ != std::chrono::steady_clock::time_point{} && r.have_base) {
            r.in = std::max(0.0, static_cast<double>(counter("events_in") - r.base_in) / dt);
            r.out = std::max(0.0, static_cast<double>(counter("events_out") - r.base_out) / dt);
          }
          r.base_in = counter("events_in");
          r.base_out = counter("events_out");
          r.have_base = true;
        }
        c["events_in_per_second"] = r.in;
        c["events_out_per_second"] = r.out;
        cpu_total += gauge("cpu_percent");
        lost_total += counter("events_lost");
      }
      if (auto it = last_error_.find(d.name); it != last_error_.end())
        c["last_error"] = it->second;
      comps.push_back(std::move(c));
    }
    if (roll)
      base_taken_ = now;
    const auto& q = state.config.engine.quota;
    out["engine"] = {{"rss_bytes", static_cast<double>(process_rss_bytes())},
                     {"memory_quota_bytes", q.memory_mb.value_or(0) << 20},
                     {"cpu_percent", cpu_total},
                     {"cpu_quota_percent", q.cpu_percent.value_or(0)},
                     {"events_lost", lost_total}};
    return out;
  }

private:
  std::mutex mutex_;
  std::map<std::string, nlohmann::json> last_error_;
  struct rate {
    std::int64_t base_in = 0, base_out = 0;
    bool have_base = false;
    double in = 0, out = 0;
  };
  std::map<std::string, rate> rates_; // by component
  std::chrono::steady_clock::time_point base_taken_{};
};

/// /readyz: every enabled component runs (or finished), and every polling one (a source, or an
/// analyzer without inputs: they tick at once on start) has ticked once. A cron-scheduled one is
/// ready when it runs: its first tick may be hours away.
std::vector<std::string> not_ready(engine& eng, running_config& state) {
  static const char* names[] = {"starting", "running", "finished", "stopped", "disabled"};
  const auto m = eng.metrics();
  std::lock_guard lock(state.mutex);
  std::vector<std::string> reasons;
  for (const auto& d : state.config.components) {
    if (!d.enabled)
      continue;
    const auto* c = m.find(d.name);
    if (!c) {
      reasons.push_back(d.name + ": not started");
      continue;
    }
    auto it = c->gauges.find("status");
    const int status = it == c->gauges.end() ? 0 : static_cast<int>(it->second);
    if (status != 1 && status != 2) {
      reasons.push_back(d.name + ": " + names[std::clamp(status, 0, 4)]);
      continue;
    }
    const bool ticks =
        d.kind != component_kind::sink && (d.kind == component_kind::source || d.inputs.empty());
    auto t = c->counters.find("ticks");
    if (ticks && d.schedule.cron.empty() && status == 1 &&
        (t == c->counters.end() || t->second == 0))
      reasons.push_back(d.name + ": has not ticked yet");
  }
  return reasons;
}

/// The running config's jsonl sinks, for /api/v1/findings?source=file.
std::vector<std::pair<std::string, std::string>> jsonl_files(running_config& state) {
  std::lock_guard lock(state.mutex);
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& d : state.config.components)
    if (d.kind == component_kind::sink && d.type == "jsonl" && d.enabled)
      out.emplace_back(d.name, d.settings.get_string("path"));
  return out;
}

} // namespace

int run_command(const global_options& global) {
  // Block the signals before any thread exists (the engine's threads inherit the mask).
  signal_waiter signals;

  auto loaded = build_pipeline(global.config_path, global);
  if (!loaded.ok()) {
    print_diagnostics(std::cerr, loaded.errors, global.config_path);
    return 2;
  }
  auto cfg = std::move(*loaded.config);
  configure_logging(global.log_level.value_or(cfg.engine.log_level), cfg.engine.log_fmt);
  for (const auto& line : profile_lines(cfg))
    spdlog::info("{}", line);
  running_config running; // what a refused reload falls back to
  running.config = cfg;
  running.hash = config_hash(global.config_path);
  service_notifier service; // systemd's Type=notify, when started by it
  // What /api/v1/findings and the stream answer from.
  finding_ring recent(static_cast<std::size_t>(cfg.api.recent_findings));
  status_tracker tracker;
  engine* live = nullptr; // set once the engine exists; the reload paths start after that
  auto reload = [&](const char* why) {
    service.reloading();
    auto outcome = reload_from(global.config_path, global, *live, running, why);
    service.ready(outcome.first ? "running (reloaded)" : "running (reload refused)");
    return outcome;
  };
  const auto deadline = cfg.engine.shutdown_timeout;
  const auto origin = cfg.origin;

  try {
    engine eng(std::move(cfg));
    live = &eng;
    // Only the signal thread touches this.
    std::optional<std::chrono::steady_clock::time_point> first_stop;
    signals.start(signal_waiter::handlers{
        [&](int signo) {
          const auto now = std::chrono::steady_clock::now();
          if (!first_stop) {
            first_stop = now;
            spdlog::info("{}: draining (deadline {})", strsignal(signo), format_duration(deadline));
            service.stopping();
            eng.request_stop();
          } else if (now - *first_stop < std::chrono::seconds(2)) {
            // Tools such as timeout(1) signal the child and its process group: one request
            // arrives twice. Only a request made a moment later means "now".
            spdlog::debug("{} while draining: already stopping", strsignal(signo));
          } else {
            spdlog::warn("{} again: exiting without waiting for the drain", strsignal(signo));
            spdlog::default_logger()->flush();
            std::_Exit(1);
          }
        },
        [&] { (void)reload("SIGHUP"); },
    });
    // Declared after `eng`, so the signal thread ends before the engine it calls is destroyed.
    struct finish_on_exit {
      signal_waiter& s;
      ~finish_on_exit() { s.finish(); }
    } finish_guard{signals};
    spdlog::info("running {} (pid {})", origin, static_cast<long>(::getpid()));
    // The HTTP API and the control socket, on threads of their own; declared after `eng`, so
    // they stop before the engine goes.
    api_hooks hooks;
    hooks.status = [&] { return tracker.status(eng, running, recent); };
    hooks.reload = [&] { return reload("POST /api/v1/reload"); };
    hooks.findings = &recent;
    hooks.jsonl_files = [&] { return jsonl_files(running); };
    hooks.not_ready = [&] { return not_ready(eng, running); };
    hooks.config_path = global.config_path;
    http_api api(running.config.api, eng, PG_VERSION, hooks);
    if (!running.config.api.listen.empty()) {
      try {
        spdlog::info("api listening on {}", api.start());
      } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
        return 2;
      }
    }
    // `phantomguard status` and `top` reach the daemon here, with or without the API. Not
    // fatal: the daemon runs without it (another daemon may hold the same run_dir). A run_dir
    // the daemon makes is private (0700); the socket itself is 0600.
    const auto control = control_socket_path(running.config.engine);
    try {
      const auto& folder = running.config.engine.run_folder();
      std::error_code ec;
      if (!folder.empty() && std::filesystem::create_directories(folder, ec))
        ::chmod(folder.c_str(), 0700);
      api.start_control_socket(control);
      spdlog::info("control socket {}", control);
    } catch (const std::exception& e) {
      spdlog::warn("{}; `phantomguard status` and `top` cannot reach this daemon", e.what());
    }
    run_options opts;
    opts.on_started = [&] {
      service.ready("running " + std::to_string(running.config.components.size()) + " components");
      // Vouched for while the supervisor's check loop runs: it beats every 500 ms at most, so a
      // heartbeat older than 5 s means the engine is stuck although the process lives.
      service.start_watchdog([&eng] {
        const auto m = eng.metrics();
        const auto* e = m.find("engine");
        auto it = e ? e->gauges.find("custom.heartbeat") : decltype(e->gauges.end()){};
        if (!e || it == e->gauges.end())
          return std::string("the engine has not reported yet");
        const double age = monotonic_seconds() - it->second;
        if (age > 5.0)
          return "the engine's supervisor has not run for " +
                 std::to_string(static_cast<int>(age)) + " s";
        return std::string();
      });
    };
    opts.on_finding = [&](const finding& f) {
      recent.push(f);
      tracker.saw(f);
      // What the engine says of itself (a component failing, a sink that cannot deliver)
      // belongs in the daemon's log too, where an operator looks first.
      if (f.rule.rfind("engine.", 0) == 0 && f.level >= severity::medium)
        spdlog::warn("{} {}: {}", to_string(f.level), f.rule, f.title);
      else
        spdlog::debug("finding {} {} {}", to_string(f.level), f.rule, f.title);
    };
    const int code = eng.run(opts);
    signals.finish();
    spdlog::info("stopped ({})", code == 0 ? "clean drain" : "drain deadline missed");
    return code;
  } catch (const std::exception& e) {
    signals.finish();
    spdlog::critical("engine failed: {}", e.what());
    return 2;
  }
}

} // namespace pg::cli
