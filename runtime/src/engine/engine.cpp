// SPDX-License-Identifier: Apache-2.0
// engine.cpp — engine::impl: one actor system per engine, a supervisor actor, a watchdog thread.
#include "phantomguard/runtime/engine.hpp"
#include "phantomguard/runtime/temp_space.hpp"

#include <unistd.h>

#include <condition_variable>
#include <mutex>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <spdlog/spdlog.h>

#include "engine/messages.hpp"
#include "engine/supervisor.hpp"

namespace pg::runtime {

using namespace detail;

namespace {

std::string local_host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0)
    return "localhost";
  return buf;
}

} // namespace

struct engine::impl {
  pipeline_config config;
  const registry& reg;
  std::string host;
  std::shared_ptr<finding_hub> hub = std::make_shared<finding_hub>();
  std::shared_ptr<stats_registry> stats = std::make_shared<stats_registry>();
  caf::actor_system_config sys_cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::actor sup;
  std::mutex sup_mutex;
  std::unique_ptr<watchdog> dog;
  std::shared_ptr<supervisor_env> env;

  std::mutex mutex;
  std::condition_variable cv;
  bool stop_requested = false;
  bool running = false;
  bool used = false;

  impl(pipeline_config cfg, const registry& r) : config(std::move(cfg)), reg(r) {
    host = config.engine.host.empty() ? local_host_name() : config.engine.host;
    const auto& e = config.engine;
    sys_cfg.set("scheduler.max-threads",
                static_cast<std::size_t>(std::max<std::uint32_t>(1, e.worker_threads)));
    sys_cfg.set("scheduler.max-throughput",
                static_cast<std::size_t>(std::max<std::uint32_t>(1, e.max_throughput)));
    // CAF's work-stealing workers poll while idle: every 50 us for 25 ms after each job, then
    // every 10 ms for good. An engine that ticks every 100 ms then spends percents of a core
    // doing nothing. Fewer moderate polls and a longer relaxed sleep keep a busy engine's
    // latency (a worker with queued work is woken at once) and cut the idle cost.
    sys_cfg.set("work-stealing.moderate-poll-attempts", std::size_t{20});
    sys_cfg.set("work-stealing.relaxed-sleep-duration",
                caf::timespan{std::chrono::milliseconds(100)});
    // SQLite's allocations are charged to the component whose thread makes them (before any
    // database is opened; when SQLite was used already, they stay uncounted).
    (void)heap::install_sqlite_accounting();
    // The scratch folder: what a process that is gone left there goes now (an image unpacked by
    // a daemon that was killed). A folder we cannot use is not fatal: components then make
    // their scratch folders where they would without one.
    {
      const auto dir = temp_dir_of(config.engine);
      auto cleaned = prepare_temp_dir(dir);
      if (!cleaned.error.empty())
        spdlog::warn("engine: temp_dir unusable: {}", cleaned.error);
      else if (cleaned.removed > 0)
        spdlog::info("engine: removed {} leftover entr{} ({} bytes) from {}", cleaned.removed,
                     cleaned.removed == 1 ? "y" : "ies", cleaned.bytes, dir);
    }
    sys = std::make_unique<caf::actor_system>(sys_cfg);
    // [engine] nice / io_class / cpu_affinity: every thread there is now (the scheduler's
    // included); the ones started later inherit it from the thread that starts them.
    if (config.engine.placement.places_threads())
      if (auto refused = apply_to_process(config.engine.placement); !refused.empty())
        spdlog::warn("engine: [engine] throttle not applied: {}", refused);
    dog = std::make_unique<watchdog>(
        [this](const std::shared_ptr<instance_slot>& s, std::int64_t elapsed) {
          caf::actor target;
          {
            std::lock_guard guard{sup_mutex};
            target = sup;
          }
          if (target)
            caf::anon_send<caf::message_priority::high>(
                target, hang_report{s->name, s->instance, elapsed, s->edge.load()});
        });
  }

  std::future<void> start(engine_mode mode) {
    if (used)
      throw std::logic_error("engine: scan() or run() may be called once per engine");
    used = true;
    env = std::make_shared<supervisor_env>();
    env->reg = &reg;
    env->hub = hub;
    env->stats = stats;
    env->dog = dog.get();
    env->host = host;
    env->mode = mode;
    auto done = env->done.get_future();
    auto s = sys->spawn<supervisor_actor>(env, config);
    {
      std::lock_guard guard{sup_mutex};
      sup = s;
    }
    caf::anon_send(s, go_atom::value);
    return done;
  }

  void shutdown() {
    caf::actor s;
    {
      std::lock_guard guard{sup_mutex};
      s = std::move(sup);
      sup = nullptr;
    }
    if (s)
      caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
  }

  ~impl() {
    shutdown();
    // The system first (it waits for the actors; hooks that honour should_stop() return
    // promptly), then the watchdog the supervisor registers slots with.
    sys.reset();
    dog.reset();
  }
};

engine::engine(pipeline_config cfg, const registry& reg)
    : impl_(std::make_unique<impl>(std::move(cfg), reg)) {}

engine::~engine() = default;

scan_report engine::scan(const scan_options& opts) {
  impl_->hub->configure(true, opts.on_finding);
  auto done = impl_->start(engine_mode::scan);
  scan_report report;
  if (done.wait_for(opts.timeout) != std::future_status::ready) {
    report.timed_out = true;
    {
      std::lock_guard guard{impl_->sup_mutex};
      caf::anon_send(impl_->sup, timeout_atom::value);
    }
    done.wait_for(std::chrono::seconds(5));
  }
  report.metrics = impl_->stats->snapshot();
  impl_->shutdown();
  // The caller's callback may refer to things that die when scan() returns: detach it (this
  // waits for a callback in progress) before anything else can be published.
  impl_->hub->configure(false, nullptr);
  report.findings = impl_->hub->take();
  return report;
}

int engine::run(const run_options& opts) {
  impl_->hub->configure(false, opts.on_finding);
  auto done = impl_->start(engine_mode::run);
  if (opts.on_started)
    opts.on_started();
  {
    std::unique_lock lock{impl_->mutex};
    impl_->running = true;
    impl_->cv.wait(lock, [&] { return impl_->stop_requested; });
    impl_->running = false;
  }
  {
    std::lock_guard guard{impl_->sup_mutex};
    caf::anon_send(impl_->sup, drain_atom::value);
  }
  auto status = done.wait_for(impl_->config.engine.shutdown_timeout);
  impl_->shutdown();
  impl_->hub->configure(false, nullptr);
  return status == std::future_status::ready ? 0 : 1;
}

void engine::request_stop() {
  {
    std::lock_guard guard{impl_->mutex};
    impl_->stop_requested = true;
  }
  impl_->cv.notify_all();
}

diagnostics engine::reload(pipeline_config next) {
  caf::actor s;
  {
    std::lock_guard guard{impl_->sup_mutex};
    s = impl_->sup;
  }
  if (!s)
    return {diagnostic{{next.origin, 0, 0}, "reload: the engine is not running"}};
  auto req = reload_request{std::make_shared<pipeline_config>(std::move(next)),
                            std::make_shared<std::promise<diagnostics>>()};
  auto fut = req.reply->get_future();
  caf::anon_send(s, reload_atom::value, req);
  if (fut.wait_for(std::chrono::seconds(30)) != std::future_status::ready)
    return {diagnostic{{}, "reload: the engine did not answer within 30 s"}};
  return fut.get();
}

void engine::refuse_reload(diagnostics why) {
  caf::actor s;
  {
    std::lock_guard guard{impl_->sup_mutex};
    s = impl_->sup;
  }
  if (s)
    caf::anon_send(s, refused_reload{std::move(why)});
}

metrics_snapshot engine::metrics() const {
  return impl_->stats->snapshot();
}

} // namespace pg::runtime
