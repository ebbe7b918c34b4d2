// SPDX-License-Identifier: Apache-2.0
// isolated_detector.cpp — the engine's side of an isolated plugin: a component that forwards
// its hooks to the child host. Batches are pipelined (up to max_outstanding in flight, the
// credit window), so the engine encodes the next batch while the child runs the plugin on the
// previous one; everything else (timer, drain, snapshot, restore) is a synchronous call.
#include "phantomguard/runtime/json_fields.hpp"
#include "phantomguard/runtime/plugin_isolation.hpp"
#include "phantomguard/runtime/process_memory.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <optional>
#include <seccomp.h>
#include <spawn.h>
#include <sstream>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <time.h>
#include <unistd.h>
#include <vector>

#include <toml++/toml.h>

#include "phantomguard/runtime/refusal.hpp"
#include "plugin/child_channel.hpp"

namespace pg::runtime {
namespace {

using wire::frame_type;
using clock_type = std::chrono::steady_clock;

std::string quote(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

std::string signal_name(int sig) {
  if (const char* abbrev = ::sigabbrev_np(sig); abbrev != nullptr)
    return std::string("SIG") + abbrev;
  return "signal " + std::to_string(sig);
}

std::string syscall_name(std::int32_t nr) {
  char* n = ::seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
  std::string out = n != nullptr ? std::string(n) : "syscall " + std::to_string(nr);
  std::free(n);
  return out;
}

/// The child process: killed and reaped when this goes away.
class child_process {
public:
  child_process() = default;
  explicit child_process(pid_t pid) noexcept : pid_(pid) {}
  ~child_process() { kill_and_reap(); }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  [[nodiscard]] bool running() const noexcept { return pid_ > 0; }

  /// Waits up to `grace` for the child to exit by itself; returns its wait status, or -1 when
  /// it had to be killed.
  int reap(std::chrono::milliseconds grace) {
    if (pid_ <= 0)
      return status_;
    const auto until = clock_type::now() + grace;
    for (;;) {
      int st = 0;
      const pid_t r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return status_ = st;
      }
      if (r < 0 && errno != EINTR) {
        pid_ = -1;
        return status_ = -1;
      }
      if (clock_type::now() >= until)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    kill_and_reap();
    return status_ = -1;
  }

  void kill_and_reap() noexcept {
    if (pid_ <= 0)
      return;
    ::kill(pid_, SIGKILL);
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }

private:
  pid_t pid_ = -1;
  int status_ = -1;
};

class isolated_detector final : public component {
public:
  isolated_detector(const plugin_request& request, const isolation_settings& settings,
                    std::string name, plugin_manifest manifest, detector_manifest det)
      : settings_(settings), name_(std::move(name)), manifest_(std::move(manifest)),
        det_(std::move(det)),
        label_(quote(manifest_.id) + " detector " + quote(det_.name) + " (isolated)") {
    spawn(request);
  }

  ~isolated_detector() override {
    if (child_ && child_->running()) {
      try {
        ch_.send(frame_type::shutdown, {}, clock_type::now() + std::chrono::milliseconds(50));
      } catch (...) {
      }
      ch_.close();
      child_->reap(std::chrono::milliseconds(200));
    }
  }

  isolated_detector(const isolated_detector&) = delete;
  isolated_detector& operator=(const isolated_detector&) = delete;

  void start(context& ctx) override { scope s(*this, ctx); }

  void on_batch(const event_batch& batch, context& ctx) override {
    scope s(*this, ctx);
    alive_or_throw("on_batch");
    buffer_.assign(wire::frame_header_size, '\0');
    const std::size_t n = wire::encode_batch(
        batch, [this](const std::string& k) { return subscribed(k); }, buffer_);
    if (n == 0)
      return;
    while (outstanding_.size() >= std::max<std::size_t>(1, settings_.max_outstanding))
      await_one();
    const auto now = clock_type::now();
    if (outstanding_.empty())
      last_done_ = now;
    outstanding_.push_back(call{"on_batch", now});
    send(frame_type::batch, buffer_);
    if (settings_.max_outstanding <= 1 || !ctx.input_waiting()) {
      // No pipelining, or no next batch queued: the answer (and its findings) within this hook.
      while (!outstanding_.empty())
        await_one();
    } else {
      // Take what the child already answered without waiting for it.
      collect_ready();
    }
    measure_child(ctx, false);
  }

  void on_tick(context& ctx) override {
    scope s(*this, ctx);
    alive_or_throw("on_timer");
    std::string p;
    wire::writer(p).put(std::int64_t{0});
    call_sync(frame_type::timer, "on_timer", p);
    measure_child(ctx, true);
    if (det_.has_capability("state")) // kept for a restart after a crash
      if (auto snap = call_sync(frame_type::snapshot, "snapshot", {}); snap)
        last_snapshot_ = std::move(*snap);
  }

  void stop(context& ctx) override {
    scope s(*this, ctx);
    alive_or_throw("drain");
    call_sync(frame_type::drain, "drain", {});
    measure_child(ctx, true);
  }

  std::string snapshot() override {
    // Called on a failing instance too: a dead child's state is the last one kept.
    if (!det_.has_capability("state") || !failure_.empty())
      return last_snapshot_;
    try {
      if (auto snap = call_sync(frame_type::snapshot, "snapshot", {}); snap)
        last_snapshot_ = std::move(*snap);
    } catch (...) {
    }
    return last_snapshot_;
  }

  void restore(std::string_view state) override {
    if (state.empty() || !det_.has_capability("state"))
      return;
    alive_or_throw("restore");
    call_sync(frame_type::restore, "restore", state);
    last_snapshot_ = std::string(state);
  }

private:
  struct call {
    const char* hook;
    clock_type::time_point sent;
  };

  struct scope {
    scope(isolated_detector& d, context& ctx) : d_(d) {
      d_.ctx_ = &ctx;
      d_.replay();
    }
    ~scope() { d_.ctx_ = nullptr; }
    scope(const scope&) = delete;
    scope& operator=(const scope&) = delete;
    isolated_detector& d_;
  };

  bool subscribed(const std::string& kind) const noexcept {
    if (det_.subscribes.empty())
      return true;
    for (const auto& k : det_.subscribes)
      if (k == kind)
        return true;
    return false;
  }

  // ---- starting the child ---------------------------------------------------------------------

  void spawn(const plugin_request& request) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
      throw std::runtime_error("plugin " + label_ + ": socketpair failed: " + std::strerror(errno));
    ch_ = child_channel(sv[0]);
    const int child_end = sv[1];
    ::fcntl(sv[0], F_SETFL, ::fcntl(sv[0], F_GETFL) | O_NONBLOCK);
    const int buf = 1 << 20; // room for the credit window of batches; the kernel caps it
    ::setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    ::setsockopt(child_end, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);

    const std::string binary =
        settings_.host_binary.empty() ? plugin_host_binary() : settings_.host_binary;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, child_end, 3);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    sigset_t all;
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none); // the engine's threads block signals; the child not
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    std::string a0 = binary, a1 = "plugin-host", a2 = "--channel", a3 = "3";
    char* argv[] = {a0.data(), a1.data(), a2.data(), a3.data(), nullptr};
#if defined(PG_SANITIZER_ADDRESS)
    // The ASan build only (`make test-asan`): a crash in the child must stay the signal it is in
    // production, not ASan's report and exit 1; and LeakSanitizer's exit-time check stops the
    // world with ptrace, which the child's seccomp allow-list refuses.
    char sanitizer_options[] =
        "ASAN_OPTIONS=handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_abort=0:detect_leaks=0";
    char* no_environment[] = {sanitizer_options, nullptr};
#else
    char* no_environment[] = {nullptr}; // nothing of the engine's environment reaches the plugin
#endif
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, binary.c_str(), &fa, &attr, argv, no_environment);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    ::close(child_end);
    if (rc != 0)
      throw std::runtime_error("plugin " + label_ + ": cannot start the plugin host " + binary +
                               ": " + std::strerror(rc) +
                               " (set PHANTOMGUARD_PLUGIN_HOST to the phantomguard binary)");
    child_ = std::make_unique<child_process>(pid);
    if (clockid_t clk{}; ::clock_getcpuclockid(pid, &clk) == 0)
      cpu_clock_ = clk;
    charged_io_ = io_counters{};

    toml::table init{{"name", name_},
                     {"plugin", request.plugin},
                     {"version", request.version},
                     {"sha256", request.sha256},
                     {"detector", det_.name},
                     {"plugin_dir", request.plugin_dir},
                     {"config", request.config},
                     {"memory_mb", static_cast<std::int64_t>(settings_.memory_mb)},
                     {"cpu_seconds", static_cast<std::int64_t>(settings_.cpu_seconds)},
                     {"user", settings_.user},
                     {"signature", std::string(to_string(request.signature))},
                     {"trust_dir", request.trust_dir}};
    toml::array read_paths;
    for (const auto& p : settings_.read_paths)
      read_paths.push_back(p);
    init.insert("read_paths", std::move(read_paths));
    std::ostringstream text;
    text << init;
    const auto deadline = clock_type::now() + settings_.start_timeout;
    outstanding_.push_back(call{"start", clock_type::now()});
    last_done_ = clock_type::now();
    try {
      ch_.send(frame_type::init, text.str(), deadline);
    } catch (const channel_closed&) {
      died();
    } catch (const channel_timeout&) {
      die("did not start within " + std::to_string(settings_.start_timeout.count()) + " ms");
    }
    child_channel::frame f;
    for (;;) {
      try {
        if (!ch_.receive(f, deadline))
          die("did not become ready within " + std::to_string(settings_.start_timeout.count()) +
              " ms");
      } catch (const channel_closed&) {
        died();
      } catch (const wire::protocol_error& e) {
        die(std::string("sent garbage on the channel (") + e.what() + ")");
      }
      if (f.type == frame_type::ready)
        break;
      if (f.type == frame_type::refused) {
        wire::reader r(f.payload);
        const bool refusal = r.get<std::uint8_t>() != 0;
        const std::string msg(r.get_string());
        child_->reap(std::chrono::milliseconds(500));
        failure_ = msg;
        if (refusal)
          throw component_refused("engine.plugin_refused", msg);
        throw std::runtime_error("plugin " + label_ + " failed to start: " + msg);
      }
      handle(f);
    }
    outstanding_.clear();
  }

  // ---- calls ----------------------------------------------------------------------------------

  void send(frame_type type, std::string& prepared) {
    try {
      ch_.send_prepared(type, prepared, clock_type::now() + settings_.call_timeout);
    } catch (const channel_closed&) {
      died();
    } catch (const channel_timeout&) {
      die("missed its deadline (" + std::to_string(settings_.call_timeout.count()) + " ms)");
    }
  }

  /// Waits for every batch in flight, then makes one call and waits for its answer. Returns the
  /// extra bytes of the answer (the snapshot).
  std::optional<std::string> call_sync(frame_type type, const char* hook, std::string_view data) {
    while (!outstanding_.empty())
      await_one();
    std::string p(wire::frame_header_size, '\0');
    p.append(data);
    last_done_ = clock_type::now();
    outstanding_.push_back(call{hook, last_done_});
    send(type, p);
    return await_one();
  }

  /// Reads frames until the oldest call in flight is done; its deadline counts from when the
  /// child could start on it (the later of its sending and the previous answer).
  std::optional<std::string> await_one() {
    const auto deadline = std::max(outstanding_.front().sent, last_done_) + settings_.call_timeout;
    child_channel::frame f;
    for (;;) {
      try {
        if (!ch_.receive(f, deadline))
          die("missed its deadline (" + std::to_string(settings_.call_timeout.count()) + " ms)");
      } catch (const channel_closed&) {
        died();
      } catch (const wire::protocol_error& e) {
        die(std::string("sent garbage on the channel (") + e.what() + ")");
      }
      if (f.type == frame_type::done)
        return finish_call(f);
      handle(f);
    }
  }

  /// Handles what is already buffered or readable, without waiting.
  void collect_ready() {
    child_channel::frame f;
    for (;;) {
      try {
        if (!ch_.receive(f, clock_type::now()))
          return;
      } catch (const channel_closed&) {
        died();
      } catch (const wire::protocol_error& e) {
        die(std::string("sent garbage on the channel (") + e.what() + ")");
      }
      if (f.type == frame_type::done)
        finish_call(f);
      else
        handle(f);
    }
  }

  std::optional<std::string> finish_call(const child_channel::frame& f) {
    if (outstanding_.empty())
      die("sent garbage on the channel (an answer to no call)");
    std::int32_t status = 0;
    std::string message;
    std::string extra;
    try {
      wire::reader r(f.payload);
      status = r.get<std::int32_t>();
      message = r.get_string();
      extra = r.rest();
    } catch (const wire::protocol_error& e) {
      die(std::string("sent garbage on the channel (") + e.what() + ")");
    }
    const char* hook = outstanding_.front().hook;
    outstanding_.pop_front();
    last_done_ = clock_type::now();
    switch (static_cast<wire::call_status>(status)) {
    case wire::call_status::ok:
      return extra;
    case wire::call_status::no_memory:
      current_hook_ = hook;
      die("exceeded its memory limit (RLIMIT_AS " + std::to_string(settings_.memory_mb) +
          " MiB above the host's mappings): " + message);
    case wire::call_status::failed:
      if (ctx_ != nullptr)
        ctx_->count("plugin_errors", 1);
      throw std::runtime_error(message); // the adapter's own message, as in-process
    }
    die("sent garbage on the channel (call status " + std::to_string(status) + ")");
  }

  // ---- what the child sends besides answers ---------------------------------------------------

  void handle(const child_channel::frame& f) {
    switch (f.type) {
    case frame_type::finding:
    case frame_type::log:
    case frame_type::counter:
    case frame_type::gauge:
    case frame_type::memory:
      if (ctx_ != nullptr)
        deliver(f, *ctx_);
      else if (pending_.size() < 1024)
        pending_.push_back(f);
      return;
    case frame_type::violation:
      try {
        violation_ = wire::reader(f.payload).get<std::int32_t>();
      } catch (const wire::protocol_error&) {
        violation_ = -1;
      }
      return;
    default: {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned>(f.type));
      die(std::string("sent garbage on the channel (unknown frame type ") + hex + ")");
    }
    }
  }

  void deliver(const child_channel::frame& f, context& ctx) {
    try {
      wire::reader r(f.payload);
      switch (f.type) {
      case frame_type::finding: {
        const auto j = nlohmann::json::parse(r.get_string());
        finding out;
        out.rule = j.at("rule").get<std::string>();
        const int sev = runtime::integer_field<int>(j, "severity").value_or(-1);
        if (out.rule.empty() || sev < 0 || sev > static_cast<int>(severity::critical))
          throw wire::protocol_error("a finding without a rule or with a bad severity");
        out.level = static_cast<severity>(sev);
        out.title = j.at("title").get<std::string>();
        out.entity = j.at("entity");
        out.evidence = j.at("evidence");
        out.mitre = j.at("mitre").get<std::vector<std::string>>();
        ctx.emit_finding(std::move(out));
        break;
      }
      case frame_type::log: {
        const auto level = r.get<std::uint8_t>();
        ctx.log(static_cast<log_level>(std::min<int>(level, static_cast<int>(log_level::critical))),
                r.get_string());
        break;
      }
      case frame_type::counter: {
        const auto delta = r.get<std::int64_t>();
        ctx.count(r.get_string(), delta);
        break;
      }
      case frame_type::gauge: {
        const auto value = r.get<double>();
        ctx.gauge(r.get_string(), value);
        break;
      }
      case frame_type::memory:
        ctx.account_memory(r.get<std::int64_t>());
        break;
      default:
        break;
      }
    } catch (const nlohmann::json::exception& e) {
      die(std::string("sent garbage on the channel (finding: ") + e.what() + ")");
    } catch (const wire::protocol_error& e) {
      die(std::string("sent garbage on the channel (") + e.what() + ")");
    }
  }

  void replay() {
    if (pending_.empty() || ctx_ == nullptr)
      return;
    auto frames = std::move(pending_);
    pending_.clear();
    for (const auto& f : frames)
      deliver(f, *ctx_);
  }

  /// Charges the child's CPU time and RSS to the component's quotas (cpu_percent, memory_mb),
  /// and its I/O to the component's read/write figures: an isolated plugin works in its child,
  /// which the actor thread's clock and I/O counters do not see and no allocation of the
  /// engine's counts. At most every 100 ms unless `force`.
  void measure_child(context& ctx, bool force) {
    if (!child_ || !child_->running())
      return;
    const auto now = clock_type::now();
    if (!force && now - last_measure_ < std::chrono::milliseconds(100))
      return;
    last_measure_ = now;
    timespec ts{};
    if (cpu_clock_ && ::clock_gettime(*cpu_clock_, &ts) == 0) {
      const std::int64_t ns = static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
      ctx.charge_cpu(ns - charged_cpu_ns_);
      charged_cpu_ns_ = ns;
    }
    if (auto mem = runtime::memory_of(child_->pid())) {
      const auto bytes = static_cast<std::int64_t>(mem->resident);
      ctx.account_memory(bytes - accounted_rss_);
      accounted_rss_ = bytes;
      ctx.gauge("child_rss_bytes", static_cast<double>(bytes));
    }
    if (auto io = runtime::io_of_process(child_->pid())) {
      ctx.charge_io(io->since(charged_io_));
      charged_io_ = *io;
    }
  }

  // ---- failures -------------------------------------------------------------------------------

  const char* hook_now() const noexcept {
    return outstanding_.empty() ? current_hook_ : outstanding_.front().hook;
  }

  void alive_or_throw(const char* hook) {
    current_hook_ = hook;
    if (!failure_.empty())
      throw std::runtime_error(failure_);
  }

  /// Kills the child and throws `plugin X <cause> in <hook>; killed`.
  [[noreturn]] void die(const std::string& cause) {
    const std::string hook = hook_now();
    if (child_)
      child_->kill_and_reap();
    ch_.close();
    outstanding_.clear();
    failure_ = "plugin " + label_ + " " + cause + " in " + hook + "; killed";
    if (ctx_ != nullptr)
      ctx_->count("plugin_child_failures", 1);
    throw std::runtime_error(failure_);
  }

  /// The channel closed: the child exited or was killed. Says how, then throws.
  [[noreturn]] void died() {
    const std::string hook = hook_now();
    // What the child sent before it went (its findings, a SIGSYS handler's report) may still
    // be in the socket buffer: deliver it; its answers no longer matter.
    child_channel::frame f;
    try {
      while (ch_.receive(f, clock_type::now()))
        if (f.type != frame_type::done)
          handle(f);
    } catch (...) {
    }
    const int st = child_ ? child_->reap(std::chrono::milliseconds(1000)) : -1;
    ch_.close();
    outstanding_.clear();
    std::string cause;
    if (violation_) {
      const std::string sc = syscall_name(*violation_);
      cause = "violated its sandbox: " + sc + " is not allowed";
      if (ctx_ != nullptr) {
        finding v;
        v.rule = "engine.plugin_sandbox_violation";
        v.level = severity::high;
        v.title = "plugin " + quote(manifest_.id) + " detector " + quote(det_.name) + " called " +
                  sc + ", which its sandbox forbids; the child was stopped";
        v.entity = {{"component", name_}, {"plugin", manifest_.id}, {"detector", det_.name}};
        v.evidence = {{"syscall", sc}, {"hook", hook}, {"action", "SIGSYS, child exited"}};
        v.mitre = {"T1059"};
        ctx_->emit_finding(std::move(v));
      }
    } else if (st != -1 && WIFSIGNALED(st)) {
      const int sig = WTERMSIG(st);
      cause = sig == SIGXCPU
                  ? "exceeded its CPU limit (RLIMIT_CPU " + std::to_string(settings_.cpu_seconds) +
                        " s): " + signal_name(sig)
                  : "crashed: " + signal_name(sig);
    } else if (st != -1 && WIFEXITED(st)) {
      cause = "exited with status " + std::to_string(WEXITSTATUS(st));
    } else {
      cause = "closed its channel and did not exit";
    }
    failure_ = "plugin " + label_ + " " + cause + " in " + hook;
    if (ctx_ != nullptr)
      ctx_->count("plugin_child_failures", 1);
    // At load (its constructors, its entry point, creating the detector) the plugin will do it
    // again on every start: it is refused, not restarted.
    if (violation_ && hook == "start")
      throw component_refused("engine.plugin_sandbox_violation",
                              failure_ + " (while loading, before any event); the plugin was "
                                         "not started and will not be restarted");
    throw std::runtime_error(failure_);
  }

  isolation_settings settings_;
  std::string name_;
  plugin_manifest manifest_;
  detector_manifest det_;
  std::string label_;
  child_channel ch_;
  std::unique_ptr<child_process> child_;
  std::deque<call> outstanding_;
  clock_type::time_point last_done_{};
  const char* current_hook_ = "start";
  std::vector<child_channel::frame> pending_;
  std::optional<std::int32_t> violation_;
  std::string failure_;
  std::string last_snapshot_;
  std::string buffer_;
  context* ctx_ = nullptr;
  std::optional<clockid_t> cpu_clock_; // the child's process CPU clock
  std::int64_t charged_cpu_ns_ = 0;    // of it, already charged to the quota
  std::int64_t accounted_rss_ = 0;     // the child's RSS as last accounted
  io_counters charged_io_;             // the child's I/O, already charged
  clock_type::time_point last_measure_{};
};

} // namespace

std::string plugin_host_binary() {
  if (const char* env = std::getenv("PHANTOMGUARD_PLUGIN_HOST"); env != nullptr && *env != '\0')
    return env;
  return "/proc/self/exe";
}

std::unique_ptr<component> make_isolated_plugin_component(const plugin_request& request,
                                                          const isolation_settings& settings,
                                                          const std::string& name) {
  plugin_request checks = request;
  checks.isolation = "in_process"; // the checks of the code itself; the child runs it
  plugin_inspection insp = inspect_plugin(checks);
  if (!insp.ok())
    throw component_refused("engine.plugin_refused", insp.refusal);
  const detector_manifest* det = insp.manifest->find_detector(request.detector);
  if (det == nullptr)
    throw component_refused("engine.plugin_refused",
                            "plugin " + quote(insp.manifest->id) + " (" + insp.path +
                                ") refused: no detector " + quote(request.detector) +
                                "; fix: name one of the manifest's detectors");
  plugin_request resolved = request;
  resolved.plugin = insp.path; // the child loads exactly the file checked here
  return std::make_unique<isolated_detector>(resolved, settings, name, *insp.manifest, *det);
}

} // namespace pg::runtime
