// `phantomguard run`: the daemon. SIGTERM/SIGINT drain and stop; SIGHUP re-reads the config file
// and applies it with engine::reload (a broken file is refused and the running config kept).
#include <chrono>
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
#include "cli/logging.hpp"
#include "cli/signal_waiter.hpp"
#include "phantomguard/runtime/engine.hpp"

namespace pg::cli {

using namespace pg::runtime;

namespace {

void reload_from(const std::string& path, const global_options& global, engine& eng,
                 pipeline_config& running) {
  if (path.empty()) {
    spdlog::warn("SIGHUP: running the embedded default config; there is no file to re-read "
                 "(start with --config FILE to reload)");
    return;
  }
  spdlog::info("SIGHUP: re-reading {}", path);
  // The path validate takes: loaded, plugin folder and trust prepared, every component checked.
  auto next = build_pipeline(path, global);
  if (!next.ok()) {
    spdlog::error("reload refused: {} error{} in {}; the running config is kept",
                  next.errors.size(), next.errors.size() == 1 ? "" : "s", path);
    for (const auto& d : next.errors)
      spdlog::error("{}", d.to_string());
    prepare_engine(running, global); // the plugin folder and trust of what keeps running
    eng.refuse_reload(next.errors);
    return;
  }
  auto problems = eng.reload(*next.config); // raises engine.reload_failed itself
  if (!problems.empty()) {
    spdlog::error("reload refused by the engine; the running config is kept");
    for (const auto& d : problems)
      spdlog::error("{}", d.to_string());
    prepare_engine(running, global);
    return;
  }
  if (!global.log_level)
    set_log_level(next.config->engine.log_level);
  running = std::move(*next.config);
  spdlog::info("reloaded {}", path);
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
  pipeline_config running = cfg; // what a refused reload falls back to
  const auto deadline = cfg.engine.shutdown_timeout;
  const auto origin = cfg.origin;

  try {
    engine eng(std::move(cfg));
    // Only the signal thread touches this.
    std::optional<std::chrono::steady_clock::time_point> first_stop;
    signals.start(signal_waiter::handlers{
        [&](int signo) {
          const auto now = std::chrono::steady_clock::now();
          if (!first_stop) {
            first_stop = now;
            spdlog::info("{}: draining (deadline {})", strsignal(signo), format_duration(deadline));
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
        [&] { reload_from(global.config_path, global, eng, running); },
    });
    // Declared after `eng`, so the signal thread ends before the engine it calls is destroyed.
    struct finish_on_exit {
      signal_waiter& s;
      ~finish_on_exit() { s.finish(); }
    } finish_guard{signals};
    spdlog::info("running {} (pid {})", origin, static_cast<long>(::getpid()));
    // The HTTP API, on its own threads; declared after `eng`, so it stops before the engine goes.
    std::unique_ptr<http_api> api;
    if (!running.api.listen.empty()) {
      api = std::make_unique<http_api>(running.api, eng, PG_VERSION);
      try {
        spdlog::info("api listening on {}", api->start());
      } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
        return 2;
      }
    }
    run_options opts;
    opts.on_finding = [](const finding& f) {
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
