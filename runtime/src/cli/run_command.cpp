// `phantomguard run`: the daemon. SIGTERM/SIGINT drain and stop; SIGHUP re-reads the config file
// and applies it with engine::reload (a broken file is refused and the running config kept).
#include <algorithm>
#include <chrono>
#include <deque>
#include <mutex>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>

#include <unistd.h>

#include <spdlog/spdlog.h>

#include "cli/commands.hpp"
#include "cli/config_source.hpp"
#include "cli/engine_setup.hpp"
#include "cli/http_api.hpp"
#include "cli/service_notify.hpp"
#include "cli/logging.hpp"
#include "cli/signal_waiter.hpp"
#include "phantomguard/runtime/engine.hpp"

namespace pg::cli {

using namespace pg::runtime;

namespace {

/// The running config, shared by the signal thread (SIGHUP) and the API's (POST reload): one
/// reload at a time.
struct running_config {
  std::mutex mutex;
  pipeline_config config;
  std::uint64_t generation = 1; // 1 at start, +1 per applied reload
};

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
  spdlog::info("reloaded {}", path);
  return {true, {"reloaded " + path}};
}

/// The last findings, for /api/v1/findings: a bounded ring numbered from 1.
class finding_ring {
public:
  explicit finding_ring(std::size_t capacity) : capacity_(capacity) {}
  void push(const finding& f) {
    std::lock_guard lock(mutex_);
    ring_.emplace_back(++last_, f);
    if (ring_.size() > capacity_)
      ring_.pop_front();
  }
  nlohmann::json after(std::uint64_t since, severity min_level, std::size_t limit) {
    std::lock_guard lock(mutex_);
    auto items = nlohmann::json::array();
    std::uint64_t next = since;
    for (const auto& [seq, f] : ring_) {
      if (seq <= since || f.level < min_level)
        continue;
      if (items.size() >= limit)
        break;
      auto j = f.to_json();
      j["seq"] = seq;
      items.push_back(std::move(j));
      next = seq;
    }
    const std::uint64_t oldest = ring_.empty() ? last_ + 1 : ring_.front().first;
    return {{"findings", items}, {"next", next}, {"last", last_},
            {"dropped_before", since + 1 < oldest ? oldest - since - 1 : 0}};
  }

private:
  std::mutex mutex_;
  std::deque<std::pair<std::uint64_t, finding>> ring_;
  std::size_t capacity_;
  std::uint64_t last_ = 0;
};

/// /api/v1/status: the running config's components with their live figures.
nlohmann::json status_of(engine& eng, running_config& state) {
  nlohmann::json out;
  auto m = eng.metrics();
  std::lock_guard lock(state.mutex);
  out["config"] = state.config.origin;
  out["generation"] = state.generation;
  out["pid"] = static_cast<long>(::getpid());
  static const char* names[] = {"starting", "running", "finished", "stopped", "disabled"};
  static const char* steps[] = {"ok", "throttled", "shedding", "restarted", "disabled"};
  auto& comps = out["components"] = nlohmann::json::array();
  for (const auto& d : state.config.components) {
    nlohmann::json c = {{"name", d.name},
                        {"kind", std::string(to_string(d.kind))},
                        {"type", d.type},
                        {"enabled", d.enabled},
                        {"supervisor", d.supervisor.empty() ? "root" : d.supervisor}};
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
      c["restarts"] = counter("restarts");
      c["failures"] = counter("failures");
      c["events_in"] = counter("events_in");
      c["events_out"] = counter("events_out");
      c["events_lost"] = counter("events_lost");
      c["cpu_seconds"] = static_cast<double>(counter("cpu_time_us")) / 1e6;
      c["memory_bytes"] = gauge("memory_bytes");
      c["queued_events"] = gauge("queued_events");
    }
    comps.push_back(std::move(c));
  }
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
  running_config running; // what a refused reload falls back to
  running.config = cfg;
  service_notifier service; // systemd's Type=notify, when started by it
  finding_ring recent(10000); // what /api/v1/findings answers from
  engine* live = nullptr;    // set once the engine exists; the reload paths start after that
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
    // The HTTP API, on its own threads; declared after `eng`, so it stops before the engine goes.
    std::unique_ptr<http_api> api;
    if (!running.config.api.listen.empty()) {
      api_hooks hooks;
      hooks.status = [&] { return status_of(eng, running); };
      hooks.reload = [&] { return reload("POST /api/v1/reload"); };
      hooks.findings = [&](std::uint64_t since, severity level, std::size_t limit) {
        return recent.after(since, level, limit);
      };
      api = std::make_unique<http_api>(running.config.api, eng, PG_VERSION, std::move(hooks));
      try {
        spdlog::info("api listening on {}", api->start());
      } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
        return 2;
      }
    }
    run_options opts;
    opts.on_started = [&] {
      service.ready("running " + std::to_string(running.config.components.size()) +
                    " components");
      service.start_watchdog();
    };
    opts.on_finding = [&](const finding& f) {
      recent.push(f);
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
